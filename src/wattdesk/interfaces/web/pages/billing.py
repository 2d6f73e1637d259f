"""Back office: billing runs (电费核算) with live progress, and held-bill review (异常账单审核).

- ``/billing/runs/``: the runs, and a form to launch one (``billing.run``): POST launches the run
  (``application.billing.launch``: the period's database guard) and enqueues it for a ``wattdesk worker``
  (``interfaces.tasks``), then redirects to the run's page, which polls its progress with HTMX every second
  until the run has finished. A run whose process died shows as stalled, with resume and restart buttons.
- ``/billing/review/`` (复核): held bills of a period, 20 to a page, filtered by reading route, hold reason and
  amount range, with the account's previous bills; approve one (``approve_bill``) or the selected ones (all or
  nothing, ``approve_bills``), keep on hold (``hold_bill``), cancel (``cancel_bill``) and rerun the period
  (accounts without a live bill are billed again as version + 1), issue the period (``issue_bills``) — the use
  cases of ``application.billing.review``, which take the lock and write the audit entry, the same as for the
  CLI and the API.

Every bill is fetched through ``bills_for(request.user)`` first (an id outside the scope is a 404).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from wattdesk.application.billing import launch, review
from wattdesk.application.billing.run import BillingInputError
from wattdesk.core.money import AmountError, parse_amount
from wattdesk.core.period import Period
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import bills_for, has_capability
from wattdesk.domain.billing.models import BillingRun, BillStatus
from wattdesk.domain.billing.queries import latest_billed_period
from wattdesk.interfaces import tasks
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=40,
        label=_("电费核算"),
        url_name="web:billing_runs",
        capability=roles.BILLING_VIEW,
        icon="calculator",
    )
)
nav.register(
    nav.NavItem(
        section="staff",
        order=50,
        label=_("异常账单审核"),
        url_name="web:billing_review",
        capability=roles.BILLING_REVIEW,
        icon="file-search",
    )
)

HISTORY_PERIODS = 6


def _default_period() -> str:
    """The period the review opens on: the latest billed one (the previous calendar month only when nothing is
    billed — the calendar month may not be billed yet, or at all)."""
    return latest_billed_period() or str(Period.of(timezone.localdate()).previous())


def _next_period_to_bill() -> str:
    """The period the launch form offers: the one after the latest billed period (the previous calendar month
    when nothing is billed yet)."""
    latest = latest_billed_period()
    return str(Period.parse(latest).next()) if latest else str(Period.of(timezone.localdate()).previous())


def _period(raw: str | None) -> str:
    p = (raw or "").strip()
    return p if Period.is_valid(p) else _default_period()


def run_summary(run: BillingRun) -> dict[str, Any]:
    """BillingRun.counts as the page shows it (Decimals from their strings)."""
    c = run.counts or {}
    return {
        "accounts": c.get("accounts", 0),
        "already_billed": c.get("already_billed", 0),
        "billed": c.get("billed", 0),
        "held": c.get("held", 0),
        "estimated": c.get("estimated", 0),
        "skipped": sorted((c.get("skipped") or {}).items()),
        "skipped_examples": c.get("skipped_examples") or {},
        "kwh": Decimal(c.get("kwh", "0")),
        "total": Decimal(c.get("total", "0")),
        "revenue_by_class": sorted((k, Decimal(v)) for k, v in (c.get("revenue_by_class") or {}).items()),
        "elapsed_s": c.get("elapsed_s"),
    }


# --- runs ----------------------------------------------------------------------------------------------------


@capability_required(roles.BILLING_VIEW)
@require_GET
def billing_runs(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    page = Paginator(BillingRun.objects.select_related("route").order_by("-started_at", "-id"), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "web/billing/runs.html",
        {
            "page": page,
            "runs": [
                (r, run_summary(r), STATE_LABELS.get(s := launch.run_state(r, now=now), s))
                for r in page.object_list
            ],
            "can_run": has_capability(request.user, roles.BILLING_RUN),
            "default_period": _next_period_to_bill(),
        },
    )


STATE_LABELS = {
    "pending": _("排队中"),
    "running": _("核算中"),
    launch.STALLED: _("已中断"),
    "finished": _("已完成"),
    "failed": _("失败"),
}


def _launch_error(request: HttpRequest, exc: Exception, period: str) -> None:
    if isinstance(exc, launch.NoReadings):
        messages.error(
            request,
            _g("%(period)s 没有任何抄表示数，未启动核算。请先导入或估抄示数；确需空跑请勾选“允许无示数”。")
            % {"period": period},
        )
    elif isinstance(exc, launch.RunInProgress):
        messages.error(
            request,
            _g("%(period)s 已有核算批次 #%(id)s 未结束（排队、运行或已中断），不能再启动一个。")
            % {"period": period, "id": exc.run_id},
        )
    else:
        messages.error(request, str(exc))


@capability_required(roles.BILLING_RUN)
@require_POST
def billing_run_launch(request: HttpRequest) -> HttpResponse:
    period = request.POST.get("period", "").strip()
    route = request.POST.get("route", "").strip() or None
    try:
        run = tasks.start_billing_run(
            period=period,
            route=route,
            actor=request.user,
            now=timezone.now(),
            allow_empty=request.POST.get("allow_empty") == "1",
        )
    except BillingInputError as exc:
        _launch_error(request, exc, period)
        return redirect("web:billing_runs")
    messages.info(request, _g("已启动 %(period)s 核算") % {"period": period})
    return redirect("web:billing_run_detail", run_id=run.pk)


def _run_context(request: HttpRequest, run: BillingRun) -> dict[str, Any]:
    status = launch.status_of(run, now=timezone.now())
    return {
        "run": run,
        "status": status,
        "state_label": STATE_LABELS.get(status.state, status.state),
        "summary": run_summary(run) if status.state == "finished" else None,
        "can_run": has_capability(request.user, roles.BILLING_RUN),
    }


@capability_required(roles.BILLING_VIEW)
@require_GET
def billing_run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(BillingRun.objects.select_related("route"), pk=run_id)
    context = _run_context(request, run)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/billing/_run_progress.html", context)
    return render(request, "web/billing/run.html", context)


def _take_over(request: HttpRequest, run_id: int, how: str) -> HttpResponse:
    get_object_or_404(BillingRun, pk=run_id)
    start = tasks.resume_billing_run if how == "resume" else tasks.restart_billing_run
    try:
        run = start(run_id=run_id, actor=request.user, now=timezone.now())
    except BillingInputError as exc:
        messages.error(request, str(exc))
        return redirect("web:billing_run_detail", run_id=run_id)
    if how == "resume":
        messages.info(request, _g("核算批次 #%(id)s 已续跑") % {"id": run.pk})
    else:
        messages.info(request, _g("已放弃批次 #%(old)s，重新启动为 #%(id)s") % {"old": run_id, "id": run.pk})
    return redirect("web:billing_run_detail", run_id=run.pk)


@capability_required(roles.BILLING_RUN)
@require_POST
def billing_run_resume(request: HttpRequest, run_id: int) -> HttpResponse:
    return _take_over(request, run_id, "resume")


@capability_required(roles.BILLING_RUN)
@require_POST
def billing_run_restart(request: HttpRequest, run_id: int) -> HttpResponse:
    return _take_over(request, run_id, "restart")


# --- held-bill review ------------------------------------------------------------------------------------------


def _history(request: HttpRequest, account_numbers: list[str], period: str) -> dict[str, list[Any]]:
    since = str(Period.parse(period).shift(-HISTORY_PERIODS))
    out: dict[str, list[Any]] = defaultdict(list)
    for number, p, total, kwh, status in (
        bills_for(request.user)
        .filter(account__number__in=account_numbers, period__gte=since, period__lt=period)
        .exclude(status=BillStatus.CANCELLED)
        .order_by("account__number", "-period")
        .values_list("account__number", "period", "total", "kwh", "status")
    ):
        out[number].append({"period": p, "total": total, "kwh": kwh, "status": status})
    return out


REVIEW_PAGE_SIZE = 20
REASON_CHOICES = (
    ("", _("全部原因")),
    ("high", _("高于历史")),
    ("low", _("低于历史")),
    ("new_account", _("新户金额超限")),
    ("negative", _("负金额")),
    (review.OTHER_REASON, _("人工挂起")),
)


def _amount_filter(request: HttpRequest, name: str, errors: list[str]) -> Decimal | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse_amount(raw, field=name, allow_zero=True, allow_negative=True)
    except AmountError:
        errors.append(_g("金额筛选条件无效: %(v)s") % {"v": raw[:40]})
        return None


@capability_required(roles.BILLING_REVIEW)
@require_GET
def billing_review(request: HttpRequest) -> HttpResponse:
    """Held bills of a period, a page at a time, filtered by route, hold reason and amount range."""
    period = _period(request.GET.get("period"))
    errors: list[str] = []
    route = request.GET.get("route", "").strip()[:32]
    reason = request.GET.get("reason", "").strip()
    if reason not in dict(REASON_CHOICES):
        reason = ""
    min_total = _amount_filter(request, "min", errors)
    max_total = _amount_filter(request, "max", errors)
    in_scope = bills_for(request.user)
    held = review.held_bills(
        period=period,
        bills=in_scope,
        route=route or None,
        reason=reason or None,
        min_total=min_total,
        max_total=max_total,
    )
    page = Paginator(held, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    described = review.describe_held(list(page.object_list))
    history = _history(request, [h.account_number for h in described], period)
    rows = [{"bill": h, "history": history.get(h.account_number, [])} for h in described]
    all_held = in_scope.filter(period=period, status=BillStatus.HELD)
    routes = review.held_routes(period=period, bills=in_scope)
    filters = {"period": period, "route": route, "reason": reason}
    filters.update({k: request.GET.get(k, "").strip()[:40] for k in ("min", "max")})
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "web/billing/review.html",
        {
            "period": period,
            "rows": rows,
            "page": page,
            "filters": filters,
            "query": query,
            "back": query + (f"&page={page.number}" if page.number > 1 else ""),
            "errors": errors,
            "routes": routes,
            "reason_choices": REASON_CHOICES,
            "held_total": all_held.count(),
            "rerun_account": request.GET.get("rerun", ""),
            "can_run": has_capability(request.user, roles.BILLING_RUN),
            "draft_count": in_scope.filter(period=period, status=BillStatus.DRAFT).count(),
        },
    )


def _review_url(period: str, **extra: str) -> str:
    return reverse("web:billing_review") + "?" + urlencode({"period": period, **extra})


def _back(request: HttpRequest, period: str) -> str:
    """The review page the form came from (its filters and page), else the period's first page."""
    query = request.POST.get("back", "")
    if query and "\n" not in query and "\r" not in query:
        return reverse("web:billing_review") + "?" + query
    return _review_url(period)


@capability_required(roles.BILLING_REVIEW)
@require_POST
def bill_approve(request: HttpRequest, bill_id: int) -> HttpResponse:
    bill = get_object_or_404(bills_for(request.user), pk=bill_id)
    try:
        result = review.approve_bill(
            bill_id=bill.pk,
            user=request.user,
            approved_at=timezone.now(),
            note=request.POST.get("note", "").strip()[:300],
        )
    except BillingInputError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _g("账单 %(id)s（户号 %(acct)s）已审核通过") % {"id": bill.pk, "acct": result.account_number},
        )
    return redirect(_back(request, bill.period))


@capability_required(roles.BILLING_REVIEW)
@require_POST
def bills_approve(request: HttpRequest) -> HttpResponse:
    """Batch approval of the selected held bills: all or nothing, each through ``approve_bill``."""
    period = _period(request.POST.get("period"))
    try:
        ids = sorted({int(v) for v in request.POST.getlist("bill")})
    except ValueError:
        ids = []
    if not ids:
        messages.error(request, _g("请先勾选要审核通过的账单"))
        return redirect(_back(request, period))
    visible = set(bills_for(request.user).filter(pk__in=ids).values_list("pk", flat=True))
    if visible != set(ids):
        raise Http404("no such bill")
    try:
        results = review.approve_bills(
            bill_ids=ids,
            user=request.user,
            approved_at=timezone.now(),
            note=request.POST.get("note", "").strip()[:300],
        )
    except BillingInputError as exc:
        messages.error(request, _g("未审核任何账单: %(err)s") % {"err": exc})
    else:
        messages.success(request, _g("已审核通过 %(n)s 张账单") % {"n": len(results)})
    return redirect(_back(request, period))


