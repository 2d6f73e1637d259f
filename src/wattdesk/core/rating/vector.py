"""Vectorised rating (批量计费): many account-periods of one tariff at once, equal to the exact path to the fen.

``rate_columns(tariff=..., cols=...)`` prices every row of a :class:`DeterminantColumns` (one row per
account and billing period) and returns a :class:`RatedColumns`: a matrix of rounded line amounts in fen (one
column per line *slot*, with its code), a presence mask and the totals. Every row equals
``core.rating.exact.rate`` line by line and in total (tests/unit/core/test_vector_equals_exact.py).

Arithmetic: int64 fixed point, no floats in any result.

* Quantities (kWh, kvarh, kW, kVA) are int64 in 0.0001 units, i.e. already ``quantize_quantity``-ed
  (docs/tariffs.md, "Quantities and rounding").
* A money amount is held in two int64 limbs, ``fen`` (the floor, in fen) and ``sub`` (the rest of a fen, in
  ``10**-K`` fen, ``0 <= sub < 10**K``). ``K`` is chosen per tariff from the number of decimals of its prices
  (quantity scale 4 + price decimals - 2 for yuan -> fen, plus the decimals of the PF percentage / 100 and
  of the 260-rule factor for the lines that multiply a money base). ``K <= 16``, so the sum of up to 900
  lines' ``sub`` fits in int64. With this representation every amount of the exact path is exact; rounding
  half-up (away from zero, as ``Decimal.ROUND_HALF_UP``), ``ROUND_FLOOR`` and the largest-remainder
  comparison of ``round_lines`` are integer operations.
* Products and ratios ``a * b / d`` go through :func:`_muldiv_floor`: a float64 estimate of the quotient,
  then the exact remainder computed in wrapping int64 arithmetic (exact modulo 2**64, and the true
  remainder is small), then a +-1 correction. Valid while the quotient is below 2**51 and ``d < 2**60``.

Bounds (checked per row; a row outside them is priced by ``exact.rate`` and flagged in ``exact_rows``):
every input quantity below 2**40 units (about 1.1e8 kWh / kW / kvarh per billing period) and the sum of the
absolute line amounts below 2**50 fen (about 1.1e13 yuan). Rows whose inputs cannot be held in the columns
(more than 4 decimals are quantized away before they get here, so only huge values) keep their original
:class:`Determinants` in ``DeterminantColumns.source`` and are priced exactly. A tariff that needs ``K > 16``
(prices with more than 12 decimals, or tier limits with more than 4) is priced entirely by the exact path.

The module also builds the columns from a dense interval matrix (:func:`monthly_columns_from_load`), with
the same quantization as ``core.rating.determinants.monthly_determinants``. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from wattdesk.core.calendar import HolidayCalendar, Semantics, day_types
from wattdesk.core.money import DERIVED_RATE_STEP, quantize_quantity, quantize_ratio
from wattdesk.core.pf import PfTableError, power_factor
from wattdesk.core.rating.determinants import LoadError, schedule_slots
from wattdesk.core.rating.exact import (
    PF_STANDARD_STEP,
    Determinants,
    Line,
    RatedBill,
    RatingError,
    _tier_label,
    rate,
)
from wattdesk.core.tariff import Tariff, Tier

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

SCALE = 10_000
"""Quantities are int64 in 0.0001 units (``money.QUANTITY_STEP``)."""
ABSENT = -1
"""Sentinel in an optional quantity column (kvarh, max_kw, capacity_kva, contract_kw): the value is None."""
MAX_K = 16
QTY_LIMIT = 1 << 40
AMOUNT_LIMIT_FEN = float(1 << 50)

__all__ = [
    "ABSENT",
    "SCALE",
    "DeterminantColumns",
    "LineDetail",
    "RatedColumns",
    "columns_from_determinants",
    "monthly_columns_from_load",
    "rate_columns",
]


# ------------------------------------------------------------------------------------------ inputs/outputs


@dataclass(frozen=True)
class DeterminantColumns:
    """Billing determinants of many rows (account x billing period), column-wise.

    Quantities are int64 in 0.0001 units (see :data:`SCALE`); an optional column holds :data:`ABSENT` (-1)
    where the row's value is ``None``. ``start``/``end`` are ``datetime64[D]``, the period is
    ``[start, end)``. ``tier_year_fraction`` and ``ytd_amount_before`` are Decimals (None = all 1 / all 0).
    ``source`` (optional) holds the original :class:`Determinants`, used for rows that go to the exact path.
    ``force_exact`` marks rows that must be priced by the exact path (inputs that do not fit the columns).
    """

    start: npt.NDArray[np.datetime64]
    end: npt.NDArray[np.datetime64]
    kwh_by_period: I64
    kvarh: I64 | None = None
    max_kw: I64 | None = None
    max_kw_by_period: I64 | None = None
    capacity_kva: I64 | None = None
    contract_kw: I64 | None = None
    ytd_kwh_before: I64 | None = None
    tier_year_fraction: tuple[Decimal, ...] | None = None
    ytd_amount_before: tuple[Decimal, ...] | None = None
    source: tuple[Determinants, ...] | None = None
    force_exact: Mask | None = None
    tier_uplift_kwh: I64 | None = None
    """Per-account tier-boundary uplift (``Determinants.tier_uplift_kwh``), a matrix rows x boundaries in
    0.0001 kWh (shorter rows padded with 0, which widens nothing)."""
    pf_kwh: I64 | None = None
    """kWh the power factor is computed from (``Determinants.pf_kwh``); :data:`ABSENT`: the row's kWh."""

    @property
    def n(self) -> int:
        return int(self.kwh_by_period.shape[0])

    def determinants(self, i: int) -> Determinants:
        """Row ``i`` as an exact-path :class:`Determinants` (the original one when ``source`` is set)."""
        if self.source is not None:
            return self.source[i]

        def opt(col: I64 | None) -> Decimal | None:
            if col is None or int(col[i]) < 0:
                return None
            return _dec(int(col[i]))

        return Determinants(
            start=_date(self.start[i]),
            end=_date(self.end[i]),
            kwh_by_period=tuple(_dec(int(x)) for x in self.kwh_by_period[i]),
            kvarh=opt(self.kvarh),
            max_kw=opt(self.max_kw),
            max_kw_by_period=()
            if self.max_kw_by_period is None
            else tuple(_dec(int(x)) for x in self.max_kw_by_period[i]),
            capacity_kva=opt(self.capacity_kva),
            contract_kw=opt(self.contract_kw),
            ytd_kwh_before=Decimal(0) if self.ytd_kwh_before is None else _dec(int(self.ytd_kwh_before[i])),
            tier_year_fraction=Decimal(1) if self.tier_year_fraction is None else self.tier_year_fraction[i],
            ytd_amount_before=Decimal(0) if self.ytd_amount_before is None else self.ytd_amount_before[i],
            tier_uplift_kwh=()
            if self.tier_uplift_kwh is None
            else tuple(_dec(int(x)) for x in self.tier_uplift_kwh[i]),
            pf_kwh=opt(self.pf_kwh),
        )


