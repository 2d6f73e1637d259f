"""The rating engine (计费引擎): determinants from interval load, exact Decimal rating."""

from wattdesk.core.rating.exact import Determinants, Line, RatedBill, RatingError, rate, rate_periods

__all__ = ["Determinants", "Line", "RatedBill", "RatingError", "rate", "rate_periods"]
