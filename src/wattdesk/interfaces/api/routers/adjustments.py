"""退补单 (corrections of issued bills) and decisions on held readings: one use-case call per endpoint.

``/api/adjustments`` (``application.billing.adjustment``): create a draft 退补 of an issued bill, approve it (by
someone other than its creator), issue it (its amount is posted to the ledger), cancel it; read them — staff
with ``billing.view`` in their scope, a customer (``portal.use``) only the issued ones of their own accounts.

``/api/reading-corrections`` (``application.billing.reading_correction``): accept / correct / estimate a held
reading or send it for a field check; approve or reject a correction waiting for its second approval.

Errors: 404 for an object outside the caller's scope, 409 when the object is in the wrong state (someone acted
first, a bill that is not issued), 403 for the four-eyes rule, 422 with the reason for bad input.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.params.functions import Query

from wattdesk.application.billing import adjustment as adj_uc
from wattdesk.application.billing import reading_correction as rc_uc
from wattdesk.application.billing.review import BillActionRefused
from wattdesk.application.billing.run import BillingInputError, BillNotFound, BillStateError
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import bills_for, is_customer, meters_for
from wattdesk.domain.billing.models import AdjustmentStatus, BillAdjustment, ReadingCorrection
from wattdesk.domain.metering.models import RegisterReading
from wattdesk.interfaces.api.deps import require
from wattdesk.interfaces.api.schemas.common import (
    NO_CONTROL_CHARS,
    DecimalStr,
    ErrorRead,
    ValidationErrorRead,
)

router = Router(tags=["adjustments"])
corrections_router = Router(tags=["reading corrections"])
MAX_ID = 2**63 - 1


# --- schemas ------------------------------------------------------------------------------------------------


class AdjustmentCreate(Schema):
    bill_id: int = Field(gt=0, le=MAX_ID)
    error_type: str = Field(
        max_length=24, description="wrong_reading, kvarh, multiplier, meter_error, stopped_meter"
    )
    reason_code: str = Field(max_length=40, pattern=NO_CONTROL_CHARS)
    reason: str = Field(max_length=300)
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "wrong_reading: correct_kwh; kvarh: correct_kvarh; multiplier: used_multiplier, correct_multiplier, "
            "since; meter_error: error_percent (−5 = 5 % slow), since (last check); stopped_meter: since, "
            "normal_months"
        ),
    )


class AdjustmentLineRead(Schema):
    seq: int
    bill_id: int
    code: str
    description: str
    unit: str
    rate: DecimalStr
    original_quantity: DecimalStr
    corrected_quantity: DecimalStr
    quantity: DecimalStr
    original_amount: DecimalStr
    corrected_amount: DecimalStr
    amount: DecimalStr


class AdjustmentRead(Schema):
    id: int
    original_bill_id: int
    account: str
    original_period: str
    error_type: str
    reason_code: str
    reason: str
    period_from: date
    period_to: date = Field(description="exclusive")
    period_rule: str
    price_source: str
    kwh_difference: DecimalStr
    kvarh_difference: DecimalStr
    amount: DecimalStr = Field(description="> 0 back-bill (补收), < 0 refund (退还)")
    status: str
    created_at: datetime
    approved_at: datetime | None
    issued_at: datetime | None
    due_on: date | None
    lines: list[AdjustmentLineRead]

    @staticmethod
    def resolve_account(obj: Any) -> str:
        return str(obj.account.number)

    @staticmethod
    def resolve_original_period(obj: Any) -> str:
        return str(obj.original_bill.period)

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.order_by("seq"))


class AdjustmentCancel(Schema):
    reason: str = Field(max_length=300)


class CorrectionCreate(Schema):
    reading_id: int = Field(gt=0, le=MAX_ID)
    action: str = Field(max_length=16, description="accept, correct, estimate, field_check")
    reason: str = Field(max_length=300)
    new_value: str | None = Field(
        None, max_length=24, description="the corrected register value (correct only)"
    )


class CorrectionReject(Schema):
    reason: str = Field(max_length=300)


class CorrectionRead(Schema):
    correction_id: int
    reading_id: int
    action: str
    status: str = Field(description="applied, pending (waits for a second approval), field_check, rejected")
    impact: DecimalStr = Field(description="estimated bill impact in yuan")
    kwh_before: DecimalStr | None
    kwh_after: DecimalStr | None
    cancelled_bill_id: int | None
    rebilled_bill_id: int | None
    rebill_skipped: str


RESPONSES = {200: AdjustmentRead, 403: ErrorRead, 404: ErrorRead, 409: ErrorRead, 422: ValidationErrorRead}
CORRECTION_RESPONSES = {
    200: CorrectionRead,
    403: ErrorRead,
    404: ErrorRead,
    409: ErrorRead,
    422: ValidationErrorRead,
}


def _refused(exc: BillingInputError) -> Status[dict[str, Any]]:
    if isinstance(exc, BillNotFound):
        raise Http404(str(exc)) from None
    if isinstance(exc, BillActionRefused):
        return Status(403, {"detail": str(exc)})
    if isinstance(exc, BillStateError):
        return Status(409, {"detail": str(exc)})
    head, sep, _rest = str(exc).partition(": ")
    field = head if sep and head.isidentifier() else "-"
    return Status(422, {"detail": str(exc), "errors": [{"index": None, "field": field, "reason": str(exc)}]})


def _visible(user: Any) -> QuerySet[BillAdjustment]:
    qs = BillAdjustment.objects.filter(original_bill__in=bills_for(user))
    if is_customer(user):
        qs = qs.filter(status=AdjustmentStatus.ISSUED)
    return qs.select_related("account", "original_bill")


def _read(adjustment_id: int) -> BillAdjustment:
    return BillAdjustment.objects.select_related("account", "original_bill").get(pk=adjustment_id)


def _scoped(user: Any, adjustment_id: int) -> BillAdjustment:
    if not 0 < adjustment_id <= MAX_ID:
        raise Http404("no such 退补")
    return get_object_or_404(_visible(user), pk=adjustment_id)


# --- 退补 ---------------------------------------------------------------------------------------------------


@router.get(
    "", response=list[AdjustmentRead], summary="退补单 in the caller's scope (customers: issued ones)"
)
def list_adjustments(
    request: Any,
    account: str | None = Query(None, max_length=32, pattern=NO_CONTROL_CHARS, description="account number"),
    bill_id: int | None = Query(None, gt=0, le=MAX_ID),
) -> list[BillAdjustment]:
    user = require(request, roles.BILLING_VIEW, roles.PORTAL_USE)
    qs = _visible(user)
    if account:
        qs = qs.filter(account__number=account)
    if bill_id:
        qs = qs.filter(original_bill_id=bill_id)
    return list(qs.prefetch_related("lines").order_by("-created_at", "-id")[:500])


@router.post("", response={201: AdjustmentRead, **RESPONSES}, summary="Create a draft 退补 of an issued bill")
def create(request: Any, payload: AdjustmentCreate) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    if not bills_for(user).filter(pk=payload.bill_id).exists():
        raise Http404("no such bill")
    now = timezone.now()
    try:
        r = adj_uc.create_adjustment(
            bill_id=payload.bill_id,
            error_type=payload.error_type,
            reason_code=payload.reason_code,
            reason=payload.reason,
            inputs=payload.inputs,
            user=user,
            created_at=now,
            today=timezone.localdate(now),
        )
    except BillingInputError as exc:
        return _refused(exc)
    return Status(201, _read(r.adjustment_id))


@router.get("/{adjustment_id}", response=AdjustmentRead, summary="One 退补单 with its lines")
def get_adjustment(request: Any, adjustment_id: int) -> BillAdjustment:
    user = require(request, roles.BILLING_VIEW, roles.PORTAL_USE)
    return _scoped(user, adjustment_id)


@router.post(
    "/{adjustment_id}/approve", response=RESPONSES, summary="Approve a draft 退补 (not by its creator)"
)
def approve(request: Any, adjustment_id: int) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    a = _scoped(user, adjustment_id)
    try:
        adj_uc.approve_adjustment(adjustment_id=a.pk, user=user, approved_at=timezone.now())
    except BillingInputError as exc:
        return _refused(exc)
    return Status(200, _read(a.pk))


@router.post(
    "/{adjustment_id}/issue", response=RESPONSES, summary="Issue an approved 退补: posted to the ledger"
)
def issue(request: Any, adjustment_id: int) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    a = _scoped(user, adjustment_id)
    now = timezone.now()
    try:
        adj_uc.issue_adjustment(
            adjustment_id=a.pk, user=user, issued_at=now, issued_on=timezone.localdate(now)
        )
    except BillingInputError as exc:
        return _refused(exc)
    return Status(200, _read(a.pk))


@router.post("/{adjustment_id}/cancel", response=RESPONSES, summary="Cancel a draft or approved 退补")
def cancel(request: Any, adjustment_id: int, payload: AdjustmentCancel) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    a = _scoped(user, adjustment_id)
    try:
        adj_uc.cancel_adjustment(
            adjustment_id=a.pk, user=user, cancelled_at=timezone.now(), reason=payload.reason
        )
    except BillingInputError as exc:
        return _refused(exc)
    return Status(200, _read(a.pk))


# --- held readings --------------------------------------------------------------------------------------------


def _corrected(r: rc_uc.CorrectionResult) -> Status[Any]:
    return Status(
        200,
        {
            "correction_id": r.correction_id,
            "reading_id": r.reading_id,
            "action": r.action,
            "status": r.status,
            "impact": r.impact,
            "kwh_before": r.kwh_before,
            "kwh_after": r.kwh_after,
            "cancelled_bill_id": r.cancelled_bill_id,
            "rebilled_bill_id": r.rebilled_bill_id,
            "rebill_skipped": r.rebill_skipped,
        },
    )


def _correction_in_scope(user: Any, correction_id: int) -> ReadingCorrection:
    if not 0 < correction_id <= MAX_ID:
        raise Http404("no such correction")
    return get_object_or_404(
        ReadingCorrection.objects.filter(reading__register__meter__in=meters_for(user)), pk=correction_id
    )


@corrections_router.post(
    "",
    response=CORRECTION_RESPONSES,
    summary="Accept, correct, estimate a held reading or send it for a field check",
)
def decide(request: Any, payload: CorrectionCreate) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    if not RegisterReading.objects.filter(
        pk=payload.reading_id, register__meter__in=meters_for(user)
    ).exists():
        raise Http404("no such reading")
    try:
        r = rc_uc.decide(
            reading_id=payload.reading_id,
            action=payload.action,
            reason=payload.reason,
            new_value=payload.new_value,
            user=user,
            decided_at=timezone.now(),
        )
    except BillingInputError as exc:
        return _refused(exc)
    return _corrected(r)


@corrections_router.post(
    "/{correction_id}/approve",
    response=CORRECTION_RESPONSES,
    summary="Second approval of a pending correction",
)
def approve_correction(request: Any, correction_id: int) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    c = _correction_in_scope(user, correction_id)
    try:
        r = rc_uc.approve_correction(correction_id=c.pk, user=user, approved_at=timezone.now())
    except BillingInputError as exc:
        return _refused(exc)
    return _corrected(r)


@corrections_router.post(
    "/{correction_id}/reject", response=CORRECTION_RESPONSES, summary="Reject a pending correction"
)
def reject_correction(request: Any, correction_id: int, payload: CorrectionReject) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    c = _correction_in_scope(user, correction_id)
    try:
        r = rc_uc.reject_correction(
            correction_id=c.pk, user=user, rejected_at=timezone.now(), reason=payload.reason
        )
    except BillingInputError as exc:
        return _refused(exc)
    return _corrected(r)
