"""Which tariff each synthetic customer is on, read from the example tariff documents.

The documents are the project's example tariffs in ``wattdesk/config/tariffs/*.yaml`` (docs/tariffs.md);
``synth/tariffs/*.yaml`` only fills a gap (a single-rate Zhejiang residential tariff). Each population
tariff key is matched to a preferred tariff code, else to the first document of the right customer class
and shape, so renamed examples still work.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from wattdesk.application.synth.generator import TouTable
from wattdesk.application.synth.profiles import HourAxis
from wattdesk.core.calendar import HolidayCalendar, day_types
from wattdesk.core.pf import PfTable, parse_pf_table
from wattdesk.core.tariff import Tariff, parse_tariff

#: population tariff key -> (preferred code, customer class, predicate on the parsed tariff)
WANTED: dict[str, tuple[str, str, Callable[[Tariff], bool]]] = {
    "residential": (
        "ZJ-RES-TIER",
        "residential",
        lambda t: len(t.energy.periods) == 1 and t.energy.tier_basis == "annual",
    ),
    "residential_tou": ("ZJ-RES-TIER-TOU", "residential", lambda t: len(t.energy.periods) > 1),
    "commercial": ("CI-TOU5", "commercial", lambda t: t.basic is None),
    "large_industry_capacity": (
        "LI-2P-CAPACITY",
        "industrial",
        lambda t: t.basic is not None and t.basic.method == "capacity",
    ),
    "large_industry_demand": (
        "LI-2P-DEMAND",
        "industrial",
        lambda t: t.basic is not None and t.basic.method == "demand",
    ),
    "agricultural": ("AGR-FLAT", "agricultural", lambda t: True),
}


class CatalogError(Exception):
    pass


@dataclass(frozen=True)
class TariffEntry:
    key: str
    tariff: Tariff
    document: Mapping[str, Any]
    source: str  # file it came from

    @property
    def code(self) -> str:
        return self.tariff.code

    @property
    def has_demand_register(self) -> bool:
        basic = self.tariff.basic
        return (basic is not None and basic.method == "demand") or self.tariff.flat_demand is not None

    @property
    def tou(self) -> TouTable:
        table = np.array(self.tariff.energy.schedule.table, dtype=np.int64)  # (3, 12, 24)
        return TouTable(keys=tuple(p.key for p in self.tariff.energy.periods), table=table)


@cache
def pf_table() -> PfTable:
    text = resources.files("wattdesk.config").joinpath("pf-adjustment.csv").read_text(encoding="utf-8")
    return parse_pf_table(csv.DictReader(text.splitlines()))


@cache
def holiday_calendar() -> HolidayCalendar:
    """config/holidays-cn.yaml (data marked unverified in the file) as a HolidayCalendar."""
    doc = yaml.safe_load(resources.files("wattdesk.config").joinpath("holidays-cn.yaml").read_text("utf-8"))
    holidays: set[date] = set()
    workdays: set[date] = set()
    for year in (doc or {}).get("years", {}).values():
        for name, target in (("holidays", holidays), ("workdays", workdays)):
            for item in (year or {}).get(name, []) or []:
                text = str(item)
                if ".." in text:
                    lo, hi = (date.fromisoformat(x.strip()) for x in text.split(".."))
                    d = lo
                    while d <= hi:
                        target.add(d)
                        d = date.fromordinal(d.toordinal() + 1)
                else:
                    target.add(item if isinstance(item, date) else date.fromisoformat(text))
    return HolidayCalendar(holidays=frozenset(holidays), workdays=frozenset(workdays))


def _documents() -> list[tuple[str, Mapping[str, Any]]]:
    out: list[tuple[str, Mapping[str, Any]]] = []
    for package, folder in (("wattdesk.config", "tariffs"), ("wattdesk.application.synth", "tariffs")):
        base = resources.files(package).joinpath(folder)
        if not base.is_dir():
            continue
        for item in sorted(base.iterdir(), key=lambda p: p.name):
            if not item.name.endswith((".yaml", ".yml")):
                continue
            for doc in yaml.safe_load_all(item.read_text(encoding="utf-8")):
                docs = doc if isinstance(doc, list) else [doc]
                out.extend((f"{package}:{folder}/{item.name}", d) for d in docs if isinstance(d, Mapping))
    return out


@cache
def load_catalog() -> dict[str, TariffEntry]:
    """Population tariff key -> the tariff it is billed on. Raises CatalogError if a key has no tariff."""
    parsed: list[tuple[str, Mapping[str, Any], Tariff]] = []
    for source, doc in _documents():
        if "code" not in doc or "energy" not in doc:
            continue  # not a WattDesk document (e.g. a URDB record)
        parsed.append((source, doc, parse_tariff(doc=doc, pf_table=pf_table())))
    out: dict[str, TariffEntry] = {}
    for key, (code, klass, fits) in WANTED.items():
        exact = [p for p in parsed if p[2].code == code]
        loose = [p for p in parsed if p[2].customer_class == klass and fits(p[2])]
        candidates = exact or loose
        if not candidates:
            raise CatalogError(f"no {klass} tariff for {key!r} in config/tariffs or synth/tariffs")
        pick = candidates[0]
        out[key] = TariffEntry(key, pick[2], _jsonable(pick[1]), pick[0])
    return out


def _jsonable(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The YAML document as JSON-compatible data (dates -> ISO strings) for TariffVersion.document."""

    def conv(x: Any) -> Any:
        if isinstance(x, Mapping):
            return {str(k): conv(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [conv(v) for v in x]
        if isinstance(x, date):
            return x.isoformat()
        return x

    result: dict[str, Any] = conv(doc)
    return result


def day_type_function(catalog: Mapping[str, TariffEntry]) -> Callable[[HourAxis, str], npt.NDArray[np.int8]]:
    """day_type_of(axis, key): day type of each hour under the calendar of the tariff of `key`."""
    cache_: dict[tuple[date, date, tuple[int, ...], bool, str], npt.NDArray[np.int8]] = {}

    def day_type_of(axis: HourAxis, key: str) -> npt.NDArray[np.int8]:
        cal = catalog[key].tariff.calendar
        sig = (axis.start, axis.end, cal.weekend_days, cal.holidays, cal.semantics)
        if sig not in cache_:
            days = np.arange(np.datetime64(axis.start, "D"), np.datetime64(axis.end, "D"))
            per_day = day_types(
                days=days,
                semantics=cal.semantics,
                weekend_days=cal.weekend_days,
                holidays=holiday_calendar() if cal.holidays else None,
            )
            cache_[sig] = per_day[axis.day_index]
        return cache_[sig]

    return day_type_of
