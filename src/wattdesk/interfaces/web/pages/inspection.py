"""Back office: 用电检查 — 窃电 / 违约用电 cases (issue 9 part 7).

* ``/inspection/`` (``billing.view``): the cases in the user's scope (``?status=``); ``?case=ID`` opens one case:
  its facts, its back-billing document (补交电费 and 违约使用电费 lines with the arithmetic) and, for a user with
  ``billing.review``, the forms of the next step.
* ``POST /inspection/open/`` (``billing.review``): open a case (立案).
* ``POST /inspection/action/`` (``billing.review``): ``action`` = compute | approve | post | reject | reverse on ``case_id``,
  each one call of ``application.inspection.cases`` (its lock, audit entry and four-eyes rule). A refusal is
  shown on the case page with its reason.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from wattdesk.application.inspection import cases
from wattdesk.application.inspection.tariff_basis import tariff_basis
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.inspection.models import CaseStatus
from wattdesk.domain.inspection.queries import active_behaviours, cases_for
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required
from wattdesk.interfaces.web.errors import user_message

nav.register(
    nav.NavItem(
        section="staff",
        order=75,
        label=_("用电检查"),
        url_name="web:inspection",
        capability=roles.BILLING_VIEW,
        icon="file-search",
    )
)

ROWS = 200
STATUSES = ("all", *CaseStatus.values)
USAGE_ROWS = (1, 2)
USAGE_KEYS = (
    "capacity_kw",
    "use",
    "price",
    "hours_per_day",
    "phase_voltage",
    "rated_current",
    "phases",
    "ct_ratio",
)
CASE_KEYS = ("days", "base_price", "capacity_kw", "basic_price", "used_from", "events")


def _case_url(case_id: int | None) -> str:
    url = reverse("web:inspection")
    return f"{url}?{urlencode({'case': case_id})}" if case_id else url


def _page(
    request: HttpRequest, *, status: str, case_id: int | None, error: str = "", code: int = 200
) -> HttpResponse:
    qs = cases_for(request.user)
    if status != "all":
        qs = qs.filter(status=status)
    case = cases_for(request.user).filter(pk=case_id).first() if case_id else None
    if case_id and case is None:
        raise Http404("inspection case")
    basis = tariff_basis(account=case.account, on=case.found_on) if case else None
    facts: dict[str, Any] = dict(case.facts) if case and case.facts else {}
    if case and not facts and basis:  # first computation: the account's tariff says residential / two-part
        facts = {"residential": basis.residential, "two_part": basis.two_part}
    context: dict[str, Any] = {
        "basis": basis,
        "status": status,
        "statuses": STATUSES,
        "cases": list(qs.order_by("-opened_at", "-id")[:ROWS]),
        "case": case,
        "lines": list(case.lines.order_by("seq")) if case else [],
        "facts": facts,
        "behaviours": list(active_behaviours()),
        "can_review": has_capability(request.user, roles.BILLING_REVIEW),
        "usage_rows": [(n, _prefill(case.facts if case else {}, n)) for n in USAGE_ROWS],
        "error": error,
    }
    return render(request, "web/inspection/list.html", context, status=code)


@capability_required(roles.BILLING_VIEW)
@require_GET
def inspection_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "all")
    if status not in STATUSES:
        status = "all"
    raw_case = request.GET.get("case", "")
    if raw_case and (not raw_case.isdigit() or len(raw_case) > 18):
        raise Http404("inspection case")
    return _page(request, status=status, case_id=int(raw_case) if raw_case else None)


@capability_required(roles.BILLING_REVIEW)
@require_POST
def inspection_open(request: HttpRequest) -> HttpResponse:
    p = request.POST
    try:
        found_on = date.fromisoformat(p.get("found_on", ""))
    except ValueError:
        messages.error(request, _g("查获日期应为 YYYY-MM-DD"))
        return redirect("web:inspection")
    try:
        case = cases.open_case(
            user=request.user,
            account_number=p.get("account", "")[:32],
            behaviour_code=p.get("behaviour", "")[:16],
            found_on=found_on,
            inspector=p.get("inspector", ""),
            evidence=p.get("evidence", ""),
            opened_at=timezone.now(),
        )
    except cases.CaseNotFound:
        messages.error(request, _g("未找到户号 %(n)s") % {"n": p.get("account", "")[:32]})
        return redirect("web:inspection")
    except cases.CaseRefused as exc:
        messages.error(request, user_message(exc))
        return redirect("web:inspection")
    messages.success(request, _g("已立案 #%(id)s") % {"id": case.pk})
    return redirect(_case_url(case.pk))


def _prefill(facts: dict[str, Any], n: int) -> dict[str, str]:
    """The values of equipment row ``n`` of the compute form from the facts last computed."""
    usages = facts.get("usages") or []
    row = usages[n - 1] if len(usages) >= n and isinstance(usages[n - 1], dict) else {}
    return {k: str(row.get(k, "")) for k in USAGE_KEYS}


def facts_from_form(post: Any) -> dict[str, Any]:
    """The compute form as the use case's facts: the filled equipment rows and the case-level fields."""
    usages = []
    for n in USAGE_ROWS:
        row = {k: post.get(f"{k}_{n}", "").strip() for k in USAGE_KEYS}
        if any(row[k] for k in ("capacity_kw", "price", "phase_voltage", "rated_current")):
            usages.append({k: v for k, v in row.items() if v})
    facts: dict[str, Any] = {k: post.get(k, "").strip() for k in CASE_KEYS if post.get(k, "").strip()}
    facts["usages"] = usages
    facts["residential"] = post.get("residential") == "on"
    facts["two_part"] = post.get("two_part") == "on"
    return facts


