"""The nightly pass's incremental open-item set: reads and writes of its state (``OpenItemScan``,
``OpenItemCandidate``).

A bill item (charge or late fee) can only *become* possibly open — in the sense of
``payments.queries.possibly_open_items``: not fully allocated, allocated to inside the catch-up window, or
touched by a reversed payment — through a row written after the previous scan: it is a new entry, it got a new
allocation (allocations are append-only and positive, so the sum of an item's allocations never goes down), or
a payment allocated to it was reversed (a new ``reversal`` entry). Everything else in the rule only lets items
*leave* the set (the catch-up window moves forward; a reversed item is dropped). So the set found on night D-1
plus the items touched by rows above D-1's id watermarks is a superset of what the full scan returns on night
D, and checking that superset with the same rule gives the same rows.

The watermarks are the highest ids committed when a scan starts. A posting that had already drawn its ids but
committed after that moment has ids below them: so each night looks for touched items above the watermarks of
the scan of the night *before* the previous one (a day of overlap, ``OpenItemScan.reread_*_after``), and the
pass still falls back to a full scan every ``FULL_SCAN_EVERY`` days (and whenever there is no state, the
state is newer than the night, or the rule's parameters changed).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, Max, OuterRef

from wattdesk.domain import bulk
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind, OpenItemCandidate, OpenItemScan
from wattdesk.domain.ledger.queries import id_list

CHUNK = 50_000
ITEM_KINDS = (LedgerEntryKind.CHARGE.value, LedgerEntryKind.LATE_FEE.value)


@dataclass(frozen=True)
class Watermarks:
    entry: int  # highest ledger entry id
    allocation: int  # highest payment allocation id


def watermarks() -> Watermarks:
    """The highest ledger entry and allocation ids now (taken *before* a scan reads anything)."""
    from wattdesk.domain.payments.models import PaymentAllocation

    e = LedgerEntry.objects.aggregate(m=Max("pk"))["m"] or 0
    a = PaymentAllocation.objects.aggregate(m=Max("pk"))["m"] or 0
    return Watermarks(int(e), int(a))


def latest_scan() -> OpenItemScan | None:
    return OpenItemScan.objects.order_by("-id").first()


def candidate_ids() -> list[int]:
    """The entry ids of the latest saved set, ascending."""
    return list(OpenItemCandidate.objects.order_by("entry_id").values_list("entry_id", flat=True))


#: a saved item: entry id, account id, kind, amount, bill id, due date, period, recent_until
Saved = tuple[int, int, str, Decimal, int, date | None, str, date | None]


def saved_items() -> Iterator[list[Saved]]:
    """The latest saved set's items, ``CHUNK`` at a time (a keyset over the entry id)."""
    after = 0
    while True:
        part = list(
            OpenItemCandidate.objects.filter(entry_id__gt=after)
            .order_by("entry_id")
            .values_list(
                "entry_id", "account_id", "kind", "amount", "bill_id", "due_on", "period", "recent_until"
            )[:CHUNK]
        )
        if not part:
            return
        yield part
        after = part[-1][0]


def touched_since(marks: Watermarks, *, skip_saved: bool = False, known: Collection[int] = ()) -> set[int]:
    """Bill items touched by a row above ``marks``: new items (new bills' charges, new late fees), items with a
    new allocation, and the items a newly reversed payment had been allocated to. A superset (reversed
    items, settled items) is fine: the caller checks them with the rule.

    A new item that is already in the set the caller starts from needs no check for being new: it was checked
    (or, for the pass's own late fees, written with its state known) after it was committed, and anything
    that changes it later is an allocation or a reversal, found by the other two parts. ``skip_saved``: leave
    out the new items of the saved set (an anti-join in SQL); ``known``: leave out these new item ids."""
    from wattdesk.domain.payments.models import Payment, PaymentAllocation

    new = LedgerEntry.objects.filter(pk__gt=marks.entry, kind__in=ITEM_KINDS, bill__isnull=False)
    if skip_saved:
        new = new.exclude(Exists(OpenItemCandidate.objects.filter(entry_id=OuterRef("pk"))))
    out: set[int] = set(new.values_list("pk", flat=True))
    if known:
        out.difference_update(known)
    out.update(
        PaymentAllocation.objects.filter(pk__gt=marks.allocation).values_list("ledger_entry_id", flat=True)
    )
    reversed_entries = list(
        LedgerEntry.objects.filter(pk__gt=marks.entry, kind=LedgerEntryKind.REVERSAL).values_list(
            "reverses_id", flat=True
        )
    )
    out.update(e for e in reversed_entries if e is not None)  # a reversed item (cancelled, waived) leaves
    for i in range(0, len(reversed_entries), CHUNK):
        part = reversed_entries[i : i + CHUNK]
        payments = Payment.objects.filter(ledger_entry_id__in=id_list(part)).values("pk")
        out.update(
            PaymentAllocation.objects.filter(payment_id__in=payments).values_list(
                "ledger_entry_id", flat=True
            )
        )
    return out


def add_saved(scan_id: int, items: Collection[Saved]) -> bool:
    """Add ``items`` (new entries, not saved yet) to the saved set if scan ``scan_id`` is still the latest
    (another scan may have replaced it). Returns whether they were added. Call inside a transaction."""
    scan = OpenItemScan.objects.select_for_update().filter(pk=scan_id).first()
    if scan is None:
        return False
    if items:
        bulk.insert_rows(
            OpenItemCandidate,
            ("entry_id", "account_id", "kind", "amount", "bill_id", "due_on", "period", "recent_until"),
            sorted(items),
        )
        OpenItemScan.objects.filter(pk=scan_id).update(items=scan.items + len(items))
    return True


def save_scan(
    *,
    as_of: date,
    since: date,
    after_due_only: bool,
    marks: Watermarks,
    reread_after: Watermarks,
    full: bool,
    base_as_of: date,
    items: Mapping[int, Saved],
    kept: Collection[int] | None,
    checked: int,
    created_at: datetime,
) -> OpenItemScan:
    """Replace the saved set by ``items`` and record the scan. ``kept``: the ids of ``items`` that are saved
    already, unchanged (only the rest is written; None: rewrite the whole set). Call inside a transaction."""
    if kept is None:
        if connection.vendor == "postgresql":
            with (
                connection.cursor() as cur
            ):  # transactional on PostgreSQL; far cheaper than DELETE of millions
                cur.execute(f"TRUNCATE {connection.ops.quote_name(OpenItemCandidate._meta.db_table)}")
        else:
            OpenItemCandidate.objects.all().delete()
        kept = ()
    else:
        old = set(OpenItemCandidate.objects.values_list("entry_id", flat=True))
        gone = sorted(old - set(kept))
        for i in range(0, len(gone), CHUNK):
            OpenItemCandidate.objects.filter(entry_id__in=id_list(gone[i : i + CHUNK])).delete()
    keep = set(kept)
    bulk.insert_rows(
        OpenItemCandidate,
        ("entry_id", "account_id", "kind", "amount", "bill_id", "due_on", "period", "recent_until"),
        (items[e] for e in sorted(items) if e not in keep),
    )
    new = items
    OpenItemScan.objects.all().delete()  # only the latest scan's set is kept: its row says what it is
    return OpenItemScan.objects.create(
        as_of=as_of,
        since=since,
        after_due_only=after_due_only,
        entry_watermark=marks.entry,
        allocation_watermark=marks.allocation,
        reread_entry_after=reread_after.entry,
        reread_allocation_after=reread_after.allocation,
        full=full,
        base_as_of=base_as_of,
        items=len(new),
        checked=checked,
        created_at=created_at,
    )
