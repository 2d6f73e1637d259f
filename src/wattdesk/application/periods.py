"""A billing period given by a caller (a command argument, a query string, an API field), as use cases read it:
:class:`wattdesk.core.period.Period`, or an :class:`~wattdesk.application.errors.InputError` naming the text."""

from __future__ import annotations

from wattdesk.application.errors import InputError
from wattdesk.core.period import Period, PeriodError


class PeriodInputError(InputError):
    """The text is not a period (``YYYY-MM``, month 01-12)."""


def period_input(text: str) -> Period:
    """``"2026-03"`` -> ``Period(2026, 3)``; :class:`PeriodInputError` (one line naming the text) otherwise."""
    try:
        return Period.parse(text)
    except PeriodError as exc:
        raise PeriodInputError(str(exc)) from None
