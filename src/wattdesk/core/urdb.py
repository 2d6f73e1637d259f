"""OpenEI URDB v8 rate record -> :class:`Tariff` (the U.S. Utility Rate Database format).

Reproduces NREL PySAM ``Utilityrate5`` semantics (docs/tariffs.md, "URDB import"): every price is
``rate + adj``; ``kWh`` tiers are monthly, ``kWh/kW`` tiers scale with the month's peak kW; the flat demand
uses ``flatdemandstructure`` + ``flatdemandmonths``; fixed charges $/month as is, $/day x 365/12, $/year / 12;
minimum charges $/month (top-up), $/day x 365/12, $/year (topped up in December). The calendar is PySAM's
(Jan 1 is a Monday, no holidays) and rounding is per bill, both switchable afterwards.
Pure: the record is a parsed JSON mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wattdesk.core.tariff import (
    CHINESE_PERIODS,
    CalendarSpec,
    ChargePer,
    Energy,
    FixedCharge,
    FlatDemand,
    MinimumCharge,
    Period,
    Schedule,
    Tariff,
    TariffError,
    Tier,
    TierBasis,
    TouDemand,
    as_decimal,
)

_UNSUPPORTED = (
    "lookbackpercent",
    "lookbackrange",
    "lookbackmonths",
    "coincidentratestructure",
    "coincidentrateschedule",
    "energyratestructure_daily",
)
_PER: dict[str, ChargePer] = {"$/month": "month", "$/day": "day", "$/year": "year"}
UNLIMITED = 1e37
"""A tier ``max`` at or above this (PySAM uses 1e38 for "no limit") is treated as open-ended."""


def is_urdb_record(doc: object) -> bool:
    """True if a parsed JSON document looks like a URDB rate record."""
    return isinstance(doc, Mapping) and "energyratestructure" in doc


def _list(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise TariffError(path, "must be a list")
    return value


def _structure(value: object, path: str, *, energy: bool) -> tuple[tuple[tuple[Tier, ...], ...], str]:
    """Periods x tiers of ``{rate, adj, max, unit}`` -> tiers per period, and the (single) tier unit."""
    periods = _list(value, path)
    if not periods:
        raise TariffError(path, "at least one period is required")
    out = []
    units: set[str] = set()
    for i, raw_period in enumerate(periods):
        pp = f"{path}[{i}]"
        tiers_raw = _list(raw_period, pp)
        if not tiers_raw:
            raise TariffError(pp, "at least one tier is required")
        tiers = []
        previous = None
        for j, raw in enumerate(tiers_raw):
            tp = f"{pp}[{j}]"
            if not isinstance(raw, Mapping):
                raise TariffError(tp, "must be an object")
            if "rate" not in raw:
                raise TariffError(f"{tp}.rate", "required")
            price = as_decimal(raw["rate"], f"{tp}.rate")
            if raw.get("adj") is not None:
                price += as_decimal(raw["adj"], f"{tp}.adj")
            unit = str(raw.get("unit", "kWh" if energy else "kW"))
            if energy and unit.lower() not in ("kwh", "kwh/kw"):
                raise TariffError(f"{tp}.unit", f"unsupported energy tier unit {unit!r} (kWh or kWh/kW)")
            if not energy and unit.lower() != "kw":
                raise TariffError(f"{tp}.unit", f"unsupported demand tier unit {unit!r} (kW)")
            units.add(unit.lower())
            upto = None
            if raw.get("max") is not None:
                mx = as_decimal(raw["max"], f"{tp}.max")
                if mx < 0:
                    raise TariffError(f"{tp}.max", "must not be negative")
                if mx < UNLIMITED:
                    upto = mx
            if upto is None and j != len(tiers_raw) - 1:
                raise TariffError(f"{tp}.max", "only the last tier may be open-ended")
            if upto is not None and previous is not None and upto <= previous:
                raise TariffError(f"{tp}.max", "tier maxima must increase")
            previous = upto
            tiers.append(Tier(upto=upto, rate=price))
        out.append(tuple(tiers))
    if len(units) > 1:
        raise TariffError(path, f"mixed tier units {sorted(units)} are not supported")
    return tuple(out), units.pop()


def _day_table(value: object, path: str, n_periods: int) -> tuple[tuple[int, ...], ...]:
    rows = _list(value, path)
    if len(rows) != 12:
        raise TariffError(path, f"must have 12 months, has {len(rows)}")
    out = []
    for m, row in enumerate(rows):
        rp = f"{path}[{m}]"
        hours = _list(row, rp)
        if len(hours) != 24:
            raise TariffError(rp, f"must have 24 hours, has {len(hours)}")
        vals = []
        for h, v in enumerate(hours):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n_periods:
                raise TariffError(f"{rp}[{h}]", f"not a period index 0..{n_periods - 1}: {v!r}")
            vals.append(v)
        out.append(tuple(vals))
    return tuple(out)


def _schedule(doc: Mapping[str, Any], weekday: str, weekend: str, n_periods: int) -> Schedule:
    if weekday not in doc:
        raise TariffError(weekday, "required")
    wd = _day_table(doc[weekday], weekday, n_periods)
    we = _day_table(doc[weekend], weekend, n_periods) if weekend in doc else wd
    return Schedule(table=(wd, we, we))


def _periods(tiers: tuple[tuple[Tier, ...], ...], keys: Sequence[str] | None = None) -> tuple[Period, ...]:
    if keys is None:
        return tuple(Period(key=f"p{i + 1}", name=f"period {i + 1}", tiers=t) for i, t in enumerate(tiers))
    return tuple(
        Period(key=k, name=f"period {i + 1} ({CHINESE_PERIODS.get(k, k)})", tiers=t)
        for i, (k, t) in enumerate(zip(keys, tiers, strict=True))
    )


PERIOD_KEYS_FIELD = "wattdesk_period_keys"
"""WattDesk's one extension of a stored URDB record: the TOU register key of each energy period, in order, e.g.
``["valley", "peak"]`` (a meter's ``active_valley`` / ``active_peak`` registers bill periods 1 / 2). URDB names
its periods only by position; without this key they are ``p1``, ``p2`` ... and a register-read account bills
them only when the tariff is seasonal (one period per month) or has a single period."""


DEMAND_PERIOD_KEYS_FIELD = "wattdesk_demand_period_keys"
"""The same for the TOU demand periods (``demandratestructure``): demand period ``i`` is billed from a meter's
``max_demand_<key>`` register when the account is read by registers."""


def _period_keys(
    record: Mapping[str, Any], n_periods: int, field: str = PERIOD_KEYS_FIELD
) -> tuple[str, ...] | None:
    raw = record.get(field)
    if raw is None:
        return None
    keys = _list(raw, field)
    if len(keys) != n_periods:
        raise TariffError(field, f"must name {n_periods} periods, names {len(keys)}")
    out: list[str] = []
    for i, k in enumerate(keys):
        if k not in CHINESE_PERIODS:
            raise TariffError(f"{field}[{i}]", f"not a TOU period key {k!r} ({', '.join(CHINESE_PERIODS)})")
        if k in out:
            raise TariffError(f"{field}[{i}]", f"duplicate period key {k!r}")
        out.append(str(k))
    return tuple(out)


def _charge_units(doc: Mapping[str, Any], field: str) -> ChargePer:
    if field not in doc:
        raise TariffError(field, "required")
    unit = doc[field]
    if unit not in _PER:
        raise TariffError(field, f"unsupported unit {unit!r} ($/month, $/day or $/year)")
    return _PER[unit]


def tariff_from_urdb(*, record: Mapping[str, Any]) -> Tariff:
    """Convert a URDB v8 rate record to a :class:`Tariff` (PySAM calendar, per-bill rounding)."""
    if not isinstance(record, Mapping):
        raise TariffError("", "a URDB record must be a JSON object")
    for key in _UNSUPPORTED:
        if record.get(key) not in (None, 0, [], ""):
            raise TariffError(key, "not supported (demand ratchets / coincident or daily structures)")
    if "energyratestructure" not in record:
        raise TariffError("energyratestructure", "required")
    e_tiers, e_unit = _structure(record["energyratestructure"], "energyratestructure", energy=True)
    basis: TierBasis = "kwh_per_kw" if e_unit == "kwh/kw" else "monthly"
    energy = Energy(
        periods=_periods(e_tiers, _period_keys(record, len(e_tiers))),
        schedule=_schedule(record, "energyweekdayschedule", "energyweekendschedule", len(e_tiers)),
        tier_basis=basis,
        proration="none",
    )
    tou = None
    if record.get("demandratestructure"):
        d_tiers, _ = _structure(record["demandratestructure"], "demandratestructure", energy=False)
        tou = TouDemand(
            periods=_periods(d_tiers, _period_keys(record, len(d_tiers), DEMAND_PERIOD_KEYS_FIELD)),
            schedule=_schedule(record, "demandweekdayschedule", "demandweekendschedule", len(d_tiers)),
        )
    flat = None
    if record.get("flatdemandstructure") or record.get("flatdemandmonths"):
        if "flatdemandstructure" not in record:
            raise TariffError("flatdemandstructure", "required with flatdemandmonths")
        f_tiers, _ = _structure(record["flatdemandstructure"], "flatdemandstructure", energy=False)
        months_raw = _list(record.get("flatdemandmonths", [0] * 12), "flatdemandmonths")
        if len(months_raw) != 12:
            raise TariffError("flatdemandmonths", f"must have 12 months, has {len(months_raw)}")
        months = []
        for i, m in enumerate(months_raw):
            if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < len(f_tiers):
                raise TariffError(f"flatdemandmonths[{i}]", f"not a flat demand period 0..{len(f_tiers) - 1}")
            months.append(m)
        flat = FlatDemand(months=tuple(months), structures=f_tiers)
    fixed: tuple[FixedCharge, ...] = ()
    if record.get("fixedchargefirstmeter") is not None:
        fixed = (
            FixedCharge(
                code="customer",
                name="Fixed charge",
                amount=as_decimal(record["fixedchargefirstmeter"], "fixedchargefirstmeter"),
                per=_charge_units(record, "fixedchargeunits"),
            ),
        )
    minimum = None
    if record.get("mincharge") is not None:
        amount = as_decimal(record["mincharge"], "mincharge")
        if amount < 0:
            raise TariffError("mincharge", "must not be negative")
        minimum = MinimumCharge(amount=amount, per=_charge_units(record, "minchargeunits"))
    name = record.get("name")
    utility = record.get("utility")
    label = record.get("label")
    return Tariff(
        code=str(label) if label else "urdb",
        name=" - ".join(str(x) for x in (utility, name) if x) or "URDB rate",
        effective_from=None,
        effective_to=None,
        customer_class=str(record.get("sector", "commercial")).lower(),
        currency="USD",
        calendar=CalendarSpec(weekend_days=(5, 6), holidays=False, semantics="pysam"),
        energy=energy,
        flat_demand=flat,
        tou_demand=tou,
        minimum=minimum,
        fixed=fixed,
        rounding="per_bill",
        locale="en",
    )
