"""Writes on the ledger: posting and reversing. Nothing else is possible (the ledger is append-only).

Callers own the transaction and decide the time (``posted_at``): the domain never reads the clock.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind


class InvalidPosting(Exception):
    """A posting that the ledger does not accept (zero amount, not to the fen, wrong kind, naive time)."""


class AlreadyReversed(Exception):
    """The entry has already been reversed."""


def post_entry(
    *,
    account_id: int,
    kind: LedgerEntryKind | str,
    amount: Decimal,
    posted_at: datetime,
    bill_id: int | None = None,
    memo: str = "",
) -> LedgerEntry:
    """Post one entry. ``amount`` > 0 increases what the customer owes. Reversals go via ``reverse_entry``."""
    kind = LedgerEntryKind(kind)
    if kind == LedgerEntryKind.REVERSAL:
        raise InvalidPosting("use reverse_entry() to post a reversal")
    _check(amount=amount, posted_at=posted_at)
    return LedgerEntry.objects.create(
        account_id=account_id, kind=kind, amount=amount, posted_at=posted_at, bill_id=bill_id, memo=memo
    )


def reverse_entry(*, entry_id: int, posted_at: datetime, memo: str = "") -> LedgerEntry:
    """Post the exact opposite of an entry. Each entry can be reversed once; a reversal cannot be reversed."""
    with transaction.atomic():
        original = LedgerEntry.objects.select_for_update().get(pk=entry_id)
        if original.kind == LedgerEntryKind.REVERSAL:
            raise InvalidPosting(f"entry {entry_id} is itself a reversal; post a new entry instead")
        if LedgerEntry.objects.filter(reverses_id=entry_id).exists():
            raise AlreadyReversed(f"entry {entry_id} has already been reversed")
        _check(amount=original.amount, posted_at=posted_at)
        try:
            with transaction.atomic():
                return LedgerEntry.objects.create(
                    account_id=original.account_id,
                    kind=LedgerEntryKind.REVERSAL,
                    amount=-original.amount,
                    bill_id=original.bill_id,
                    posted_at=posted_at,
                    reverses=original,
                    memo=memo or f"reversal of #{entry_id}",
                )
        except IntegrityError as exc:  # a concurrent reversal won the unique index
            raise AlreadyReversed(f"entry {entry_id} has already been reversed") from exc


def _check(*, amount: Decimal, posted_at: datetime) -> None:
    if not isinstance(amount, Decimal):
        raise InvalidPosting(f"amount must be a Decimal, got {type(amount).__name__}")
    if amount == 0:
        raise InvalidPosting("amount must not be zero")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidPosting(f"amount {amount} is not rounded to the fen")
    if posted_at.tzinfo is None:
        raise InvalidPosting("posted_at must be timezone-aware")
