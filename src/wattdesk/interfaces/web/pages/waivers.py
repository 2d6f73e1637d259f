"""Back office: late-fee waivers (违约金减免审批).

* ``/waivers/?account=N``: the account's bills carrying a late fee, each with a request form (reason);
  below, the queue of requests in the user's scope (``?status=pending|approved|rejected|all``).
* ``POST /waivers/request/``: ask for a waiver (``ledger.waive_request``).
* ``POST /waivers/<id>/approve/`` and ``/reject/``: decide (``ledger.waive``, not one's own request). From the
  queue these post with HTMX and the answer is the request's table row; without HTMX, a redirect with a message.
"""

from __future__ import annotations

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

from wattdesk.application.errors import InputError
from wattdesk.application.ledger import waivers
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=74,
        label=_("违约金减免"),
        url_name="web:waivers",
        capability=roles.LEDGER_WAIVE_REQUEST,
        icon="discount",
    )
)

ROWS = 200
STATUSES = ("pending", "approved", "rejected", "all")


@capability_required(roles.LEDGER_WAIVE_REQUEST)
@require_GET
def waiver_list(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    account = request.GET.get("account", "").strip()[:32]
    status = request.GET.get("status", "pending")
    if status not in STATUSES:
        errors.append(_g("状态应为 %(v)s 之一") % {"v": ", ".join(STATUSES)})
        status = "pending"
    bills: list[waivers.BillLateFee] = []
    if account:
        try:
            bills = waivers.bills_with_late_fee(user=request.user, account_number=account)
        except waivers.WaiverNotFound:
            errors.append(_g("未找到户号 %(n)s") % {"n": account})
    qs = waivers.visible_requests(user=request.user)
    if status != "all":
        qs = qs.filter(status=status)
    context = {
        "account": account,
        "status": status,
        "statuses": STATUSES,
        "bills": bills,
        "requests": list(qs[:ROWS]),
        "errors": errors,
        "can_decide": has_capability(request.user, roles.LEDGER_WAIVE),
    }
    return render(request, "web/waivers/list.html", context, status=400 if errors else 200)


@capability_required(roles.LEDGER_WAIVE_REQUEST)
@require_POST
def waiver_request(request: HttpRequest) -> HttpResponse:
    account = request.POST.get("account", "").strip()[:32]
    back = reverse("web:waivers") + ("?" + urlencode({"account": account}) if account else "")
    try:
        bill_id = int(request.POST.get("bill_id", ""))
    except ValueError:
        messages.error(request, _g("缺少账单编号"))
        return redirect(back)
    try:
        req = waivers.request_waiver(
            bill_id=bill_id,
            reason=request.POST.get("reason", ""),
            user=request.user,
            requested_at=timezone.now(),
        )
    except waivers.WaiverNotFound:
        raise Http404("bill") from None
    except InputError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(
        request,
        _g("已提交减免申请 #%(id)s（违约金 %(amount)s 元），待审批") % {"id": req.pk, "amount": req.amount},
    )
    return redirect(back)


def _decide(request: HttpRequest, waiver_id: int, approve: bool) -> HttpResponse:
    note = request.POST.get("note", "")
    error = ""
    try:
        if approve:
            waivers.approve_waiver(
                request_id=waiver_id, user=request.user, decided_at=timezone.now(), note=note
            )
        else:
            waivers.reject_waiver(
                request_id=waiver_id, user=request.user, decided_at=timezone.now(), note=note
            )
    except waivers.WaiverNotFound:
        raise Http404("waiver request") from None
    except InputError as exc:
        error = str(exc)
    if request.htmx:  # type: ignore[attr-defined]
        req = waivers.visible_requests(user=request.user).get(pk=waiver_id)
        context: dict[str, Any] = {"r": req, "can_decide": True, "row_error": error}
        # 200 also for a refusal: HTMX swaps only 2xx answers, and the row shows the reason
        return render(request, "web/waivers/_row.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            (_g("减免申请 #%(id)s 已批准") if approve else _g("减免申请 #%(id)s 已驳回")) % {"id": waiver_id},
        )
    return redirect("web:waivers")


@capability_required(roles.LEDGER_WAIVE)
@require_POST
def waiver_approve(request: HttpRequest, waiver_id: int) -> HttpResponse:
    return _decide(request, waiver_id, approve=True)


@capability_required(roles.LEDGER_WAIVE)
@require_POST
def waiver_reject(request: HttpRequest, waiver_id: int) -> HttpResponse:
    return _decide(request, waiver_id, approve=False)


urlpatterns = [
    path("waivers/", waiver_list, name="waivers"),
    path("waivers/request/", waiver_request, name="waiver_request"),
    path("waivers/<int:waiver_id>/approve/", waiver_approve, name="waiver_approve"),
    path("waivers/<int:waiver_id>/reject/", waiver_reject, name="waiver_reject"),
]
