"""Use cases: late-fee waiver approval (违约金减免审批), four-eyes.

1. ``request_waiver``: a user holding ``ledger.waive_request`` asks for the late fee of a bill in their scope to
   be waived, with a reason. The request records the late fee outstanding at that moment (the bill's
   unreversed late-fee entries). At most one pending request per bill (a database rule as well).
2. ``approve_waiver``: a *different* user holding ``ledger.waive`` approves: in the same transaction the
   request becomes ``approved`` and ``application.late_fees.waive_late_fee`` reverses the bill's late fees on
   the ledger (everything assessed up to the decision, which is what the request asked for plus any accrual
   since; the amount actually waived is stored in ``waived``). If the waiver is refused nothing is written.
3. ``reject_waiver``: a different user holding ``ledger.waive`` rejects with a reason.

Each step is audited (``ledger.waive_request`` / ``ledger.waive_approve`` / ``ledger.waive_reject``; the
approval also writes ``waive_late_fee``'s own ``ledger.waive`` entry). The caller passes the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from wattdesk.application.errors import InputError
from wattdesk.application.ledger.late_fees import WaiverRefused, waive_late_fee
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, bills_for, has_capability
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.domain.payments.models import WaiverRequest, WaiverStatus

ZERO = Decimal("0.00")
MAX_TEXT = 300


class WaiverRequestRefused(InputError):
    """The request or decision is not allowed (capability, reason, state, four-eyes, nothing to waive)."""


class WaiverNotFound(InputError):
    """No such bill or waiver request in the user's scope."""


def late_fee_outstanding(*, bill_id: int) -> Decimal:
    """The bill's late fee still on the ledger (its late-fee entries not reversed)."""
    total = LedgerEntry.objects.filter(
        bill_id=bill_id, kind=LedgerEntryKind.LATE_FEE, reversed_by__isnull=True
    ).aggregate(s=MoneySum("amount", default=ZERO))["s"]
    return Decimal(total)


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise WaiverRequestRefused(f"a {what} is required")
    if len(text) > MAX_TEXT:
        raise WaiverRequestRefused(f"the {what} is longer than {MAX_TEXT} characters")
    return text


def visible_requests(*, user: Any) -> QuerySet[WaiverRequest]:
    """The waiver requests on bills of accounts in the user's scope."""
    return WaiverRequest.objects.filter(bill__account__in=accounts_for(user)).select_related(
        "bill__account__customer", "requested_by", "decided_by"
    )


@dataclass(frozen=True)
class BillLateFee:
    bill_id: int
    period: str
    account_number: str
    late_fee: Decimal
    pending_request_id: int | None


def bills_with_late_fee(*, user: Any, account_number: str) -> list[BillLateFee]:
    """The bills of one account (in the user's scope) that carry a late fee, for the request form."""
    account = accounts_for(user).filter(number=(account_number or "").strip()).first()
    if account is None:
        raise WaiverNotFound(f"no account {account_number!r}")
    fees = dict(
        LedgerEntry.objects.filter(
            account_id=account.pk, kind=LedgerEntryKind.LATE_FEE, reversed_by__isnull=True, bill__isnull=False
        )
        .values("bill_id")
        .annotate(s=MoneySum("amount"))
        .values_list("bill_id", "s")
    )
    pending = dict(
        WaiverRequest.objects.filter(bill_id__in=list(fees), status=WaiverStatus.PENDING).values_list(
            "bill_id", "pk"
        )
    )
    periods = dict(bills_for(user).filter(pk__in=list(fees)).values_list("pk", "period"))
    return [
        BillLateFee(b, periods[b], account.number, Decimal(s), pending.get(b))
        for b, s in sorted(fees.items(), key=lambda kv: (periods.get(kv[0], ""), kv[0]))
        if s and s > 0 and b in periods
    ]


