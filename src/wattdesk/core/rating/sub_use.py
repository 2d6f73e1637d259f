"""定量定比 (fixed-quantity / fixed-ratio sub-uses): part of a meter's kWh billed on another tariff. Pure.

Rule (docs/billing-cases/sub-use.md; shared/reference/billing-rules-2.md §2): where a service point cannot
meter each price category separately (1996 《供电营业规则》 Art. 70), a sub-use (e.g. 照明 lighting inside a
large-industry account) is billed as

* 定量 (``fixed_kwh``): ``value`` kWh per month, or
* 定比 (``fixed_ratio``): ``value`` % of the meter's total kWh, rounded half-up to whole kWh
  (``quantize_ratio(total x value, 100, 1)``).

The sub-use kWh are deducted from the main use (§2.2), 定量 first, then 定比 (fms-cfs order "定量1，定比2"),
each 定比 taken on the meter's *total* kWh (fms-cfs: parent energy + protocol energy already allocated). Which
TOU periods a deduction comes from is configuration (§2.3):

* ``flat_first`` (default, the published exam answer: 平 = 总 − 峰 − 谷 − 照明定量): from 平, then the
  other periods in the tariff's order until exhausted;
* ``pro_rata``: in proportion to each period's kWh (fms-cfs, parent and child of the same type), exact to
  0.0001 kWh by largest remainder (ties: the earlier period), so the deductions add up to the sub-use kWh
  and no period goes negative;
* ``priority_list``: from the listed periods in order, then the others in the tariff's order.

A sub-use above what is left to deduct is capped (``overflow="cap"``, default, flagged on the result so the
bill can be held: fms-cfs "电度电量小于协议电量") or refused (``overflow="error"``).

Rating (§2.4): the main use is rated on its own tariff with the deducted kWh, the basic charge unreduced
(§2.1: "不能扣减办公照明、居民生活等负荷所占变压器的容量"); its power factor is computed on the whole meter
(``Determinants.pf_kwh`` = main + sub-uses inside the PF calculation, ``kvarh`` the meter's), and the PF
adjustment base is the main use's charges only. Each sub-use is rated on its own tariff with no basic, demand,
fixed or minimum charge; its funds are charged on its kWh at its own category's fund rates, so funds fall on
all of the meter's kWh. A sub-use configured *inside* the PF base (``in_pf_base``) gets its own PF adjustment
line, at the main use's standard and percentage, on its energy charge: the adjustment is linear in its base,
so this equals one adjustment over the combined base up to the rounding of a line to the fen.

This module is a pure pre-processing step on :class:`Determinants` and a post-processing step on rated
lines: both rating paths share it. :func:`split` gives the main-use and sub-use determinants, which the
exact path (``exact.rate``) or the vector path (``vector.rate_columns``) prices identically; the only
engine support it needs is ``Determinants.pf_kwh``, which both paths implement (property test
tests/unit/core/test_sub_use.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from wattdesk.core.money import quantize_quantity, quantize_ratio
from wattdesk.core.rating.exact import Determinants, Line, RatedBill, RatingError, rate
from wattdesk.core.tariff import Tariff

SubUseMode = Literal["fixed_kwh", "fixed_ratio"]
DeductionOrder = Literal["flat_first", "pro_rata", "priority_list"]
Overflow = Literal["cap", "error"]
MODES: tuple[SubUseMode, ...] = ("fixed_kwh", "fixed_ratio")
DEDUCTION_ORDERS: tuple[DeductionOrder, ...] = ("flat_first", "pro_rata", "priority_list")
OVERFLOWS: tuple[Overflow, ...] = ("cap", "error")
MODE_NAMES = {"fixed_kwh": "定量", "fixed_ratio": "定比"}

ZERO = Decimal(0)
UNIT = Decimal("0.0001")
WHOLE_KWH = Decimal(1)
FLAT = "flat"


class SubUseError(RatingError):
    """A sub-use cannot be applied (more than the meter read with ``overflow="error"``, an unknown period
    key, a TOU sub-use tariff whose periods do not match the deduction ...)."""


@dataclass(frozen=True)
class SubUse:
    """One 定量定比 agreement as the rating needs it.

    ``value``: kWh per month (定量) or percent of the meter's total kWh (定比, ``10`` = 10 %).
    ``tariff``: the sub-use's own tariff (its energy prices and funds are used). ``in_pf_calculation``: its
    kWh count in the meter's power factor (default yes, §2.4). ``in_pf_base``: its energy charge is in the PF
    adjustment base (default no, §2.4). ``priority``: period keys for ``priority_list``.
    """

    label: str
    tariff: Tariff
    mode: SubUseMode
    value: Decimal
    deduction: DeductionOrder = "flat_first"
    priority: tuple[str, ...] = ()
    in_pf_calculation: bool = True
    in_pf_base: bool = False
    overflow: Overflow = "cap"
    tag: str = "sub1"
    """Suffix of the sub-use's line codes (``energy.flat.sub1``), unique within one bill."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise SubUseError(f"unknown sub-use mode {self.mode!r}")
        if self.deduction not in DEDUCTION_ORDERS:
            raise SubUseError(f"unknown deduction order {self.deduction!r}")
        if self.overflow not in OVERFLOWS:
            raise SubUseError(f"unknown overflow rule {self.overflow!r}")
        if self.value <= 0 or (self.mode == "fixed_ratio" and self.value > 100):
            raise SubUseError(
                f"{self.mode} value must be in (0, {'100' if self.mode == 'fixed_ratio' else '∞'})"
            )


