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