@dataclass(frozen=True)
class RatedColumns:
    """Rated rows: ``amount_fen[i, j]`` is row ``i``'s rounded amount (fen) of line slot ``j``.

    A slot is a line the tariff can produce (``codes[j]``); ``present[i, j]`` says whether row ``i`` has it
    (the exact path omits zero-kWh tiers, a minimum that does not bind ...). Slots are in the exact path's
    line order, so ``lines(i)`` equals ``[(ln.code, ln.amount) for ln in exact.rate(...).lines]``.
    ``exact_rows`` marks the rows priced by the exact path (out of the int64 bounds).
    """

    codes: tuple[str, ...]
    present: Mask
    amount_fen: I64
    total_fen: I64
    exact_rows: Mask
    details: tuple[LineDetail, ...] = ()
    """Per slot: how its line reads besides the amount (description, quantity, unit, unit rate, rule)."""
    exact_bills: dict[int, RatedBill] = field(default_factory=dict)
    """The exact path's bill of every row in ``exact_rows``."""

    def lines(self, i: int) -> tuple[tuple[str, Decimal], ...]:
        return tuple(
            (c, _fen(int(a)))
            for c, p, a in zip(self.codes, self.present[i], self.amount_fen[i], strict=True)
            if p
        )

    def bill_lines(self, i: int) -> tuple[Line, ...]:
        """Row ``i``'s lines as ``exact.rate(...).lines``: code, description, quantity, unit, unit rate,
        rounded amount and rule, each equal to the exact path's (tests/unit/core/test_vector_equals_exact.py)."""
        bill = self.exact_bills.get(i)
        if bill is not None:
            return bill.lines
        amounts = self.amount_fen[i]
        out = []
        for j in np.flatnonzero(self.present[i]).tolist():
            d = self.details[j]
            out.append(
                Line(
                    self.codes[j],
                    d.description if isinstance(d.description, str) else d.description(i),
                    d.quantity(i),
                    d.unit,
                    d.rate if isinstance(d.rate, Decimal) else d.rate(i),
                    _fen(int(amounts[j])),
                    d.rule if isinstance(d.rule, str) else d.rule(i),
                )
            )
        return tuple(out)

    def total(self, i: int) -> Decimal:
        return _fen(int(self.total_fen[i]))

    def line_tuples(self) -> list[list[LineTuple]]:
        """Every row's lines at once, assembled slot by slot (column-wise): row ``i``'s list holds
        ``(code, description, quantity, unit, rate, amount, rule)`` of each line of ``bill_lines(i)``, in order.
        The fast way to many rows: one pass per slot over the rows that have it, no per-row lookups."""
        n = int(self.present.shape[0])
        out: list[list[LineTuple]] = [[] for _ in range(n)]
        vector_rows = ~self.exact_rows
        for j, code in enumerate(self.codes):
            d = self.details[j]
            rows = np.flatnonzero(self.present[:, j] & vector_rows)
            if rows.size == 0:
                continue
            idx = rows.tolist()
            amounts = self.amount_fen[rows, j].tolist()
            qty_of = d.quantity
            qtys: Sequence[Decimal] = (
                [Decimal(u).scaleb(-4) for u in qty_of.units[rows].tolist()]
                if isinstance(qty_of, _QtyColumn)
                else [qty_of(i) for i in idx]
            )
            desc, unit, price, rule = d.description, d.unit, d.rate, d.rule
            if isinstance(desc, str) and isinstance(price, Decimal) and isinstance(rule, str):
                for i, q, a in zip(idx, qtys, amounts, strict=True):
                    out[i].append((code, desc, q, unit, price, Decimal(a).scaleb(-2), rule))
                continue
            for i, q, a in zip(idx, qtys, amounts, strict=True):
                out[i].append(
                    (
                        code,
                        desc if isinstance(desc, str) else desc(i),
                        q,
                        unit,
                        price if isinstance(price, Decimal) else price(i),
                        Decimal(a).scaleb(-2),
                        rule if isinstance(rule, str) else rule(i),
                    )
                )
        for i, bill in self.exact_bills.items():
            out[i] = [
                (ln.code, ln.description, ln.quantity, ln.unit, ln.rate, ln.amount, ln.rule)
                for ln in bill.lines
            ]
        return out


@dataclass(frozen=True, slots=True)
class LineDetail:
    """What a line slot says besides its amount. ``quantity(i)`` is row ``i``'s exact quantity (a Decimal); the
    description, unit rate and rule are constants or functions of the row (PF, basic by demand, minimum)."""

    description: str | Callable[[int], str]
    quantity: Callable[[int], Decimal]
    unit: str
    rate: Decimal | Callable[[int], Decimal]
    rule: str | Callable[[int], str]


LineTuple = tuple[str, str, Decimal, str, Decimal, Decimal, str]


class _QtyColumn:
    """Row quantity from a column in 0.0001 units (``units``: the column, read whole by ``line_tuples``)."""

    __slots__ = ("units",)

    def __init__(self, units: I64) -> None:
        self.units = units

    def __call__(self, i: int) -> Decimal:
        return _dec(int(self.units[i]))


def _qty_of(col: I64) -> _QtyColumn:
    return _QtyColumn(col)


def _const(x: Decimal) -> Callable[[int], Decimal]:
    return lambda _i: x


def _dec(units: int) -> Decimal:
    return Decimal(units).scaleb(-4)


def _fen(units: int) -> Decimal:
    return Decimal(units).scaleb(-2)


def _date(d: np.datetime64) -> date:
    return date.fromordinal(int(d.astype("datetime64[D]").astype(np.int64)) + date(1970, 1, 1).toordinal())


def _units(x: Decimal) -> int:
    return int(quantize_quantity(x).scaleb(4))


def columns_from_determinants(dets: Sequence[Determinants]) -> DeterminantColumns:
    """Columns from exact-path determinants (quantities quantized as the exact path does).

    Rows with a quantity that does not fit the int64 bounds, or a capacity that is positive but quantizes
    to 0 (the exact 260 rule tests the raw value), are marked ``force_exact``.
    """
    n = len(dets)
    if n == 0:
        raise RatingError("no determinants")
    n_e = len(dets[0].kwh_by_period)
    n_d = len(dets[0].max_kw_by_period)
    force = np.zeros(n, dtype=np.bool_)

    def col(values: Sequence[Decimal | None]) -> I64 | None:
        if all(v is None for v in values):
            return None
        out = np.full(n, ABSENT, dtype=np.int64)
        for i, v in enumerate(values):
            if v is None:
                continue
            u = _units(v)
            if not 0 <= u < QTY_LIMIT:
                force[i] = True
                u = 0  # placeholder: the row is priced by the exact path
            out[i] = u
        return out

    def mat(values: Sequence[tuple[Decimal, ...]], width: int) -> I64:
        out = np.zeros((n, width), dtype=np.int64)
        for i, row in enumerate(values):
            if len(row) != width:
                raise RatingError(f"row {i}: {len(row)} periods, expected {width}")
            for j, v in enumerate(row):
                u = _units(v)
                if not 0 <= u < QTY_LIMIT:
                    force[i] = True
                    continue
                out[i, j] = u
        return out

    kwh = mat([d.kwh_by_period for d in dets], n_e)
    maxp = mat([d.max_kw_by_period for d in dets], n_d) if n_d else None
    cap = col([d.capacity_kva for d in dets])
    for i, d in enumerate(dets):
        if d.capacity_kva is not None and d.capacity_kva > 0 and quantize_quantity(d.capacity_kva) == 0:
            force[i] = True
    ytd = col([d.ytd_kwh_before for d in dets])
    n_up = max(len(d.tier_uplift_kwh) for d in dets)
    uplift = (
        mat([d.tier_uplift_kwh + (Decimal(0),) * (n_up - len(d.tier_uplift_kwh)) for d in dets], n_up)
        if n_up
        else None
    )
    fractions = tuple(d.tier_year_fraction for d in dets)
    amounts = tuple(d.ytd_amount_before for d in dets)
    return DeterminantColumns(
        start=np.array([d.start for d in dets], dtype="datetime64[D]"),
        end=np.array([d.end for d in dets], dtype="datetime64[D]"),
        kwh_by_period=kwh,
        kvarh=col([d.kvarh for d in dets]),
        max_kw=col([d.max_kw for d in dets]),
        max_kw_by_period=maxp,
        capacity_kva=cap,
        contract_kw=col([d.contract_kw for d in dets]),
        ytd_kwh_before=ytd,
        tier_year_fraction=None if all(f == 1 for f in fractions) else fractions,
        ytd_amount_before=None if all(a == 0 for a in amounts) else amounts,
        source=tuple(dets),
        force_exact=force,
        tier_uplift_kwh=uplift,
        pf_kwh=col([d.pf_kwh for d in dets]),
    )


