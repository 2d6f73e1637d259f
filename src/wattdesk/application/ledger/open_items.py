"""Use case: the nightly pass's open-item candidates, found incrementally (one scan shared by late fees and
dunning).

``scan_open_items(as_of=D)`` returns every bill item (charge or late fee) that may be open on D, or was
allocated to inside the late-fee catch-up window, or was touched by a reversed payment — the rows
``payments.queries.possibly_open_items`` returns for the late-fee rule of D — without reading twelve months of
settled history each night:

- the first night (no saved state), a night before the saved one, a change of the rule's parameters, or a
  chain of incremental scans that started ``FULL_SCAN_EVERY`` days ago: the full scan over every range of
  bill ids;
- otherwise the items the previous scan found, plus the items touched by a ledger entry or an allocation
  written since the watermarks of the night before it (``domain.ledger.open_items``: a day of overlap),
  checked with the same rule.

The result is saved as the new state (``OpenItemScan`` + ``OpenItemCandidate``; only the difference is
written). :meth:`OpenItems.catch_up` adds what the pass itself wrote after the scan (tonight's late fees), so
dunning sees the set as a scan taken after the late-fee step would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from wattdesk.core.late_fee import LateFeePolicy, policy_on
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger import open_items as state
from wattdesk.domain.ledger.queries import id_list
from wattdesk.domain.payments import queries

#: the late-fee catch-up window: charges settled within this many days before D are still looked at
CATCH_UP_DAYS = 31
#: a full scan at least this often (a safety net: a chain of incremental scans never runs longer)
FULL_SCAN_EVERY = 30


@dataclass
class OpenItems:
    """The candidates of one night: a superset of the open items, by entry id. Not amounts to trust: the
    steps check the live allocations of the rows they use (``open_items_among``, the late-fee rule)."""

    as_of: date
    since: date
    after_due_only: bool
    marks: state.Watermarks
    full: bool
    rows: dict[int, queries.ItemRow] = field(default_factory=dict)
    #: the saved scan these rows are (None: not saved); :meth:`catch_up` adds the pass's own items to it
    scan_id: int | None = None
    #: items the pass itself wrote after the scan, with their state known (``accrue_late_fees``: tonight's
    #: late fees, new entries with no allocation); :meth:`catch_up` adds them without checking them
    posted: dict[int, queries.ItemRow] = field(default_factory=dict)

    def by_account(self) -> dict[int, list[queries.ItemRow]]:
        out: dict[int, list[queries.ItemRow]] = defaultdict(list)
        for entry_id in sorted(self.rows):
            r = self.rows[entry_id]
            out[r.account_id].append(r)
        return dict(out)

    def catch_up(self) -> int:
        """Add the items touched since this set's watermarks (what the pass wrote after the scan: late fees,
        credit allocations), checked with the same rule (a touched item that no longer holds leaves the set);
        the watermarks move on. Returns how many rows were added or re-read.

        The pass's own new items (:attr:`posted`) are added as they were written, without a check, and saved
        into the scan's set when it is still the latest: the next night does not read them again for being new
        (``state.touched_since(skip_saved=True)``); an allocation or a reversal of one still touches it."""
        marks = state.watermarks()
        posted, self.posted = self.posted, {}
        if posted and self.scan_id is not None:
            with transaction.atomic():
                state.add_saved(self.scan_id, [_saved(r) for r in posted.values()])
        self.rows.update(posted)
        touched = state.touched_since(self.marks, known=posted.keys())
        for entry_id in touched:
            self.rows.pop(entry_id, None)  # re-checked below: kept only if the rule still holds
        n = 0
        for part in queries.possibly_open_items(
            entry_ids=sorted(touched),
            allocated_since=self.since,
            recent_after_due_only=self.after_due_only,
        ):
            for r in part:
                self.rows[r.entry_id] = r
                n += 1
        self.marks = marks
        return n


def _saved(r: queries.ItemRow) -> state.Saved:
    return (r.entry_id, r.account_id, r.kind, r.amount, r.bill_id, r.due_on, r.period, r.recent_until)


def _with_classes(saved: list[state.Saved]) -> Iterator[list[queries.ItemRow]]:
    """Saved items as rows, with each account's customer class read now (it may have changed)."""
    for i in range(0, len(saved), state.CHUNK):
        part = saved[i : i + state.CHUNK]
        classes = dict(
            Account.objects.filter(pk__in=id_list({s[1] for s in part})).values_list(
                "pk", "customer__customer_class"
            )
        )
        yield [
            queries.ItemRow(e, a, k, amt, b, due, per, classes[a], until)
            for e, a, k, amt, b, due, per, until in part
        ]