@dataclass(frozen=True)
class Deduction:
    """What one sub-use took: ``kwh`` (after any cap; ``wanted`` before), per main-tariff period."""

    sub_use: SubUse
    wanted: Decimal
    kwh: Decimal
    by_period: tuple[Decimal, ...]
    capped: bool

    def caption(self) -> str:
        """What the bill calls the sub-use: ``定量 照明 3000 kWh`` / ``定比 照明 10% 10000 kWh``."""
        su = self.sub_use
        value = "" if su.mode == "fixed_kwh" else f" {_plain(su.value)}%"
        return f"{MODE_NAMES[su.mode]} {su.label}{value} {_plain(self.kwh)} kWh"


@dataclass(frozen=True)
class Split:
    """The main use's determinants and, per sub-use, its deduction and its own determinants."""

    main: Determinants
    parts: tuple[tuple[Deduction, Tariff, Determinants], ...]

    @property
    def capped(self) -> tuple[Deduction, ...]:
        return tuple(d for d, _t, _det in self.parts if d.capped)


@dataclass(frozen=True)
class SubUseBill:
    """The rated main use and sub-uses of one service point: ``lines`` main first, then each sub-use."""

    main: RatedBill
    subs: tuple[tuple[Deduction, RatedBill], ...]
    lines: tuple[Line, ...]
    total: Decimal
    kwh: Decimal

    @property
    def capped(self) -> tuple[Deduction, ...]:
        return tuple(d for d, _b in self.subs if d.capped)


