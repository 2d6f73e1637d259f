"""Day types for time-of-use schedules (工作日 / 周末 / 节假日) and the PySAM calendar.

Two semantics, chosen per tariff (``calendar.semantics``) and switchable at quote time:

* ``real``: the real calendar. ``date.weekday()`` (Monday = 0) in ``weekend_days`` -> weekend; a date in
  the holiday set (法定节假日) -> holiday; a date in the make-up working-day set (调休上班日) -> weekday.
* ``pysam``: NREL PySAM's calendar. Jan 1 of every year is a Monday: day ``d`` (0-based day of the year)
  is a weekend day iff ``d % 7 in (5, 6)``; there are no holidays.

Pure: the holiday and working-day sets are passed in (the application layer loads holidays-cn.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt

DayType = Literal["weekday", "weekend", "holiday"]
DAY_TYPES: tuple[DayType, ...] = ("weekday", "weekend", "holiday")
WEEKDAY, WEEKEND, HOLIDAY = 0, 1, 2
Semantics = Literal["real", "pysam"]


@dataclass(frozen=True)
class HolidayCalendar:
    """Public holidays (法定节假日) and make-up working days (调休上班日), as data."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


def day_type(
    *,
    day: date,
    semantics: Semantics,
    weekend_days: tuple[int, ...] = (5, 6),
    holidays: HolidayCalendar | None = None,
) -> int:
    """Day type index (0 weekday, 1 weekend, 2 holiday) of one date."""
    if semantics == "pysam":
        doy = (day - date(day.year, 1, 1)).days
        return WEEKEND if doy % 7 in (5, 6) else WEEKDAY
    if holidays is not None:
        if day in holidays.holidays:
            return HOLIDAY
        if day in holidays.workdays:
            return WEEKDAY
    return WEEKEND if day.weekday() in weekend_days else WEEKDAY


def day_types(
    *,
    days: npt.NDArray[np.datetime64],
    semantics: Semantics,
    weekend_days: tuple[int, ...] = (5, 6),
    holidays: HolidayCalendar | None = None,
) -> npt.NDArray[np.int8]:
    """Vectorised :func:`day_type` over an array of ``datetime64[D]`` days."""
    d = days.astype("datetime64[D]")
    out = np.zeros(d.shape, dtype=np.int8)
    if semantics == "pysam":
        year_start = d.astype("datetime64[Y]").astype("datetime64[D]")
        doy = (d - year_start).astype(np.int64)
        out[np.isin(doy % 7, (5, 6))] = WEEKEND
        return out
    # 1970-01-01 was a Thursday (weekday 3).
    weekday = (d.astype(np.int64) + 3) % 7
    out[np.isin(weekday, np.asarray(weekend_days, dtype=np.int64))] = WEEKEND
    if holidays is not None:
        if holidays.workdays:
            wd = np.array(sorted(holidays.workdays), dtype="datetime64[D]")
            out[np.isin(d, wd)] = WEEKDAY
        if holidays.holidays:
            hd = np.array(sorted(holidays.holidays), dtype="datetime64[D]")
            out[np.isin(d, hd)] = HOLIDAY
    return out
