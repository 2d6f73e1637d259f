"""Back office and portal pages of reading corrections (抄表异常处理) and 退补单.

* ``/readings/exceptions/<id>/``: a held reading (from the readings page's exception list): the reading, the
  previous one, an open decision; a form to accept / correct / estimate / send for a field check
  (``application.billing.reading_correction.decide``).
* ``/readings/corrections/``: corrections waiting for a second approval; approve or reject.
* ``/bills/<id>/adjustments/new/``: the 退补 form of an issued bill (``application.billing.adjustment``).
* ``/adjustments/<id>/``: the 退补单 with its lines; approve / issue / cancel.
* ``/portal/adjustments/<id>/``: the customer's view of an issued 退补单 of their own bill.

Each view translates the request, makes one use-case call and renders; objects are scoped through
``bills_for`` / ``meters_for`` (an id outside the scope is a 404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from wattdesk.application.billing import adjustment as adj_uc
from wattdesk.application.billing import reading_correction as rc_uc
from wattdesk.application.billing.run import BillingInputError
from wattdesk.core.rating.correction import ERROR_TYPES
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import bills_for, has_capability, meters_for
from wattdesk.domain.billing.models import (
    AdjustmentErrorType,
    AdjustmentStatus,
    BillAdjustment,
    BillStatus,
    CorrectionAction,
    CorrectionStatus,
    ReadingCorrection,
)
from wattdesk.domain.metering.models import ReadingException, RegisterReading
from wattdesk.interfaces.web.access import capability_required

INPUT_NAMES = sorted(
    {n for names in (adj_uc.REQUIRED_INPUTS, adj_uc.OPTIONAL_INPUTS) for v in names.values() for n in v}
)


# --- held readings -----------------------------------------------------------------------------------------


@capability_required(roles.BILLING_REVIEW)
@require_http_methods(["GET", "POST"])
def held_reading(request: HttpRequest, exception_id: int) -> HttpResponse:
    exc = get_object_or_404(
        ReadingException.objects.filter(meter__in=meters_for(request.user)).select_related(
            "meter", "register"
        ),
        pk=exception_id,
    )
    if exc.reading_id is None:
        raise Http404("no reading")
    reading = RegisterReading.objects.select_related("register__meter").get(pk=exc.reading_id)
    context: dict[str, Any] = {"exc": exc, "reading": reading, "actions": CorrectionAction.choices}
    status = 200
    if request.method == "POST":
        try:
            r = rc_uc.decide(
                reading_id=reading.pk,
                action=request.POST.get("action", ""),
                reason=request.POST.get("reason", ""),
                new_value=request.POST.get("new_value") or None,
                user=request.user,
                decided_at=timezone.now(),
            )
        except BillingInputError as e:
            context["error"] = str(e)
            context["form"] = request.POST
            status = 409 if "not held" in str(e) or "waiting" in str(e) else 400
        else:
            context["result"] = r
            context["result_action"] = CorrectionAction(r.action).label
            context["result_status"] = CorrectionStatus(r.status).label
            reading.refresh_from_db()
    context["previous"] = (
        RegisterReading.objects.filter(
            register_id=reading.register_id, read_on__lt=reading.read_on, status__in=("valid", "estimated")
        )
        .order_by("-read_on")
        .first()
    )
    context["corrections"] = ReadingCorrection.objects.filter(reading_id=reading.pk).select_related(
        "requested_by", "decided_by"
    )
    context["findings"] = ReadingException.objects.filter(reading_id=reading.pk).order_by("id")
    return render(request, "web/corrections/held_reading.html", context, status=status)


@capability_required(roles.BILLING_REVIEW)
@require_http_methods(["GET", "POST"])
def pending_corrections(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            cid = int(request.POST.get("correction_id", "0"))
        except ValueError:
            cid = 0
        c = get_object_or_404(
            ReadingCorrection.objects.filter(reading__register__meter__in=meters_for(request.user)), pk=cid
        )
        try:
            if request.POST.get("decision") == "approve":
                r = rc_uc.approve_correction(
                    correction_id=c.pk, user=request.user, approved_at=timezone.now()
                )
            else:
                r = rc_uc.reject_correction(
                    correction_id=c.pk,
                    user=request.user,
                    rejected_at=timezone.now(),
                    reason=request.POST.get("reason", ""),
                )
        except BillingInputError as e:
            error = str(e)
        else:
            messages.success(request, f"更正 {r.correction_id}: {r.status}")
            return redirect("web:pending_corrections")
    rows = rc_uc.pending_corrections()
    return render(
        request, "web/corrections/pending.html", {"rows": rows, "error": error}, status=400 if error else 200
    )


# --- 退补 ---------------------------------------------------------------------------------------------------


@capability_required(roles.BILLING_REVIEW)
@require_http_methods(["GET", "POST"])
def new_adjustment(request: HttpRequest, bill_id: int) -> HttpResponse:
    bill = get_object_or_404(bills_for(request.user).select_related("account"), pk=bill_id)
    context: dict[str, Any] = {
        "bill": bill,
        "error_types": [(k, AdjustmentErrorType(k).label) for k in ERROR_TYPES],
        "input_names": INPUT_NAMES,
        "issued": bill.status == BillStatus.ISSUED,
        "form": {},
    }
    if request.method == "POST":
        inputs = {n: request.POST.get(n, "") for n in INPUT_NAMES if request.POST.get(n, "").strip()}
        now = timezone.now()
        try:
            r = adj_uc.create_adjustment(
                bill_id=bill.pk,
                error_type=request.POST.get("error_type", ""),
                reason_code=request.POST.get("reason_code", ""),
                reason=request.POST.get("reason", ""),
                inputs=inputs,
                user=request.user,
                created_at=now,
                today=timezone.localdate(now),
            )
        except BillingInputError as e:
            context["error"] = str(e)
            context["form"] = request.POST
            return render(request, "web/corrections/new_adjustment.html", context, status=400)
        return redirect("web:adjustment_detail", adjustment_id=r.adjustment_id)
    return render(request, "web/corrections/new_adjustment.html", context)


def _staff_adjustment(request: HttpRequest, adjustment_id: int) -> BillAdjustment:
    return get_object_or_404(
        BillAdjustment.objects.filter(original_bill__in=bills_for(request.user)).select_related(
            "account", "original_bill", "created_by", "approved_by", "issued_by"
        ),
        pk=adjustment_id,
    )


@capability_required(roles.BILLING_VIEW)
@require_http_methods(["GET", "POST"])
def adjustment_detail(request: HttpRequest, adjustment_id: int) -> HttpResponse:
    a = _staff_adjustment(request, adjustment_id)
    can_review = has_capability(request.user, roles.BILLING_REVIEW)
    error = ""
    if request.method == "POST":
        if not can_review:
            from wattdesk.interfaces.web.access import forbidden

            return forbidden(request)
        action = request.POST.get("action", "")
        now = timezone.now()
        try:
            if action == "approve":
                adj_uc.approve_adjustment(adjustment_id=a.pk, user=request.user, approved_at=now)
            elif action == "issue":
                adj_uc.issue_adjustment(
                    adjustment_id=a.pk, user=request.user, issued_at=now, issued_on=timezone.localdate(now)
                )
            elif action == "cancel":
                adj_uc.cancel_adjustment(
                    adjustment_id=a.pk,
                    user=request.user,
                    cancelled_at=now,
                    reason=request.POST.get("reason", ""),
                )
            else:
                error = f"unknown action {action!r}"
        except BillingInputError as e:
            error = str(e)
        if not error:
            return redirect("web:adjustment_detail", adjustment_id=a.pk)
        a = _staff_adjustment(request, adjustment_id)
    return render(
        request,
        "web/corrections/adjustment.html",
        {
            "a": a,
            "lines": a.lines.select_related("bill").order_by("seq"),
            "can_review": can_review,
            "error": error,
            "portal": False,
        },
        status=400 if error else 200,
    )


@capability_required(roles.PORTAL_USE)
def portal_adjustment(request: HttpRequest, adjustment_id: int) -> HttpResponse:
    a = get_object_or_404(
        BillAdjustment.objects.filter(
            original_bill__in=bills_for(request.user), status=AdjustmentStatus.ISSUED
        ).select_related("account", "original_bill"),
        pk=adjustment_id,
    )
    return render(
        request,
        "web/corrections/portal_adjustment.html",
        {"a": a, "lines": a.lines.select_related("bill").order_by("seq"), "portal": True},
    )


def adjustment_links(*, user: Any, bill_id: int, portal: bool) -> list[tuple[BillAdjustment, str]]:
    """The 退补单 of a bill a page lists (customers: issued ones only), with the URL of each."""
    return adjustment_links_by_bill(user=user, bill_ids=[bill_id], portal=portal).get(bill_id, [])


def adjustment_links_by_bill(
    *, user: Any, bill_ids: Sequence[int], portal: bool
) -> dict[int, list[tuple[BillAdjustment, str]]]:
    """:func:`adjustment_links` of several bills in one query (a list page), by bill id."""
    qs = BillAdjustment.objects.filter(original_bill_id__in=list(bill_ids), original_bill__in=bills_for(user))
    name = "web:adjustment_detail"
    if portal:
        qs, name = qs.filter(status=AdjustmentStatus.ISSUED), "web:portal_adjustment"
    out: dict[int, list[tuple[BillAdjustment, str]]] = {}
    for a in qs.order_by("created_at", "id"):
        out.setdefault(a.original_bill_id, []).append((a, reverse(name, kwargs={"adjustment_id": a.pk})))
    return out


urlpatterns = [
    path("readings/exceptions/<int:exception_id>/", held_reading, name="held_reading"),
    path("readings/corrections/", pending_corrections, name="pending_corrections"),
    path("bills/<int:bill_id>/adjustments/new/", new_adjustment, name="new_adjustment"),
    path("adjustments/<int:adjustment_id>/", adjustment_detail, name="adjustment_detail"),
    path("portal/adjustments/<int:adjustment_id>/", portal_adjustment, name="portal_adjustment"),
]
