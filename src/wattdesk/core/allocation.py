"""Payment allocation (销账顺序): which debts a payment settles, in which order. Pure: no Django, no I/O.

The default policy (``DEFAULT_POLICY``), stated as data:

1. oldest debt first: open items sorted by due date (an item without a due date — a bill not yet issued —
   comes after every dated item), then by billing period ('YYYY-MM'), then by bill id;
2. within the same bill the late fee (违约金) is settled before the principal (电费本金);
3. whatever is left after every open item is settled is a credit (预存 / overpayment): it stays on the account
   as a negative balance and is allocated to the next bill when that bill is open (the caller re-runs
   :func:`allocate` with the remaining credit as ``amount``).

Amounts are Decimal to the fen; the function never rounds (every input amount is already to the fen, so
every output is too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

ItemKind = Literal["late_fee", "charge"]
SortKey = Literal["due_on", "period", "bill_id", "kind"]
ZERO = Decimal("0.00")


class AllocationError(ValueError):
    """Bad input to :func:`allocate` (negative amount, non-positive outstanding, unknown sort key)."""


@dataclass(frozen=True)
class OpenItem:
    """One open debt: a bill's charge or a late fee assessed on a bill, with what is still owed on it."""

    item_id: int
    bill_id: int | None
    kind: ItemKind
    due_on: date | None
    period: str
    outstanding: Decimal


@dataclass(frozen=True)
class AllocationPolicy:
    """The order in which open items are settled: ``sort_keys`` compared left to right.

    ``kind_order`` ranks the kinds for the ``kind`` key (first settled first).
    """

    name: str = "oldest-first, late fee before principal"
    sort_keys: tuple[SortKey, ...] = ("due_on", "period", "bill_id", "kind")
    kind_order: tuple[ItemKind, ...] = ("late_fee", "charge")


DEFAULT_POLICY = AllocationPolicy()


@dataclass(frozen=True)
class AllocationLine:
    item_id: int
    bill_id: int | None
    kind: ItemKind
    amount: Decimal


@dataclass(frozen=True)
class Allocation:
    """``lines`` in settling order; ``credit`` = the part of the amount no open item took."""

    lines: tuple[AllocationLine, ...]
    allocated: Decimal
    credit: Decimal


def sort_items(open_items: Sequence[OpenItem], policy: AllocationPolicy) -> list[OpenItem]:
    """The open items in the order the policy settles them (stable; ties keep item_id order)."""
    for name in policy.sort_keys:
        if name not in ("due_on", "period", "bill_id", "kind"):
            raise AllocationError(f"unknown sort key {name!r}")
    kind_rank = {k: i for i, k in enumerate(policy.kind_order)}

    def sort_key(item: OpenItem) -> tuple[Any, ...]:
        parts: list[Any] = []
        for k in policy.sort_keys:
            if k == "due_on":
                parts.append((item.due_on is None, item.due_on or date.min))
            elif k == "period":
                parts.append(item.period)
            elif k == "bill_id":
                parts.append((item.bill_id is None, item.bill_id or 0))
            else:
                parts.append(kind_rank.get(item.kind, len(kind_rank)))
        parts.append(item.item_id)
        return tuple(parts)

    return sorted(open_items, key=sort_key)


def allocate(*, amount: Decimal, open_items: Sequence[OpenItem], policy: AllocationPolicy) -> Allocation:
    """Settle ``amount`` against ``open_items`` in the policy's order; the rest is a credit."""
    if amount < 0:
        raise AllocationError(f"amount must not be negative, got {amount}")
    for item in open_items:
        if item.outstanding <= 0:
            raise AllocationError(f"item {item.item_id} has nothing outstanding ({item.outstanding})")
    left = amount
    lines: list[AllocationLine] = []
    for item in sort_items(open_items, policy):
        if left <= 0:
            break
        take = min(left, item.outstanding)
        lines.append(AllocationLine(item.item_id, item.bill_id, item.kind, take))
        left -= take
    allocated = sum((ln.amount for ln in lines), ZERO)
    return Allocation(lines=tuple(lines), allocated=allocated, credit=amount - allocated)
