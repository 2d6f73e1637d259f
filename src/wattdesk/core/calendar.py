"""Day types for time-of-use schedules (工作日 / 周末 / 节假日) and the PySAM calendar.

Two semantics, chosen per tariff (``calendar.semantics``) and switchable at quote time:

* ``real``: the real calendar. ``date.weekday()`` (Monday = 0) in ``weekend_days`` -> weekend; a date in
  the holiday set (法定节假日) -> holiday; a date in the make-up working-day set (调休上班日) -> weekday.
* ``pysam``: NREL PySAM's calendar. Jan 1 of every year is a Monday: day ``d`` (0-based day of the year)
  is a weekend day iff ``d % 7 in (5, 6)``; there are no holidays.

Pure: the holiday and working-day sets are passed in (the application layer builds them from the maintained
``chinese_calendar`` library plus the local overrides in config/holidays-local.yaml).
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
    """Public holidays (法定节假日) and make-up working days (调休上班日), as data.

    ``years`` are the years the data covers (the State Council publishes each year's days late in the year
    before); ``None`` means the data makes no claim about coverage (hand-made calendars in tests, quotes).
    """

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] | None = None

    def knows(self, day: date) -> bool:
        """Whether the public holidays of ``day``'s year are known (a day outside them is not a holiday)."""
        return self.years is None or day.year in self.years

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday; :class:`UnknownHolidayYear` when its year is not covered."""
        if not self.knows(day):
            raise UnknownHolidayYear(day.year, self.years or frozenset())
        return day in self.holidays


class UnknownHolidayYear(ValueError):
    """The public holidays of a year are not in the calendar data (not published yet, or data too old)."""

    def __init__(self, year: int, known: frozenset[int]) -> None:
        self.year = year
        span = year_spans(known) or "none"
        super().__init__(
            f"the public holidays of {year} are not known (known years: {span}): update chinese-calendar "
            f"or add {year} to config/holidays-local.yaml"
        )


def year_spans(years: frozenset[int]) -> str:
    """``2004-2026, 2030``: the years as runs."""
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and y == runs[-1][1] + 1:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


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