def _plain(x: Decimal) -> str:
    """A quantity without trailing zeros or exponent: 3000, 10, 12.5."""
    s = format(x, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def _order(keys: Sequence[str], su: SubUse) -> list[int]:
    """Indices of the main tariff's periods in the order a flat-first / priority-list deduction takes them."""
    wanted: Sequence[str] = (FLAT,) if su.deduction == "flat_first" else su.priority
    first: list[int] = []
    for k in wanted:
        if k not in keys:
            if su.deduction == "flat_first":
                continue  # a tariff without 平: simply the periods in order
            raise SubUseError(f"{su.label}: period {k!r} of the priority list is not a period of the tariff")
        first.append(keys.index(k))
    return first + [i for i in range(len(keys)) if i not in first]


def _pro_rata(units: Sequence[int], take: int) -> list[int]:
    """Split ``take`` units over periods in proportion to ``units`` by largest remainder (exact integers)."""
    total = sum(units)
    if total == 0 or take == 0:
        return [0] * len(units)
    floors = [take * u // total for u in units]
    rems = [take * u % total for u in units]
    missing = take - sum(floors)
    for i in sorted(range(len(units)), key=lambda j: (-rems[j], j))[:missing]:
        floors[i] += 1
    return floors


def _deduct(keys: Sequence[str], remaining: list[Decimal], take: Decimal, su: SubUse) -> list[Decimal]:
    if su.deduction == "pro_rata":
        units = [int(r.scaleb(4)) for r in remaining]
        return [Decimal(u).scaleb(-4) for u in _pro_rata(units, int(take.scaleb(4)))]
    out = [ZERO] * len(remaining)
    left = take
    for i in _order(keys, su):
        if left == 0:
            break
        d = min(left, remaining[i])
        out[i] = d
        left -= d
    return out


def _sub_tariff(su: SubUse, main: Tariff) -> Tariff:
    """The sub-use's tariff for its share: energy and funds only (the basic charge is the main use's, §2.1);
    with ``in_pf_base`` the main use's PF rule, so the sub-use is adjusted at the meter's power factor."""
    pf = main.power_factor if su.in_pf_base else None
    if pf is not None:
        pf = dataclasses.replace(pf, base=tuple(c for c in pf.base if c in ("energy", "fund")))
    return dataclasses.replace(
        su.tariff, basic=None, flat_demand=None, tou_demand=None, fixed=(), minimum=None, power_factor=pf
    )


def _sub_periods(tariff: Tariff, keys: Sequence[str], d: Deduction) -> tuple[Decimal, ...]:
    """The sub-use's kWh per period of its own tariff: all in the one period of a non-TOU tariff, else by
    the main period each kWh was deducted from (same keys)."""
    periods = tariff.energy.periods
    if len(periods) == 1:
        return (d.kwh,)
    own = [p.key for p in periods]
    out = [ZERO] * len(own)
    for k, q in zip(keys, d.by_period, strict=True):
        if q == 0:
            continue
        if k not in own:
            raise SubUseError(
                f"{d.sub_use.label}: kWh deducted from period {k!r}, which the sub-use tariff "
                f"{tariff.code} does not have"
            )
        out[own.index(k)] += q
    return tuple(out)


def split(*, tariff: Tariff, det: Determinants, sub_uses: Sequence[SubUse]) -> Split:
    """Deduct the sub-uses from ``det`` (the whole meter on the main ``tariff``): 定量 first, then 定比."""
    keys = [p.key for p in tariff.energy.periods]
    if len(det.kwh_by_period) != len(keys):
        raise RatingError(
            f"{len(det.kwh_by_period)} energy periods in the determinants, tariff has {len(keys)}"
        )
    remaining = [quantize_quantity(k) for k in det.kwh_by_period]
    total = sum(remaining, ZERO)
    ordered = sorted(sub_uses, key=lambda s: MODES.index(s.mode))  # stable: 定量 then 定比
    deductions: list[Deduction] = []
    for su in ordered:
        if su.mode == "fixed_kwh":
            wanted = quantize_quantity(su.value)
        else:
            wanted = quantize_ratio(total * su.value, Decimal(100), WHOLE_KWH)
        left = sum(remaining, ZERO)
        capped = wanted > left
        if capped and su.overflow == "error":
            raise SubUseError(
                f"{MODE_NAMES[su.mode]} {su.label}: {_plain(wanted)} kWh is more than the "
                f"{_plain(left)} kWh left on the meter"
            )
        take = left if capped else wanted
        by_period = _deduct(keys, remaining, take, su)
        remaining = [r - d for r, d in zip(remaining, by_period, strict=True)]
        deductions.append(Deduction(su, wanted, take, tuple(by_period), capped))
    in_pf = sum((d.kwh for d in deductions if d.sub_use.in_pf_calculation), ZERO)
    main_kwh = sum(remaining, ZERO)
    main = dataclasses.replace(
        det, kwh_by_period=tuple(remaining), pf_kwh=main_kwh + in_pf if deductions else det.pf_kwh
    )
    parts = []
    for d in deductions:
        sub_tariff = _sub_tariff(d.sub_use, tariff)
        has_pf = sub_tariff.power_factor is not None and det.kvarh is not None
        sub_det = Determinants(
            start=det.start,
            end=det.end,
            kwh_by_period=_sub_periods(sub_tariff, keys, d),
            kvarh=det.kvarh if has_pf else None,
            pf_kwh=main.pf_kwh if has_pf else None,
        )
        parts.append((d, sub_tariff, sub_det))
    return Split(main=main, parts=tuple(parts))


def _labelled(ln: Line, d: Deduction) -> Line:
    return dataclasses.replace(
        ln, code=f"{ln.code}.{d.sub_use.tag}", description=f"{d.caption()} {ln.description}"
    )


def combine(main: RatedBill, subs: Sequence[tuple[Deduction, RatedBill]], kwh: Decimal) -> SubUseBill:
    """One bill of the main use's lines followed by each sub-use's lines (codes suffixed with the sub-use's
    tag, descriptions prefixed with its caption); each part was rounded by its own tariff's rule."""
    lines = list(main.lines)
    total = main.total
    for d, bill in subs:
        lines += [_labelled(ln, d) for ln in bill.lines]
        total += bill.total
    return SubUseBill(main=main, subs=tuple(subs), lines=tuple(lines), total=total, kwh=kwh)


def rate_with_sub_uses(
    *,
    tariff: Tariff,
    det: Determinants,
    sub_uses: Sequence[SubUse],
    rate_one: Callable[[Tariff, Determinants], RatedBill] | None = None,
) -> SubUseBill:
    """Rate one service point with its sub-uses: :func:`split`, rate each part (``rate_one``, default the
    exact path), :func:`combine`. ``kwh`` of the result is the whole meter's."""
    rater = rate_one or (lambda t, d: rate(tariff=t, det=d))
    parts = split(tariff=tariff, det=det, sub_uses=sub_uses)
    main = rater(tariff, parts.main)
    subs = [(d, rater(t, sd)) for d, t, sd in parts.parts]
    return combine(main, subs, det.kwh)
