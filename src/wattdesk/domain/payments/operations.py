"""Writes on receivables: allocating credit to open items. Callers own the transaction and lock the accounts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from wattdesk.core.allocation import DEFAULT_POLICY, AllocationPolicy, OpenItem, allocate
from wattdesk.domain.payments import queries
from wattdesk.domain.payments.models import PaymentAllocation


def apply_credits(
    *, account_ids: Sequence[int], allocated_on: date, policy: AllocationPolicy = DEFAULT_POLICY
) -> list[PaymentAllocation]:
    """Allocate every unallocated payment amount (oldest payment first) to the accounts' open items.

    Idempotent: a second call finds no credit or no open item and writes nothing. ``allocated_on`` is the
    day the money starts reducing a late-fee base (a payment's own day when called while posting it).
    """
    items = queries.open_items(account_ids)
    if not items:
        return []
    new = plan_allocations(
        items=items, credits=queries.credits(list(items)), allocated_on=allocated_on, policy=policy
    )
    PaymentAllocation.objects.bulk_create(new, batch_size=2000)
    return new


def plan_allocations(
    *,
    items: Mapping[int, Sequence[OpenItem]],
    credits: Mapping[int, Iterable[queries.Credit]],
    allocated_on: date,
    policy: AllocationPolicy = DEFAULT_POLICY,
) -> list[PaymentAllocation]:
    """The allocations (not saved) that settle the accounts' open ``items`` with their ``credits`` (each
    account's, oldest first): ``core.allocation`` per credit, in order, on what the earlier ones left open.
    The one allocation rule of :func:`apply_credits` and of posting one payment."""
    new: list[PaymentAllocation] = []
    for account_id, sources in credits.items():
        open_ = list(items.get(account_id, []))
        for credit in sources:
            if not open_:
                break
            plan = allocate(amount=credit.remaining, open_items=open_, policy=policy)
            taken: dict[int, OpenItem] = {i.item_id: i for i in open_}
            for line in plan.lines:
                new.append(
                    PaymentAllocation(
                        payment_id=credit.payment_id,
                        bill_id=line.bill_id,
                        ledger_entry_id=line.item_id,
                        kind=line.kind,
                        amount=line.amount,
                        allocated_on=max(allocated_on, credit.received_on),
                    )
                )
                item = taken[line.item_id]
                left = item.outstanding - line.amount
                taken[line.item_id] = OpenItem(
                    item.item_id, item.bill_id, item.kind, item.due_on, item.period, left
                )
            open_ = [i for i in taken.values() if i.outstanding > 0]
    return new
