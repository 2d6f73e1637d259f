"""Writes on the ledger: posting and reversing. Nothing else is possible (the ledger is append-only).

This module is the ONE path into the ledger. Every ledger row — the billing run's charges, late fees,
payments (one or a batch), reversals (cancelled bills, reversed payments, waivers), synthetic and demo data
— goes through :func:`post_entries` (or its one-entry case :func:`post_entry`, or :func:`reverse_entry`),
which checks every entry and writes them with the one bulk writer (``wattdesk.domain.bulk``: COPY on
PostgreSQL, multi-row INSERT on SQLite), so a billing run keeps its speed. The ledger table is *protected*:
the bulk writer, ``LedgerEntry.save()`` and ``LedgerEntry.objects.bulk_create()`` refuse to write it outside
this module, and ``tests/unit/test_one_ledger_path.py`` fails if other code inserts ledger rows.

The checks (:class:`InvalidPosting` when one fails; nothing of the call is written):

* ``kind`` is one of ``LedgerEntryKind``; a reversal only through :func:`reverse_entry`;
* ``amount`` is a finite ``Decimal``, not zero, to the fen (no fraction of a fen), within the column
  (at most 12 digits before the point);
* the sign the kind implies: a payment and a write-off decrease what the customer owes (< 0), a late fee
  and a refund increase it (> 0); a charge (a bill's total, negative when a reward exceeds it) and an
  adjustment may go either way;
* ``posted_at`` is a timezone-aware datetime; the memo fits its column (300 characters).

Callers own the transaction and decide the time (``posted_at``): the domain never reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction

from wattdesk.core.money import FEN
from wattdesk.domain import bulk
from wattdesk.domain.fields import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind

MAX_AMOUNT = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)  # exclusive bound of |amount|
MEMO_MAX = 300

#: the kinds :func:`post_entries` accepts, as plain strings (a reversal goes through reverse_entry)
_POSTABLE = {k.value: k.value for k in LedgerEntryKind if k != LedgerEntryKind.REVERSAL}
_NEGATIVE = frozenset({LedgerEntryKind.PAYMENT.value, LedgerEntryKind.WRITE_OFF.value})
_POSITIVE = frozenset({LedgerEntryKind.LATE_FEE.value, LedgerEntryKind.REFUND.value})

FIELDS = ("id", "account", "kind", "amount", "bill", "posted_at", "reverses", "memo")


class InvalidPosting(Exception):
    """A posting that the ledger does not accept (zero amount, not to the fen, wrong kind or sign, naive time)."""


class AlreadyReversed(Exception):
    """The entry has already been reversed."""


class Posting(NamedTuple):
    """One entry to post. ``amount`` > 0 increases what the customer owes; < 0 decreases it."""

    account_id: int
    kind: LedgerEntryKind | str
    amount: Decimal
    posted_at: datetime
    bill_id: int | None = None
    memo: str = ""


def post_entries(*, entries: Sequence[Posting]) -> Sequence[int]:
    """Check every entry, then write them all in bulk; returns their ids, in the order given.

    All or nothing: one invalid entry refuses the whole call before anything is written (the error names
    the entry's position). The rows are written in one savepoint, so a database error leaves none of them.
    """
    if not entries:
        return range(0)
    # The checks of _checked, inlined for the billing run's 10,000-entry batches; an entry that fails any of
    # them goes through _checked, which says which check and raises.
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    postable, negative, positive, fen, limit = _POSTABLE, _NEGATIVE, _POSITIVE, FEN, MAX_AMOUNT
    good_at: Any = None  # the last posted_at found valid: a batch usually shares one
    for i, e in enumerate(entries):
        account_id, kind, amount, at, bill_id, memo = e
        k = postable.get(kind) if isinstance(kind, str) else None
        if (
            k is not None
            and type(amount) is Decimal
            and amount.is_finite()
            and amount
            and abs(amount) < limit
            and amount == amount.quantize(fen)
            and (amount < 0 if k in negative else (amount > 0 if k in positive else True))
            and type(account_id) is int
            and (bill_id is None or type(bill_id) is int)
            and type(memo) is str
            and len(memo) <= MEMO_MAX
            and (at is good_at or (isinstance(at, datetime) and at.utcoffset() is not None))
        ):
            good_at = at
            append((account_id, k, amount, bill_id, at, None, memo))
        else:
            append(_checked(i, Posting(*e)))
    return _write(rows)


def post_entry(
    *,
    account_id: int,
    kind: LedgerEntryKind | str,
    amount: Decimal,
    posted_at: datetime,
    bill_id: int | None = None,
    memo: str = "",
) -> LedgerEntry:
    """Post one entry: :func:`post_entries` of one. Reversals go via :func:`reverse_entry`."""
    posting = Posting(account_id, kind, amount, posted_at, bill_id, memo)
    (entry_id,) = post_entries(entries=[posting])
    return _instance(entry_id, posting, kind=_POSTABLE[kind], reverses_id=None)


def reverse_entry(*, entry_id: int, posted_at: datetime, memo: str = "") -> LedgerEntry:
    """Post the exact opposite of an entry. Each entry can be reversed once; a reversal cannot be reversed."""
    with transaction.atomic():
        original = LedgerEntry.objects.select_for_update().get(pk=entry_id)
        if original.kind == LedgerEntryKind.REVERSAL:
            raise InvalidPosting(f"entry {entry_id} is itself a reversal; post a new entry instead")
        if LedgerEntry.objects.filter(reverses_id=entry_id).exists():
            raise AlreadyReversed(f"entry {entry_id} has already been reversed")
        posting = Posting(
            original.account_id, LedgerEntryKind.REVERSAL.value, -original.amount, posted_at,
            original.bill_id, memo or f"reversal of #{entry_id}",
        )  # fmt: skip
        _check_amount(0, posting.amount, posting.memo, posted_at)
        row = (
            posting.account_id, posting.kind, posting.amount, posting.bill_id, posted_at, entry_id, posting.memo
        )  # fmt: skip
        try:
            (new_id,) = _write([row])
        except IntegrityError as exc:  # a concurrent reversal won the unique index
            raise AlreadyReversed(f"entry {entry_id} has already been reversed") from exc
        return _instance(new_id, posting, kind=LedgerEntryKind.REVERSAL.value, reverses_id=entry_id)


# --- internals ----------------------------------------------------------------------------------------------


def _checked(i: int, e: Posting) -> tuple[Any, ...]:
    """The row (without id) of a valid entry, or InvalidPosting naming entry ``i``."""
    kind = _POSTABLE.get(e.kind) if isinstance(e.kind, str) else None
    if kind is None:
        if e.kind == LedgerEntryKind.REVERSAL:
            raise InvalidPosting(f"entry {i}: use reverse_entry() to post a reversal")
        raise InvalidPosting(f"entry {i}: unknown kind {e.kind!r}")
    amount = e.amount
    _check_amount(i, amount, e.memo, e.posted_at)
    if kind in _NEGATIVE and amount > 0:
        raise InvalidPosting(f"entry {i}: a {kind} decreases what is owed, its amount must be negative")
    if kind in _POSITIVE and amount < 0:
        raise InvalidPosting(f"entry {i}: a {kind} increases what is owed, its amount must be positive")
    if type(e.account_id) is not int:
        raise InvalidPosting(f"entry {i}: account_id must be an int, got {type(e.account_id).__name__}")
    if e.bill_id is not None and type(e.bill_id) is not int:
        raise InvalidPosting(f"entry {i}: bill_id must be an int or None, got {type(e.bill_id).__name__}")
    return (e.account_id, kind, amount, e.bill_id, e.posted_at, None, e.memo)


def _check_amount(i: int, amount: Any, memo: Any, posted_at: Any) -> None:
    if type(amount) is not Decimal:
        raise InvalidPosting(f"entry {i}: amount must be a Decimal, got {type(amount).__name__}")
    if not amount.is_finite():
        raise InvalidPosting(f"entry {i}: amount {amount} is not a finite number")
    if not amount:
        raise InvalidPosting(f"entry {i}: amount must not be zero")
    if abs(amount) >= MAX_AMOUNT:  # before quantize, which fails beyond the context's 28 digits
        raise InvalidPosting(f"entry {i}: amount {amount} exceeds what the ledger stores")
    if amount != amount.quantize(FEN):
        raise InvalidPosting(f"entry {i}: amount {amount} is not rounded to the fen")
    if not isinstance(posted_at, datetime):
        raise InvalidPosting(f"entry {i}: posted_at must be a datetime, got {type(posted_at).__name__}")
    if posted_at.tzinfo is None or posted_at.utcoffset() is None:
        raise InvalidPosting(f"entry {i}: posted_at must be timezone-aware")
    if not isinstance(memo, str) or len(memo) > MEMO_MAX:
        raise InvalidPosting(f"entry {i}: memo must be a string of at most {MEMO_MAX} characters")


def _write(rows: list[tuple[Any, ...]]) -> Sequence[int]:
    """Reserve ids and write checked rows ``(account, kind, amount, bill, posted_at, reverses, memo)``."""
    sqlite = connection.vendor == "sqlite"
    adapt = connection.ops.adapt_datetimefield_value
    adapted: dict[datetime, Any] = {}
    last_at: Any = None
    db_at: Any = None
    with transaction.atomic(), bulk.opened(LedgerEntry):
        ids = bulk.reserve_ids(LedgerEntry, len(rows))
        if sqlite:  # sqlite3 does not adapt aware datetimes the way Django stores them
            out = []
            for pk, row in zip(ids, rows, strict=True):
                at = row[4]
                if at is not last_at:
                    db_at = adapted.get(at)
                    if db_at is None:
                        db_at = adapted[at] = adapt(at)
                    last_at = at
                out.append((pk, row[0], row[1], row[2], row[3], db_at, row[5], row[6]))
            bulk.insert_rows(LedgerEntry, FIELDS, out)
        else:
            bulk.insert_rows(LedgerEntry, FIELDS, ((pk, *row) for pk, row in zip(ids, rows, strict=True)))
    return ids


def _instance(entry_id: int, p: Posting, *, kind: str, reverses_id: int | None) -> LedgerEntry:
    """The posted entry as a model instance (loaded state: saving it again is refused)."""
    entry = LedgerEntry(
        id=entry_id,
        account_id=p.account_id,
        kind=kind,
        amount=p.amount,
        bill_id=p.bill_id,
        posted_at=p.posted_at,
        reverses_id=reverses_id,
        memo=p.memo,
    )
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry
