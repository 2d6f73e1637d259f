"""Tariff value objects (电价) and ``parse_tariff``: the WattDesk tariff document (docs/tariffs.md).

A tariff version is a tree of frozen dataclasses. ``parse_tariff(doc=...)`` validates a plain mapping (read
from YAML/JSON by the application layer) and raises :class:`TariffError` naming the JSON path of the first
bad field, e.g. ``energy.periods[2].tiers[0].rate: not a decimal``. Prices given as base price x multiplier
(分时电价浮动比例) are expanded here, at parse time, so the rating engine only sees final unit prices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

from wattdesk.core.calendar import DAY_TYPES, Semantics
from wattdesk.core.money import ROUNDING_MODES, RoundingMode
from wattdesk.core.pf import PfTable

TierBasis = Literal["monthly", "annual", "kwh_per_kw"]
Proration = Literal["average_month", "none"]
ChargePer = Literal["month", "day", "year"]
BasicMethod = Literal["capacity", "demand"]
ExcessReading = Literal["excess_over_105", "excess_over_contract"]
Locale = Literal["zh", "en"]
PF_BASE_CATEGORIES = ("basic", "energy", "demand", "fund", "fixed")
CHINESE_PERIODS = {
    "critical": "尖峰",
    "peak": "峰",
    "flat": "平",
    "valley": "谷",
    "deep_valley": "深谷",
}


class TariffError(ValueError):
    """A tariff document is invalid; ``path`` is the JSON path of the offending field."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


@dataclass(frozen=True)
class Tier:
    """One block tier (阶梯/档): kWh (or kW) up to ``upto`` (cumulative; ``None`` = no limit) at ``rate``."""

    upto: Decimal | None
    rate: Decimal


@dataclass(frozen=True)
class Period:
    """A time-of-use period (时段: 尖峰/峰/平/谷/深谷, or a URDB period) with its own block tiers."""

    key: str
    name: str
    tiers: tuple[Tier, ...]