# ------------------------------------------------------------------------------------------ integer kernels


def _muldiv_floor(a: I64, b: I64 | int, d: I64 | int) -> tuple[I64, I64]:
    """``(floor(a * b / d), a * b - d * floor(...))`` exactly, for ``d > 0``.

    Float estimate, then the remainder in wrapping int64 arithmetic (exact: the true remainder is small),
    then a correction. Callers keep the quotient below 2**51 (checked by the row bounds) and ``d < 2**60``.
    """
    a = np.asarray(a, dtype=np.int64)
    b_arr = np.asarray(b, dtype=np.int64)
    d_arr = np.asarray(d, dtype=np.int64)
    if a.size and _abs_max(a) * _abs_max(b_arr) < 1 << 62:
        # the product fits: plain integer floor division (numpy's // and % floor, as required)
        prod = a * b_arr
        q0, r0 = np.divmod(prod, d_arr)
        return np.asarray(q0, dtype=np.int64), np.asarray(r0, dtype=np.int64)
    est = np.floor(a.astype(np.float64) * b_arr.astype(np.float64) / d_arr.astype(np.float64))
    q = np.nan_to_num(est, nan=0.0, posinf=0.0, neginf=0.0).astype(np.int64)
    with np.errstate(over="ignore"):
        r = a * b_arr - q * d_arr
        for _ in range(3):
            neg = r < 0
            q = q - neg
            r = r + d_arr * neg
            big = r >= d_arr
            q = q + big
            r = r - d_arr * big
    return q, r


def _abs_max(x: I64) -> int:
    if x.size == 0:
        return 0
    return max(abs(int(x.max())), abs(int(x.min())))


def _ratio_half_up(a: I64, b: I64 | int, d: I64 | int) -> I64:
    """``round_half_up(a * b / d)`` for non-negative ``a * b`` and ``d > 0`` (``money.quantize_ratio``)."""
    q, r = _muldiv_floor(a, b, d)
    return q + (2 * r >= np.asarray(d, dtype=np.int64))


@dataclass
class _Money:
    """Exact money amounts of many rows: ``fen + sub / 10**K`` fen, ``0 <= sub < 10**K``."""

    fen: I64
    sub: I64


