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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from wattdesk.core.money import round_fen


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


@dataclass(frozen=True)
class HoldReason:
    """Why a bill is held, as data: a ``code`` and its ``params`` (exact decimal strings and counts).

    Codes and params:

    * ``negative``: ``total``
    * ``new_account``: ``total``, ``limit``, ``customer_class``
    * ``high`` / ``low``: ``total``, ``ratio``, ``median`` (2 decimals), ``bills`` (how many past bills)

    The bill stores :meth:`text` (``Bill.hold_reason``, a stable English line that the CLI and the API print);
    :func:`parse_hold_reason` reads it back, so pages render the reason through the message catalogs instead of
    showing the stored English.
    """

    code: str
    params: Mapping[str, str]

    def text(self) -> str:
        p = self.params
        if self.code == "negative":
            return f"negative total {p['total']}"
        if self.code == "new_account":
            return f"new account: total {p['total']} above {p['limit']} ({p['customer_class']})"
        op = ">" if self.code == "high" else "<"
        return (
            f"{self.code}: total {p['total']} {op} {p['ratio']} x median {p['median']} of {p['bills']} bills"
        )

    def __str__(self) -> str:
        return self.text()


_NUM = r"-?\d+(?:\.\d+)?"
_REASON_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("negative", re.compile(rf"negative total (?P<total>{_NUM})")),
    (
        "new_account",
        re.compile(
            rf"new account: total (?P<total>{_NUM}) above (?P<limit>{_NUM}) \((?P<customer_class>[a-z_]*)\)"
        ),
    ),
    (
        "high",
        re.compile(
            rf"high: total (?P<total>{_NUM}) > (?P<ratio>{_NUM}) x median (?P<median>{_NUM}) of (?P<bills>\d+) bills"
        ),
    ),
    (
        "low",
        re.compile(
            rf"low: total (?P<total>{_NUM}) < (?P<ratio>{_NUM}) x median (?P<median>{_NUM}) of (?P<bills>\d+) bills"
        ),
    ),
)


def parse_hold_reason(text: str) -> HoldReason | None:
    """The structured reason of a stored hold-reason line, or None when it is not one (free text)."""
    for code, pattern in _REASON_PATTERNS:
        m = pattern.fullmatch(text.strip())
        if m:
            return HoldReason(code, m.groupdict())
    return None


#: ``approved 2026-11-02 09:00+08:00: <reason>`` (approve_bill writes the company's local time and its offset);
#: a time without an offset (records written before) is UTC.
_REVIEW_RECORD = re.compile(
    r"approved (?P<at>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?): (?P<reason>.*)",
    re.DOTALL,
)


@dataclass(frozen=True)
class ReviewRecord:
    """A held bill's review record: when a reviewer approved it (aware) and the original hold reason."""

    approved_at: datetime | None
    reason: HoldReason | None
    reason_text: str


def parse_review_record(text: str) -> ReviewRecord:
    """Read ``Bill.hold_reason``: a plain hold reason, or ``approved <time>: <hold reason>`` once approved.

    ``approve_bill`` writes the company's local time with its offset; a time without an offset (records written
    before that) is UTC. Either way the page can show it in the company's time zone.
    """
    m = _REVIEW_RECORD.fullmatch(text.strip())
    if m is None:
        return ReviewRecord(None, parse_hold_reason(text), text)
    raw = m.group("at").replace("Z", "+00:00")
    at = datetime.fromisoformat(raw)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    reason = m.group("reason")
    return ReviewRecord(at, parse_hold_reason(reason), reason)


def assess_hold(
    *, total: Decimal, history: Sequence[Decimal], customer_class: str, policy: HoldPolicy
) -> HoldReason | None:
    """Why the bill must be held for review (code + params), or None when it can be issued.

    ``history`` holds the totals of the account's previous live bills, most recent first.
    """
    if policy.hold_negative and total < 0:
        return HoldReason("negative", {"total": str(total)})
    recent = history[: policy.max_history]
    if len(recent) < policy.min_history:
        limit = policy.first_bill_limit(customer_class)
        if total > limit:
            return HoldReason(
                "new_account", {"total": str(total), "limit": str(limit), "customer_class": customer_class}
            )
        return None
    m = median(recent)
    if abs(total - m) < policy.absolute_floor:
        return None
    params = {"total": str(total), "median": str(round_fen(m)), "bills": str(len(recent))}
    if total > policy.high_ratio * m:
        return HoldReason("high", {**params, "ratio": str(policy.high_ratio)})
    if total < policy.low_ratio * m:
        return HoldReason("low", {**params, "ratio": str(policy.low_ratio)})
    return None


def hold_reason(
    *, total: Decimal, history: Sequence[Decimal], customer_class: str, policy: HoldPolicy
) -> str:
    """The stored line of :func:`assess_hold` (``Bill.hold_reason``), or ``""`` when the bill can be issued."""
    reason = assess_hold(total=total, history=history, customer_class=customer_class, policy=policy)
    return "" if reason is None else reason.text()