@capability_required(roles.BILLING_REVIEW)
@require_POST
def bill_keep(request: HttpRequest, bill_id: int) -> HttpResponse:
    bill = get_object_or_404(bills_for(request.user), pk=bill_id)
    note = request.POST.get("note", "").strip()[:300] or _g("复核后继续挂起")
    try:
        review.hold_bill(bill_id=bill.pk, user=request.user, held_at=timezone.now(), reason=note)
    except BillingInputError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, _g("账单 %(id)s 继续挂起，未作更改") % {"id": bill.pk})
    return redirect(_back(request, bill.period))


@capability_required(roles.BILLING_REVIEW)
@require_POST
def bill_cancel(request: HttpRequest, bill_id: int) -> HttpResponse:
    bill = get_object_or_404(bills_for(request.user), pk=bill_id)
    reason = request.POST.get("reason", "").strip()[:200]
    try:
        result = review.cancel_bill(
            bill_id=bill.pk, user=request.user, cancelled_at=timezone.now(), reason=reason
        )
    except BillingInputError as exc:
        messages.error(request, _g("未作废: %(err)s") % {"err": exc})
        return redirect(_back(request, bill.period))
    messages.success(
        request,
        _g("账单 %(id)s 已作废，冲正 %(amt)s 元。可重新核算本期，为该户生成第 %(v)s 版账单。")
        % {"id": bill.pk, "amt": result.reversal_amount, "v": result.version + 1},
    )
    return redirect(_review_url(bill.period, rerun=result.account_number))