class _Ctx:
    def __init__(self, k: int, n: int) -> None:
        self.k = k
        self.unit = 10**k
        self.n = n

    def zero(self) -> _Money:
        return _Money(np.zeros(self.n, dtype=np.int64), np.zeros(self.n, dtype=np.int64))

    def qty_times_rate(self, q: I64, rate_int: I64 | int, rate_dec: int) -> _Money:
        """A quantity in 0.0001 units times a price ``rate_int * 10**-rate_dec`` yuan."""
        digits = rate_dec + 2  # 0.0001 x 10**-rate_dec yuan = 10**-(rate_dec + 2) fen
        if digits >= 0:
            fen, rem = _muldiv_floor(q, rate_int, 10**digits)
            return _Money(fen, rem * 10 ** (self.k - digits))
        fen = q * np.asarray(rate_int, dtype=np.int64) * 10 ** (-digits)
        return _Money(fen.astype(np.int64), np.zeros(self.n, dtype=np.int64))

    def add(self, *xs: _Money) -> _Money:
        fen = np.zeros(self.n, dtype=np.int64)
        sub = np.zeros(self.n, dtype=np.int64)
        for x in xs:
            fen = fen + x.fen
            sub = sub + x.sub
        return _Money(fen + sub // self.unit, sub % self.unit)

    def sub_(self, a: _Money, b: _Money) -> _Money:
        fen = a.fen - b.fen
        sub = a.sub - b.sub
        return _Money(fen + sub // self.unit, sub % self.unit)

    def where(self, cond: Mask, x: _Money) -> _Money:
        return _Money(np.where(cond, x.fen, 0), np.where(cond, x.sub, 0))

    def times_ratio(self, x: _Money, r_int: I64 | int, r_dec: int) -> _Money:
        """``x * r_int * 10**-r_dec``; exact when ``x.sub`` is a multiple of ``10**r_dec``."""
        d = 10**r_dec
        q1, r1 = _muldiv_floor(x.fen, r_int, d)
        q2, r2 = _muldiv_floor(x.sub // d, r_int, self.unit)
        return self.add(_Money(q1, r1 * 10 ** (self.k - r_dec)), _Money(q2, r2))

    def less(self, a: _Money, b: _Money) -> Mask:
        return np.asarray((a.fen < b.fen) | ((a.fen == b.fen) & (a.sub < b.sub)), dtype=np.bool_)

    def decimal(self, x: _Money) -> Callable[[int], Decimal]:
        """Row ``i`` of ``x`` as an exact Decimal in yuan (``fen + sub / 10**K`` fen)."""
        unit, exp = self.unit, -(self.k + 2)
        return lambda i: Decimal(int(x.fen[i]) * unit + int(x.sub[i])).scaleb(exp)

    def round_half_up(self, x: _Money) -> I64:
        """Decimal ROUND_HALF_UP to the fen (ties away from zero)."""
        half = self.unit // 2 if self.k > 0 else 1
        pos = x.fen + (x.sub >= half) if self.k > 0 else x.fen
        comp = self.unit - x.sub
        neg = np.where(x.sub == 0, x.fen, x.fen + 1 - (comp >= half))
        return np.asarray(np.where(x.fen >= 0, pos, neg), dtype=np.int64)


def _int_dec(x: Decimal) -> tuple[int, int]:
    """``x`` as ``(integer, decimals)`` with ``x == integer * 10**-decimals`` and ``decimals >= 0``."""
    t = x.as_tuple()
    exp = t.exponent
    if not isinstance(exp, int):
        raise RatingError(f"not a finite decimal: {x}")
    dec = max(0, -exp)
    return int(x.scaleb(dec)), dec


def _decimals(values: Sequence[Decimal]) -> int:
    return max((_int_dec(v)[1] for v in values), default=0)


def _scaled(values: Sequence[Decimal], dec: int) -> list[int]:
    return [int(v.scaleb(dec)) for v in values]


# ------------------------------------------------------------------------------------------ the tariff plan


@dataclass
class _Plan:
    """What a tariff needs from the integer kernels, worked out once per call."""

    k: int
    ok: bool
    pf_percent: list[Decimal | None] = field(default_factory=list)


def _tier_bounds_ok(tiers: Sequence[Tier]) -> bool:
    return all(t.upto is None or _int_dec(t.upto)[1] <= 4 for t in tiers)


def _period_unit(tariff: Tariff, per_day: bool) -> str:
    """The unit of a per-month (or per-day) quantity, as ``exact._per_month``."""
    if tariff.locale == "zh":
        return "天" if per_day else "月"
    return "day" if per_day else "month"


def _per_month_rate(tariff: Tariff, amount: Decimal, per: str) -> tuple[Decimal, bool]:
    """(price, times days?) of a per-month/day/year amount, as ``exact._per_month``."""
    if per == "month":
        return amount, False
    if per == "year":
        return quantize_ratio(amount, Decimal(12), DERIVED_RATE_STEP), False
    if tariff.calendar.semantics == "pysam":
        return quantize_ratio(amount * 365, Decimal(12), DERIVED_RATE_STEP), False
    return amount, True


def _plan(tariff: Tariff) -> _Plan:
    def kq(rates: Sequence[Decimal]) -> int:
        return max(0, _decimals(rates) + 2)

    ok = all(_tier_bounds_ok(p.tiers) for p in tariff.energy.periods)
    k_energy = kq([t.rate for p in tariff.energy.periods for t in p.tiers])
    k_demand = 0
    if tariff.flat_demand is not None:
        ok = ok and all(_tier_bounds_ok(s) for s in tariff.flat_demand.structures)
        k_demand = max(k_demand, kq([t.rate for s in tariff.flat_demand.structures for t in s]))
    if tariff.tou_demand is not None:
        ok = ok and all(_tier_bounds_ok(p.tiers) for p in tariff.tou_demand.periods)
        k_demand = max(k_demand, kq([t.rate for p in tariff.tou_demand.periods for t in p.tiers]))
    k_basic = 0
    if tariff.basic is not None:
        b = tariff.basic
        k_basic = kq([b.rate, b.rate * b.excess_multiplier])
        if b.method == "demand" and b.high_load is not None:
            k_basic += _decimals([b.high_load.factor - 1])
    k = max(k_energy, k_demand, k_basic)
    pf_percent: list[Decimal | None] = []
    if tariff.power_factor is not None:
        rule = tariff.power_factor
        for j in range(101):
            try:
                pf_percent.append(
                    rule.table.percent(standard=rule.standard, power_factor=Decimal(j).scaleb(-2))
                )
            except PfTableError:
                pf_percent.append(None)
        k_fund = kq([f.rate for f in tariff.funds])
        k_fixed = max((kq([_per_month_rate(tariff, f.amount, f.per)[0]]) for f in tariff.fixed), default=0)
        cats = {"energy": k_energy, "demand": k_demand, "basic": k_basic, "fund": k_fund, "fixed": k_fixed}
        k_base = max((cats.get(c, 0) for c in rule.base), default=0)
        k = max(k, k_base + _decimals([p.scaleb(-2) for p in pf_percent if p is not None]))
    k = max(k, kq([f.rate for f in tariff.funds]))
    for f in tariff.fixed:
        k = max(k, kq([_per_month_rate(tariff, f.amount, f.per)[0]]))
    if tariff.minimum is not None:
        k = max(k, kq([_per_month_rate(tariff, tariff.minimum.amount, tariff.minimum.per)[0]]))
    return _Plan(k=k, ok=ok and k <= MAX_K, pf_percent=pf_percent)


# ------------------------------------------------------------------------------------------ rating


@dataclass
class _Lines:
    codes: list[str] = field(default_factory=list)
    present: list[Mask] = field(default_factory=list)
    amounts: list[_Money] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    details: list[LineDetail] = field(default_factory=list)

    def add(
        self, code: str, present: Mask, amount: _Money, category: str, ctx: _Ctx, detail: LineDetail
    ) -> None:
        self.codes.append(code)
        self.present.append(present)
        self.amounts.append(ctx.where(present, amount))
        self.category.append(category)
        self.details.append(detail)


def _widths(bounds: Sequence[I64 | None], before: I64, total: I64) -> list[I64]:
    """``exact._tier_widths`` on columns (``bounds[i]`` per row, ``None`` = open)."""
    out = []
    lower = np.zeros_like(total)
    hi_pos = before + total
    for i, bound in enumerate(bounds):
        ub = None if i == len(bounds) - 1 else bound
        lo = np.minimum(np.maximum(before, lower), hi_pos)
        hi = hi_pos if ub is None else np.minimum(np.maximum(before, ub), hi_pos)
        out.append(np.maximum(hi - lo, 0))
        if ub is not None:
            lower = ub
    return out


def _is_calendar_month(start: npt.NDArray[np.datetime64], end: npt.NDArray[np.datetime64]) -> Mask:
    s = start.astype("datetime64[D]")
    first = s.astype("datetime64[M]").astype("datetime64[D]")
    nxt = (s.astype("datetime64[M]") + 1).astype("datetime64[D]")
    return np.asarray((s == first) & (end.astype("datetime64[D]") == nxt), dtype=np.bool_)


def _fraction_bounds(
    tiers: Sequence[Tier], fractions: tuple[Decimal, ...] | None, n: int
) -> list[I64 | None]:
    """Annual tier limits x ``tier_year_fraction`` (exact ``quantize_ratio`` once per distinct fraction)."""
    out: list[I64 | None] = []
    for t in tiers:
        if t.upto is None:
            out.append(None)
            continue
        if fractions is None:
            out.append(np.full(n, _units(t.upto), dtype=np.int64))
            continue
        cache: dict[Decimal, int] = {}
        col = np.empty(n, dtype=np.int64)
        upto = t.upto
        for i, f in enumerate(fractions):
            v = cache.get(f)
            if v is None:
                v = _units(upto) if f == 1 else int(quantize_ratio(upto * f, Decimal(1)).scaleb(4))
                cache[f] = v
            col[i] = v
        out.append(col)
    return out


def _uplifted(bounds: list[I64 | None], uplift: I64 | None) -> list[I64 | None]:
    """``exact._uplifted`` on columns: boundary ``i`` + ``uplift[:, i]`` (open bounds stay open)."""
    if uplift is None or uplift.shape[1] == 0:
        return bounds
    return [b if b is None or i >= uplift.shape[1] else b + uplift[:, i] for i, b in enumerate(bounds)]


def _energy(tariff: Tariff, cols: DeterminantColumns, ctx: _Ctx, lines: _Lines, total: I64) -> None:
    energy = tariff.energy
    n = ctx.n
    q = cols.kwh_by_period
    before = np.zeros(n, dtype=np.int64)
    for p, period in enumerate(energy.periods):
        if energy.tier_basis == "monthly":
            bounds: list[I64 | None] = []
            cal = _is_calendar_month(cols.start, cols.end)
            prorate = energy.proration == "average_month"
            days = (cols.end - cols.start).astype(np.int64)
            for t in period.tiers:
                if t.upto is None:
                    bounds.append(None)
                    continue
                u = _units(t.upto)
                if prorate:
                    scaled = _ratio_half_up(np.full(n, u, dtype=np.int64), days * 12, 365)
                    bounds.append(np.where(cal, u, scaled))
                else:
                    bounds.append(np.full(n, u, dtype=np.int64))
        elif energy.tier_basis == "annual":
            before = cols.ytd_kwh_before if cols.ytd_kwh_before is not None else before
            bounds = _fraction_bounds(period.tiers, cols.tier_year_fraction, n)
        else:  # kwh_per_kw
            if cols.max_kw is None or bool(np.any(cols.max_kw < 0)):
                raise RatingError("kWh/kW tiers need the month's maximum demand (max_kw)")
            bounds = []
            for t in period.tiers:
                if t.upto is None:
                    bounds.append(None)
                    continue
                ui, ud = _int_dec(t.upto)
                bounds.append(_ratio_half_up(cols.max_kw, ui, 10**ud))
        bounds = _uplifted(bounds, cols.tier_uplift_kwh)
        widths = _widths(bounds, before, total)
        qp = q[:, p]
        active = (total != 0) & (qp != 0)
        # the highest tier with a positive width takes the remainder
        last = np.full(n, -1, dtype=np.int64)
        for ti, w in enumerate(widths):
            last = np.where(w > 0, ti, last)
        parts: list[I64] = []
        safe_total = np.where(total == 0, 1, total)
        for ti, w in enumerate(widths):
            share = _ratio_half_up(qp, w, safe_total)
            parts.append(np.where((ti != last) & (w > 0), share, 0))
        acc = np.zeros(n, dtype=np.int64)
        for part in parts:
            acc = acc + part
        parts = [np.where(last == ti, qp - (acc - part), part) for ti, part in enumerate(parts)]
        n_t = len(period.tiers)
        rates = [t.rate for t in period.tiers]
        dec = _decimals(rates)
        zh = tariff.locale == "zh"
        for ti, (ri, kwh) in enumerate(zip(_scaled(rates, dec), parts, strict=True)):
            kwh_t = np.where(active, kwh, 0)
            code = f"energy.{period.key}" + (f".t{ti + 1}" if n_t > 1 else "")
            label = _tier_label(tariff, n_t, ti)
            detail = LineDetail(
                f"电度电费 {period.name}{label}" if zh else f"Energy {period.name}{label}",
                _qty_of(kwh_t),
                "kWh",
                period.tiers[ti].rate,
                "energy.tier" if n_t > 1 else "energy",
            )
            lines.add(code, kwh_t != 0, ctx.qty_times_rate(kwh_t, ri, dec), "energy", ctx, detail)


def _demand_lines(
    tariff: Tariff,
    tiers: Sequence[Tier],
    kw: I64,
    rows: Mask,
    code: str,
    name: str,
    rule: str,
    ctx: _Ctx,
    lines: _Lines,
) -> None:
    bounds: list[I64 | None] = [
        None if t.upto is None else np.full(ctx.n, _units(t.upto), dtype=np.int64) for t in tiers
    ]
    widths = _widths(bounds, np.zeros(ctx.n, dtype=np.int64), kw)
    rates = [t.rate for t in tiers]
    dec = _decimals(rates)
    for t, (ri, w) in enumerate(zip(_scaled(rates, dec), widths, strict=True)):
        w = np.where(rows, w, 0)
        label = _tier_label(tariff, len(tiers), t)
        lines.add(
            code + (f".t{t + 1}" if len(tiers) > 1 else ""),
            w != 0,
            ctx.qty_times_rate(w, ri, dec),
            "demand",
            ctx,
            LineDetail(name + label, _qty_of(w), "kW", tiers[t].rate, rule),
        )


def _demand(tariff: Tariff, cols: DeterminantColumns, ctx: _Ctx, lines: _Lines) -> None:
    month = cols.start.astype("datetime64[M]").astype(np.int64) % 12
    zh = tariff.locale == "zh"
    if tariff.flat_demand is not None:
        fd = tariff.flat_demand
        if cols.max_kw is None or bool(np.any(cols.max_kw < 0)):
            raise RatingError("a flat demand charge needs max_kw")
        structure = np.asarray(fd.months, dtype=np.int64)[month]
        name = "需量电费" if zh else "Demand (monthly maximum)"
        for s, tiers in enumerate(fd.structures):
            _demand_lines(
                tariff, tiers, cols.max_kw, structure == s, "demand.flat", name, "demand.flat", ctx, lines
            )
    if tariff.tou_demand is not None:
        periods = tariff.tou_demand.periods
        mk = cols.max_kw_by_period
        if mk is None or mk.shape[1] != len(periods):
            got = 0 if mk is None else mk.shape[1]
            raise RatingError(f"{got} demand periods in the determinants, tariff has {len(periods)}")
        everyone = np.ones(ctx.n, dtype=np.bool_)
        for p, period in enumerate(periods):
            _demand_lines(
                tariff,
                period.tiers,
                mk[:, p],
                everyone,
                f"demand.{period.key}",
                f"需量电费 {period.name}" if zh else f"Demand {period.name}",
                "demand.tou",
                ctx,
                lines,
            )


def _basic(tariff: Tariff, cols: DeterminantColumns, ctx: _Ctx, lines: _Lines, total: I64) -> None:
    basic = tariff.basic
    if basic is None:
        return
    n = ctx.n
    everyone = np.ones(n, dtype=np.bool_)
    ri, rd = _int_dec(basic.rate)
    if basic.method == "capacity":
        if cols.capacity_kva is None or bool(np.any(cols.capacity_kva < 0)):
            raise RatingError("basic charge by capacity needs capacity_kva")
        detail = LineDetail(
            "基本电费(按容量)", _qty_of(cols.capacity_kva), "kVA", basic.rate, "basic.capacity"
        )
        lines.add(
            "basic.capacity", everyone, ctx.qty_times_rate(cols.capacity_kva, ri, rd), "basic", ctx, detail
        )
        return
    if cols.max_kw is None or bool(np.any(cols.max_kw < 0)):
        raise RatingError("basic charge by demand needs max_kw")
    actual = cols.max_kw
    contract = cols.contract_kw if cols.contract_kw is not None else np.full(n, ABSENT, dtype=np.int64)
    has_contract = contract >= 0
    c = np.maximum(contract, 0)
    ti, td = _int_dec(basic.threshold)
    limit = _ratio_half_up(c, ti, 10**td)
    over = has_contract & (actual > limit)
    within = limit if basic.excess_reading == "excess_over_105" else c
    first_qty = np.where(~has_contract, actual, np.where(over, within, c))
    first = ctx.qty_times_rate(first_qty, ri, rd)
    xi, xd = _int_dec(basic.rate * basic.excess_multiplier)
    excess = ctx.qty_times_rate(np.where(over, actual - within, 0), xi, xd)
    no_contract = (~has_contract).tolist()
    first_detail = LineDetail(
        lambda i: "基本电费(按实际最大需量)" if no_contract[i] else "基本电费(按合同最大需量)",
        _qty_of(first_qty),
        "kW",
        basic.rate,
        lambda i: "basic.demand.actual" if no_contract[i] else "basic.demand",
    )
    lines.add("basic.demand", everyone, first, "basic", ctx, first_detail)
    excess_detail = LineDetail(
        "基本电费(超合同需量105%部分加倍)",
        _qty_of(actual - within),
        "kW",
        basic.rate * basic.excess_multiplier,
        f"basic.demand.105.{basic.excess_reading}",
    )
    lines.add("basic.demand.excess", over, excess, "basic", ctx, excess_detail)
    rule = basic.high_load
    if rule is None:
        return
    kva = cols.capacity_kva if cols.capacity_kva is not None else np.full(n, ABSENT, dtype=np.int64)
    ki, kd = _int_dec(rule.kwh_per_kva)
    # total_kwh >= kwh_per_kva x kva  <=>  total x 10**kd >= ki x kva  (both in 0.0001 units)
    qa, ra = _muldiv_floor(np.maximum(kva, 0), ki, 10**kd)
    meets = (total > qa) | ((total == qa) & (ra == 0))
    high = (kva > 0) & meets
    base = ctx.add(first, ctx.where(over, excess))
    fi, fdec = _int_dec(rule.factor - 1)
    detail = LineDetail(
        f"基本电费减收(月用电量≥{rule.kwh_per_kva}kWh/kVA, 按{rule.factor}计收)",
        ctx.decimal(base),
        "元",
        rule.factor - 1,
        "basic.demand.260",
    )
    lines.add("basic.demand.260", high, ctx.times_ratio(base, fi, fdec), "basic", ctx, detail)


def _pf_hundredths(total: I64, kvarh: I64) -> I64:
    """``pf.power_factor`` x 100 as int; float estimate, exact Decimal for rows near a rounding boundary."""
    kwh_f = total.astype(np.float64)
    kvarh_f = kvarh.astype(np.float64)
    den = np.hypot(kwh_f, kvarh_f)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(den > 0, kwh_f / np.where(den > 0, den, 1.0) * 100.0, 100.0)
    p = np.floor(y + 0.5).astype(np.int64)
    frac = y - np.floor(y)
    near = np.abs(frac - 0.5) < 1e-7
    for i in np.flatnonzero(near):
        pf = power_factor(kwh=_dec(int(total[i])), kvarh=_dec(int(kvarh[i])))
        p[i] = int(pf.scaleb(2))
    return p


def _power_factor(
    tariff: Tariff, cols: DeterminantColumns, ctx: _Ctx, lines: _Lines, later: _Lines, total: I64, plan: _Plan
) -> None:
    rule = tariff.power_factor
    if rule is None or cols.kvarh is None:
        return
    # the PF is computed from pf_kwh where given (定量定比: the whole meter), else from the row's kWh
    pf_total = total if cols.pf_kwh is None else np.where(cols.pf_kwh >= 0, cols.pf_kwh, total)
    has = (cols.kvarh >= 0) & (pf_total != 0)  # no consumption, no adjustment (as the exact path)
    pfh = _pf_hundredths(pf_total, np.maximum(cols.kvarh, 0))
    rates = [Decimal(0) if v is None else v.scaleb(-2) for v in plan.pf_percent]
    dec = _decimals(rates)
    table = np.asarray(_scaled(rates, dec), dtype=np.int64)
    missing = np.asarray([v is None for v in plan.pf_percent], dtype=np.bool_)
    if bool(np.any(has & missing[pfh])):
        bad = int(pfh[np.argmax(has & missing[pfh])])
        raise PfTableError(
            f"power factor {Decimal(bad).scaleb(-2)} missing from the table for standard {rule.standard}"
        )
    base_parts = [
        a
        for a, c in zip(lines.amounts + later.amounts, lines.category + later.category, strict=True)
        if c in rule.base
    ]
    base = ctx.add(*base_parts) if base_parts else ctx.zero()
    zh = tariff.locale == "zh"
    standard = rule.standard.quantize(PF_STANDARD_STEP)
    pf_list = pfh.tolist()

    def text(i: int) -> str:
        pf = Decimal(pf_list[i]).scaleb(-2)
        if zh:
            return f"功率因数调整电费(实际{pf}, 标准{standard})"
        return f"Power-factor adjustment (PF {pf}, standard {standard})"

    detail = LineDetail(text, ctx.decimal(base), "元", lambda i: rates[pf_list[i]], f"pf.{standard}")
    lines.add("pf", has, ctx.times_ratio(base, table[pfh], dec), "pf", ctx, detail)


def rate_columns(*, tariff: Tariff, cols: DeterminantColumns) -> RatedColumns:
    """Rate every row of ``cols`` on ``tariff``; each row equals ``exact.rate`` to the fen (see module doc)."""
    n = cols.n
    if cols.kwh_by_period.ndim != 2 or cols.kwh_by_period.shape[1] != len(tariff.energy.periods):
        got = cols.kwh_by_period.shape[1] if cols.kwh_by_period.ndim == 2 else 0
        raise RatingError(
            f"{got} energy periods in the determinants, tariff has {len(tariff.energy.periods)}"
        )
    if bool(np.any(cols.end <= cols.start)):
        raise RatingError("billing period end must be after start")
    if bool(np.any(cols.kwh_by_period < 0)):
        raise RatingError("negative kWh")
    plan = _plan(tariff)
    ctx = _Ctx(plan.k, n)
    exact_rows = np.zeros(n, dtype=np.bool_) if cols.force_exact is None else cols.force_exact.copy()
    if not plan.ok:
        exact_rows[:] = True
    big = np.zeros(n, dtype=np.bool_)
    for c in (cols.kwh_by_period, cols.max_kw_by_period, cols.tier_uplift_kwh):
        if c is not None and c.shape[1]:
            big |= np.any(c >= QTY_LIMIT, axis=1)
    for v in (cols.kvarh, cols.max_kw, cols.capacity_kva, cols.contract_kw, cols.ytd_kwh_before, cols.pf_kwh):
        if v is not None:
            big |= v >= QTY_LIMIT
    exact_rows |= big
    total = cols.kwh_by_period.sum(axis=1)
    lines = _Lines()
    _energy(tariff, cols, ctx, lines, total)
    _demand(tariff, cols, ctx, lines)
    _basic(tariff, cols, ctx, lines, total)
    # funds and fixed charges may be part of the PF base, but their lines come after the PF line
    later = _Lines()
    for f in tariff.funds:
        fi, fd = _int_dec(f.rate)
        present = np.full(n, tariff.customer_class not in f.exempt_classes, dtype=np.bool_) & (total != 0)
        detail = LineDetail(f.name, _qty_of(total), "kWh", f.rate, "fund")
        later.add(f"fund.{f.code}", present, ctx.qty_times_rate(total, fi, fd), "fund", ctx, detail)
    days = (cols.end - cols.start).astype(np.int64)
    everyone = np.ones(n, dtype=np.bool_)
    for fx in tariff.fixed:
        price, per_day = _per_month_rate(tariff, fx.amount, fx.per)
        pi, pd = _int_dec(price)
        qty = days * SCALE if per_day else np.full(n, SCALE, dtype=np.int64)
        detail = LineDetail(fx.name, _qty_of(qty), _period_unit(tariff, per_day), price, "fixed")
        later.add(f"fixed.{fx.code}", everyone, ctx.qty_times_rate(qty, pi, pd), "fixed", ctx, detail)
    _power_factor(tariff, cols, ctx, lines, later, total, plan)
    for code, pres, amount, cat, detail in zip(
        later.codes, later.present, later.amounts, later.category, later.details, strict=True
    ):
        lines.add(code, pres, amount, cat, ctx, detail)
    if tariff.minimum is not None:
        _minimum(tariff, cols, ctx, lines, days, exact_rows)
    # magnitude bound: every |amount| and the running sums stay far below 2**63
    mag = np.zeros(n, dtype=np.float64)
    for a in lines.amounts:
        mag += np.abs(a.fen.astype(np.float64)) + 1.0
    exact_rows |= mag >= AMOUNT_LIMIT_FEN
    amount_fen, total_fen = _round(tariff, ctx, lines)
    present = np.stack(lines.present, axis=1) if lines.present else np.zeros((n, 0), dtype=np.bool_)
    codes = tuple(lines.codes)
    exact_bills = {
        int(i): _fill_exact(tariff, cols, int(i), codes, present, amount_fen, total_fen)
        for i in np.flatnonzero(exact_rows)
    }
    return RatedColumns(
        codes=codes,
        present=present,
        amount_fen=amount_fen,
        total_fen=total_fen,
        exact_rows=exact_rows,
        details=tuple(lines.details),
        exact_bills=exact_bills,
    )


def _minimum(
    tariff: Tariff, cols: DeterminantColumns, ctx: _Ctx, lines: _Lines, days: I64, exact_rows: Mask
) -> None:
    m = tariff.minimum
    assert m is not None
    n = ctx.n
    subtotal = ctx.add(*lines.amounts) if lines.amounts else ctx.zero()
    if m.per == "year":
        december = (cols.start.astype("datetime64[M]").astype(np.int64) % 12) == 11
        ai, ad = _int_dec(m.amount)
        floor = ctx.qty_times_rate(np.full(n, SCALE, dtype=np.int64), ai, ad)
        before = ctx.zero()
        if cols.ytd_amount_before is not None:
            fen = np.zeros(n, dtype=np.int64)
            sub = np.zeros(n, dtype=np.int64)
            for i, v in enumerate(cols.ytd_amount_before):
                if v == 0:
                    continue
                scaled = v.scaleb(ctx.k + 2)
                if scaled != scaled.to_integral_value() or abs(scaled) >= 2**62:
                    exact_rows[i] = True
                    continue
                fen[i], sub[i] = divmod(int(scaled), ctx.unit)
            before = _Money(fen, sub)
        charged = ctx.add(before, subtotal)
        applies = december
    else:
        price, per_day = _per_month_rate(tariff, m.amount, m.per)
        pi, pd = _int_dec(price)
        qty = days * SCALE if per_day else np.full(n, SCALE, dtype=np.int64)
        floor = ctx.qty_times_rate(qty, pi, pd)
        charged = subtotal
        applies = np.ones(n, dtype=np.bool_)
    present = applies & ctx.less(charged, floor)
    top_up = ctx.sub_(floor, charged)
    zh = tariff.locale == "zh"
    detail = LineDetail(
        "最低电费补足" if zh else "Minimum charge top-up",
        _const(Decimal(1)),
        "次" if zh else "bill",
        ctx.decimal(top_up),
        "minimum",
    )
    lines.add("minimum", present, top_up, "minimum", ctx, detail)


def _round(tariff: Tariff, ctx: _Ctx, lines: _Lines) -> tuple[I64, I64]:
    n, n_lines = ctx.n, len(lines.amounts)
    if n_lines == 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros(n, dtype=np.int64)
    if tariff.rounding == "per_line":
        amount = np.stack([ctx.round_half_up(a) for a in lines.amounts], axis=1)
        return amount, amount.sum(axis=1)
    exact_total = ctx.add(*lines.amounts)
    total = ctx.round_half_up(exact_total)
    floors = np.stack([a.fen for a in lines.amounts], axis=1)
    rem = np.stack([a.sub for a in lines.amounts], axis=1)
    missing = total - floors.sum(axis=1)
    # rank of each line by (-remainder, index); stable sort keeps earlier lines first on ties
    order = np.argsort(-rem, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_lines, dtype=order.dtype)[None, :].repeat(n, axis=0), axis=1)
    amount = floors + (rank < missing[:, None])
    return np.asarray(amount, dtype=np.int64), total


def _fill_exact(
    tariff: Tariff,
    cols: DeterminantColumns,
    i: int,
    codes: tuple[str, ...],
    present: Mask,
    amount_fen: I64,
    total_fen: I64,
) -> RatedBill:
    """Price row ``i`` with ``exact.rate`` and write its lines into the slots (in order, by code)."""
    bill: RatedBill = rate(tariff=tariff, det=cols.determinants(i))
    present[i, :] = False
    amount_fen[i, :] = 0
    j = 0
    for ln in bill.lines:
        while j < len(codes) and codes[j] != ln.code:
            j += 1
        if j == len(codes):
            raise RatingError(f"exact line {ln.code} has no slot in the vector layout")
        present[i, j] = True
        amount_fen[i, j] = int(ln.amount.scaleb(2))
        j += 1
    total_fen[i] = int(bill.total.scaleb(2))
    return bill


# ------------------------------------------------------------------------------------------ determinants


def _step_tables(
    *,
    tariff: Tariff,
    year: int,
    steps_per_hour: int,
    semantics: Semantics,
    holidays: HolidayCalendar | None,
) -> tuple[I64, I64, I64 | None, I64]:
    """Per step of the calendar year: month (0-11), energy period, demand period; and month boundaries."""
    first = np.datetime64(f"{year:04d}-01-01", "D")
    n_days = int((np.datetime64(f"{year + 1:04d}-01-01", "D") - first).astype(np.int64))
    days = first + np.arange(n_days)
    dts = day_types(
        days=days,
        semantics=semantics,
        weekend_days=tariff.calendar.weekend_days,
        holidays=holidays if tariff.calendar.holidays else None,
    ).astype(np.int64)
    month_of_day = (days.astype("datetime64[M]").astype(np.int64) % 12).astype(np.int64)
    spd = 24 * steps_per_hour
    step_day = np.repeat(np.arange(n_days), spd)
    minute_of_day = (np.arange(n_days * spd) % spd) * (60 // steps_per_hour)
    dt = dts[step_day]
    month = month_of_day[step_day]
    try:  # hourly or half-hour slots, as the exact path (core.rating.determinants.schedule_slots)
        e_slot = schedule_slots(
            schedule=tariff.energy.schedule, minute_of_day=minute_of_day, step_minutes=60 // steps_per_hour
        )
        d_slot = (
            schedule_slots(
                schedule=tariff.tou_demand.schedule,
                minute_of_day=minute_of_day,
                step_minutes=60 // steps_per_hour,
            )
            if tariff.tou_demand is not None
            else None
        )
    except LoadError as exc:
        raise RatingError(str(exc)) from None
    e_tab = np.asarray(tariff.energy.schedule.table, dtype=np.int64)
    e_period = e_tab[dt, month, e_slot]
    d_period = None
    if tariff.tou_demand is not None and d_slot is not None:
        d_period = np.asarray(tariff.tou_demand.schedule.table, dtype=np.int64)[dt, month, d_slot]
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(month)) + 1, [month.size])).astype(np.int64)
    return month, e_period, d_period, bounds


