"""The previous ``post_payment`` (before issue 10, part 4), kept as the baseline of ``bench_payments_api.py``.

Copied from ``wattdesk.application.payments.posting`` as it was: the account, an idempotency SELECT, a
savepoint around the ledger entry and the payment, the account lock, ``apply_credits`` (open items and credits
read back), ``restore_after_payment`` for every account, the allocations, credit and balance read back for the
answer, one ``payments.post`` audit entry: about twenty statements per payment. Not used by the product.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.application.fee_control.prepaid import restore_after_payment
from wattdesk.application.payments.posting import (
    AllocationRead,
    Outcome,
    PaymentConflict,
    PostResult,
    money,
)
from wattdesk.domain import audit
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger import operations as ledger_ops
from wattdesk.domain.ledger import queries as ledger_queries
from wattdesk.domain.ledger.models import LedgerEntryKind
from wattdesk.domain.payments import operations, queries
from wattdesk.domain.payments.models import Payment, PaymentChannel, PaymentStatus

ZERO = Decimal("0.00")


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


def post_payment_baseline(
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
    value = money(amount)
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
        result = _result(payment, "posted", account.number)
        _audit_posted(result, channel=channel, txn=txn, user=user)
        return result


def _audit_posted(r: PostResult, *, channel: str, txn: str, user: Any) -> None:
    """The one audit entry of a posted payment (``payments.post``), whichever interface or channel posted it;
    a duplicate posts nothing and records nothing."""
    audit.record_batch(
        actor=user,
        action="payments.post",
        object_repr=f"payment {r.payment_id} {channel}:{txn}",
        object_pk=r.payment_id,
        changes={
            "status": (None, PaymentStatus.POSTED),
            "account": r.account_number,
            "channel": channel,
            "amount": str(r.amount),
            "allocated": str(sum((a.amount for a in r.allocations), ZERO)),
            "balance": str(r.balance),
        },
    )
