"""The exact rating path (精确计费): one account, one billing period, Decimal line items.

Arithmetic rules (docs/tariffs.md, "Quantities and rounding"), which the vectorised int64 path reproduces:

1. Input quantities are quantized to 0.0001 (kWh, kvarh, kW, kVA) half-up.
2. Tier breakpoints that are scaled (monthly proration, annual proration, kWh/kW) are quantized to 0.0001 kWh
   half-up with :func:`quantize_ratio` (exact integer division).
3. Tiers are block tiers decided by the period's total kWh (with annual tiers: by the position in the tier
   year); each TOU period's kWh is split over the tiers in proportion: tier ``t`` of period ``p`` gets
   ``quantize(q_p x w_t / T)``, except the highest tier with ``w_t > 0``, which gets the remainder
   ``q_p - sum(other tiers)`` so that every period keeps its exact kWh.
4. A line's amount is quantity x rate, exact. Derived prices (x 365/12, / 12) are quantized to 1e-8.
5. The bill's lines are rounded to the fen once, by :func:`round_lines` (per_line or per_bill).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from wattdesk.core.money import (
    DERIVED_RATE_STEP,
    quantize_quantity,
    quantize_ratio,
    round_lines,
)
from wattdesk.core.pf import power_factor
from wattdesk.core.tariff import Period, Tariff, Tier

ZERO = Decimal(0)
ONE = Decimal(1)


class RatingError(ValueError):
    """The determinants do not fit the tariff (wrong number of periods, a missing capacity ...)."""


@dataclass(frozen=True)
class Determinants:
    """Billing determinants (计费因子) of one account for one billing period ``[start, end)``."""

    start: date
    end: date
    kwh_by_period: tuple[Decimal, ...]
    kvarh: Decimal | None = None
    max_kw: Decimal | None = None
    max_kw_by_period: tuple[Decimal, ...] = ()
    capacity_kva: Decimal | None = None
    contract_kw: Decimal | None = None
    ytd_kwh_before: Decimal = ZERO
    tier_year_fraction: Decimal = ONE
    ytd_amount_before: Decimal = ZERO
    """Charges (before minimum) already billed in the calendar year; only used by a per-year minimum."""
    tier_uplift_kwh: tuple[Decimal, ...] = ()
    """Per-account widening of the energy tier boundaries (一户多人口 quota, docs/billing-cases/household-quota.md):
    entry ``i`` (kWh, >= 0) is added to the upper bound of tier ``i + 1`` of every energy period, after the
    bound was prorated or scaled (average month, ``tier_year_fraction``, kWh/kW). Entries beyond a period's
    bounded tiers are ignored. For annual tiers it is the uplift of the whole tier year so far (the position
    ``ytd_kwh_before`` is unchanged, so kWh billed earlier stay in their tier); see
    ``core.rating.quota.tier_uplift``."""
    pf_kwh: Decimal | None = None
    """kWh the power factor is computed from, when it is not this bill's kWh (``None``: ``kwh``). 定量定比
    (core.rating.sub_use): the whole meter's kWh, sub-uses included, while ``kwh_by_period`` holds only the
    main use; ``kvarh`` is always the whole meter's. Also decides "no consumption, no adjustment"."""

    @property
    def kwh(self) -> Decimal:
        return sum((quantize_quantity(k) for k in self.kwh_by_period), ZERO)


@dataclass(frozen=True)
class Line:
    """One bill line (账单明细): ``rule`` names the rule that produced it. In a ``RatedBill`` ``amount`` is rounded
    to the fen; the rules draft their lines unrounded and ``rate`` rounds them all at once at the end."""

    code: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal
    rule: str


@dataclass(frozen=True)
class RatedBill:
    """The rated lines of one billing period and their total (already rounded to the fen)."""

    lines: tuple[Line, ...]
    total: Decimal


def _is_calendar_month(start: date, end: date) -> bool:
    if start.day != 1:
        return False
    nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return end == nxt


def _tier_widths(bounds: tuple[Decimal | None, ...], before: Decimal, total: Decimal) -> list[Decimal]:
    """kWh of ``[before, before + total)`` falling in each block tier with cumulative upper ``bounds``.

    The last tier is open-ended whatever its bound says (as in PySAM, usage beyond the last bound stays in
    the last tier).
    """
    widths = []
    lower = ZERO
    hi_pos = before + total
    for i, bound in enumerate(bounds):
        ub = None if i == len(bounds) - 1 else bound
        lo = min(max(before, lower), hi_pos)
        hi = hi_pos if ub is None else min(max(before, ub), hi_pos)
        widths.append(max(hi - lo, ZERO))
        if ub is not None:
            lower = ub
    return widths