def monthly_columns_from_load(
    *,
    tariff: Tariff,
    year: int,
    kwh: F64,
    steps_per_hour: int,
    kvarh: F64 | None = None,
    semantics: Semantics | None = None,
    holidays: HolidayCalendar | None = None,
    capacity_kva: Sequence[Decimal | None] | None = None,
    contract_kw: Sequence[Decimal | None] | None = None,
    chunk_rows: int = 64,
    workers: int = 1,
) -> DeterminantColumns:
    """Monthly determinants of many accounts from a dense interval matrix (accounts x steps of ``year``).

    ``kwh[a, s]`` is account ``a``'s energy in step ``s`` (``steps_per_hour`` steps per hour from
    ``year``-01-01 00:00 local, the whole calendar year). Rows are account-major: row ``12 * a + m`` is
    month ``m + 1`` of account ``a``. Same quantization and results as
    ``core.rating.determinants.monthly_determinants`` for each account: every step is rounded half-even to
    0.0001 kWh (``np.rint``), kW = rint(kWh x 1e4 x steps per hour), sums and maxima are exact (integer-valued
    float64 below 2**53, i.e. below 9e11 kWh per month and period).

    Vectorised per block of ``chunk_rows`` accounts: energy per (month, period) is one small matrix product
    per month with the month's period indicator; maxima are masked reductions per month and demand period.
    ``workers`` threads share the blocks (the caller chooses: the pure core reads no environment); the result
    is the same for any number.
    """
    if chunk_rows < 1 or workers < 1:
        raise RatingError("chunk_rows and workers must be at least 1")
    kwh = np.asarray(kwh, dtype=np.float64)
    if kwh.ndim != 2:
        raise RatingError("kwh must be a matrix (accounts x steps)")
    sem: Semantics = semantics or tariff.calendar.semantics
    month, e_period, d_period, bounds = _step_tables(
        tariff=tariff, year=year, steps_per_hour=steps_per_hour, semantics=sem, holidays=holidays
    )
    n_acc, n_steps = kwh.shape
    if n_steps != month.size:
        raise RatingError(f"{n_steps} steps, the year {year} has {month.size} at {steps_per_hour} per hour")
    n_e = len(tariff.energy.periods)
    n_d = 0 if tariff.tou_demand is None else len(tariff.tou_demand.periods)
    e_out = np.zeros((n_acc, 12, n_e), dtype=np.float64)
    mx_out = np.zeros((n_acc, 12), dtype=np.float64)
    d_out = np.zeros((n_acc, 12, n_d), dtype=np.float64)
    r_out = np.zeros((n_acc, 12), dtype=np.float64) if kvarh is not None else None
    # per month: the energy periods present and their 0/1 indicator; the demand periods and their masks
    month_plans: list[tuple[int, int, I64, F64, list[tuple[int, Mask]]]] = []
    for m in range(12):
        a, b = int(bounds[m]), int(bounds[m + 1])
        ep = e_period[a:b]
        present = np.unique(ep)
        indicator = (ep[:, None] == present[None, :]).astype(np.float64)
        dmasks: list[tuple[int, Mask]] = []
        if d_period is not None:
            dp = d_period[a:b]
            dmasks = [(int(p), np.asarray(dp == p, dtype=np.bool_)) for p in np.unique(dp)]
        month_plans.append((a, b, present.astype(np.int64), indicator, dmasks))
    # Maxima are taken on the unrounded values (rint is monotone, so max then rint == rint then max) and
    # demand is rint(kWh x SCALE x steps_per_hour), as in determinants.py.

    def span(first: int, last: int) -> None:
        """Accounts ``first..last-1`` in blocks of ``chunk_rows``, into disjoint rows of the outputs. One
        reusable buffer per span: fresh multi-MB temporaries per block cost more in page faults than the work."""
        buf = np.empty((min(chunk_rows, max(last - first, 1)), n_steps), dtype=np.float64)
        rbuf = np.empty_like(buf) if kvarh is not None else None
        rawbuf = np.empty_like(buf)
        for lo in range(first, last, chunk_rows):
            hi = min(lo + chunk_rows, last)
            units = buf[: hi - lo]
            raw = rawbuf[: hi - lo]
            np.multiply(kwh[lo:hi], SCALE, out=units)
            np.multiply(units, steps_per_hour, out=raw)
            np.rint(units, out=units)
            if not (units.min(initial=0.0) >= 0.0 and np.isfinite(units.max(initial=0.0))):
                raise RatingError(f"kwh must be finite and non-negative (accounts {lo}..{hi - 1})")
            rk = None
            if kvarh is not None and rbuf is not None:
                rk = rbuf[: hi - lo]
                np.multiply(np.asarray(kvarh[lo:hi], dtype=np.float64), SCALE, out=rk)
                np.rint(rk, out=rk)
            for m, (a, b, present, indicator, dmasks) in enumerate(month_plans):
                e_out[lo:hi, m, present] = units[:, a:b] @ indicator
                block = raw[:, a:b]
                if len(dmasks) > 1:
                    best = None
                    for p, mask in dmasks:
                        v = np.max(block, axis=1, where=mask[None, :], initial=0.0)
                        d_out[lo:hi, m, p] = v
                        best = v if best is None else np.maximum(best, v)
                    assert best is not None
                    mx_out[lo:hi, m] = best
                else:
                    v = block.max(axis=1)
                    mx_out[lo:hi, m] = v
                    if dmasks:
                        d_out[lo:hi, m, dmasks[0][0]] = v
                if rk is not None and r_out is not None:
                    r_out[lo:hi, m] = rk[:, a:b].sum(axis=1)

    # Threads over contiguous spans of whole blocks (NumPy releases the GIL in multiply/rint/matmul/max): each
    # span writes its own rows, blocks are the same as in one thread, so the result does not depend on ``workers``.
    n_blocks = -(-n_acc // chunk_rows)
    n_spans = max(1, min(workers, n_blocks))
    if n_spans == 1:
        span(0, n_acc)
    else:
        from concurrent.futures import ThreadPoolExecutor

        cuts = [min(n_acc, (n_blocks * k // n_spans) * chunk_rows) for k in range(n_spans + 1)]
        with ThreadPoolExecutor(max_workers=n_spans) as pool:
            futures = [pool.submit(span, cuts[k], cuts[k + 1]) for k in range(n_spans)]
        for f in futures:  # the first span's error first, as one thread would raise it
            f.result()
    n = n_acc * 12
    e_units = e_out.astype(np.int64).reshape(n, n_e)
    starts = np.array(
        [np.datetime64(f"{year:04d}-{m:02d}-01", "D") for m in range(1, 13)], dtype="datetime64[D]"
    )
    ends = np.concatenate((starts[1:], [np.datetime64(f"{year + 1:04d}-01-01", "D")]))
    ytd = None
    if tariff.energy.tier_basis == "annual":
        monthly = e_units.reshape(n_acc, 12, n_e).sum(axis=2)
        group = (np.arange(1, 13) >= tariff.energy.tier_year_start_month).astype(np.int64)
        ytd_m = np.zeros_like(monthly)
        for g in (0, 1):
            idx = np.flatnonzero(group == g)
            if idx.size:
                c = np.cumsum(monthly[:, idx], axis=1)
                ytd_m[:, idx] = c - monthly[:, idx]
        ytd = ytd_m.reshape(n)

    def per_account(values: Sequence[Decimal | None] | None) -> I64 | None:
        if values is None:
            return None
        if len(values) != n_acc:
            raise RatingError(f"{len(values)} values for {n_acc} accounts")
        col = np.array([ABSENT if v is None else _units(v) for v in values], dtype=np.int64)
        return np.repeat(col, 12)

    return DeterminantColumns(
        start=np.tile(starts, n_acc),
        end=np.tile(ends, n_acc),
        kwh_by_period=e_units,
        kvarh=None if r_out is None else r_out.astype(np.int64).reshape(n),
        max_kw=np.rint(mx_out).astype(np.int64).reshape(n),
        max_kw_by_period=None if n_d == 0 else np.rint(d_out).astype(np.int64).reshape(n, n_d),
        capacity_kva=per_account(capacity_kva),
        contract_kw=per_account(contract_kw),
        ytd_kwh_before=ytd,
    )


def rate_many(
    *, tariff: Tariff, dets: Sequence[Determinants]
) -> tuple[RatedColumns, Callable[[int], tuple[tuple[str, Decimal], ...]]]:
    """Convenience: rate exact-path determinants with the vector path; returns the result and ``lines``."""
    res = rate_columns(tariff=tariff, cols=columns_from_determinants(dets))
    return res, res.lines
