"""Use cases: post a payment (缴费入账) exactly once per channel transaction, and reverse one (冲正).

``post_payment`` runs in one transaction: it locks the account row first (``FOR UPDATE``), then writes the
ledger entry and the payment, whose ``INSERT ... ON CONFLICT DO NOTHING`` is the idempotency check: the UNIQUE
(channel, channel_txn_id) constraint decides between concurrent callers, and the loser's block is rolled back
(its ledger entry with it); it re-reads the winner's payment and answers ``duplicate`` having posted nothing.
Every unallocated credit of the account — this payment included — is allocated to
the open items by ``core.allocation`` (oldest debt first, late fee before principal). Whatever is left stays
as a credit (a negative balance) and is applied to the next bill by ``apply_credits`` (nightly pass, or the
next payment). After posting, ``fee_control.restore_after_payment`` queues the restore of a disconnected
account that the payment settles (same transaction), asked only for accounts with a disconnection order or
a meter command.

``post_payments`` posts a batch (bank returns, aggregators, ``POST /api/payments/batch``) the same way in one
transaction, all or nothing, with a fixed number of statements per batch instead of per payment.

A restore the payment makes due is queued with the payment and sent by the task queue's worker after the
commit (``fee_control.prepaid.dispatch_after_commit``): the caller never waits for the head-end.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.application.fee_control.prepaid import dispatch_after_commit, restore_after_payment
from wattdesk.core.money import AmountError, parse_amount
from wattdesk.domain import audit, bulk
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


class AccountNotFound(InputError):
    """No account with that number."""


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


class _Lost(Exception):
    """A concurrent caller posted the same channel transaction first (our insert did nothing)."""


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
    """Post one payment, idempotently per (channel, channel_txn_id).

    A fixed, small number of statements (see docs/performance.md, "Payments through the API"): the account
    locked, with whether a restore can apply and whether the transaction id is already known, in one read;
    the ledger entry (``post_entries``); the payment, whose insert is the idempotency check (``ON CONFLICT
    DO NOTHING``: the UNIQUE (channel, channel_txn_id) decides between concurrent callers); one read of the
    account's open items, credits and balance; the allocations computed from it and inserted in one
    statement; the restore only for accounts with a disconnection order or meter command; one audit entry.
    A caller that loses the race has its block rolled back and answers ``duplicate`` (or the conflict)."""
    value = money(amount)
    if channel not in PaymentChannel.values:
        raise InputError(f"unknown channel {channel!r}: use one of {', '.join(PaymentChannel.values)}")
    txn = (channel_txn_id or "").strip()
    if not txn or len(txn) > 64:
        raise InputError("channel transaction id must be 1 to 64 characters")
    if received_at.tzinfo is None:
        raise InputError("received_at must be timezone-aware")
    received_on = timezone.localtime(received_at).date()
    try:
        with transaction.atomic():
            found = _locked_account(account_number, channel, txn)
            if found is None:
                raise AccountNotFound(f"no account {account_number!r}")
            account_id, may_restore, known = found
            if known is None:
                return _post_new(
                    account_id, account_number, value, channel, txn, received_at, received_on,
                    user=user, outlet=outlet, memo=memo, may_restore=may_restore,
                )  # fmt: skip
    except _Lost:
        account_id = Account.objects.values_list("pk", flat=True).get(number=account_number)
    existing = Payment.objects.get(channel=channel, channel_txn_id=txn)
    if existing.account_id != account_id or existing.amount != value:
        raise PaymentConflict(
            f"{channel} transaction {txn!r} was already posted for another account or amount"
        )
    return _result(existing, "duplicate", account_number)


def _locked_account(number: str, channel: str, txn: str) -> tuple[int, bool, int | None] | None:
    """(account id, whether a restore can apply: it has a disconnection order or a meter command, the id of
    a payment already posted for this channel transaction) with the account row locked (``FOR UPDATE`` on
    PostgreSQL; SQLite's write transaction is already exclusive); None: no account. One statement, written
    out once (the ORM compiled the same query at a third of a payment's CPU)."""
    with connection.cursor() as cur:
        cur.execute(_locked_account_sql(), [channel, txn, number])
        row = cur.fetchone()
    if row is None:
        return None
    return int(row[0]), bool(row[1] or row[2]), row[3]


@functools.cache
def _locked_account_sql() -> str:
    qn = connection.ops.quote_name
    t = {m: qn(m._meta.db_table) for m in (Account, DisconnectionOrder, MeterCommand, Payment)}
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    return (
        f"SELECT a.id, "
        f"EXISTS (SELECT 1 FROM {t[DisconnectionOrder]} o WHERE o.account_id = a.id), "
        f"EXISTS (SELECT 1 FROM {t[MeterCommand]} m WHERE m.account_id = a.id), "
        f"(SELECT p.id FROM {t[Payment]} p WHERE p.channel = %s AND p.channel_txn_id = %s) "
        f"FROM {t[Account]} a WHERE a.number = %s{lock}"
    )


_ALLOCATION_FIELDS = ("payment", "bill", "ledger_entry", "kind", "amount", "allocated_on")
_PAYMENT_FIELDS = (
    "account", "amount", "channel", "channel_txn_id", "received_at", "received_on", "user", "outlet",
    "status", "memo", "ledger_entry",
)  # fmt: skip


def _insert_payment(values: dict[str, Any]) -> int | None:
    """INSERT the payment unless its (channel, channel_txn_id) exists: its id, or None (the same statement on
    both engines: ``ON CONFLICT DO NOTHING RETURNING``, SQLite >= 3.35)."""
    sql, fields = _insert_payment_sql()
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return None if row is None else int(row[0])


@functools.cache
def _insert_payment_sql() -> tuple[str, list[Field[Any, Any]]]:
    qn = connection.ops.quote_name
    fields = [cast("Field[Any, Any]", Payment._meta.get_field(name)) for name in _PAYMENT_FIELDS]
    cols = ", ".join(qn(c) for c in bulk.columns(Payment, _PAYMENT_FIELDS))
    key = ", ".join(qn(c) for c in bulk.columns(Payment, ("channel", "channel_txn_id")))
    marks = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {qn(Payment._meta.db_table)} ({cols}) VALUES ({marks}) "
        f"ON CONFLICT ({key}) DO NOTHING RETURNING {qn('id')}"
    )
    return sql, fields


def _post_new(
    account_id: int,
    number: str,
    value: Decimal,
    channel: str,
    txn: str,
    received_at: datetime,
    received_on: date,
    *,
    user: Any,
    outlet: str | None,
    memo: str,
    may_restore: bool,
) -> PostResult:
    (entry_id,) = ledger_ops.post_entries(
        entries=[
            ledger_ops.Posting(
                account_id, LedgerEntryKind.PAYMENT, -value, received_at, None, f"{channel}:{txn}"[:300]
            )
        ]
    )
    payment_id = _insert_payment(
        {
            "account": account_id,
            "amount": value,
            "channel": channel,
            "channel_txn_id": txn,
            "received_at": received_at,
            "received_on": received_on,
            "user": user.pk if getattr(user, "pk", None) is not None else None,
            "outlet": outlet or "",
            "status": PaymentStatus.POSTED.value,
            "memo": memo[:300],
            "ledger_entry": entry_id,
        }
    )
    if payment_id is None:
        raise _Lost  # rolls back the ledger entry with the block
    # the account is locked: its open items, credits (this payment's included) and balance, read once
    found = queries.receivables([account_id])[account_id]
    planned = operations.plan_allocations(
        items={account_id: found.items}, credits={account_id: found.credits}, allocated_on=received_on
    )
    if planned:
        bulk.insert_rows(
            PaymentAllocation,
            _ALLOCATION_FIELDS,
            [(a.payment_id, a.bill_id, a.ledger_entry_id, a.kind, a.amount, a.allocated_on) for a in planned],
        )
    if may_restore:
        # restore promptly after payment (复电), whatever the channel: the restore order / meter command is
        # written in this transaction; the head-end is called by the task queue's worker after the commit
        restore_after_payment(account_id=account_id, payment_id=payment_id, now=received_at)
    result = PostResult(
        outcome="posted",
        payment_id=payment_id,
        account_number=number,
        amount=value,
        allocations=tuple(
            AllocationRead(a.bill_id, a.kind, a.amount) for a in planned if a.payment_id == payment_id
        ),
        credit=sum((c.remaining for c in found.credits), ZERO) - sum((a.amount for a in planned), ZERO),
        balance=found.balance,
    )
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

    Set-based end to end, a fixed number of statements per batch: the accounts, the payments already posted,
    the accounts locked, one bulk write (``domain/bulk.py``: COPY on PostgreSQL) of the ledger entries
    (``post_entries``), of the payments and of the allocations, which are planned in one pass
    (``plan_allocations``) over ONE read of the accounts' open items, credits and balances
    (``queries.receivables``, which also answers credit and balance); ``restore_after_payment`` only for the
    accounts with a disconnection order or a meter command. The audit trail gets one ``payments.batch``
    entry for the batch (like a billing run).

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


class _Posted(NamedTuple):
    """A payment of a batch as written (or found already posted): what the results and the restore need."""

    pk: int
    account_id: int
    amount: Decimal
    channel: str
    received_at: datetime


def _post_batch(batch: list[_Item], user: Any) -> list[PostResult]:
    keys = {i.key for i in batch}
    stored = {
        (channel, txn): _Posted(pk, account_id, amount, channel, at)
        for pk, account_id, amount, channel, txn, at in Payment.objects.filter(
            channel__in={k[0] for k in keys}, channel_txn_id__in={k[1] for k in keys}
        ).values_list("pk", "account_id", "amount", "channel", "channel_txn_id", "received_at")
        if (channel, txn) in keys
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
    taker = user.pk if getattr(user, "pk", None) is not None else None
    account_ids = sorted({i.account_id for i in batch})
    posted: list[_Posted] = []
    planned: list[PaymentAllocation] = []
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
        payment_ids = bulk.reserve_ids(Payment, len(new))
        at_db = _db_datetimes({i.given.received_at for i in new})
        days = {i.index: timezone.localtime(i.given.received_at).date() for i in new}
        bulk.insert_rows(
            Payment,
            ("id", *_PAYMENT_FIELDS),
            [
                (
                    pk,
                    i.account_id,
                    i.amount,
                    i.key[0],
                    i.key[1],
                    at_db[i.given.received_at],
                    days[i.index],
                    taker,
                    i.given.outlet or "",
                    PaymentStatus.POSTED.value,
                    (i.given.memo or "")[:300],
                    entry_id,
                )
                for i, pk, entry_id in zip(new, payment_ids, entry_ids, strict=True)
            ],
        )
        posted = [
            _Posted(pk, i.account_id, i.amount, i.key[0], i.given.received_at)
            for i, pk in zip(new, payment_ids, strict=True)
        ]
    # the accounts are locked: their open items, credits (the new payments' included) and balances, read once
    found = queries.receivables(account_ids)
    if new:
        # the day a payment starts reducing a late-fee base: its own day, as when posted one by one
        earliest: dict[int, date] = {}
        for i in new:
            earliest[i.account_id] = min(earliest.get(i.account_id, days[i.index]), days[i.index])
        by_day: dict[date, list[int]] = defaultdict(list)
        for account_id, day in earliest.items():
            by_day[day].append(account_id)
        for day, ids in sorted(by_day.items()):
            planned += operations.plan_allocations(
                items={a: found[a].items for a in ids},
                credits={a: found[a].credits for a in ids},
                allocated_on=day,
            )
        bulk.insert_rows(
            PaymentAllocation,
            _ALLOCATION_FIELDS,
            [(a.payment_id, a.bill_id, a.ledger_entry_id, a.kind, a.amount, a.allocated_on) for a in planned],
        )
        latest = {p.account_id: p for p in sorted(posted, key=lambda p: (p.received_at, p.pk))}
        commands: list[int] = []
        for account_id in sorted(_may_restore(list(latest))):
            p = latest[account_id]
            after = restore_after_payment(
                account_id=account_id, payment_id=p.pk, now=p.received_at, dispatch=False
            )
            if after.command_id is not None:
                commands.append(after.command_id)
        if commands:  # one task for the whole batch, sent by the worker after the commit
            dispatch_after_commit(command_ids=commands, now=max(p.received_at for p in posted))
        audit.record_batch(
            actor=user,
            action="payments.batch",
            object_repr=f"{len(posted)} payments ({', '.join(sorted({p.channel for p in posted}))})",
            changes={"payments": len(posted), "amount": str(sum((p.amount for p in posted), ZERO))},
        )
    payments = {**stored, **{i.key: p for i, p in zip(new, posted, strict=True)}}
    return _batch_results(batch, payments, {p.pk for p in posted}, found, planned)


def _db_datetimes(values: set[datetime]) -> dict[datetime, Any]:
    """Aware datetimes in the form the bulk writer takes (as they are on PostgreSQL; text on SQLite)."""
    if connection.vendor == "sqlite":
        adapt = connection.ops.adapt_datetimefield_value
        return {v: adapt(v) for v in values}
    return {v: v for v in values}


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


def _batch_results(
    batch: list[_Item],
    payments: dict[_Key, _Posted],
    new_ids: set[int],
    found: dict[int, queries.Receivables],
    planned: list[PaymentAllocation],
) -> list[PostResult]:
    """One result per item: the allocations just planned for a new payment (read back only for the payments
    found already posted), the account's credit and balance after the batch (from ``found``, read after the
    inserts, less what ``planned`` allocated)."""
    allocations: dict[int, list[AllocationRead]] = defaultdict(list)
    for a in planned:
        allocations[a.payment_id].append(AllocationRead(a.bill_id, a.kind, a.amount))
    old = [p.pk for p in payments.values() if p.pk not in new_ids]
    if old:
        for payment_id, bill_id, kind, amount in (
            PaymentAllocation.objects.filter(payment_id__in=old)
            .order_by("id")
            .values_list("payment_id", "bill_id", "kind", "amount")
        ):
            allocations[payment_id].append(AllocationRead(bill_id, kind, amount))
    allocated: dict[int, Decimal] = defaultdict(lambda: ZERO)
    owner = {p.pk: p.account_id for p in payments.values()}
    for a in planned:
        allocated[owner[a.payment_id]] += a.amount
    credit = {a: sum((c.remaining for c in r.credits), ZERO) - allocated[a] for a, r in found.items()}
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
                credit=credit[item.account_id],
                balance=found[item.account_id].balance,
            )
        )
    return results