@dataclass(frozen=True)
class Schedule:
    """Period index per day type x month x time slot: ``table[day_type][month - 1][slot]``.

    Day types: 0 weekday (工作日), 1 weekend (周末), 2 public holiday (节假日). A day has 24 hourly slots, or 48
    half-hour slots when a period starts at :30 (several provinces' TOU notices, e.g. 谷 from 22:30); every row of
    one schedule has the same number of slots (``parse_schedule`` widens hourly rows of a half-hour schedule).
    """

    table: tuple[tuple[tuple[int, ...], ...], ...]

    @property
    def slots_per_hour(self) -> int:
        """1 (hourly) or 2 (half-hour boundaries)."""
        return len(self.table[0][0]) // 24

    @property
    def slot_minutes(self) -> int:
        return 60 // self.slots_per_hour

    def period(self, *, day_type: int, month: int, hour: int, minute: int = 0) -> int:
        return self.table[day_type][month - 1][hour * self.slots_per_hour + minute // self.slot_minutes]


@dataclass(frozen=True)
class CalendarSpec:
    """Which calendar decides day types: weekend days (Monday = 0), holidays, real or PySAM semantics."""

    weekend_days: tuple[int, ...] = (5, 6)
    holidays: bool = True
    semantics: Semantics = "real"


@dataclass(frozen=True)
class Energy:
    """Energy charge (电度电费): TOU periods with tiers, the schedule and how tiers are counted.

    ``tier_basis``: ``monthly`` (thresholds per billing month, prorated by days when the period is not a
    calendar month: threshold x days x 12 / 365), ``annual`` (cumulative over the tier year from
    ``Determinants.ytd_kwh_before``, thresholds x ``tier_year_fraction``), ``kwh_per_kw`` (URDB: threshold x
    the month's peak kW).
    """

    periods: tuple[Period, ...]
    schedule: Schedule
    tier_basis: TierBasis = "monthly"
    proration: Proration = "average_month"
    tier_year_start_month: int = 1


@dataclass(frozen=True)
class FlatDemand:
    """Flat (monthly maximum) demand charge: ``structures[months[m - 1]]`` are the tiers of month ``m``."""

    months: tuple[int, ...]
    structures: tuple[tuple[Tier, ...], ...]


@dataclass(frozen=True)
class TouDemand:
    """Time-of-use demand charge: each period's monthly maximum kW priced on that period's tiers."""

    periods: tuple[Period, ...]
    schedule: Schedule


@dataclass(frozen=True)
class HighLoadRule:
    """The 260 kWh/kVA rule (发改价格〔2023〕526号): demand-billed customers whose monthly kWh per kVA of
    capacity is at least ``kwh_per_kva`` pay ``factor`` of the demand basic charge."""

    kwh_per_kva: Decimal = Decimal(260)
    factor: Decimal = Decimal("0.9")


@dataclass(frozen=True)
class BasicCharge:
    """Basic charge (基本电费) of a two-part tariff (两部制电价).

    ``capacity``: ``rate`` 元/kVA·month x ``capacity_kva``. ``demand``: ``rate`` 元/kW·month on the contract
    demand (合同最大需量) while the maximum demand is at most ``threshold`` (1.05) x contract; above it the
    excess is charged ``excess_multiplier`` (2) times. ``excess_reading`` chooses what "excess" means:
    ``excess_over_105`` (actual - 1.05 x contract; the first 105% at the single price) or
    ``excess_over_contract`` (actual - contract; contract at the single price). Without a contract value
    (or with the actual-demand option) the actual maximum demand is charged.
    """

    method: BasicMethod
    rate: Decimal
    threshold: Decimal = Decimal("1.05")
    excess_multiplier: Decimal = Decimal(2)
    excess_reading: ExcessReading = "excess_over_105"
    high_load: HighLoadRule | None = None


@dataclass(frozen=True)
class PowerFactorRule:
    """Power-factor adjustment (功率因数调整电费): standard, base line categories, the table (data)."""

    standard: Decimal
    table: PfTable
    base: tuple[str, ...] = ("basic", "energy")


@dataclass(frozen=True)
class Fund:
    """A government fund or surcharge (政府性基金及附加), 元/kWh, outside TOU and (by default) the PF base."""

    code: str
    name: str
    rate: Decimal
    exempt_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FixedCharge:
    """A fixed charge per month, day or year."""

    code: str
    name: str
    amount: Decimal
    per: ChargePer = "month"


@dataclass(frozen=True)
class MinimumCharge:
    """A minimum charge (最低消费/保底电费): a top-up line. Per day: x days (real) or x 365/12 (pysam).
    Per year: checked on the December bill against the year's charges."""

    amount: Decimal
    per: ChargePer = "month"


@dataclass(frozen=True)
class Tariff:
    """One tariff version (电价版本)."""

    code: str
    name: str
    effective_from: date | None
    effective_to: date | None
    customer_class: str
    currency: str
    calendar: CalendarSpec
    energy: Energy
    flat_demand: FlatDemand | None = None
    tou_demand: TouDemand | None = None
    basic: BasicCharge | None = None
    power_factor: PowerFactorRule | None = None
    funds: tuple[Fund, ...] = ()
    fixed: tuple[FixedCharge, ...] = ()
    minimum: MinimumCharge | None = None
    rounding: RoundingMode = "per_line"
    locale: Locale = "zh"


def with_semantics(*, tariff: Tariff, semantics: Semantics) -> Tariff:
    """The same tariff priced on another calendar (``real`` or ``pysam``)."""
    cal = dataclasses.replace(tariff.calendar, semantics=semantics)
    return dataclasses.replace(tariff, calendar=cal)


# --------------------------------------------------------------------------------------------- parsing

_T = TypeVar("_T")
_CUSTOMER_CLASSES = ("residential", "commercial", "industrial", "agricultural")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def as_decimal(value: object, path: str) -> Decimal:
    """A finite decimal from an int, a float (through its shortest repr) or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TariffError(path, f"not a decimal: {value!r}")
    try:
        d = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise TariffError(path, f"not a decimal: {value!r}") from None
    if not d.is_finite():
        raise TariffError(path, f"not a finite decimal: {value!r}")
    return d


def _nonneg(value: object, path: str) -> Decimal:
    d = as_decimal(value, path)
    if d < 0:
        raise TariffError(path, f"must not be negative: {d}")
    return d


def _map(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TariffError(path, "must be a mapping")
    return value


def _list(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise TariffError(path, "must be a list")
    return value


def _str(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TariffError(path, "must be a non-empty string")
    return value


def _int(value: object, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TariffError(path, f"not an integer: {value!r}")
    if not lo <= value <= hi:
        raise TariffError(path, f"must be between {lo} and {hi}: {value}")
    return value


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise TariffError(path, f"must be true or false: {value!r}")
    return value


def _choice(value: object, path: str, choices: Sequence[_T]) -> _T:
    for c in choices:
        if value == c:
            return c
    raise TariffError(path, f"must be one of {', '.join(map(str, choices))}: {value!r}")


def _date(value: object, path: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise TariffError(path, f"not a date (YYYY-MM-DD): {value!r}")


def _check_keys(doc: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
    for key in doc:
        if key not in allowed:
            raise TariffError(_join(path, str(key)), "unknown field")


def _require(doc: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in doc or doc[key] is None:
        raise TariffError(_join(path, key), "required")
    return doc[key]


def parse_tiers(value: object, path: str, *, multiplier: Decimal | None = None) -> tuple[Tier, ...]:
    """Block tiers ``[{upto, rate}]``: ``upto`` increasing, only the last may be open (no ``upto``).

    With ``multiplier`` each tier may give ``base`` instead of ``rate`` (rate = base x multiplier).
    """
    items = _list(value, path)
    if not items:
        raise TariffError(path, "at least one tier is required")
    tiers: list[Tier] = []
    previous = Decimal(0)
    for i, raw in enumerate(items):
        p = _join(path, i)
        t = _map(raw, p)
        _check_keys(t, p, ("upto", "rate", "base"))
        upto_raw = t.get("upto")
        upto = None if upto_raw is None else _nonneg(upto_raw, _join(p, "upto"))
        if "rate" in t:
            rate = as_decimal(t["rate"], _join(p, "rate"))
        elif "base" in t and multiplier is not None:
            rate = as_decimal(t["base"], _join(p, "base")) * multiplier
        else:
            raise TariffError(_join(p, "rate"), "required")
        if upto is None and i != len(items) - 1:
            raise TariffError(_join(p, "upto"), "only the last tier may be open-ended")
        if upto is not None and upto <= previous:
            raise TariffError(_join(p, "upto"), f"must be greater than the previous tier's upto ({previous})")
        if upto is not None:
            previous = upto
        tiers.append(Tier(upto=upto, rate=rate))
    return tuple(tiers)


SLOTS_PER_DAY = (24, 48)  # hourly, or half-hourly (a period boundary at :30)


def _parse_day_table(value: object, path: str, n_periods: int) -> tuple[tuple[int, ...], ...]:
    rows = _list(value, path)
    if len(rows) in SLOTS_PER_DAY and all(not isinstance(r, list | tuple) for r in rows):
        row = tuple(_int(h, _join(path, i), 0, n_periods - 1) for i, h in enumerate(rows))
        return (row,) * 12
    if len(rows) != 12:
        raise TariffError(
            path, "must be 24 (or 48 half-hour) period indexes, or 12 months of 24 (or 48) period indexes"
        )
    out = []
    for m, r in enumerate(rows):
        mp = _join(path, m)
        hours = _list(r, mp)
        if len(hours) not in SLOTS_PER_DAY:
            raise TariffError(mp, f"must have 24 hours (or 48 half-hours), has {len(hours)}")
        out.append(tuple(_int(h, _join(mp, i), 0, n_periods - 1) for i, h in enumerate(hours)))
    return tuple(out)


def _widen(months: tuple[tuple[int, ...], ...], slots: int) -> tuple[tuple[int, ...], ...]:
    """Hourly rows repeated to ``slots`` per day (each hour's period for both of its half-hours)."""
    return tuple(
        row if len(row) == slots else tuple(p for p in row for _ in range(slots // 24)) for row in months
    )


def parse_schedule(value: object, path: str, n_periods: int) -> Schedule:
    """``{weekday, weekend?, holiday?}``; weekend defaults to weekday, holiday to weekend."""
    if value is None:
        if n_periods == 1:
            zero = ((0,) * 24,) * 12
            return Schedule(table=(zero, zero, zero))
        raise TariffError(path, "required when there is more than one period")
    doc = _map(value, path)
    _check_keys(doc, path, DAY_TYPES)
    weekday = _parse_day_table(_require(doc, "weekday", path), _join(path, "weekday"), n_periods)
    weekend = (
        _parse_day_table(doc["weekend"], _join(path, "weekend"), n_periods) if "weekend" in doc else weekday
    )
    holiday = (
        _parse_day_table(doc["holiday"], _join(path, "holiday"), n_periods) if "holiday" in doc else weekend
    )
    slots = max(len(row) for table in (weekday, weekend, holiday) for row in table)
    return Schedule(table=(_widen(weekday, slots), _widen(weekend, slots), _widen(holiday, slots)))


def _parse_periods(
    value: object, path: str, *, base_tiers: Sequence[Mapping[str, Any]] | None, max_periods: int | None
) -> tuple[Period, ...]:
    items = _list(value, path)
    if not items:
        raise TariffError(path, "at least one period is required")
    if max_periods is not None and len(items) > max_periods:
        raise TariffError(path, f"at most {max_periods} periods")
    periods = []
    keys: set[str] = set()
    for i, raw in enumerate(items):
        p = _join(path, i)
        d = _map(raw, p)
        _check_keys(d, p, ("key", "name", "tiers", "multiplier"))
        key = _str(_require(d, "key", p), _join(p, "key"))
        if key in keys:
            raise TariffError(_join(p, "key"), f"duplicate period key {key!r}")
        keys.add(key)
        name = _str(d["name"], _join(p, "name")) if "name" in d else CHINESE_PERIODS.get(key, key)
        mult = _nonneg(d["multiplier"], _join(p, "multiplier")) if "multiplier" in d else None
        if "tiers" in d:
            tiers = parse_tiers(d["tiers"], _join(p, "tiers"), multiplier=mult)
        elif base_tiers is not None and mult is not None:
            tiers = parse_tiers(base_tiers, "energy.base_tiers", multiplier=mult)
            tiers = tuple(Tier(upto=t.upto, rate=t.rate) for t in tiers)
        else:
            raise TariffError(_join(p, "tiers"), "required (or give multiplier with energy.base_tiers)")
        periods.append(Period(key=key, name=name, tiers=tiers))
    return tuple(periods)


def _parse_energy(value: object, path: str) -> Energy:
    doc = _map(value, path)
    _check_keys(
        doc, path, ("tier_basis", "proration", "tier_year_start_month", "base_tiers", "periods", "schedule")
    )
    base_tiers: list[Mapping[str, Any]] | None = None
    if "base_tiers" in doc:
        bt = _list(doc["base_tiers"], _join(path, "base_tiers"))
        base_tiers = []
        for i, t in enumerate(bt):
            tp = _join(_join(path, "base_tiers"), i)
            tm = _map(t, tp)
            _check_keys(tm, tp, ("upto", "rate"))
            base_tiers.append({"upto": tm.get("upto"), "base": _require(tm, "rate", tp)})
        parse_tiers(base_tiers, _join(path, "base_tiers"), multiplier=Decimal(1))
    periods = _parse_periods(
        _require(doc, "periods", path), _join(path, "periods"), base_tiers=base_tiers, max_periods=None
    )
    schedule = parse_schedule(doc.get("schedule"), _join(path, "schedule"), len(periods))
    basis: TierBasis = _choice(
        doc.get("tier_basis", "monthly"), _join(path, "tier_basis"), ("monthly", "annual", "kwh_per_kw")
    )
    proration: Proration = _choice(
        doc.get("proration", "average_month"), _join(path, "proration"), ("average_month", "none")
    )
    start_month = _int(doc.get("tier_year_start_month", 1), _join(path, "tier_year_start_month"), 1, 12)
    return Energy(
        periods=periods,
        schedule=schedule,
        tier_basis=basis,
        proration=proration,
        tier_year_start_month=start_month,
    )


def _parse_demand(value: object, path: str) -> tuple[FlatDemand | None, TouDemand | None]:
    doc = _map(value, path)
    _check_keys(doc, path, ("flat", "tou"))
    flat = None
    if doc.get("flat") is not None:
        fp = _join(path, "flat")
        f = _map(doc["flat"], fp)
        _check_keys(f, fp, ("months", "structures"))
        structs = _list(_require(f, "structures", fp), _join(fp, "structures"))
        if not structs:
            raise TariffError(_join(fp, "structures"), "at least one structure is required")
        structures = tuple(parse_tiers(s, _join(_join(fp, "structures"), i)) for i, s in enumerate(structs))
        months_raw = _list(f.get("months", [0] * 12), _join(fp, "months"))
        if len(months_raw) != 12:
            raise TariffError(_join(fp, "months"), "must have 12 entries")
        months = tuple(
            _int(m, _join(_join(fp, "months"), i), 0, len(structures) - 1) for i, m in enumerate(months_raw)
        )
        flat = FlatDemand(months=months, structures=structures)
    tou = None
    if doc.get("tou") is not None:
        tp = _join(path, "tou")
        t = _map(doc["tou"], tp)
        _check_keys(t, tp, ("periods", "schedule"))
        periods = _parse_periods(
            _require(t, "periods", tp), _join(tp, "periods"), base_tiers=None, max_periods=None
        )
        tou = TouDemand(
            periods=periods, schedule=parse_schedule(t.get("schedule"), _join(tp, "schedule"), len(periods))
        )
    return flat, tou


def _parse_basic(value: object, path: str) -> BasicCharge:
    doc = _map(value, path)
    _check_keys(
        doc, path, ("method", "rate", "threshold", "excess_multiplier", "excess_reading", "high_load_factor")
    )
    method: BasicMethod = _choice(
        _require(doc, "method", path), _join(path, "method"), ("capacity", "demand")
    )
    high = None
    if method == "demand" and doc.get("high_load_factor", {}) is not None:
        hp = _join(path, "high_load_factor")
        h = _map(doc.get("high_load_factor", {}), hp)
        _check_keys(h, hp, ("kwh_per_kva", "factor"))
        high = HighLoadRule(
            kwh_per_kva=_nonneg(h.get("kwh_per_kva", 260), _join(hp, "kwh_per_kva")),
            factor=_nonneg(h.get("factor", "0.9"), _join(hp, "factor")),
        )
    return BasicCharge(
        method=method,
        rate=_nonneg(_require(doc, "rate", path), _join(path, "rate")),
        threshold=_nonneg(doc.get("threshold", "1.05"), _join(path, "threshold")),
        excess_multiplier=_nonneg(doc.get("excess_multiplier", 2), _join(path, "excess_multiplier")),
        excess_reading=_choice(
            doc.get("excess_reading", "excess_over_105"),
            _join(path, "excess_reading"),
            ("excess_over_105", "excess_over_contract"),
        ),
        high_load=high,
    )


def _parse_pf(value: object, path: str, table: PfTable | None) -> PowerFactorRule:
    doc = _map(value, path)
    _check_keys(doc, path, ("standard", "base"))
    standard = as_decimal(_require(doc, "standard", path), _join(path, "standard"))
    if table is None:
        raise TariffError(path, "no power-factor adjustment table was supplied (config/pf-adjustment.csv)")
    if standard not in table.rows:
        raise TariffError(_join(path, "standard"), f"no adjustment table for standard {standard}")
    base_raw = _list(doc.get("base", ["basic", "energy"]), _join(path, "base"))
    base = tuple(
        _choice(b, _join(_join(path, "base"), i), PF_BASE_CATEGORIES) for i, b in enumerate(base_raw)
    )
    return PowerFactorRule(standard=standard, table=table, base=base)


def _parse_funds(value: object, path: str) -> tuple[Fund, ...]:
    out = []
    for i, raw in enumerate(_list(value, path)):
        p = _join(path, i)
        d = _map(raw, p)
        _check_keys(d, p, ("code", "name", "rate", "exempt_classes"))
        exempt = tuple(
            _choice(c, _join(_join(p, "exempt_classes"), j), _CUSTOMER_CLASSES)
            for j, c in enumerate(_list(d.get("exempt_classes", []), _join(p, "exempt_classes")))
        )
        out.append(
            Fund(
                code=_str(_require(d, "code", p), _join(p, "code")),
                name=_str(_require(d, "name", p), _join(p, "name")),
                rate=_nonneg(_require(d, "rate", p), _join(p, "rate")),
                exempt_classes=exempt,
            )
        )
    return tuple(out)


def _parse_fixed(value: object, path: str) -> tuple[FixedCharge, ...]:
    out = []
    for i, raw in enumerate(_list(value, path)):
        p = _join(path, i)
        d = _map(raw, p)
        _check_keys(d, p, ("code", "name", "amount", "per"))
        out.append(
            FixedCharge(
                code=_str(_require(d, "code", p), _join(p, "code")),
                name=_str(_require(d, "name", p), _join(p, "name")),
                amount=as_decimal(_require(d, "amount", p), _join(p, "amount")),
                per=_choice(d.get("per", "month"), _join(p, "per"), ("month", "day", "year")),
            )
        )
    return tuple(out)


def _parse_minimum(value: object, path: str) -> MinimumCharge:
    d = _map(value, path)
    _check_keys(d, path, ("amount", "per"))
    return MinimumCharge(
        amount=_nonneg(_require(d, "amount", path), _join(path, "amount")),
        per=_choice(d.get("per", "month"), _join(path, "per"), ("month", "day", "year")),
    )


_TOP_KEYS = (
    "code",
    "name",
    "effective_from",
    "effective_to",
    "customer_class",
    "currency",
    "calendar",
    "energy",
    "demand",
    "basic",
    "power_factor",
    "funds",
    "fixed",
    "minimum",
    "rounding",
    "locale",
    "description",
)


def parse_tariff(*, doc: Mapping[str, Any], pf_table: PfTable | None = None) -> Tariff:
    """Validate a WattDesk tariff document (docs/tariffs.md) and build a :class:`Tariff`.

    ``pf_table`` is the power-factor adjustment table (required when the document has ``power_factor``);
    the application layer loads it from config/pf-adjustment.csv.
    Raises :class:`TariffError` with the JSON path of the first bad field.
    """
    root = _map(doc, "")
    _check_keys(root, "", _TOP_KEYS)
    code = _str(_require(root, "code", ""), "code")
    name = _str(_require(root, "name", ""), "name")
    eff_from = _date(_require(root, "effective_from", ""), "effective_from")
    eff_to = None if root.get("effective_to") is None else _date(root["effective_to"], "effective_to")
    if eff_to is not None and eff_to <= eff_from:
        raise TariffError("effective_to", "must be after effective_from")
    customer_class = _choice(_require(root, "customer_class", ""), "customer_class", _CUSTOMER_CLASSES)
    currency = _str(root.get("currency", "CNY"), "currency")
    cal_doc = _map(root.get("calendar", {}), "calendar")
    _check_keys(cal_doc, "calendar", ("weekend_days", "holidays", "semantics"))
    weekend = tuple(
        _int(d, _join("calendar.weekend_days", i), 0, 6)
        for i, d in enumerate(_list(cal_doc.get("weekend_days", [5, 6]), "calendar.weekend_days"))
    )
    calendar = CalendarSpec(
        weekend_days=weekend,
        holidays=_bool(cal_doc.get("holidays", True), "calendar.holidays"),
        semantics=_choice(cal_doc.get("semantics", "real"), "calendar.semantics", ("real", "pysam")),
    )
    energy = _parse_energy(_require(root, "energy", ""), "energy")
    flat, tou = _parse_demand(root["demand"], "demand") if root.get("demand") is not None else (None, None)
    basic = _parse_basic(root["basic"], "basic") if root.get("basic") is not None else None
    pf = _parse_pf(root["power_factor"], "power_factor", pf_table) if root.get("power_factor") else None
    funds = _parse_funds(root.get("funds") or [], "funds")
    fixed = _parse_fixed(root.get("fixed") or [], "fixed")
    minimum = _parse_minimum(root["minimum"], "minimum") if root.get("minimum") is not None else None
    rounding: RoundingMode = _choice(root.get("rounding", "per_line"), "rounding", ROUNDING_MODES)
    locale: Locale = _choice(root.get("locale", "zh"), "locale", ("zh", "en"))
    return Tariff(
        code=code,
        name=name,
        effective_from=eff_from,
        effective_to=eff_to,
        customer_class=customer_class,
        currency=currency,
        calendar=calendar,
        energy=energy,
        flat_demand=flat,
        tou_demand=tou,
        basic=basic,
        power_factor=pf,
        funds=funds,
        fixed=fixed,
        minimum=minimum,
        rounding=rounding,
        locale=locale,
    )
