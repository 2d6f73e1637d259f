"""Use cases: post a payment (缴费入账) exactly once per channel transaction, and reverse one (冲正).

``post_payment`` runs in one transaction: it inserts the payment and its ledger entry inside a savepoint; the
UNIQUE (channel, channel_txn_id) constraint decides between concurrent callers, and the loser re-reads the
winner's payment and answers ``duplicate`` having posted nothing. The account row is then locked
(``select_for_update``) and every unallocated credit of the account — this payment included — is allocated to
the open items by ``core.allocation`` (oldest debt first, late fee before principal). Whatever is left stays
as a credit (a negative balance) and is applied to the next bill by ``apply_credits`` (nightly pass, or the
next payment). After posting, ``fee_control.restore_after_payment`` queues the restore of a disconnected
account that the payment settles (same transaction; the head-end is called after the commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.application.fee_control import restore_after_payment
from wattdesk.domain import audit
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger import operations as ledger_ops
from wattdesk.domain.ledger import queries as ledger_queries
from wattdesk.domain.ledger.models import LedgerEntryKind
from wattdesk.domain.payments import operations, queries
from wattdesk.domain.payments.models import Payment, PaymentChannel, PaymentStatus

Outcome = Literal["posted", "duplicate"]
ZERO = Decimal("0.00")


class PaymentConflict(InputError):
    """The channel transaction id was already used for a different account or amount."""


class PaymentNotFound(InputError):
    """No such payment."""


class PaymentAlreadyReversed(InputError):
    """The payment has already been reversed."""


@dataclass(frozen=True)
class AllocationRead:
    bill_id: int | None
    kind: str
    amount: Decimal


@dataclass(frozen=True)
class PostResult:
    outcome: Outcome
    payment_id: int
    account_number: str
    amount: Decimal
    allocations: tuple[AllocationRead, ...]  # this payment's allocations
    credit: Decimal  # the account's unallocated credit after posting
    balance: Decimal  # the account's ledger balance after posting (negative = credit)


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InputError(f"amount {value!r} is not a number") from exc
    if not amount.is_finite() or amount <= 0:
        raise InputError(f"amount must be > 0, got {value}")
    if amount != amount.quantize(Decimal("0.01")):
        raise InputError(f"amount {value} has more than two decimals (fen)")
    return amount.quantize(Decimal("0.01"))


def _result(payment: Payment, outcome: Outcome, number: str) -> PostResult:
    allocations = tuple(
        AllocationRead(a.bill_id, a.kind, a.amount) for a in payment.allocations.order_by("id")
    )
    credit = sum(
        (c.remaining for c in queries.credits([payment.account_id]).get(payment.account_id, [])), ZERO
    )
    return PostResult(
        outcome=outcome,
        payment_id=payment.pk,
        account_number=number,
        amount=payment.amount,
        allocations=allocations,
        credit=credit,
        balance=ledger_queries.balance(account_id=payment.account_id),
    )


def post_payment(
    *,
    account_number: str,
    amount: Any,
    channel: str,
    channel_txn_id: str,
    received_at: datetime,
    user: Any = None,
    outlet: str | None = None,
    memo: str = "",
) -> PostResult:
    """Post one payment, idempotently per (channel, channel_txn_id)."""
    value = _amount(amount)
    if channel not in PaymentChannel.values:
        raise InputError(f"unknown channel {channel!r}: use one of {', '.join(PaymentChannel.values)}")
    txn = (channel_txn_id or "").strip()
    if not txn or len(txn) > 64:
        raise InputError("channel transaction id must be 1 to 64 characters")
    if received_at.tzinfo is None:
        raise InputError("received_at must be timezone-aware")
    account = Account.objects.filter(number=account_number).only("id", "number").first()
    if account is None:
        raise InputError(f"no account {account_number!r}")
    received_on = timezone.localtime(received_at).date()

    with transaction.atomic():
        existing = Payment.objects.filter(channel=channel, channel_txn_id=txn).first()
        if existing is None:
            try:
                with transaction.atomic():  # savepoint: a concurrent winner makes this insert fail
                    entry = ledger_ops.post_entry(
                        account_id=account.pk,
                        kind=LedgerEntryKind.PAYMENT,
                        amount=-value,
                        posted_at=received_at,
                        memo=f"{channel}:{txn}"[:300],
                    )
                    payment = Payment.objects.create(
                        account_id=account.pk,
                        amount=value,
                        channel=channel,
                        channel_txn_id=txn,
                        received_at=received_at,
                        received_on=received_on,
                        user=user if getattr(user, "pk", None) is not None else None,
                        outlet=outlet or "",
                        memo=memo[:300],
                        ledger_entry=entry,
                    )
            except IntegrityError:
                existing = Payment.objects.filter(channel=channel, channel_txn_id=txn).first()
                if existing is None:
                    raise
        if existing is not None:
            if existing.account_id != account.pk or existing.amount != value:
                raise PaymentConflict(
                    f"{channel} transaction {txn!r} was already posted for another account or amount"
                )
            return _result(existing, "duplicate", account.number)
        Account.objects.select_for_update().filter(pk=account.pk).first()
        operations.apply_credits(account_ids=[account.pk], allocated_on=received_on)
        # restore promptly after payment (复电), whatever the channel: the restore order / meter command is
        # written in this transaction; the head-end is called only after the commit
        restore_after_payment(account_id=account.pk, payment_id=payment.pk, now=received_at)
        return _result(payment, "posted", account.number)


@dataclass(frozen=True)
class ReverseResult:
    payment_id: int
    reversal_entry_id: int
    amount: Decimal
    balance: Decimal


def reverse_payment(
    *,
    reason: str,
    reversed_at: datetime,
    payment_id: int | None = None,
    channel: str | None = None,
    channel_txn_id: str | None = None,
    user: Any = None,
) -> ReverseResult:
    """Reverse (冲正) a payment: a reversal entry on the ledger, the payment marked reversed; its allocations
    stop counting, so the items it settled are open again (and other credit is applied to them)."""
    reason = (reason or "").strip()
    if not reason:
        raise InputError("a reason is required to reverse a payment")
    with transaction.atomic():
        qs = Payment.objects.select_for_update()
        if payment_id is not None:
            payment = qs.filter(pk=payment_id).first()
        else:
            payment = qs.filter(channel=channel, channel_txn_id=channel_txn_id).first()
        if payment is None:
            raise PaymentNotFound("no such payment")
        if payment.status == PaymentStatus.REVERSED:
            raise PaymentAlreadyReversed(f"payment {payment.pk} has already been reversed")
        entry = ledger_ops.reverse_entry(
            entry_id=payment.ledger_entry_id, posted_at=reversed_at, memo=f"冲正: {reason}"[:300]
        )
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.REVERSED, reversal_entry=entry)
        Account.objects.select_for_update().filter(pk=payment.account_id).first()
        operations.apply_credits(
            account_ids=[payment.account_id], allocated_on=timezone.localtime(reversed_at).date()
        )
        audit.record_batch(
            actor=user,
            action="payments.reverse",
            object_repr=f"payment {payment.pk} {payment.channel}:{payment.channel_txn_id}",
            object_pk=payment.pk,
            changes={"status": ("posted", "reversed"), "amount": str(payment.amount), "reason": reason},
        )
        return ReverseResult(
            payment_id=payment.pk,
            reversal_entry_id=entry.pk,
            amount=entry.amount,
            balance=ledger_queries.balance(account_id=payment.account_id),
        )
