"""Bills: staff with billing.view see their scope; a customer (portal.use) sees the bills of their accounts.

Review actions (``billing.review``), each one call of ``application.billing.review`` — the same use case, lock
and audit entry as ``wattdesk bill …`` and the review page: ``POST /api/bills/{id}/approve``, ``/hold``,
``/cancel`` and ``POST /api/bills/issue``. A bill in the wrong state (approved or cancelled meanwhile) is a 409.
"""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import paginate
from ninja.params.functions import Query

from wattdesk.application.billing import review
from wattdesk.application.billing.run import BillingInputError, BillNotFound, BillStateError
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import bills_for
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas.billing import (
    BillActionRead,
    BillApprove,
    BillCancel,
    BillCancelledRead,
    BillDetailRead,
    BillHold,
    BillIssue,
    BillIssueRead,
    BillRead,
)
from wattdesk.interfaces.api.schemas.common import (
    NO_CONTROL_CHARS,
    PERIOD_PATTERN,
    ErrorRead,
    ValidationErrorRead,
)

router = Router(tags=["bills"])

MAX_ID = 2**63 - 1


@router.get("", response=list[BillRead], summary="Bills in the caller's scope")
@paginate(Pages)
def list_bills(
    request: Any,
    period: str | None = Query(None, pattern=PERIOD_PATTERN, description="YYYY-MM"),
    status: BillStatus | None = Query(None),  # noqa: B008 (ninja parameter declaration)
    account: str | None = Query(None, max_length=32, pattern=NO_CONTROL_CHARS, description="account number"),
) -> QuerySet[Bill]:
    user = require(request, roles.BILLING_VIEW, roles.PORTAL_USE)
    qs = bills_for(user)
    if period:
        qs = qs.filter(period=period)
    if status:
        qs = qs.filter(status=status)
    if account:
        qs = qs.filter(account__number=account)
    return qs.select_related("account").order_by("-period", "account__number", "-version")


# before /{bill_id}: ninja matches paths in order, and /issue would reach the GET of a bill id
@router.post(
    "/issue",
    response={200: BillIssueRead, 422: ValidationErrorRead},
    summary="Issue (发行) the draft bills of a period, optionally one route (audited)",
)
def issue(request: Any, payload: BillIssue) -> Status[dict[str, Any]]:
    user = require(request, roles.BILLING_REVIEW)
    now = timezone.now()
    policy = (
        review.IssuePolicy(due_days=payload.due_days)
        if payload.due_days is not None
        else review.IssuePolicy()
    )
    try:
        r = review.issue_bills(
            period=payload.period,
            user=user,
            route=payload.route or None,
            issued_at=now,
            issued_on=timezone.localdate(now),
            include_held_approved=payload.include_held_approved,
            policy=policy,
        )
    except BillingInputError as exc:
        return Status(
            422, {"detail": str(exc), "errors": [{"index": None, "field": "route", "reason": str(exc)}]}
        )
    return Status(
        200,
        {
            "period": r.period,
            "issued": r.issued,
            "total": r.total,
            "due_on": r.due_on,
            "still_held": r.still_held,
        },
    )


@router.get("/{bill_id}", response=BillDetailRead, summary="One bill with its lines")
def get_bill(request: Any, bill_id: int) -> Bill:
    user = require(request, roles.BILLING_VIEW, roles.PORTAL_USE)
    if not 0 < bill_id <= MAX_ID:
        raise Http404("no such bill")
    return get_object_or_404(bills_for(user).select_related("account"), pk=bill_id)


# --- review actions: one use case each (application.billing.review: its lock and audit entry) --------------


def _scoped(user: Any, bill_id: int) -> Bill:
    if not 0 < bill_id <= MAX_ID:
        raise Http404("no such bill")
    return get_object_or_404(bills_for(user).only("pk"), pk=bill_id)


def _refused(exc: BillingInputError) -> Status[dict[str, Any]]:
    """A bill in the wrong state is a 409 (someone acted first); other refusals a 422."""
    if isinstance(exc, BillNotFound):
        raise Http404("no such bill") from None
    return Status(409 if isinstance(exc, BillStateError) else 422, {"detail": str(exc)})


def _acted(r: Any, status: str, **more: Any) -> Status[dict[str, Any]]:
    """The 200 answer of a review action: which bill (account, period, total) and the status it is now in."""
    return Status(
        200,
        {
            "bill_id": r.bill_id,
            "account": r.account_number,
            "period": r.period,
            "total": r.total,
            "status": status,
            **more,
        },
    )


ACTION_RESPONSES = {200: BillActionRead, 404: ErrorRead, 409: ErrorRead, 422: ValidationErrorRead}


@router.post(
    "/{bill_id}/approve", response=ACTION_RESPONSES, summary="Approve a held bill (复核通过, audited)"
)
def approve(request: Any, bill_id: int, payload: BillApprove) -> Status[dict[str, Any]]:
    user = require(request, roles.BILLING_REVIEW)
    bill = _scoped(user, bill_id)
    try:
        r = review.approve_bill(bill_id=bill.pk, user=user, approved_at=timezone.now(), note=payload.note)
    except BillingInputError as exc:
        return _refused(exc)
    return _acted(r, "draft")


@router.post(
    "/{bill_id}/hold",
    response=ACTION_RESPONSES,
    summary="Hold a draft bill for review, or keep a held one (audited)",
)
def hold(request: Any, bill_id: int, payload: BillHold) -> Status[dict[str, Any]]:
    user = require(request, roles.BILLING_REVIEW)
    bill = _scoped(user, bill_id)
    try:
        r = review.hold_bill(bill_id=bill.pk, user=user, held_at=timezone.now(), reason=payload.reason)
    except BillingInputError as exc:
        return _refused(exc)
    return _acted(r, "held")


@router.post(
    "/{bill_id}/cancel",
    response={200: BillCancelledRead, 404: ErrorRead, 409: ErrorRead, 422: ValidationErrorRead},
    summary="Cancel a bill (作废): its ledger charge is reversed; the next run bills the account again (audited)",
)
def cancel(request: Any, bill_id: int, payload: BillCancel) -> Status[dict[str, Any]]:
    user = require(request, roles.BILLING_REVIEW)
    bill = _scoped(user, bill_id)
    try:
        r = review.cancel_bill(bill_id=bill.pk, user=user, cancelled_at=timezone.now(), reason=payload.reason)
    except BillingInputError as exc:
        return _refused(exc)
    return _acted(
        r,
        "cancelled",
        version=r.version,
        reversal_entry_id=r.reversal_id,
        reversal_amount=r.reversal_amount,
    )