def _split(q: Decimal, widths: list[Decimal], total: Decimal) -> list[Decimal]:
    """Split one period's kWh over the tiers in proportion to the tier widths (rule 3 above)."""
    if total == 0 or q == 0:
        return [ZERO] * len(widths)
    last = max(i for i, w in enumerate(widths) if w > 0)
    out = [quantize_ratio(q * w, total) if i != last and w > 0 else ZERO for i, w in enumerate(widths)]
    out[last] = q - sum(out, ZERO)
    return out


def _scaled_bounds(tiers: tuple[Tier, ...], num: Decimal, den: Decimal) -> tuple[Decimal | None, ...]:
    if num == den:
        return tuple(t.upto for t in tiers)
    return tuple(None if t.upto is None else quantize_ratio(t.upto * num, den) for t in tiers)


def _uplifted(bounds: tuple[Decimal | None, ...], uplift: tuple[Decimal, ...]) -> tuple[Decimal | None, ...]:
    """Tier bounds widened by a per-account quota (``Determinants.tier_uplift_kwh``, already quantized)."""
    if not uplift:
        return bounds
    return tuple(b if b is None or i >= len(uplift) else b + uplift[i] for i, b in enumerate(bounds))


def _tier_label(tariff: Tariff, n_tiers: int, t: int) -> str:
    if n_tiers == 1:
        return ""
    return f" 第{t + 1}档" if tariff.locale == "zh" else f" tier {t + 1}"


def _energy(tariff: Tariff, det: Determinants) -> list[Line]:
    energy = tariff.energy
    if len(det.kwh_by_period) != len(energy.periods):
        raise RatingError(
            f"{len(det.kwh_by_period)} energy periods in the determinants, tariff has {len(energy.periods)}"
        )
    q = [quantize_quantity(k) for k in det.kwh_by_period]
    if any(k < 0 for k in q):
        raise RatingError("negative kWh")
    total = sum(q, ZERO)
    before = ZERO
    num, den = ONE, ONE
    if energy.tier_basis == "monthly":
        if energy.proration == "average_month" and not _is_calendar_month(det.start, det.end):
            num, den = Decimal((det.end - det.start).days * 12), Decimal(365)
    elif energy.tier_basis == "annual":
        before = quantize_quantity(det.ytd_kwh_before)
        num = det.tier_year_fraction
    else:  # kwh_per_kw
        if det.max_kw is None:
            raise RatingError("kWh/kW tiers need the month's maximum demand (max_kw)")
        num = quantize_quantity(det.max_kw)
    uplift = tuple(quantize_quantity(u) for u in det.tier_uplift_kwh)
    if any(u < 0 for u in uplift):
        raise RatingError("negative tier uplift")
    zh = tariff.locale == "zh"
    lines: list[Line] = []
    for p, period in enumerate(energy.periods):
        bounds = (
            _scaled_bounds(period.tiers, num, den)
            if energy.tier_basis != "kwh_per_kw"
            else tuple(None if t.upto is None else quantize_quantity(t.upto * num) for t in period.tiers)
        )
        bounds = _uplifted(bounds, uplift)
        widths = _tier_widths(bounds, before, total)
        parts = _split(q[p], widths, total)
        n = len(period.tiers)
        for t, (tier, kwh) in enumerate(zip(period.tiers, parts, strict=True)):
            if kwh == 0:
                continue
            label = _tier_label(tariff, n, t)
            lines.append(
                Line(
                    code=f"energy.{period.key}" + (f".t{t + 1}" if n > 1 else ""),
                    description=(f"电度电费 {period.name}{label}" if zh else f"Energy {period.name}{label}"),
                    quantity=kwh,
                    unit="kWh",
                    rate=tier.rate,
                    amount=kwh * tier.rate,
                    rule="energy.tier" if n > 1 else "energy",
                )
            )
    return lines


def _demand_tiers(
    tariff: Tariff, tiers: tuple[Tier, ...], kw: Decimal, code: str, name: str, rule: str
) -> list[Line]:
    widths = _tier_widths(tuple(t.upto for t in tiers), ZERO, kw)
    out = []
    for t, (tier, w) in enumerate(zip(tiers, widths, strict=True)):
        if w == 0:
            continue
        label = _tier_label(tariff, len(tiers), t)
        out.append(
            Line(
                code=code + (f".t{t + 1}" if len(tiers) > 1 else ""),
                description=name + label,
                quantity=w,
                unit="kW",
                rate=tier.rate,
                amount=w * tier.rate,
                rule=rule,
            )
        )
    return out