def request_waiver(*, bill_id: int, reason: str, user: Any, requested_at: datetime) -> WaiverRequest:
    if not has_capability(user, roles.LEDGER_WAIVE_REQUEST):
        raise WaiverRequestRefused("asking for a waiver needs the ledger.waive_request capability")
    reason = _text(reason, "reason")
    bill = bills_for(user).filter(pk=bill_id).select_related("account").first()
    if bill is None:
        raise WaiverNotFound(f"no bill {bill_id}")
    with transaction.atomic():
        amount = late_fee_outstanding(bill_id=bill.pk)
        if amount <= 0:
            raise WaiverRequestRefused(f"bill {bill.pk} has no late fee to waive")
        if WaiverRequest.objects.filter(bill_id=bill.pk, status=WaiverStatus.PENDING).exists():
            raise WaiverRequestRefused(f"bill {bill.pk} already has a pending waiver request")
        try:
            with transaction.atomic():
                req = WaiverRequest.objects.create(
                    bill=bill, amount=amount, reason=reason, requested_by=user, requested_at=requested_at
                )
        except IntegrityError as exc:  # a concurrent request for the same bill won
            raise WaiverRequestRefused(f"bill {bill.pk} already has a pending waiver request") from exc
        audit.record_batch(
            actor=user,
            action="ledger.waive_request",
            object_repr=f"waiver request {req.pk} bill {bill.pk} account {bill.account.number}",
            object_pk=req.pk,
            changes={"status": (None, WaiverStatus.PENDING), "late_fee": str(amount), "reason": reason},
        )
    return req


def _pending_for_decision(*, request_id: int, user: Any) -> WaiverRequest:
    """Lock the request (in the caller's transaction) and check it may be decided by ``user``."""
    if not has_capability(user, roles.LEDGER_WAIVE):
        raise WaiverRequestRefused("deciding a waiver needs the ledger.waive capability")
    req = (
        WaiverRequest.objects.select_for_update(of=("self",))
        .filter(pk=request_id, bill__account__in=accounts_for(user))
        .first()
    )
    if req is None:
        raise WaiverNotFound(f"no waiver request {request_id}")
    if req.status != WaiverStatus.PENDING:
        raise WaiverRequestRefused(f"waiver request {request_id} is already {req.status}")
    if req.requested_by_id == user.pk:
        raise WaiverRequestRefused(
            "four-eyes: a waiver request is decided by someone other than its requester"
        )
    return req


def approve_waiver(*, request_id: int, user: Any, decided_at: datetime, note: str = "") -> WaiverRequest:
    note = (note or "").strip()[:MAX_TEXT]
    with transaction.atomic():
        req = _pending_for_decision(request_id=request_id, user=user)
        try:
            result = waive_late_fee(
                bill_id=req.bill_id,
                reason=f"{req.reason} (减免申请 #{req.pk})"[:MAX_TEXT],
                user=user,
                waived_at=decided_at,
            )
        except WaiverRefused as exc:  # e.g. the fee was waived directly in the meantime: nothing is written
            raise WaiverRequestRefused(f"waiver request {req.pk}: {exc}") from exc
        WaiverRequest.objects.filter(pk=req.pk).update(
            status=WaiverStatus.APPROVED,
            decided_by=user,
            decided_at=decided_at,
            decision_note=note,
            waived=result.waived,
        )
        audit.record_batch(
            actor=user,
            action="ledger.waive_approve",
            object_repr=f"waiver request {req.pk} bill {req.bill_id}",
            object_pk=req.pk,
            changes={
                "status": (WaiverStatus.PENDING, WaiverStatus.APPROVED),
                "requested": str(req.amount),
                "waived": str(result.waived),
                "requested_by": req.requested_by_id,
                "note": note,
            },
        )
        req.refresh_from_db()
    return req


def reject_waiver(*, request_id: int, user: Any, decided_at: datetime, note: str) -> WaiverRequest:
    note = _text(note, "reason for the rejection")
    with transaction.atomic():
        req = _pending_for_decision(request_id=request_id, user=user)
        WaiverRequest.objects.filter(pk=req.pk).update(
            status=WaiverStatus.REJECTED, decided_by=user, decided_at=decided_at, decision_note=note
        )
        audit.record_batch(
            actor=user,
            action="ledger.waive_reject",
            object_repr=f"waiver request {req.pk} bill {req.bill_id}",
            object_pk=req.pk,
            changes={"status": (WaiverStatus.PENDING, WaiverStatus.REJECTED), "note": note},
        )
        req.refresh_from_db()
    return req


__all__ = [
    "BillLateFee",
    "WaiverNotFound",
    "WaiverRequestRefused",
    "approve_waiver",
    "bills_with_late_fee",
    "late_fee_outstanding",
    "reject_waiver",
    "request_waiver",
    "visible_requests",
]
