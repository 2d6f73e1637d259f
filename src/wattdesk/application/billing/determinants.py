"""Billing determinants (计费因子) from validated register usage. Pure: no Django, no clock.

The metering domain hands over, per service point and billing period, the validated consumption of every
register kind (``kwh_by_kind``: advance x multiplier, rollover, meter exchange and true-up already applied
by VEE at import), the reactive energy and the maximum demand. This module maps that onto the energy periods
of the tariff and builds :class:`wattdesk.core.rating.Determinants`.

Rules (docs/billing.md, "Determinants"):

* A single-period tariff bills the total: the ``active_total`` register, else the sum of the TOU registers.
* A TOU tariff bills period ``k`` from register ``active_<k>`` (critical, peak, flat, valley, deep_valley).
  When exactly one period has no register of its own and ``active_total`` was read, that period gets
  ``total - sum(other periods)`` (the usual 平 = 总 - 尖 - 峰 - 谷); a negative remainder or more than one
  missing register is not billable (``tou_registers``).
* A seasonal multi-period tariff (one period at every hour of the months of the billing window, e.g. URDB
  summer / winter structures) bills the total register in that period (``seasonal_period``).
* ``kvarh`` is passed only when the service point is assessed for power factor (``pf_standard`` set); the
  tariff's PF rule is then applied with the service point's own standard.
* TOU demand charges (分时需量, e.g. URDB demand structures) bill each demand period ``k`` from the meter's
  ``max_demand_<k>`` register (the period's maximum demand, multiplier applied); a missing one is not billable
  (``tou_demand``). The overall maximum demand is the ``max_demand`` register, else the largest of them.
* Annual tiers: ``ytd_kwh_before`` is the kWh of the account's live bills earlier in the same tier year;
  ``tier_year_fraction`` prorates the yearly thresholds by whole months for an account that started (or moved
  onto the tariff) inside the tier year: (months left in the tier year, the starting month counted) / 12,
  quantized to 1e-8.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from wattdesk.core.rating import Determinants
from wattdesk.core.tariff import Tariff

ZERO = Decimal(0)
ONE = Decimal(1)
FRACTION_STEP = Decimal("0.00000001")

TOTAL_KIND = "active_total"
TOU_KIND_PREFIX = "active_"
TOU_KINDS = ("active_critical", "active_peak", "active_flat", "active_valley", "active_deep_valley")
DEMAND_KIND_PREFIX = "max_demand_"  # per-TOU-period maximum-demand registers (metering TOU_DEMAND_KINDS)


class NotBillable(Exception):
    """The service point cannot be billed this period; ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def total_kwh(kwh_by_kind: Mapping[str, Decimal]) -> Decimal:
    if TOTAL_KIND in kwh_by_kind:
        return kwh_by_kind[TOTAL_KIND]
    return sum((v for k, v in kwh_by_kind.items() if k in TOU_KINDS), ZERO)


def seasonal_period(*, tariff: Tariff, start: date, end: date) -> int | None:
    """The one energy period the schedule uses at every hour of every day type in the months of
    ``[start, end)``, or None. A seasonal tariff (URDB summer / winter periods, one period per month) bills a
    total register this way: every kWh of the window falls in that period whatever the hour."""
    used: set[int] = set()
    y, m = start.year, start.month
    last = end - timedelta(days=1)
    while (y, m) <= (last.year, last.month):
        for day_type in tariff.energy.schedule.table:
            used.update(day_type[m - 1])
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return used.pop() if len(used) == 1 else None


