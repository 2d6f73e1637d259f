"""Use cases: post a payment (缴费入账) exactly once per channel transaction, and reverse one (冲正).

``post_payment`` runs in one transaction: it inserts the payment and its ledger entry inside a savepoint; the
UNIQUE (channel, channel_txn_id) constraint decides between concurrent callers, and the loser re-reads the
winner's payment and answers ``duplicate`` having posted nothing. The account row is then locked
(``select_for_update``) and every unallocated credit of the account — this payment included — is allocated to
the open items by ``core.allocation`` (oldest debt first, late fee before principal). Whatever is left stays
as a credit (a negative balance) and is applied to the next bill by ``apply_credits`` (nightly pass, or the
next payment). After posting, ``fee_control.restore_after_payment`` queues the restore of a disconnected
account that the payment settles (same transaction; the head-end is called after the commit).

``post_payments`` posts a batch (bank returns, aggregators, ``POST /api/payments/batch``) the same way in one
transaction, all or nothing, with a fixed number of queries per batch instead of per payment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.application.fee_control.prepaid import dispatch_after_commit, restore_after_payment
from wattdesk.core.money import AmountError, parse_amount
from wattdesk.domain import audit
from wattdesk.domain.customers.models import Account
from wattdesk.domain.dunning.models import DisconnectionOrder
from wattdesk.domain.fee_control.models import MeterCommand
from wattdesk.domain.fields import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from wattdesk.domain.ledger import operations as ledger_ops
from wattdesk.domain.ledger import queries as ledger_queries
from wattdesk.domain.ledger.models import LedgerEntryKind
from wattdesk.domain.payments import operations, queries
from wattdesk.domain.payments.models import Payment, PaymentAllocation, PaymentChannel, PaymentStatus

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


class AmountInvalid(InputError):
    """An amount from outside that is not a yuan amount a ``MoneyField`` can hold. ``field``, ``reason`` and
    ``limit`` come from :class:`wattdesk.core.money.AmountError` (for an interface that translates)."""

    def __init__(self, error: AmountError) -> None:
        super().__init__(str(error))
        self.field = error.field
        self.reason = error.reason
        self.limit = error.limit


def money(value: Any, *, name: str = "amount", allow_zero: bool = False) -> Decimal:
    """A yuan amount from user input (> 0, or >= 0 with ``allow_zero``), at most what the database column
    holds (``MoneyField``: 14 digits, 2 decimals); the one parser of amounts for every payment channel
    (counter, collector, cash close, gateway, API, CLI). Rules: :func:`wattdesk.core.money.parse_amount`.
    :class:`AmountInvalid` (an ``InputError`` naming ``name``) otherwise."""
    try:
        return parse_amount(
            value,
            field=name,
            max_digits=MONEY_MAX_DIGITS,
            places=MONEY_DECIMAL_PLACES,
            allow_zero=allow_zero,
        )
    except AmountError as exc:
        raise AmountInvalid(exc) from None


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
        # The account first, then the payment: the order every use case locks in (post_payment, waivers,
        # bill approval / hold / cancel through domain.billing.operations.lock_bill), so none of them can wait
        # for another in the opposite order.
        found = Payment.objects.all()
        if payment_id is not None:
            found = found.filter(pk=payment_id)
        else:
            found = found.filter(channel=channel, channel_txn_id=channel_txn_id)
        target = found.values_list("pk", "account_id").first()
        if target is None:
            raise PaymentNotFound("no such payment")
        Account.objects.select_for_update().filter(pk=target[1]).first()
        payment = Payment.objects.select_for_update().get(pk=target[0])
        if payment.status == PaymentStatus.REVERSED:
            raise PaymentAlreadyReversed(f"payment {payment.pk} has already been reversed")
        entry = ledger_ops.reverse_entry(
            entry_id=payment.ledger_entry_id, posted_at=reversed_at, memo=f"冲正: {reason}"[:300]
        )
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.REVERSED, reversal_entry=entry)
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


# --- batches ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentIn:
    """One payment of a batch: the arguments of ``post_payment``."""

    account_number: str
    amount: Any
    channel: str
    channel_txn_id: str
    received_at: datetime
    outlet: str = ""
    memo: str = ""


class BatchRejected(InputError):
    """Items of a batch are bad (or, with ``conflict``, reuse a transaction id for another account or amount);
    nothing was posted. ``errors``: every bad item as (index in the batch, field, reason)."""

    def __init__(self, errors: Sequence[tuple[int, str, str]], *, conflict: bool = False) -> None:
        self.errors = sorted(errors)
        self.conflict = conflict
        bad = len({i for i, _, _ in self.errors})
        super().__init__(f"{bad} {'conflicting' if conflict else 'bad'} item(s), nothing posted")


_Key = tuple[str, str]  # (channel, channel_txn_id)


@dataclass(frozen=True)
class _Item:
    index: int
    account_id: int
    amount: Decimal
    key: _Key
    given: PaymentIn


def _item_errors(index: int, item: PaymentIn) -> list[tuple[int, str, str]]:
    errors = []
    try:
        money(item.amount)
    except InputError as exc:
        errors.append((index, "amount", str(exc)))
    if item.channel not in PaymentChannel.values:
        errors.append((index, "channel", f"unknown channel {item.channel!r}"))
    txn = (item.channel_txn_id or "").strip()
    if not txn or len(txn) > 64:
        errors.append((index, "channel_txn_id", "channel transaction id must be 1 to 64 characters"))
    if item.received_at.tzinfo is None:
        errors.append((index, "received_at", "received_at must be timezone-aware"))
    return errors


def post_payments(*, items: Sequence[PaymentIn], user: Any = None) -> list[PostResult]:
    """Post a batch of payments (bank returns, aggregators) in one transaction: all or nothing, each item
    idempotent per (channel, channel_txn_id) exactly as in ``post_payment`` (an item already posted, or repeated
    within the batch, answers ``duplicate``). One result per item, in order; ``credit`` and ``balance`` are the
    account's after the whole batch.

    Set-based instead of ``post_payment`` per item (about twenty queries each): the accounts, the existing
    payments, one bulk insert of the ledger entries and one of the payments, ``apply_credits`` over the
    batch's accounts, the results in three queries; plus ``restore_after_payment`` per account paid. The audit
    trail gets one ``payments.batch`` entry for the batch (like a billing run) instead of one per ledger entry.

    Raises ``BatchRejected`` listing every bad item (nothing written); with ``conflict=True`` when transaction
    ids were already used — stored, or earlier in the batch — for another account or amount.
    """
    errors = [e for n, item in enumerate(items) for e in _item_errors(n, item)]
    ids = dict(
        Account.objects.filter(number__in={i.account_number for i in items}).values_list("number", "id")
    )
    errors += [
        (n, "account", f"no account {i.account_number!r}")
        for n, i in enumerate(items)
        if i.account_number not in ids
    ]
    if errors:
        raise BatchRejected(errors)
    batch = [
        _Item(n, ids[i.account_number], money(i.amount), (i.channel, i.channel_txn_id.strip()), i)
        for n, i in enumerate(items)
    ]
    with transaction.atomic():
        try:
            with transaction.atomic():  # savepoint: a concurrent caller may win a transaction id meanwhile
                return _post_batch(batch, user)
        except IntegrityError:
            pass
        # someone posted one of these transactions since we looked: decide item by item, as post_payment does
        results = []
        for item in batch:
            try:
                results.append(
                    post_payment(
                        account_number=item.given.account_number,
                        amount=item.amount,
                        channel=item.key[0],
                        channel_txn_id=item.key[1],
                        received_at=item.given.received_at,
                        user=user,
                        outlet=item.given.outlet,
                        memo=item.given.memo,
                    )
                )
            except PaymentConflict as exc:
                raise BatchRejected([(item.index, "channel_txn_id", str(exc))], conflict=True) from exc
        return results


def _post_batch(batch: list[_Item], user: Any) -> list[PostResult]:
    keys = {i.key for i in batch}
    stored = {
        (p.channel, p.channel_txn_id): p
        for p in Payment.objects.filter(
            channel__in={k[0] for k in keys}, channel_txn_id__in={k[1] for k in keys}
        )
        if (p.channel, p.channel_txn_id) in keys
    }
    first: dict[_Key, tuple[int, Decimal]] = {}
    conflicts: list[tuple[int, str, str]] = []
    new: list[_Item] = []
    for item in batch:
        old = stored.get(item.key)
        was = (old.account_id, old.amount) if old is not None else first.get(item.key)
        if was is None:
            first[item.key] = (item.account_id, item.amount)
            new.append(item)
        elif was != (item.account_id, item.amount):
            where = "already posted" if old is not None else "used earlier in this batch"
            reason = f"{item.key[0]} transaction {item.key[1]!r} {where} for another account or amount"
            conflicts.append((item.index, "channel_txn_id", reason))
    if conflicts:
        raise BatchRejected(conflicts, conflict=True)
    taker = user if getattr(user, "pk", None) is not None else None
    posted: list[Payment] = []
    if new:
        paid = sorted({i.account_id for i in new})
        list(Account.objects.select_for_update().filter(pk__in=paid).order_by("pk").values_list("pk"))
        entry_ids = ledger_ops.post_entries(
            entries=[
                ledger_ops.Posting(
                    i.account_id,
                    LedgerEntryKind.PAYMENT,
                    -i.amount,
                    i.given.received_at,
                    None,
                    f"{i.key[0]}:{i.key[1]}"[:300],
                )
                for i in new
            ]
        )
        posted = Payment.objects.bulk_create(
            Payment(
                account_id=i.account_id,
                amount=i.amount,
                channel=i.key[0],
                channel_txn_id=i.key[1],
                received_at=i.given.received_at,
                received_on=timezone.localtime(i.given.received_at).date(),
                user=taker,
                outlet=i.given.outlet or "",
                memo=(i.given.memo or "")[:300],
                ledger_entry_id=entry_id,
            )
            for i, entry_id in zip(new, entry_ids, strict=True)
        )
        # the day a payment starts reducing a late-fee base: its own day, as when posted one by one
        by_day: dict[date, list[int]] = defaultdict(list)
        earliest: dict[int, date] = {}
        for p in posted:
            earliest[p.account_id] = min(earliest.get(p.account_id, p.received_on), p.received_on)
        for account_id, day in earliest.items():
            by_day[day].append(account_id)
        for day, account_ids in sorted(by_day.items()):
            operations.apply_credits(account_ids=account_ids, allocated_on=day)
        latest = {p.account_id: p for p in sorted(posted, key=lambda p: (p.received_at, p.pk))}
        commands: list[int] = []
        for account_id in sorted(_may_restore(list(latest))):
            p = latest[account_id]
            after = restore_after_payment(
                account_id=account_id, payment_id=p.pk, now=p.received_at, dispatch=False
            )
            if after.command_id is not None:
                commands.append(after.command_id)
        if commands:  # one dispatch for the whole batch after its commit, not one per account
            dispatch_after_commit(command_ids=commands, now=max(p.received_at for p in posted))
        audit.record_batch(
            actor=user,
            action="payments.batch",
            object_repr=f"{len(posted)} payments ({', '.join(sorted({p.channel for p in posted}))})",
            changes={"payments": len(posted), "amount": str(sum((p.amount for p in posted), ZERO))},
        )
    payments = {**stored, **{(p.channel, p.channel_txn_id): p for p in posted}}
    return _batch_results(batch, payments, {p.pk for p in posted})


def _may_restore(account_ids: list[int]) -> set[int]:
    """The accounts for which ``restore_after_payment`` can have anything to do: those with any disconnection
    order (dunning) or any meter command (fee control) at all — a superset of what it checks. Two queries per
    batch instead of its two per account (three quarters of a batch's time when called for every account)."""
    found: set[int] = set()
    for model in (DisconnectionOrder, MeterCommand):
        for part in range(0, len(account_ids), queries.CHUNK):
            found.update(
                model.objects.filter(account_id__in=account_ids[part : part + queries.CHUNK])
                .values_list("account_id", flat=True)
                .distinct()
            )
    return found


def _batch_results(batch: list[_Item], payments: dict[_Key, Payment], new_ids: set[int]) -> list[PostResult]:
    allocations: dict[int, list[AllocationRead]] = defaultdict(list)
    for payment_id, bill_id, kind, amount in (
        PaymentAllocation.objects.filter(payment_id__in=[p.pk for p in payments.values()])
        .order_by("id")
        .values_list("payment_id", "bill_id", "kind", "amount")
    ):
        allocations[payment_id].append(AllocationRead(bill_id, kind, amount))
    account_ids = sorted({i.account_id for i in batch})
    credit = {a: sum((c.remaining for c in cs), ZERO) for a, cs in queries.credits(account_ids).items()}
    balances = ledger_queries.balances(account_ids=account_ids)
    results = []
    for item in batch:
        p = payments[item.key]
        outcome: Outcome = "posted" if p.pk in new_ids else "duplicate"
        new_ids.discard(p.pk)  # a repeat later in the batch is a duplicate
        results.append(
            PostResult(
                outcome=outcome,
                payment_id=p.pk,
                account_number=item.given.account_number,
                amount=p.amount,
                allocations=tuple(allocations.get(p.pk, ())),
                credit=credit.get(item.account_id, ZERO),
                balance=balances[item.account_id],
            )
        )
    return results
