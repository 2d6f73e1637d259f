"""窃电 and 违约用电 back-billing (用电检查 findings), billing-rules-2.md section 5. Pure: no Django, no clock.

An inspection case is billed once, by hand-entered facts, never inside the billing run: this is the only
computation of it (the vectorized rating path does not see these cases, so there is nothing to keep equal).

What the caller gives:

* a :class:`RuleSet` — the multiples, per-kW and per-event amounts, default days and hours of the version
  in force on the day the finding was made (policy data, ``domain.inspection.models.InspectionRuleSet``;
  the 1996 《供电营业规则》 values are seeded as data ending 2024-05-31, never written here);
* a :class:`CaseFacts` — the behaviour's method and what the inspector found.

What it gives back (:class:`Assessment`): the back-billed energy, the 补交电费 (back charge) and the
违约使用电费 (penalty), each as its own :class:`Line` with the arithmetic written out.

Methods (one per way the rule estimates the charge):

==========================  ============================================================================
``unauthorised_connection``  窃电 Art. 103.1: private kit's rated capacity (kVA = kW) × hours/day × days
``meter_capacity``           窃电 Art. 103.2: capacity the meter's 标定电流 (or limiter) implies × hours × days
``reclass``                  违约 Art. 100.1: 差额电费 = Σ energy × (price of the real use − price billed)
``over_capacity``            违约 Art. 100.2: two-part: basic charge of the extra kW for the months used, and
                             the multiple of it; others: amount per extra kW
``sealed_equipment``         违约 Art. 100.4: two-part: basic charge of the sealed kVA for the months used, and
                             the multiple of it; others: amount per kW per time
``meter_tamper``             违约 Art. 100.5: amount per event, residential or other customer
==========================  ============================================================================

Rounding (§5.5, the 改类 case 3180.17): every amount is computed exactly and rounded to the fen once, last
— the penalty is the multiple of the *unrounded* back charge (2 × 1590.084 = 3180.168 → 3180.17), never the
multiple of the rounded line (2 × 1590.08 = 3180.16).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from wattdesk.core.money import quantize_quantity, round_fen

ZERO = Decimal(0)
THOUSAND = Decimal(1000)


class InspectionInputError(ValueError):
    """A fact of the case is missing or impossible for its method (the message says which)."""


class Method(StrEnum):
    UNAUTHORISED_CONNECTION = "unauthorised_connection"
    METER_CAPACITY = "meter_capacity"
    RECLASS = "reclass"
    OVER_CAPACITY = "over_capacity"
    SEALED_EQUIPMENT = "sealed_equipment"
    METER_TAMPER = "meter_tamper"


THEFT_METHODS = frozenset({Method.UNAUTHORISED_CONNECTION, Method.METER_CAPACITY})


class Use(StrEnum):
    """What the electricity was used for, which sets the hours per day when the real hours are unknown."""

    POWER = "power"  # 动力 / 电力用户: 12 h in 1996
    LIGHTING = "lighting"  # 照明用户: 6 h in 1996


@dataclass(frozen=True)
class RuleSet:
    """One version of the 窃电 / 违约用电 amounts (values from policy data, with their source there)."""

    code: str
    theft_multiple: Decimal  # 窃电: 违约使用电费 = multiple × 补交电费
    theft_default_days: int  # 窃电 time unknown: at least this many days
    hours_power: Decimal  # hours per day when unknown, 动力
    hours_lighting: Decimal  # hours per day when unknown, 照明
    reclass_multiple: Decimal  # 改类: multiple of the 差额电费
    reclass_default_days: int  # 改类 dates unknown (3 months × 30 days in 1996)
    over_capacity_multiple: Decimal  # 私增容量, two-part: multiple of the back-billed basic charge
    over_capacity_per_kw: Decimal  # 私增容量, others: 元 per kW (kVA)
    sealed_multiple: Decimal  # 启用封存/暂停设备, two-part: multiple of the back-billed basic charge
    sealed_per_kw: Decimal  # 启用封存/暂停设备, others: 元 per kW (kVA) per time
    tamper_residential: Decimal  # 计量装置等, residential: 元 per event
    tamper_other: Decimal  # 计量装置等, other customers: 元 per event
    month_days: int = 30  # a part month of use is counted in days / month_days

    def hours_for(self, use: Use) -> Decimal:
        return self.hours_power if use == Use.POWER else self.hours_lighting


@dataclass(frozen=True)
class Usage:
    """One piece of equipment used against the rule: capacity (kW, kVA counted as kW), what for, the hours it
    ran per day (``None``: unknown, the rule set's default for ``use``) and the unit price (元/kWh) of that use
    (the 目录电价 of the tariff the energy should have been billed on)."""

    capacity_kw: Decimal
    use: Use
    price: Decimal
    hours_per_day: Decimal | None = None


@dataclass(frozen=True)
class CaseFacts:
    """What the inspection found; which fields matter depends on ``method`` (see the module table).

    ``days``: the days of use when known (``None``: the rule's default). ``base_price``: 改类, the price the
    energy was billed at. ``capacity_kw``: the extra / sealed capacity. ``basic_price``: the two-part basic
    charge, 元 per kW (kVA) per month. ``used_from`` .. ``found_on``: the months of use of the extra / sealed
    capacity (first month prorated from ``used_from``, each later month up to the month found counted whole).
    ``events``: times the behaviour happened (per-event and per-kW-per-time amounts).
    """

    method: Method
    usages: tuple[Usage, ...] = ()
    days: int | None = None
    base_price: Decimal | None = None
    residential: bool = False
    two_part: bool = False
    capacity_kw: Decimal | None = None
    basic_price: Decimal | None = None
    used_from: date | None = None
    found_on: date | None = None
    events: int = 1


@dataclass(frozen=True)
class Line:
    """One line of the back-billing document. ``kind``: ``back_charge`` (补交电费 / 补交基本电费 / 差额电费)
    or ``penalty`` (违约使用电费)."""

    kind: str
    label: str
    amount: Decimal  # rounded to the fen
    exact: Decimal  # before rounding
    formula: str  # the arithmetic, as printed


@dataclass(frozen=True)
class Assessment:
    energy_kwh: Decimal  # back-billed energy (0 when the method bills none)
    lines: tuple[Line, ...]

    @property
    def back_charge(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.kind == "back_charge"), Decimal("0.00"))

    @property
    def penalty(self) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.kind == "penalty"), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.back_charge + self.penalty


# --- helpers ---------------------------------------------------------------------------------------------


def meter_capacity_kw(
    *, phase_voltage: Decimal, rated_current: Decimal, phases: int = 1, ct_ratio: Decimal = Decimal(1)
) -> Decimal:
    """The capacity a meter's 标定电流 (or a limiter's setting) implies, kVA counted as kW (Art. 103.2):
    phases × phase voltage (V) × current (A) / 1000, × the CT ratio where the meter is on a CT
    (provincial rules: "通过互感器窃电的，应当再乘以相应的互感器倍率"). 220 V × 5 A = 1.1 kW."""
    if phases not in (1, 3):
        raise InspectionInputError(f"phases must be 1 or 3, not {phases}")
    _positive(phase_voltage, "phase voltage")
    _positive(rated_current, "rated current")
    _positive(ct_ratio, "CT ratio")
    return phases * phase_voltage * rated_current * ct_ratio / THOUSAND


def months_of_use(*, used_from: date, found_on: date, month_days: int = 30) -> tuple[int, int]:
    """(days of the first month, whole months after it): the first month from ``used_from`` to its end, then
    every month up to and including the month of ``found_on`` whole — the published 启用封存 case: used from
    5-10, found 7-30 → 21 days (31 − 10) + 2 months (June, July): 2000 × 15 × 21/30 + 2000 × 15 × 2 = 81000."""
    if found_on < used_from:
        raise InspectionInputError(f"found on {found_on} is before the use began ({used_from})")
    if month_days <= 0:
        raise InspectionInputError("month_days must be positive")
    first = calendar.monthrange(used_from.year, used_from.month)[1] - used_from.day
    whole = (found_on.year * 12 + found_on.month) - (used_from.year * 12 + used_from.month)
    return first, whole


def _positive(x: Decimal | None, what: str) -> Decimal:
    if x is None:
        raise InspectionInputError(f"{what} is required")
    if not x.is_finite() or x <= 0:
        raise InspectionInputError(f"{what} must be positive, not {x}")
    return x


def _fmt(x: Decimal) -> str:
    """A number as printed in a formula: no exponent, no trailing zeros (2.0000 → 2, 0.5653 stays)."""
    s = format(x, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s or "0"


def _days(facts: CaseFacts, default: int) -> int:
    if facts.days is None:
        return default
    if facts.days <= 0:
        raise InspectionInputError(f"days must be positive, not {facts.days}")
    return facts.days


def _usages(facts: CaseFacts) -> Sequence[Usage]:
    if not facts.usages:
        raise InspectionInputError("at least one piece of equipment (capacity, use, price) is required")
    for u in facts.usages:
        _positive(u.capacity_kw, "capacity (kW)")
        _positive(u.price, "price")
        if u.hours_per_day is not None and not (0 < u.hours_per_day <= 24):
            raise InspectionInputError(f"hours per day must be in (0, 24], not {u.hours_per_day}")
    return facts.usages


# --- the methods -----------------------------------------------------------------------------------------


def assess(*, facts: CaseFacts, rules: RuleSet) -> Assessment:
    """Back charge and penalty of one case under ``rules``."""
    if facts.events <= 0:
        raise InspectionInputError(f"events must be positive, not {facts.events}")
    if facts.method in THEFT_METHODS:
        return _theft(facts, rules)
    if facts.method == Method.RECLASS:
        return _reclass(facts, rules)
    if facts.method == Method.OVER_CAPACITY:
        return _capacity(facts, rules, multiple=rules.over_capacity_multiple, per_kw=rules.over_capacity_per_kw,
                         per_time=False, label="私增容量")  # fmt: skip
    if facts.method == Method.SEALED_EQUIPMENT:
        return _capacity(facts, rules, multiple=rules.sealed_multiple, per_kw=rules.sealed_per_kw,
                         per_time=True, label="启用封存设备")  # fmt: skip
    if facts.method == Method.METER_TAMPER:
        return _tamper(facts, rules)
    raise InspectionInputError(f"unknown method {facts.method!r}")


def _energy(facts: CaseFacts, rules: RuleSet, days: int) -> tuple[Decimal, Decimal, list[str], list[str]]:
    """(energy, exact charge, energy terms, charge terms) over the usages: capacity × hours × days × price."""
    energy = charge = ZERO
    e_terms: list[str] = []
    c_terms: list[str] = []
    for u in _usages(facts):
        hours = u.hours_per_day if u.hours_per_day is not None else rules.hours_for(u.use)
        kwh = u.capacity_kw * hours * days
        energy += kwh
        charge += kwh * u.price
        e_terms.append(f"{_fmt(u.capacity_kw)}×{_fmt(hours)}×{days}")
        c_terms.append(f"{_fmt(kwh)}×{_fmt(u.price)}")
    return energy, charge, e_terms, c_terms


def _theft(facts: CaseFacts, rules: RuleSet) -> Assessment:
    days = _days(facts, rules.theft_default_days)
    energy, exact, e_terms, c_terms = _energy(facts, rules, days)
    back = round_fen(exact)
    penalty_exact = rules.theft_multiple * exact
    return Assessment(
        energy_kwh=quantize_quantity(energy),
        lines=(
            Line("back_charge", "补交电费", back, exact,
                 f"{' + '.join(e_terms)} = {_fmt(energy)} kWh; {' + '.join(c_terms)} = {_fmt(back)}"),
            Line("penalty", "违约使用电费", round_fen(penalty_exact), penalty_exact,
                 f"{_fmt(exact)}×{_fmt(rules.theft_multiple)} = {_fmt(round_fen(penalty_exact))}"),
        ),
    )  # fmt: skip


def _reclass(facts: CaseFacts, rules: RuleSet) -> Assessment:
    base = _positive(facts.base_price, "price billed (base price)")
    days = _days(facts, rules.reclass_default_days)
    energy = diff = ZERO
    terms: list[str] = []
    for u in _usages(facts):
        hours = u.hours_per_day if u.hours_per_day is not None else rules.hours_for(u.use)
        kwh = u.capacity_kw * hours * days
        if u.price <= base:
            raise InspectionInputError(
                f"the price of the real use ({u.price}) must be above the price billed ({base})"
            )
        energy += kwh
        diff += kwh * (u.price - base)
        terms.append(f"{_fmt(u.capacity_kw)}×{_fmt(hours)}×{days}×({_fmt(u.price)}−{_fmt(base)})")
    penalty_exact = rules.reclass_multiple * diff
    return Assessment(
        energy_kwh=quantize_quantity(energy),
        lines=(
            Line("back_charge", "补交差额电费", round_fen(diff), diff,
                 f"{' + '.join(terms)} = {_fmt(diff)} → {_fmt(round_fen(diff))}"),
            Line("penalty", "违约使用电费", round_fen(penalty_exact), penalty_exact,
                 f"{_fmt(diff)}×{_fmt(rules.reclass_multiple)} = {_fmt(penalty_exact)} → "
                 f"{_fmt(round_fen(penalty_exact))}"),
        ),
    )  # fmt: skip


def _capacity(
    facts: CaseFacts, rules: RuleSet, *, multiple: Decimal, per_kw: Decimal, per_time: bool, label: str
) -> Assessment:
    kw = _positive(facts.capacity_kw, "capacity (kW)")
    if not facts.two_part:
        times = facts.events if per_time else 1
        exact = kw * per_kw * times
        formula = f"{_fmt(kw)}×{_fmt(per_kw)}" + (f"×{times}" if per_time else "")
        return Assessment(
            energy_kwh=ZERO,
            lines=(Line("penalty", "违约使用电费", round_fen(exact), exact, f"{formula} = {_fmt(round_fen(exact))}"),),
        )  # fmt: skip
    price = _positive(facts.basic_price, "basic charge price (元/kW·month)")
    if facts.used_from is None or facts.found_on is None:
        raise InspectionInputError("the date the use began and the date it was found are required")
    first, whole = months_of_use(
        used_from=facts.used_from, found_on=facts.found_on, month_days=rules.month_days
    )
    exact = kw * price * (Decimal(first) + whole * rules.month_days) / rules.month_days
    parts = []
    if first:
        parts.append(f"{_fmt(kw)}×{_fmt(price)}×{first}/{rules.month_days}")
    parts += [f"{_fmt(kw)}×{_fmt(price)}"] * whole
    penalty_exact = multiple * exact
    return Assessment(
        energy_kwh=ZERO,
        lines=(
            Line("back_charge", f"补交基本电费（{label}）", round_fen(exact), exact,
                 f"{' + '.join(parts) or '0'} = {_fmt(round_fen(exact))}"),
            Line("penalty", "违约使用电费", round_fen(penalty_exact), penalty_exact,
                 f"{_fmt(round_fen(exact))}×{_fmt(multiple)} = {_fmt(round_fen(penalty_exact))}"),
        ),
    )  # fmt: skip


def _tamper(facts: CaseFacts, rules: RuleSet) -> Assessment:
    each = rules.tamper_residential if facts.residential else rules.tamper_other
    exact = each * facts.events
    return Assessment(
        energy_kwh=ZERO,
        lines=(Line("penalty", "违约使用电费", round_fen(exact), exact, f"{_fmt(each)}×{facts.events} = {_fmt(exact)}"),),
    )  # fmt: skip