@capability_required(roles.BILLING_RUN)
@require_POST
def billing_rerun(request: HttpRequest) -> HttpResponse:
    """Rerun the period: only accounts without a live bill (the cancelled ones) are billed again."""
    period = request.POST.get("period", "").strip()
    try:
        run = tasks.start_billing_run(period=period, route=None, actor=request.user, now=timezone.now())
    except BillingInputError as exc:
        _launch_error(request, exc, period)
        return redirect(_review_url(_period(period)))
    return redirect("web:billing_run_detail", run_id=run.pk)


@capability_required(roles.BILLING_REVIEW)
@require_POST
def billing_issue(request: HttpRequest) -> HttpResponse:
    period = request.POST.get("period", "").strip()
    if request.POST.get("confirm") != "yes":
        messages.error(request, _g("请勾选确认后再发行"))
        return redirect(_review_url(_period(period)))
    now = timezone.now()
    try:
        result = review.issue_bills(
            period=period,
            user=request.user,
            issued_at=now,
            issued_on=timezone.localdate(now),
            include_held_approved=True,
        )
    except BillingInputError as exc:
        messages.error(request, str(exc))
        return redirect(_review_url(_period(period)))
    messages.success(
        request,
        _g("%(period)s 已发行 %(n)s 张账单，合计 %(total)s 元，缴费截止 %(due)s；仍有 %(held)s 张待审核")
        % {
            "period": period,
            "n": result.issued,
            "total": result.total,
            "due": result.due_on,
            "held": result.still_held,
        },
    )
    return redirect(_review_url(period))


urlpatterns = [
    path("billing/runs/", billing_runs, name="billing_runs"),
    path("billing/runs/launch/", billing_run_launch, name="billing_run_launch"),
    path("billing/runs/<int:run_id>/", billing_run_detail, name="billing_run_detail"),
    path("billing/runs/<int:run_id>/resume/", billing_run_resume, name="billing_run_resume"),
    path("billing/runs/<int:run_id>/restart/", billing_run_restart, name="billing_run_restart"),
    path("billing/review/", billing_review, name="billing_review"),
    path("billing/review/rerun/", billing_rerun, name="billing_rerun"),
    path("billing/review/issue/", billing_issue, name="billing_issue"),
    path("billing/review/approve/", bills_approve, name="bills_approve"),
    path("billing/review/<int:bill_id>/approve/", bill_approve, name="bill_approve"),
    path("billing/review/<int:bill_id>/keep/", bill_keep, name="bill_keep"),
    path("billing/review/<int:bill_id>/cancel/", bill_cancel, name="bill_cancel"),
]