def _demand(tariff: Tariff, det: Determinants) -> list[Line]:
    zh = tariff.locale == "zh"
    lines: list[Line] = []
    month = det.start.month
    if tariff.flat_demand is not None:
        if det.max_kw is None:
            raise RatingError("a flat demand charge needs max_kw")
        tiers = tariff.flat_demand.structures[tariff.flat_demand.months[month - 1]]
        lines += _demand_tiers(
            tariff,
            tiers,
            quantize_quantity(det.max_kw),
            "demand.flat",
            "需量电费" if zh else "Demand (monthly maximum)",
            "demand.flat",
        )
    if tariff.tou_demand is not None:
        periods: tuple[Period, ...] = tariff.tou_demand.periods
        if len(det.max_kw_by_period) != len(periods):
            raise RatingError(
                f"{len(det.max_kw_by_period)} demand periods in the determinants, tariff has {len(periods)}"
            )
        for period, kw in zip(periods, det.max_kw_by_period, strict=True):
            lines += _demand_tiers(
                tariff,
                period.tiers,
                quantize_quantity(kw),
                f"demand.{period.key}",
                f"需量电费 {period.name}" if zh else f"Demand {period.name}",
                "demand.tou",
            )
    return lines


def _basic(tariff: Tariff, det: Determinants, total_kwh: Decimal) -> list[Line]:
    basic = tariff.basic
    if basic is None:
        return []
    if basic.method == "capacity":
        if det.capacity_kva is None:
            raise RatingError("basic charge by capacity needs capacity_kva")
        kva = quantize_quantity(det.capacity_kva)
        return [
            Line(
                "basic.capacity",
                "基本电费(按容量)",
                kva,
                "kVA",
                basic.rate,
                kva * basic.rate,
                "basic.capacity",
            )
        ]
    if det.max_kw is None:
        raise RatingError("basic charge by demand needs max_kw")
    actual = quantize_quantity(det.max_kw)
    lines: list[Line] = []
    if det.contract_kw is None:
        lines.append(
            Line(
                "basic.demand",
                "基本电费(按实际最大需量)",
                actual,
                "kW",
                basic.rate,
                actual * basic.rate,
                "basic.demand.actual",
            )
        )
    else:
        contract = quantize_quantity(det.contract_kw)
        limit = quantize_quantity(contract * basic.threshold)
        if actual <= limit:
            lines.append(
                Line(
                    "basic.demand",
                    "基本电费(按合同最大需量)",
                    contract,
                    "kW",
                    basic.rate,
                    contract * basic.rate,
                    "basic.demand",
                )
            )
        else:
            within = limit if basic.excess_reading == "excess_over_105" else contract
            excess = actual - within
            double = basic.rate * basic.excess_multiplier
            lines.append(
                Line(
                    "basic.demand",
                    "基本电费(按合同最大需量)",
                    within,
                    "kW",
                    basic.rate,
                    within * basic.rate,
                    "basic.demand",
                )
            )
            lines.append(
                Line(
                    "basic.demand.excess",
                    "基本电费(超合同需量105%部分加倍)",
                    excess,
                    "kW",
                    double,
                    excess * double,
                    f"basic.demand.105.{basic.excess_reading}",
                )
            )
    rule = basic.high_load
    kva_opt = det.capacity_kva
    if (
        rule is not None
        and kva_opt is not None
        and kva_opt > 0
        and total_kwh >= rule.kwh_per_kva * quantize_quantity(kva_opt)
    ):
        base = sum((ln.amount for ln in lines), ZERO)
        reduction = rule.factor - ONE
        lines.append(
            Line(
                "basic.demand.260",
                f"基本电费减收(月用电量≥{rule.kwh_per_kva}kWh/kVA, 按{rule.factor}计收)",
                base,
                "元",
                reduction,
                base * reduction,
                "basic.demand.260",
            )
        )
    return lines


def _category(rule: str) -> str:
    return rule.split(".", 1)[0]


PF_STANDARD_STEP = Decimal("0.01")  # power-factor standards are written to two decimals (0.80 / 0.85 / 0.90)