@capability_required(roles.BILLING_REVIEW)
@require_POST
def inspection_action(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("case_id", "")
    action = request.POST.get("action", "")
    if (
        not raw.isdigit()
        or len(raw) > 18
        or action not in ("compute", "approve", "post", "reject", "reverse")
    ):
        messages.error(request, _g("缺少立案编号或操作"))
        return redirect("web:inspection")
    case_id, user, now = int(raw), request.user, timezone.now()
    try:
        if action == "compute":
            cases.compute_case(
                case_id=case_id, user=user, facts=facts_from_form(request.POST), computed_at=now
            )
            messages.success(request, _g("已计算 #%(id)s") % {"id": case_id})
        elif action == "approve":
            cases.approve_case(case_id=case_id, user=user, approved_at=now, note=request.POST.get("note", ""))
            messages.success(request, _g("已审批 #%(id)s") % {"id": case_id})
        elif action == "post":
            cases.post_case(case_id=case_id, user=user, posted_at=now)
            messages.success(request, _g("已入账 #%(id)s") % {"id": case_id})
        elif action == "reverse":
            cases.reverse_case(
                case_id=case_id, user=user, reversed_at=now, reason=request.POST.get("reason", "")
            )
            messages.success(request, _g("已冲正 #%(id)s") % {"id": case_id})
        else:
            cases.reject_case(
                case_id=case_id, user=user, rejected_at=now, reason=request.POST.get("reason", "")
            )
            messages.success(request, _g("已驳回 #%(id)s") % {"id": case_id})
    except cases.CaseNotFound:
        raise Http404("inspection case") from None
    except cases.FourEyesRefused as exc:
        return _page(request, status="all", case_id=case_id, error=user_message(exc), code=403)
    except cases.CaseStateError as exc:
        return _page(request, status="all", case_id=case_id, error=user_message(exc), code=409)
    except cases.CaseRefused as exc:
        return _page(request, status="all", case_id=case_id, error=user_message(exc), code=422)
    return redirect(_case_url(case_id))


urlpatterns = [
    path("inspection/", inspection_list, name="inspection"),
    path("inspection/open/", inspection_open, name="inspection_open"),
    path("inspection/action/", inspection_action, name="inspection_action"),
]
