"""Interval load -> per-calendar-month billing determinants (计费因子), with numpy. Pure.

Interval kWh are fixed-point from the start: each value is rounded half-even by ``np.rint`` to 0.0001 kWh
and held as int64, so every sum is exact and the Decimal results do not depend on summation order.
Demand is the interval-average kW of a step: kWh x steps per hour (hourly data -> hourly mean kW, 15-minute
data -> 15-minute kW), which is what PySAM does and what a 15-minute demand meter (最大需量) records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from wattdesk.core.calendar import HolidayCalendar, Semantics, day_types
from wattdesk.core.rating.exact import Determinants
from wattdesk.core.tariff import Schedule, Tariff

SCALE = 10_000  # 0.0001 kWh


class LoadError(ValueError):
    """The interval load cannot be used (irregular step, duplicates, NaN, negative ...)."""


@dataclass(frozen=True)
class LoadShape:
    """What was detected about an interval series."""

    step_minutes: int
    steps_per_hour: int


def detect_step(*, timestamps: npt.NDArray[np.datetime64]) -> LoadShape:
    """The interval length: the smallest gap between consecutive starts; it must divide 60 minutes and
    every gap must be a multiple of it (gaps = missing intervals are allowed, duplicates are not)."""
    ts = timestamps.astype("datetime64[m]").astype(np.int64)
    if ts.size < 2:
        raise LoadError("need at least two intervals to detect the step")
    diffs = np.diff(ts)
    if np.any(diffs <= 0):
        i = int(np.argmax(diffs <= 0)) + 1
        raise LoadError(f"timestamps must be strictly increasing (interval {i})")
    step = int(diffs.min())
    if step > 60 or 60 % step:
        raise LoadError(f"interval length {step} minutes does not divide an hour")
    if np.any(diffs % step):
        raise LoadError(f"irregular intervals (step {step} minutes)")
    return LoadShape(step_minutes=step, steps_per_hour=60 // step)


def _to_units(values: npt.NDArray[np.floating] | npt.NDArray[np.integer], name: str) -> npt.NDArray[np.int64]:
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise LoadError(f"{name}: not a finite number at interval {int(np.argmax(~np.isfinite(v)))}")
    if np.any(v < 0):
        raise LoadError(f"{name}: negative value at interval {int(np.argmax(v < 0))}")
    return np.rint(v * SCALE).astype(np.int64)


def _dec(units: int | np.integer) -> Decimal:
    return Decimal(int(units)).scaleb(-4)


def _schedule_array(schedule: Schedule) -> npt.NDArray[np.int64]:
    return np.asarray(schedule.table, dtype=np.int64)  # (3, 12, 24) or (3, 12, 48) with half-hour slots


def schedule_slots(
    *, schedule: Schedule, minute_of_day: npt.NDArray[np.int64], step_minutes: int
) -> npt.NDArray[np.int64]:
    """The schedule slot (hour, or half-hour for a schedule with :30 boundaries) of each interval start.

    An interval must lie inside one slot, or its energy would belong to two periods: with half-hour slots the
    data must be 30-minute or finer on a grid that divides the half-hour (hourly data cannot be split at :30).
    """
    width = schedule.slot_minutes
    if schedule.slots_per_hour == 1:  # hourly: an interval belongs to the hour it starts in (as always)
        return minute_of_day // width
    if width % step_minutes or np.any(minute_of_day % width + step_minutes > width):
        raise LoadError(
            f"the tariff's periods change every {width} minutes: {step_minutes}-minute intervals cannot be "
            "assigned to one period each (give interval data on a grid that divides the slot)"
        )
    return minute_of_day // width


def monthly_determinants(
    *,
    tariff: Tariff,
    timestamps: npt.NDArray[np.datetime64],
    kwh: npt.NDArray[np.floating],
    kvarh: npt.NDArray[np.floating] | None = None,
    holidays: HolidayCalendar | None = None,
    semantics: Semantics | None = None,
    capacity_kva: Decimal | None = None,
    contract_kw: Decimal | None = None,
) -> tuple[Determinants, ...]:
    """Per-calendar-month determinants of one account's interval load (local interval starts).

    Day types follow ``semantics`` (default: the tariff's ``calendar.semantics``); public holidays apply only
    with the real calendar and when the tariff's ``calendar.holidays`` is true. For annual tiers,
    ``ytd_kwh_before`` is filled from the earlier months of the same tier year found in this load.
    """
    ts = np.asarray(timestamps).astype("datetime64[m]")
    if ts.shape != np.shape(kwh) or (kvarh is not None and np.shape(kvarh) != ts.shape):
        raise LoadError("timestamps, kwh and kvarh must have the same length")
    shape = detect_step(timestamps=ts)
    e = _to_units(kwh, "kwh")
    r = _to_units(kvarh, "kvarh") if kvarh is not None else None
    # Demand is the interval-average kW = kWh x steps per hour, taken from the unrounded interval value and
    # then rounded to 0.0001 kW (not 4 x the rounded kWh, which would carry 4x the rounding error into the
    # demand charge). x steps_per_hour (1, 2 or 4) is exact in binary floating point.
    kw = np.rint(np.asarray(kwh, dtype=np.float64) * SCALE * shape.steps_per_hour).astype(np.int64)
    sem: Semantics = semantics or tariff.calendar.semantics
    days = ts.astype("datetime64[D]")
    minute_of_day = (ts - days).astype(np.int64)
    months_abs = ts.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    month_idx = months_abs % 12
    dts = day_types(
        days=days,
        semantics=sem,
        weekend_days=tariff.calendar.weekend_days,
        holidays=holidays if tariff.calendar.holidays else None,
    ).astype(np.int64)
    e_slot = schedule_slots(
        schedule=tariff.energy.schedule, minute_of_day=minute_of_day, step_minutes=shape.step_minutes
    )
    e_period = _schedule_array(tariff.energy.schedule)[dts, month_idx, e_slot]
    n_e = len(tariff.energy.periods)
    d_period = None
    n_d = 0
    if tariff.tou_demand is not None:
        d_slot = schedule_slots(
            schedule=tariff.tou_demand.schedule, minute_of_day=minute_of_day, step_minutes=shape.step_minutes
        )
        d_period = _schedule_array(tariff.tou_demand.schedule)[dts, month_idx, d_slot]
        n_d = len(tariff.tou_demand.periods)
    bounds = np.flatnonzero(np.diff(months_abs)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [ts.size]))
    out: list[Determinants] = []
    ytd = 0
    tier_year: int | None = None
    start_month = tariff.energy.tier_year_start_month
    for a, b in zip(starts, ends, strict=True):
        m_abs = int(months_abs[a])
        year, month = 1970 + m_abs // 12, m_abs % 12 + 1
        this_tier_year = year if month >= start_month else year - 1
        if this_tier_year != tier_year:
            tier_year, ytd = this_tier_year, 0
        kwh_p = np.zeros(n_e, dtype=np.int64)
        np.add.at(kwh_p, e_period[a:b], e[a:b])
        max_p: tuple[Decimal, ...] = ()
        if d_period is not None:
            mx = np.zeros(n_d, dtype=np.int64)
            np.maximum.at(mx, d_period[a:b], kw[a:b])
            max_p = tuple(_dec(x) for x in mx)
        month_total = int(kwh_p.sum())
        out.append(
            Determinants(
                start=date(year, month, 1),
                end=date(year + (month == 12), month % 12 + 1, 1),
                kwh_by_period=tuple(_dec(x) for x in kwh_p),
                kvarh=_dec(r[a:b].sum()) if r is not None else None,
                max_kw=_dec(kw[a:b].max()),
                max_kw_by_period=max_p,
                capacity_kva=capacity_kva,
                contract_kw=contract_kw,
                ytd_kwh_before=_dec(ytd) if tariff.energy.tier_basis == "annual" else Decimal(0),
            )
        )
        ytd += month_total
    return tuple(out)