def _power_factor(tariff: Tariff, det: Determinants, lines: list[Line], total_kwh: Decimal) -> list[Line]:
    rule = tariff.power_factor
    pf_kwh = total_kwh if det.pf_kwh is None else quantize_quantity(det.pf_kwh)
    # No consumption, no adjustment: with 0 kWh (and 0 kvarh) the power factor is undefined, not 1.00, and a
    # two-part bill of basic charge only would otherwise get the best row's reward (-0.75 % of the basic).
    if rule is None or det.kvarh is None or pf_kwh == 0:
        return []
    pf = power_factor(kwh=pf_kwh, kvarh=quantize_quantity(det.kvarh))
    percent = rule.table.percent(standard=rule.standard, power_factor=pf)
    base = sum((ln.amount for ln in lines if _category(ln.rule) in rule.base), ZERO)
    rate = percent.scaleb(-2)
    zh = tariff.locale == "zh"
    # The standard as the notice writes it, two decimals (0.90, not 0.9: a YAML/JSON 0.90 arrives as 0.9)
    standard = rule.standard.quantize(PF_STANDARD_STEP)
    return [
        Line(
            "pf",
            f"功率因数调整电费(实际{pf}, 标准{standard})"
            if zh
            else f"Power-factor adjustment (PF {pf}, standard {standard})",
            base,
            "元",
            rate,
            base * rate,
            f"pf.{standard}",
        )
    ]


def _funds(tariff: Tariff, total_kwh: Decimal) -> list[Line]:
    return [
        Line(f"fund.{f.code}", f.name, total_kwh, "kWh", f.rate, total_kwh * f.rate, "fund")
        for f in tariff.funds
        if tariff.customer_class not in f.exempt_classes and total_kwh != 0
    ]


def _per_month(tariff: Tariff, det: Determinants, amount: Decimal, per: str) -> tuple[Decimal, str, Decimal]:
    """(quantity, unit, rate) of a per-month/day/year amount in this billing period."""
    zh = tariff.locale == "zh"
    month = "月" if zh else "month"
    if per == "month":
        return ONE, month, amount
    if per == "year":
        return ONE, month, quantize_ratio(amount, Decimal(12), DERIVED_RATE_STEP)
    if tariff.calendar.semantics == "pysam":
        return ONE, month, quantize_ratio(amount * 365, Decimal(12), DERIVED_RATE_STEP)
    return Decimal((det.end - det.start).days), "天" if zh else "day", amount


def _fixed(tariff: Tariff, det: Determinants) -> list[Line]:
    out = []
    for f in tariff.fixed:
        qty, unit, rate = _per_month(tariff, det, f.amount, f.per)
        out.append(Line(f"fixed.{f.code}", f.name, qty, unit, rate, qty * rate, "fixed"))
    return out


def _minimum(tariff: Tariff, det: Determinants, subtotal: Decimal) -> list[Line]:
    m = tariff.minimum
    if m is None:
        return []
    zh = tariff.locale == "zh"
    if m.per == "year":
        if det.start.month != 12:
            return []
        floor = m.amount
        charged = det.ytd_amount_before + subtotal
    else:
        qty, _unit, rate = _per_month(tariff, det, m.amount, m.per)
        floor = qty * rate
        charged = subtotal
    if charged >= floor:
        return []
    top_up = floor - charged
    return [
        Line(
            "minimum",
            "最低电费补足" if zh else "Minimum charge top-up",
            ONE,
            "次" if zh else "bill",
            top_up,
            top_up,
            "minimum",
        )
    ]


def rate(*, tariff: Tariff, det: Determinants) -> RatedBill:
    """Rate one billing period (计费): energy, demand, basic, PF adjustment, funds, fixed, minimum."""
    if det.end <= det.start:
        raise RatingError("billing period end must be after start")
    total_kwh = det.kwh
    lines = _energy(tariff, det)
    lines += _demand(tariff, det)
    lines += _basic(tariff, det, total_kwh)
    funds = _funds(tariff, total_kwh)
    fixed = _fixed(tariff, det)
    lines += _power_factor(tariff, det, lines + funds + fixed, total_kwh)
    lines += funds + fixed
    lines += _minimum(tariff, det, sum((ln.amount for ln in lines), ZERO))
    rounded, total = round_lines([ln.amount for ln in lines], tariff.rounding)
    return RatedBill(
        lines=tuple(dataclasses.replace(ln, amount=amt) for ln, amt in zip(lines, rounded, strict=True)),
        total=total,
    )


def rate_periods(*, tariff: Tariff, dets: Sequence[Determinants]) -> tuple[RatedBill, ...]:
    """Rate consecutive billing periods of one account, in order.

    Carries ``ytd_amount_before`` (charges before any minimum top-up, per calendar year of the period
    start) from one period to the next, which a per-year minimum charge needs on the December bill.
    """
    bills = []
    year: int | None = None
    ytd = ZERO
    for det in dets:
        if det.start.year != year:
            year, ytd = det.start.year, ZERO
        bill = rate(tariff=tariff, det=dataclasses.replace(det, ytd_amount_before=ytd))
        ytd += sum((ln.amount for ln in bill.lines if ln.rule != "minimum"), ZERO)
        bills.append(bill)
    return tuple(bills)
