"""Per-account tier quotas (一户多人口 and similar): the kWh a grant adds to the tier boundaries of one billing
period. Pure: no Django, no clock.

The result is ``Determinants.tier_uplift_kwh`` (one entry per tier boundary), which both rating paths
(``core.rating.exact`` and ``core.rating.vector``) add to the period's boundaries after proration. Rules
(docs/billing-cases/household-quota.md; billing-rules-2.md §6):

* A grant covers the calendar months ``[valid_from, end)`` (first days of months), ``end`` being the earlier
  of ``valid_to`` (as granted; None = open) and ``ended_from`` (an early end; None = not ended). A billing
  period belongs to the month its start falls in (the period ``YYYY-MM``).
* Amount of ``k`` covered months: ``per_month`` -> ``uplift_kwh x k``; ``per_year`` -> ``uplift_kwh x k / 12``
  (quantized half-up to 0.0001 kWh once, so 12 months give exactly the annual amount).
* Which boundaries: ``tier1`` -> the first boundary only; ``all`` -> every boundary.
* Monthly tiers (and kWh/kW tiers): the amount of one month when the period's month is covered, else 0.
* Annual tiers, by the grant's ``annual_mode`` (policy data):

  - ``remaining_months`` (default; the published 浙江 exam, billing-rules-2.md §6.2/§6.5): from the first
    covered month of the tier year on, the year's boundaries carry the amount of *every* month of that tier
    year the grant covers (a grant effective in April with no end: 9 months, 2760 -> 3660 from the April
    bill to the December bill). Before the grant's first month the year's boundaries are not widened.
  - ``to_date``: the boundaries carry the amount of the covered months of the tier year up to and including
    the period's month (April +100, May +200, ..., December +900).

  Both reach the same December boundary; both keep ``ytd_kwh_before`` (the kWh billed earlier in the tier
  year), so kWh already billed in a tier stay billed in it: a boundary only moves the kWh not yet billed.
  An early end (``ended_from``) changes only the months from it on: with ``remaining_months`` a month before
  it still counts the months as granted (``valid_to``), so a billed month is re-rated (退补) exactly as it was
  billed; from ``ended_from`` on the year's boundaries carry the months the grant actually covered.

Several grants in force add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from wattdesk.core.money import quantize_quantity, quantize_ratio

ZERO = Decimal(0)
TWELVE = Decimal(12)

Unit = Literal["per_month", "per_year"]
TiersAffected = Literal["tier1", "all"]
AnnualMode = Literal["remaining_months", "to_date"]
UNITS: tuple[Unit, ...] = ("per_month", "per_year")
TIERS_AFFECTED: tuple[TiersAffected, ...] = ("tier1", "all")
ANNUAL_MODES: tuple[AnnualMode, ...] = ("remaining_months", "to_date")


class QuotaError(ValueError):
    """A grant that cannot be applied (not month-aligned, negative, unknown unit ...)."""


@dataclass(frozen=True)
class QuotaGrant:
    """One grant as billing needs it (value object of ``customers.TierQuotaGrant``)."""

    valid_from: date
    valid_to: date | None
    uplift_kwh: Decimal
    unit: Unit = "per_month"
    tiers: TiersAffected = "all"
    annual_mode: AnnualMode = "remaining_months"
    ended_from: date | None = None

    def __post_init__(self) -> None:
        for d in (self.valid_from, self.valid_to, self.ended_from):
            if d is not None and d.day != 1:
                raise QuotaError("a quota is valid from and to the first day of a month")
        for d in (self.valid_to, self.ended_from):
            if d is not None and d <= self.valid_from:
                raise QuotaError("a quota must end after it starts")
        if self.uplift_kwh < 0:
            raise QuotaError("a quota uplift cannot be negative")
        if self.unit not in UNITS or self.tiers not in TIERS_AFFECTED or self.annual_mode not in ANNUAL_MODES:
            raise QuotaError(
                f"unknown quota unit / tiers / annual mode: {self.unit} {self.tiers} {self.annual_mode}"
            )

    @property
    def end(self) -> date | None:
        """The first month without the quota (the earlier of the granted end and an early end)."""
        ends = [d for d in (self.valid_to, self.ended_from) if d is not None]
        return min(ends) if ends else None

    def covers(self, month: date, *, as_granted: bool = False) -> bool:
        """Whether ``month`` is covered (``as_granted``: by the validity granted, ignoring an early end)."""
        end = self.valid_to if as_granted else self.end
        return self.valid_from <= month and (end is None or month < end)

    def amount(self, months: int) -> Decimal:
        """kWh of ``months`` covered months."""
        if months <= 0:
            return ZERO
        if self.unit == "per_month":
            return quantize_quantity(self.uplift_kwh * months)
        return quantize_ratio(self.uplift_kwh * months, TWELVE)


def month_of(d: date) -> date:
    return date(d.year, d.month, 1)


def _months(first: date, n: int) -> list[date]:
    out = []
    y, m = first.year, first.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def grant_uplift(
    *, grant: QuotaGrant, period_start: date, tier_basis: str, tier_year_start_month: int = 1
) -> Decimal:
    """kWh one grant adds to its boundaries in the billing period starting ``period_start``."""
    month = month_of(period_start)
    if tier_basis != "annual":
        return grant.amount(1) if grant.covers(month) else ZERO
    year = month.year if month.month >= tier_year_start_month else month.year - 1
    tier_year = _months(date(year, tier_year_start_month, 1), 12)
    # remaining_months before an early end: the months as granted, so a billed month never changes
    as_granted = grant.ended_from is not None and month < grant.ended_from
    covered = [m for m in tier_year if grant.covers(m, as_granted=as_granted)]
    if not covered or covered[0] > month:
        return ZERO  # not yet in force in this tier year
    if grant.annual_mode == "to_date":
        return grant.amount(sum(1 for m in covered if m <= month))
    return grant.amount(len(covered))


def tier_uplift(
    *,
    grants: Iterable[QuotaGrant],
    period_start: date,
    tier_basis: str,
    boundaries: int,
    tier_year_start_month: int = 1,
) -> tuple[Decimal, ...]:
    """``Determinants.tier_uplift_kwh`` of a billing period: kWh per tier boundary (``boundaries`` entries,
    the tariff's tiers minus one); ``()`` when no grant widens anything."""
    if boundaries <= 0:
        return ()
    out = [ZERO] * boundaries
    for g in grants:
        kwh = grant_uplift(
            grant=g,
            period_start=period_start,
            tier_basis=tier_basis,
            tier_year_start_month=tier_year_start_month,
        )
        if kwh == 0:
            continue
        for i in range(1 if g.tiers == "tier1" else boundaries):
            out[i] += kwh
    if all(v == 0 for v in out):
        return ()
    return tuple(out)