def rule_for(as_of: date, policy: LateFeePolicy) -> tuple[date, bool]:
    """The late-fee rule's scan parameters on ``as_of``: the catch-up day, and whether a charge settled by its
    due date is left out (accrual starts after the day a payment counts from: it accrued nothing)."""
    since = as_of - timedelta(days=CATCH_UP_DAYS)
    after_due_only = policy.start_offset_days >= (1 if policy.payment_day_accrues else 0)
    return since, after_due_only


def scan_open_items(
    *,
    as_of: date,
    policies: tuple[LateFeePolicy, ...] | None = None,
    full: bool = False,
    save: bool = True,
) -> OpenItems:
    """The open-item candidates of ``as_of`` (see the module docstring). ``full``: force the full scan.
    ``save``: keep the result as the state the next night starts from (a night before the saved one is
    never saved)."""
    from wattdesk.application.ledger.late_fees import load_policies

    policy = policy_on(policies or load_policies(), as_of)
    since, after_due_only = rule_for(as_of, policy)
    previous = state.latest_scan()
    incremental = (
        previous is not None
        and not full
        and previous.as_of <= as_of
        and as_of - previous.base_as_of < timedelta(days=FULL_SCAN_EVERY)
        and (previous.after_due_only or not after_due_only)  # the saved set is at least as wide
        and previous.since <= since
    )
    marks = state.watermarks()  # before anything is read
    found = OpenItems(as_of, since, after_due_only, marks, full=not incremental)
    kept: set[int] | None = None
    if previous is not None and incremental:
        # untouched saved items are not read again: they still hold unless they were held only by an
        # allocation the catch-up window has passed; touched ones are checked with the rule
        touched = state.touched_since(
            state.Watermarks(previous.reread_entry_after, previous.reread_allocation_after), skip_saved=True
        )
        kept = set()
        saved: list[state.Saved] = []
        for part in state.saved_items():
            for item in part:
                e, until, due_on = item[0], item[7], item[5]
                if e in touched:
                    continue
                if until is not None and (
                    until < since or (after_due_only and (due_on is None or until <= due_on))
                ):
                    continue
                saved.append(item)
                kept.add(e)
        for rows in _with_classes(saved):
            found.rows.update((r.entry_id, r) for r in rows)
        checked = len(touched)
        base = previous.base_as_of
        chunks = queries.possibly_open_items(
            entry_ids=sorted(touched), allocated_since=since, recent_after_due_only=after_due_only
        )
    else:
        checked = -1  # every item of every bill
        base = as_of
        chunks = queries.possibly_open_items(allocated_since=since, recent_after_due_only=after_due_only)
    for checked_rows in chunks:
        for r in checked_rows:
            found.rows[r.entry_id] = r
    if save and (previous is None or previous.as_of <= as_of):
        # the next night re-reads from the previous night's watermarks (a day of overlap); a re-run of the
        # same night keeps the overlap it had
        if previous is None or not incremental:
            reread = marks
        elif previous.as_of == as_of:
            reread = state.Watermarks(previous.reread_entry_after, previous.reread_allocation_after)
        else:
            reread = state.Watermarks(previous.entry_watermark, previous.allocation_watermark)
        with transaction.atomic():
            found.scan_id = state.save_scan(
                as_of=as_of,
                since=since,
                after_due_only=after_due_only,
                marks=marks,
                reread_after=reread,
                full=not incremental,
                base_as_of=base,
                items={e: _saved(r) for e, r in found.rows.items()},
                kept=kept,
                checked=max(checked, 0),
                created_at=timezone.now(),
            ).pk
    return found


__all__ = ["CATCH_UP_DAYS", "FULL_SCAN_EVERY", "OpenItems", "rule_for", "scan_open_items"]