def energy_by_period(
    *,
    tariff: Tariff,
    kwh_by_kind: Mapping[str, Decimal],
    start: date | None = None,
    end: date | None = None,
) -> tuple[Decimal, ...]:
    """kWh per energy period of ``tariff`` (in the tariff's period order)."""
    periods = tariff.energy.periods
    if len(periods) == 1:
        if not any(k == TOTAL_KIND or k in TOU_KINDS for k in kwh_by_kind):
            raise NotBillable("no_readings", "no active energy register was read")
        return (total_kwh(kwh_by_kind),)
    if (
        start is not None
        and end is not None
        and not any(TOU_KIND_PREFIX + p.key in kwh_by_kind for p in periods)
    ):
        only = seasonal_period(tariff=tariff, start=start, end=end)
        if only is not None and any(k == TOTAL_KIND or k in TOU_KINDS for k in kwh_by_kind):
            return tuple(total_kwh(kwh_by_kind) if i == only else ZERO for i in range(len(periods)))
    values: list[Decimal | None] = []
    missing: list[int] = []
    for i, p in enumerate(periods):
        v = kwh_by_kind.get(TOU_KIND_PREFIX + p.key)
        values.append(v)
        if v is None:
            missing.append(i)
    if not missing:
        return tuple(v for v in values if v is not None)
    if len(missing) == 1 and TOTAL_KIND in kwh_by_kind:
        rest = kwh_by_kind[TOTAL_KIND] - sum((v for v in values if v is not None), ZERO)
        if rest < 0:
            raise NotBillable(
                "tou_registers", f"TOU registers add up to more than the total register ({-rest} kWh over)"
            )
        values[missing[0]] = rest
        return tuple(v if v is not None else ZERO for v in values)
    keys = ", ".join(periods[i].key for i in missing)
    raise NotBillable("tou_registers", f"no register for TOU period(s) {keys}")


def tier_year_start(*, period_start: date, start_month: int) -> date:
    year = period_start.year if period_start.month >= start_month else period_start.year - 1
    return date(year, start_month, 1)


def tier_year_fraction(*, tier_year_begins: date, on_tariff_since: date) -> Decimal:
    """Share of the tier year the account is on the tariff, by whole months (the starting month counts)."""
    if on_tariff_since <= tier_year_begins:
        return ONE
    months_before = (on_tariff_since.year - tier_year_begins.year) * 12 + (
        on_tariff_since.month - tier_year_begins.month
    )
    if months_before >= 12:
        return ONE
    return (Decimal(12 - months_before) / Decimal(12)).quantize(FRACTION_STEP, rounding=ROUND_HALF_UP)


def build(
    *,
    tariff: Tariff,
    start: date,
    end: date,
    kwh_by_kind: Mapping[str, Decimal],
    kvarh: Decimal | None,
    max_kw: Decimal | None,
    capacity_kva: Decimal | None,
    contract_kw: Decimal | None,
    pf_assessed: bool,
    ytd_kwh_before: Decimal = ZERO,
    fraction: Decimal = ONE,
    max_kw_by_kind: Mapping[str, Decimal] | None = None,
) -> Determinants:
    """Determinants of one service point for ``[start, end)``; raises :class:`NotBillable`."""
    kwh = energy_by_period(tariff=tariff, kwh_by_kind=kwh_by_kind, start=start, end=end)
    if any(k < 0 for k in kwh):
        raise NotBillable("negative_usage", "negative validated consumption")
    max_by_period: tuple[Decimal, ...] = ()
    if tariff.tou_demand is not None:
        # TOU demand charges (分时需量) from the meter's per-period maximum-demand registers
        read = max_kw_by_kind or {}
        keys = [p.key for p in tariff.tou_demand.periods]
        missing = [k for k in keys if DEMAND_KIND_PREFIX + k not in read]
        if missing:
            raise NotBillable(
                "tou_demand",
                "no maximum-demand register read for TOU demand period(s) "
                + ", ".join(f"{k} ({DEMAND_KIND_PREFIX}{k})" for k in missing),
            )
        max_by_period = tuple(read[DEMAND_KIND_PREFIX + k] for k in keys)
        if max_kw is None:
            max_kw = max(max_by_period)
    needs_demand = (
        tariff.flat_demand is not None
        or (tariff.basic is not None and tariff.basic.method == "demand")
        or tariff.energy.tier_basis == "kwh_per_kw"
    )
    if needs_demand and max_kw is None:
        raise NotBillable("no_demand_reading", "the tariff charges maximum demand but none was read")
    if tariff.basic is not None and tariff.basic.method == "capacity" and not capacity_kva:
        raise NotBillable("no_capacity", "basic charge by capacity but the service point has no capacity")
    return Determinants(
        start=start,
        end=end,
        kwh_by_period=kwh,
        kvarh=kvarh if (pf_assessed and tariff.power_factor is not None) else None,
        max_kw=max_kw,
        max_kw_by_period=max_by_period,
        capacity_kva=capacity_kva,
        contract_kw=contract_kw,
        ytd_kwh_before=ytd_kwh_before,
        tier_year_fraction=fraction,
    )
