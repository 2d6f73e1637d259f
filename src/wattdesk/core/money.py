"""Money helpers (金额): the one place where money is rounded to the fen (分).

Money is ``Decimal`` everywhere. A bill line's amount is computed at full precision (quantity x rate, both
finite decimals, so the product is exact); the lines of one bill are then rounded together by
:func:`round_lines` in one of two modes (docs/dev/contracts.md):

* ``per_line`` (Chinese practice, default for WattDesk tariffs): each line is rounded half-up to the fen,
  the total is the sum of the rounded lines;
* ``per_bill`` (default for URDB imports, to agree with PySAM to 0.01): the total is the exact sum rounded
  half-up to the fen; the lines are rounded to the fen and the residual fen are given to the lines by
  largest remainder so that the lines add up to the total.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

FEN = Decimal("0.01")
QUANTITY_STEP = Decimal("0.0001")
"""Quantities (kWh, kW, kVA, days) are quantized to 0.0001 half-up (see docs/tariffs.md)."""
DERIVED_RATE_STEP = Decimal("0.00000001")
"""Derived unit prices (base x multiplier is exact; $/year / 12 and $/day x 365/12 are not) use 1e-8."""

RoundingMode = Literal["per_line", "per_bill"]
ROUNDING_MODES: tuple[RoundingMode, ...] = ("per_line", "per_bill")


class MoneyError(ValueError):
    """Bad argument to a money helper."""


# --- parsing an amount typed or sent by someone ---------------------------------------------------------------

AMOUNT_MAX_TEXT = 40
"""Longer text is not read as an amount (no legitimate yuan amount needs more characters)."""

_FULL_WIDTH = str.maketrans("０１２３４５６７８９．－", "0123456789.-")
_AMOUNT_RE = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?", re.ASCII)

AmountReason = Literal["empty", "not_a_number", "too_large", "too_many_decimals", "not_positive", "negative"]


class AmountError(MoneyError):
    """An amount that :func:`parse_amount` refuses. ``field`` names the input, ``reason`` says why (one of
    :data:`AmountReason`), ``limit`` is the largest accepted amount when ``reason == "too_large"``; the message
    is one line naming the field, for an interface to show or to translate from ``reason``."""

    def __init__(self, *, field: str, text: str, reason: AmountReason, places: int, limit: Decimal) -> None:
        self.field = field
        self.text = text
        self.reason = reason
        self.places = places
        self.limit = limit
        shown = text if len(text) <= AMOUNT_MAX_TEXT else text[:AMOUNT_MAX_TEXT] + "…"
        why = {
            "empty": "is empty",
            "not_a_number": f"{shown!r} is not an amount in yuan (digits, at most {places} decimals, e.g. 120.50)",
            "too_large": f"{shown} is above the largest amount {limit}",
            "too_many_decimals": f"{shown} has more than {places} decimals",
            "not_positive": f"must be greater than 0, got {shown}",
            "negative": f"must not be negative, got {shown}",
        }[reason]
        super().__init__(f"{field} {why}")


def parse_amount(
    value: str | int | Decimal,
    *,
    field: str = "amount",
    max_digits: int = 14,
    places: int = 2,
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> Decimal:
    """The one parser of amounts from outside (a form, a command argument, a callback, a file cell).

    Accepts plain decimal notation only: optional ``-`` (when ``allow_negative``), ASCII digits, optionally a
    point and decimals; surrounding blanks are ignored. Full-width digits, point and minus (``１２０．５０``, what
    a Chinese input method in full-width mode types) are deliberately accepted and read as their ASCII forms.
    Refused, with an :class:`AmountError` naming ``field``: an exponent (``1e20``), NaN, infinity, underscores
    (``1_000``), thousands separators, other scripts' digits, more than ``places`` decimals (trailing zeros
    beyond them are fine), more than ``max_digits`` digits in all (the database column: ``max_digits -
    places`` before the point), zero unless ``allow_zero``, negative unless ``allow_negative``.

    Returns the amount quantized to ``places`` (``Decimal("120.50")``). A ``Decimal`` or ``int`` argument is
    checked the same way (a ``bool`` or ``float`` is refused: floats are never money).
    """
    step = Decimal(1).scaleb(-places)
    limit = Decimal(10 ** (max_digits - places)) - step

    def fail(reason: AmountReason) -> AmountError:
        return AmountError(field=field, text=text, reason=reason, places=places, limit=limit)

    text = repr(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise fail("not_a_number")
    if isinstance(value, Decimal):
        text = str(value)
        if not value.is_finite():
            raise fail("not_a_number")
        if value and value.adjusted() >= max_digits - places:  # before formatting 1E+999999 as digits
            raise fail("too_large")
        if value.normalize().as_tuple().exponent < -places:  # type: ignore[operator]
            raise fail("too_many_decimals")
        text = format(value.quantize(step), "f")
    else:
        text = str(value)
    text = text.strip(" \t\r\n\u3000")

    if not text:
        raise fail("empty")
    if len(text) > AMOUNT_MAX_TEXT:
        raise fail("not_a_number")
    m = _AMOUNT_RE.fullmatch(text.translate(_FULL_WIDTH))
    if m is None:
        raise fail("not_a_number")
    sign, whole, decimals = m.group(1), m.group(2), m.group(3) or ""
    if decimals[places:].strip("0"):
        raise fail("too_many_decimals")
    if len(whole.lstrip("0")) > max_digits - places:
        raise fail("too_large")
    amount = Decimal(f"{sign}{whole}.{decimals[:places]}" if decimals else f"{sign}{whole}")
    amount = amount.quantize(Decimal(1).scaleb(-places)) + 0  # + 0: no negative zero
    if amount < 0 and not allow_negative:
        raise fail("negative" if allow_zero else "not_positive")
    if amount == 0 and not allow_zero:
        raise fail("not_positive")
    return amount


def round_fen(x: Decimal) -> Decimal:
    """Round to the fen (分, 0.01 元) half-up. The only rounding-to-fen helper."""
    return x.quantize(FEN, rounding=ROUND_HALF_UP)


def quantize_quantity(x: Decimal) -> Decimal:
    """Quantize a quantity (kWh, kW, kVA ...) to 0.0001 half-up."""
    return x.quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP)


def quantize_rate(x: Decimal) -> Decimal:
    """Quantize a derived unit price to 1e-8 half-up."""
    return x.quantize(DERIVED_RATE_STEP, rounding=ROUND_HALF_UP)


def round_lines(amounts: Sequence[Decimal], mode: RoundingMode) -> tuple[tuple[Decimal, ...], Decimal]:
    """Round a bill's exact line amounts to the fen; return ``(rounded lines, total)``.

    ``per_line``: each line ``round_fen``; total = sum of rounded lines.
    ``per_bill``: total = ``round_fen(sum(exact))``; each line is first truncated toward minus infinity to
    the fen, then the missing fen (total - sum of truncated lines, always 0 <= k < number of lines) go
    one each to the lines with the largest remainders (ties: earlier line first).
    """
    if mode == "per_line":
        rounded = tuple(round_fen(a) for a in amounts)
        return rounded, sum(rounded, Decimal("0.00"))
    if mode != "per_bill":
        raise MoneyError(f"unknown rounding mode {mode!r}")
    total = round_fen(sum(amounts, Decimal(0)))
    floors = [a.quantize(FEN, rounding=ROUND_FLOOR) for a in amounts]
    missing = int(((total - sum(floors, Decimal(0))) / FEN).to_integral_value())
    # sum(floors) <= exact sum, and a multiple of the fen, so 0 <= missing <= len(amounts).
    result = list(floors)
    order = sorted(range(len(amounts)), key=lambda i: (-(amounts[i] - floors[i]), i))
    for i in order[:missing]:
        result[i] += FEN
    return tuple(result), total


def quantize_ratio(num: Decimal, den: Decimal, step: Decimal = QUANTITY_STEP) -> Decimal:
    """``num / den`` quantized to ``step`` half-up, computed exactly with integers (no context precision).

    Every division in the exact rating path goes through here, so the int64 fixed-point path can reproduce
    it bit for bit: with ``n, d`` scaled to integers, the result is ``floor((2·n + d) / (2·d))`` steps for
    non-negative ``n / d`` (half-up; negative ratios round half away from zero).
    """
    if den == 0:
        raise MoneyError("division by zero")
    # Scale both to integers: num = a / 10^k, den = b / 10^k  ->  num / den = a / b.
    exp = min(num.as_tuple().exponent, den.as_tuple().exponent, step.as_tuple().exponent)
    if not isinstance(exp, int):
        raise MoneyError("not a finite decimal")
    k = -exp
    a = int(num.scaleb(k))
    b = int(den.scaleb(k))
    s = int(step.scaleb(k))
    # num / den in units of step = (a / 10^k) / ((b / 10^k)(s / 10^k)) = a·10^k / (b·s)
    n = a * 10**k
    d = b * s
    if d < 0:
        n, d = -n, -d
    units = (2 * abs(n) + d) // (2 * d)
    return (Decimal(units if n >= 0 else -units) * step).quantize(step)
