"""Hold-for-review rules (异常电费审核): is a freshly rated bill abnormal against the account's history?

Pure: no Django, no clock. The policy is data (a frozen dataclass) so a supply company can tune it without a
code change; the defaults are documented in docs/billing.md.

Rules, applied in this order, the first that matches gives the hold reason:

1. ``negative``: a negative total (a credit bill) is always reviewed when ``hold_negative``.
2. With fewer than ``min_history`` previous live bills (new account, 新装户): hold when the total exceeds
   the first-bill limit of the customer class (``first_bill_limits``; ``default_first_bill_limit``
   otherwise).
3. With at least ``min_history`` previous live bills (at most ``max_history`` most recent are used): let
   ``m`` be their median total. Hold as ``high`` when ``total > high_ratio x m`` and as ``low`` when
   ``total < low_ratio x m``, but only if ``|total - m| >= absolute_floor`` — small bills moving by a few
   yuan are not worth a reviewer's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class HoldPolicy:
    """Parameters of the abnormal-bill check. Amounts in yuan."""

    high_ratio: Decimal = Decimal(3)
    low_ratio: Decimal = Decimal("0.3")
    min_history: int = 3
    max_history: int = 12
    absolute_floor: Decimal = Decimal(50)
    default_first_bill_limit: Decimal = Decimal(20000)
    first_bill_limits: tuple[tuple[str, Decimal], ...] = field(
        default=(
            ("residential", Decimal(1000)),
            ("agricultural", Decimal(5000)),
            ("commercial", Decimal(20000)),
            ("industrial", Decimal(500000)),
        )
    )
    hold_negative: bool = True

    def __post_init__(self) -> None:
        if self.min_history < 1 or self.max_history < self.min_history:
            raise ValueError("need 1 <= min_history <= max_history")
        if not (Decimal(0) <= self.low_ratio < Decimal(1) < self.high_ratio):
            raise ValueError("need 0 <= low_ratio < 1 < high_ratio")
        if self.absolute_floor < 0:
            raise ValueError("absolute_floor must not be negative")

    def first_bill_limit(self, customer_class: str) -> Decimal:
        for cls, limit in self.first_bill_limits:
            if cls == customer_class:
                return limit
        return self.default_first_bill_limit


DEFAULT_HOLD_POLICY = HoldPolicy()


def median(values: Sequence[Decimal]) -> Decimal:
    """Median of a non-empty sequence (mean of the two middle values for an even count)."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of an empty sequence")
    mid = n // 2
    if n % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def hold_reason(
    *, total: Decimal, history: Sequence[Decimal], customer_class: str, policy: HoldPolicy
) -> str:
    """Return why the bill must be held for review, or ``""`` when it can be issued.

    ``history`` holds the totals of the account's previous live bills, most recent first.
    """
    if policy.hold_negative and total < 0:
        return f"negative total {total}"
    recent = history[: policy.max_history]
    if len(recent) < policy.min_history:
        limit = policy.first_bill_limit(customer_class)
        if total > limit:
            return f"new account: total {total} above {limit} ({customer_class})"
        return ""
    m = median(recent)
    if abs(total - m) < policy.absolute_floor:
        return ""
    if total > policy.high_ratio * m:
        return f"high: total {total} > {policy.high_ratio} x median {m:.2f} of {len(recent)} bills"
    if total < policy.low_ratio * m:
        return f"low: total {total} < {policy.low_ratio} x median {m:.2f} of {len(recent)} bills"
    return ""
