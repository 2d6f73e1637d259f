"""Hourly load shapes of a synthetic Chinese county (pure numpy: no Django, no clock, no I/O).

Every archetype is a small set of *components* (hourly series, each normalised to a mean of 1.0 kW over the
reference year 2023). An account's hourly load is ``annual_mean_kw * sum_c(share_c * component_c)``, with
the shares of one account adding up to 1, so the account's mean load over a reference year is exactly
``annual_mean_kw``. Because the load is linear in the components, the energy of any account over any set of
hours is a matrix product of the per-account shares with per-component sums: a county of 20,000 accounts is
rated into reading periods and TOU periods without ever building a 20,000 x 9,000 hourly matrix.

The shapes are hand-built from public descriptions of Chinese load curves (see docs/synthetic-county.md):
residential evening peak with summer air-conditioning and winter heating, commercial opening hours,
industrial one/two/three-shift work, agricultural irrigation season; the Spring Festival (春节) raises
residential use (migrant workers return home) and shuts most factories for about two weeks.

Weather is one synthetic temperature series for the whole county (a Hangzhou-like climate: monthly means
about 5 °C in January and 29 °C in July) with seeded day-to-day anomalies (heat waves, cold spells), so
the same seed gives the same weather.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: 春节 (Chinese New Year's day) by year. Data, not a rule: lunar dates cannot be computed simply.
SPRING_FESTIVAL: dict[int, date] = {
    2018: date(2018, 2, 16),
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
}

REFERENCE_START = date(2023, 1, 1)
REFERENCE_END = date(2024, 1, 1)

# Archetypes and their components (order matters: it is the column order of the share matrix).
ARCHETYPES: dict[str, tuple[str, ...]] = {
    "residential": ("res_base", "res_cooling", "res_heating"),
    "commercial": ("com_base", "com_cooling", "com_heating"),
    "industrial_1shift": ("ind_1shift", "ind_standby"),
    "industrial_2shift": ("ind_2shift", "ind_standby"),
    "industrial_3shift": ("ind_3shift", "ind_standby"),
    "agricultural": ("agr_irrigation", "agr_base"),
}
COMPONENTS: tuple[str, ...] = tuple(dict.fromkeys(c for comps in ARCHETYPES.values() for c in comps))
COMPONENT_INDEX: dict[str, int] = {c: i for i, c in enumerate(COMPONENTS)}


@dataclass(frozen=True)
class HourAxis:
    """The hours of the half-open date range [start, end), local time, one entry per hour."""

    start: date
    end: date
    hours: npt.NDArray[np.datetime64]  # datetime64[h]
    hour_of_day: IntArray  # 0..23
    weekday: IntArray  # 0 = Monday
    month: IntArray  # 1..12
    day_of_year: IntArray  # 0-based
    day_index: IntArray  # days since start

    @property
    def size(self) -> int:
        return int(self.hours.shape[0])

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def hour_axis(start: date, end: date) -> HourAxis:
    """Hourly axis of [start, end)."""
    if end <= start:
        raise ValueError(f"empty range {start} .. {end}")
    d0 = np.datetime64(start, "D")
    hours = np.arange(np.datetime64(start, "h"), np.datetime64(end, "h"), dtype="datetime64[h]")
    days = hours.astype("datetime64[D]")
    day_index = (days - d0).astype(np.int64)
    hour_of_day = (hours - days.astype("datetime64[h]")).astype(np.int64)
    # 1970-01-01 was a Thursday (weekday 3)
    weekday = ((days.astype(np.int64) + 3) % 7).astype(np.int64)
    months = days.astype("datetime64[M]")
    month = (months.astype(np.int64) % 12 + 1).astype(np.int64)
    years = days.astype("datetime64[Y]")
    day_of_year = (days - years.astype("datetime64[D]")).astype(np.int64)
    return HourAxis(start, end, hours, hour_of_day, weekday, month, day_of_year, day_index)


def temperature(axis: HourAxis, *, seed: int) -> FloatArray:
    """Hourly air temperature (°C): seasonal mean + diurnal swing + seeded AR(1) daily anomaly."""
    doy = axis.day_of_year.astype(np.float64)
    seasonal = 17.0 - 12.2 * np.cos(2 * np.pi * (doy - 18.0) / 365.25)  # min mid-January, max mid-July
    diurnal = 4.0 * np.cos(2 * np.pi * (axis.hour_of_day - 14.0) / 24.0)  # warmest at 14:00
    days = axis.hours.astype("datetime64[D]").astype(np.int64)
    out: FloatArray = seasonal + diurnal + _daily_anomaly(seed)[(days - _ANOMALY_EPOCH) % _ANOMALY_DAYS]
    return out


_ANOMALY_EPOCH = int(np.datetime64("2000-01-01", "D").astype(np.int64))
_ANOMALY_DAYS = 60 * 366


@cache
def _daily_anomaly(seed: int) -> FloatArray:
    """Daily temperature anomaly (°C) for every calendar day from 2000: AR(1), phi 0.75, sd 2.5 °C.

    Keyed on the calendar day, so two windows that overlap see the same weather.
    """
    rng = np.random.default_rng([seed, 0x7E3F])
    phi, sd = 0.75, 2.5
    shocks = rng.normal(0.0, sd * np.sqrt(1 - phi**2), _ANOMALY_DAYS)
    out = np.empty(_ANOMALY_DAYS)
    out[0] = rng.normal(0.0, sd)
    for i in range(1, _ANOMALY_DAYS):
        out[i] = phi * out[i - 1] + shocks[i]
    return out


def _spring_festival_offset(axis: HourAxis) -> FloatArray:
    """Days from the nearest Spring Festival (negative before), +inf when none is known near the date."""
    days = axis.hours.astype("datetime64[D]")
    out = np.full(axis.size, np.inf)
    for sf in SPRING_FESTIVAL.values():
        off = (days - np.datetime64(sf, "D")).astype(np.float64)
        closer = np.abs(off) < np.abs(out)
        out[closer] = off[closer]
    return out


def _by_hour(table: list[float], hour_of_day: IntArray) -> FloatArray:
    arr = np.asarray(table, dtype=np.float64)
    assert arr.shape == (24,)
    return arr[hour_of_day]


# Daily shapes (relative, 24 values from 00:00).
_RES_WEEKDAY = [0.45, 0.38, 0.35, 0.34, 0.35, 0.42, 0.70, 0.95, 0.80, 0.62, 0.58, 0.72,
                0.80, 0.65, 0.58, 0.58, 0.66, 0.95, 1.35, 1.62, 1.68, 1.55, 1.18, 0.75]  # fmt: skip
_RES_WEEKEND = [0.50, 0.40, 0.36, 0.35, 0.35, 0.38, 0.52, 0.78, 0.92, 0.90, 0.88, 0.98,
                1.00, 0.88, 0.80, 0.78, 0.82, 1.05, 1.40, 1.62, 1.66, 1.55, 1.20, 0.80]  # fmt: skip
# AC use follows occupancy: evenings and nights in bedrooms, some at midday at weekends.
_RES_OCCUPANCY = [0.95, 0.95, 0.95, 0.95, 0.90, 0.80, 0.50, 0.35, 0.25, 0.25, 0.30, 0.40,
                  0.45, 0.40, 0.35, 0.35, 0.40, 0.60, 0.85, 1.00, 1.00, 1.00, 1.00, 0.98]  # fmt: skip
_COM_OPEN = [0.18, 0.16, 0.15, 0.15, 0.15, 0.18, 0.30, 0.55, 0.90, 1.00, 1.00, 1.00,
             0.95, 0.95, 1.00, 1.00, 1.00, 1.00, 1.00, 0.95, 0.85, 0.60, 0.35, 0.22]  # fmt: skip
_IND_1SHIFT = [0.0] * 7 + [0.4, 1.0, 1.0, 1.0, 1.0, 0.6, 1.0, 1.0, 1.0, 1.0, 0.5] + [0.0] * 6
_IND_2SHIFT = [0.15] * 6 + [0.4, 0.8, 1.0, 1.0, 1.0, 1.0, 0.8, 1.0, 1.0, 1.0, 1.0, 0.9,
                             0.95, 1.0, 1.0, 1.0, 0.9, 0.5]  # fmt: skip
_IND_3SHIFT = [0.92, 0.90, 0.90, 0.90, 0.90, 0.92, 0.95, 1.00, 1.00, 1.02, 1.02, 1.00,
               0.96, 1.00, 1.02, 1.02, 1.00, 0.98, 0.96, 0.96, 0.96, 0.95, 0.94, 0.93]  # fmt: skip
# Irrigation pumps: daytime plus the cheap valley hours at night.
_AGR_PUMP = [0.55, 0.55, 0.50, 0.45, 0.40, 0.50, 0.80, 1.00, 1.00, 1.00, 0.95, 0.80,
             0.70, 0.80, 0.95, 1.00, 1.00, 0.90, 0.60, 0.40, 0.40, 0.45, 0.55, 0.60]  # fmt: skip


def _raw_components(axis: HourAxis, temp: FloatArray) -> FloatArray:
    """Un-normalised components, shape (len(COMPONENTS), hours)."""
    h = axis.hour_of_day
    weekend = axis.weekday >= 5
    sf = _spring_festival_offset(axis)
    doy = axis.day_of_year.astype(np.float64)
    out = np.zeros((len(COMPONENTS), axis.size))

    def put(name: str, values: FloatArray) -> None:
        out[COMPONENT_INDEX[name]] = values

    # Residential: daily shape, +35% over the Spring Festival fortnight (family reunions, 返乡).
    res_day = np.where(weekend, _by_hour(_RES_WEEKEND, h), _by_hour(_RES_WEEKDAY, h))
    res_sf = 1.0 + 0.35 * np.exp(-0.5 * (sf / 6.0) ** 2)
    occupancy = _by_hour(_RES_OCCUPANCY, h) * np.where(weekend, 1.15, 1.0)
    put("res_base", res_day * res_sf)
    put("res_cooling", np.maximum(temp - 26.0, 0.0) ** 1.3 * occupancy)
    put("res_heating", np.maximum(12.0 - temp, 0.0) * occupancy * res_sf)

    # Commercial (shops, offices, restaurants): opening hours, weekends at 85%, closed around 春节.
    com_open = _by_hour(_COM_OPEN, h) * np.where(weekend, 0.85, 1.0)
    com_sf = 1.0 - 0.45 * np.exp(-0.5 * (sf / 4.0) ** 2)
    put("com_base", com_open * com_sf)
    put("com_cooling", np.maximum(temp - 24.0, 0.0) * com_open * com_sf)
    put("com_heating", np.maximum(12.0 - temp, 0.0) * com_open * com_sf)

    # Industry: shift patterns; 1-shift works Mon-Fri, 2-shift Mon-Sat, 3-shift every day.
    # Spring Festival: shut from about 7 days before to 10 days after, ramping up over another week.
    shutdown = np.clip(np.where(sf < 0, (-sf - 7.0) / 3.0, (sf - 10.0) / 7.0), 0.0, 1.0)
    shutdown = np.where(np.isinf(sf), 1.0, shutdown)
    put("ind_1shift", _by_hour(_IND_1SHIFT, h) * (axis.weekday < 5) * shutdown)
    put("ind_2shift", _by_hour(_IND_2SHIFT, h) * (axis.weekday < 6) * shutdown)
    put("ind_3shift", _by_hour(_IND_3SHIFT, h) * np.maximum(shutdown, 0.15))
    put("ind_standby", np.ones(axis.size))

    # Agriculture: irrigation season (early rice / late rice in Zhejiang: May to September, peak in July).
    season = np.exp(-0.5 * ((doy - 195.0) / 38.0) ** 2)
    put("agr_irrigation", season * _by_hour(_AGR_PUMP, h))
    put("agr_base", np.ones(axis.size))
    return out


@cache
def _normalisers(seed: int) -> FloatArray:
    """Mean of each raw component over the reference year (for a weather seed)."""
    ref = hour_axis(REFERENCE_START, REFERENCE_END)
    raw = _raw_components(ref, temperature(ref, seed=seed))
    means = raw.mean(axis=1)
    return np.where(means > 0, means, 1.0)


def components(axis: HourAxis, *, seed: int) -> FloatArray:
    """Normalised components over the axis, shape (len(COMPONENTS), hours); each has mean 1.0 over 2023."""
    raw = _raw_components(axis, temperature(axis, seed=seed))
    return raw / _normalisers(seed)[:, None]


def group_sums(values: FloatArray, groups: IntArray, n_groups: int) -> FloatArray:
    """Sum the last axis of `values` by group id (0..n_groups-1): shape values.shape[:-1] + (n_groups,)."""
    if values.ndim == 1:
        sums: FloatArray = np.bincount(groups, weights=values, minlength=n_groups)[:n_groups].astype(
            np.float64
        )
        return sums
    onehot = np.zeros((groups.shape[0], n_groups))
    onehot[np.arange(groups.shape[0]), groups] = 1.0
    return values @ onehot


def period_index(axis: HourAxis, boundaries: list[date]) -> IntArray:
    """For each hour, the index k of the reading period [boundaries[k], boundaries[k+1]) it falls in."""
    edges = np.array([(b - axis.start).days for b in boundaries], dtype=np.int64)
    k = np.searchsorted(edges, axis.day_index, side="right") - 1
    if (k < 0).any() or (k >= len(boundaries) - 1).any():
        raise ValueError("the hour axis reaches outside the reading periods")
    return k.astype(np.int64)


def tou_index(axis: HourAxis, weekday: IntArray, weekend: IntArray) -> IntArray:
    """TOU period index per hour from 12 x 24 month/hour schedules (URDB-style, 0-based periods)."""
    if weekday.shape != (12, 24) or weekend.shape != (12, 24):
        raise ValueError("TOU schedules must be 12 x 24")
    is_weekend = axis.weekday >= 5
    m = axis.month - 1
    return np.where(is_weekend, weekend[m, axis.hour_of_day], weekday[m, axis.hour_of_day]).astype(np.int64)


def energy_by_group(shares: FloatArray, mean_kw: FloatArray, comp_sums: FloatArray) -> FloatArray:
    """kWh per account and group: mean_kw[a] * sum_c shares[a, c] * comp_sums[c, g]."""
    return (shares @ comp_sums) * mean_kw[:, None]


def hourly_load(shares: FloatArray, mean_kw: FloatArray, comps: FloatArray) -> FloatArray:
    """Hourly kW of each account, shape (accounts, hours)."""
    return (shares @ comps) * mean_kw[:, None]
