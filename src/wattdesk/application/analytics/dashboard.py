"""Read-side use case: the back-office dashboard (经营看板) for one billing period.

Fetch, then calculate: every number is a database aggregate over live (not cancelled) bills, summed exactly
(``MoneySum`` for money, ``QuantitySum`` for kWh, both integer sums on SQLite); the few derived numbers
(month-on-month change) are computed here from those totals. Five queries whatever the size of the company.

What counts:
- kWh sold / revenue billed: the kWh and totals of the period's live bills (draft, held and issued; a
  cancelled bill has been replaced by a new version, which is counted instead).
- bills issued / held / draft: counts of the period's bills by status.
- reading exceptions open: unresolved ``ReadingException`` rows of the period.
- by region: the region of the account's first service point (an account is counted once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery

from wattdesk.core.period import Period
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import CustomerClass, Region, ServicePoint
from wattdesk.domain.fields import MoneySum, QuantitySum
from wattdesk.domain.metering.models import ReadingException

ZERO_MONEY = Decimal("0.00")
ZERO_KWH = Decimal("0.0000")
TREND_PERIODS = 12


@dataclass(frozen=True)
class PeriodTotals:
    period: str
    kwh: Decimal = ZERO_KWH
    revenue: Decimal = ZERO_MONEY
    issued: int = 0
    held: int = 0
    draft: int = 0

    @property
    def bills(self) -> int:
        return self.issued + self.held + self.draft


@dataclass(frozen=True)
class Slice:
    """One bar of a breakdown (a customer class or a region)."""

    key: str
    label: str
    kwh: Decimal
    revenue: Decimal
    bills: int


@dataclass(frozen=True)
class Change:
    """Month on month: this period against the previous calendar month."""

    previous: Decimal
    current: Decimal

    @property
    def pct(self) -> Decimal | None:
        """Change in percent to 0.1, or None when the previous value is zero."""
        if self.previous == 0:
            return None
        return ((self.current - self.previous) * 100 / self.previous).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Dashboard:
    period: str | None  # None: nothing billed yet
    periods: tuple[str, ...]  # every period with bills, latest first (for the period select)
    current: PeriodTotals
    previous: PeriodTotals
    exceptions_open: int
    by_class: tuple[Slice, ...]
    by_region: tuple[Slice, ...]
    trend: tuple[PeriodTotals, ...]  # up to 12 periods ending at ``period``, oldest first

    @property
    def kwh_change(self) -> Change:
        return Change(previous=self.previous.kwh, current=self.current.kwh)

    @property
    def revenue_change(self) -> Change:
        return Change(previous=self.previous.revenue, current=self.current.revenue)

    @property
    def bills_change(self) -> Change:
        return Change(previous=Decimal(self.previous.bills), current=Decimal(self.current.bills))


def _periods_back(period: str, n: int) -> list[str]:
    return [str(p) for p in Period.parse(period).back(n)]


def billed_periods() -> tuple[str, ...]:
    """Every period that has a live bill, latest first."""
    qs = (
        Bill.objects.exclude(status=BillStatus.CANCELLED)
        .values_list("period", flat=True)
        .distinct()
        .order_by("-period")
    )
    return tuple(qs)


def _live() -> Any:
    return Bill.objects.exclude(status=BillStatus.CANCELLED)


def _totals_by_period(periods: Iterable[str]) -> dict[str, PeriodTotals]:
    rows = (
        _live()
        .filter(period__in=list(periods))
        .values("period")
        .annotate(
            kwh=QuantitySum("kwh", default=ZERO_KWH),
            revenue=MoneySum("total", default=ZERO_MONEY),
            issued=Count("id", filter=Q(status=BillStatus.ISSUED)),
            held=Count("id", filter=Q(status=BillStatus.HELD)),
            draft=Count("id", filter=Q(status=BillStatus.DRAFT)),
        )
        .order_by()
    )
    return {
        r["period"]: PeriodTotals(
            period=r["period"],
            kwh=r["kwh"],
            revenue=r["revenue"],
            issued=r["issued"],
            held=r["held"],
            draft=r["draft"],
        )
        for r in rows
    }


def _by_class(period: str) -> tuple[Slice, ...]:
    rows = (
        _live()
        .filter(period=period)
        .values("account__customer__customer_class")
        .annotate(
            kwh=QuantitySum("kwh", default=ZERO_KWH),
            revenue=MoneySum("total", default=ZERO_MONEY),
            n=Count("id"),
        )
        .order_by()
    )
    found = {r["account__customer__customer_class"]: r for r in rows}
    return tuple(
        Slice(
            key=c.value,
            label=str(c.label),
            kwh=found[c.value]["kwh"],
            revenue=found[c.value]["revenue"],
            bills=found[c.value]["n"],
        )
        for c in CustomerClass
        if c.value in found
    )


def _by_region(period: str) -> tuple[Slice, ...]:
    first_region = Subquery(
        ServicePoint.objects.filter(account_id=OuterRef("account_id")).order_by("id").values("region_id")[:1]
    )
    rows = list(
        _live()
        .filter(period=period)
        .annotate(region_id=first_region)
        .values("region_id")
        .annotate(
            kwh=QuantitySum("kwh", default=ZERO_KWH),
            revenue=MoneySum("total", default=ZERO_MONEY),
            n=Count("id"),
        )
        .order_by()
    )
    regions = {
        pk: (code, name)
        for pk, code, name in Region.objects.filter(pk__in=[r["region_id"] for r in rows]).values_list(
            "pk", "code", "name"
        )
    }
    out = [
        Slice(
            key=regions.get(r["region_id"], ("", ""))[0],
            label=regions.get(r["region_id"], ("", "—"))[1],
            kwh=r["kwh"],
            revenue=r["revenue"],
            bills=r["n"],
        )
        for r in rows
    ]
    return tuple(sorted(out, key=lambda s: s.key))


def dashboard(*, period: str | None = None) -> Dashboard:
    """The dashboard of ``period`` (default: the latest period with bills)."""
    periods = billed_periods()
    if period is None:
        period = periods[0] if periods else None
    if period is None:
        empty = PeriodTotals(period="")
        return Dashboard(None, periods, empty, empty, 0, (), (), ())
    window = _periods_back(period, TREND_PERIODS)
    prev = str(Period.parse(period).previous())
    totals = _totals_by_period([*window, prev])
    first = next((i for i, p in enumerate(window) if p in totals), len(window) - 1)
    trend = tuple(totals.get(p, PeriodTotals(period=p)) for p in window[first:])
    exceptions_open = ReadingException.objects.filter(period=period, resolved=False).count()
    return Dashboard(
        period=period,
        periods=periods,
        current=totals.get(period, PeriodTotals(period=period)),
        previous=totals.get(prev, PeriodTotals(period=prev)),
        exceptions_open=exceptions_open,
        by_class=_by_class(period),
        by_region=_by_region(period),
        trend=trend,
    )
