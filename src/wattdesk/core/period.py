"""The billing period (账期): one calendar month, written ``YYYY-MM``. Pure: no Django, no clock.

A period is a value (frozen, ordered, hashable). Its bounds are half-open: ``[first day, first day of the
next month)``. Every parse, format, shift and "previous period" in WattDesk goes through :class:`Period`::

    p = Period.parse("2026-03")          # PeriodError on anything but YYYY-MM with a month 01-12
    str(p)                               # "2026-03"
    p.start, p.end                       # date(2026, 3, 1), date(2026, 4, 1)
    p.previous(), p.next(), p.shift(-12) # Period(2026, 2), Period(2026, 4), Period(2025, 3)
    Period.of(date(2026, 3, 17))         # Period(2026, 3)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

#: The one pattern of a period's text (use ``fullmatch``): four ASCII digits, a hyphen, a month 01-12.
PERIOD_RE: Final = re.compile(r"(\d{4})-(0[1-9]|1[0-2])", re.ASCII)


class PeriodError(ValueError):
    """Text that is not a period (``YYYY-MM``, month 01-12), or a shift beyond the years a date holds."""


def add_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months, keeping the day (the day must exist in the target month: callers
    use days 1-28)."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, d.day)


@dataclass(frozen=True, order=True)
class Period:
    """One billing month. Compare, sort and hash like ``(year, month)``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9999 or not 1 <= self.month <= 12:
            raise PeriodError(f"no period {self.year:04d}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str | None) -> Period:
        """``"2026-03"`` -> ``Period(2026, 3)``; :class:`PeriodError` naming the text otherwise."""
        m = PERIOD_RE.fullmatch(text or "")
        if m is None or m.group(1) == "0000":
            raise PeriodError(f"period must be YYYY-MM (e.g. 2026-03), got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def is_valid(cls, text: str | None) -> bool:
        """True if ``text`` is a period's text."""
        try:
            cls.parse(text)
        except PeriodError:
            return False
        return True

    @classmethod
    def of(cls, d: date) -> Period:
        """The period a day falls in."""
        return cls(d.year, d.month)

    @property
    def start(self) -> date:
        """The first day (inclusive)."""
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The first day of the next month (exclusive)."""
        return self.next().start

    @property
    def bounds(self) -> tuple[date, date]:
        """``(start, end)``: half-open ``[first day, first day of the next month)``."""
        return self.start, self.end

    def shift(self, n: int) -> Period:
        """The period ``n`` months later (earlier for negative ``n``)."""
        y, m = divmod(self.year * 12 + self.month - 1 + n, 12)
        if not 1 <= y <= 9999:
            raise PeriodError(f"{self} shifted by {n} months is out of range")
        return Period(y, m + 1)

    def previous(self) -> Period:
        return self.shift(-1)

    def next(self) -> Period:
        return self.shift(1)

    def back(self, n: int) -> list[Period]:
        """``n`` periods ending with this one, oldest first (``back(3)`` of 2026-03: 2026-01, -02, -03)."""
        return [self.shift(-i) for i in range(n - 1, -1, -1)]

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def period_text(d: date) -> str:
    """``"YYYY-MM"`` of the period a day falls in (shorthand for ``str(Period.of(d))``)."""
    return str(Period.of(d))
