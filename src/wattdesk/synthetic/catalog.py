"""Which tariff each synthetic customer is on, read from the example tariff documents.

The documents are the project's example tariffs in ``wattdesk/config/tariffs/*.yaml`` (docs/tariffs.md),
read through ``application.reference_data``. Each population
tariff key is matched to a preferred tariff code, else to the first document of the right customer class
and shape, so renamed examples still work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from wattdesk.application.tariffs.reference_data import (
    example_tariff_paths,
    json_safe,
    load_holidays,
    read_tariff_documents,
)
from wattdesk.core.calendar import day_types
from wattdesk.core.tariff import Tariff
from wattdesk.synthetic.generator import TouTable
from wattdesk.synthetic.profiles import HourAxis

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
def load_catalog() -> dict[str, TariffEntry]:
    """Population tariff key -> the tariff it is billed on. Raises CatalogError if a key has no tariff."""
    parsed: list[tuple[str, Mapping[str, Any], Tariff]] = [
        (f"config/tariffs/{path.name}", d.document, d.tariff)
        for path in example_tariff_paths()
        for d in read_tariff_documents(path=path)
        if d.kind == "wattdesk"
    ]
    out: dict[str, TariffEntry] = {}
    for key, (code, klass, fits) in WANTED.items():
        exact = [p for p in parsed if p[2].code == code]
        loose = [p for p in parsed if p[2].customer_class == klass and fits(p[2])]
        candidates = exact or loose
        if not candidates:
            raise CatalogError(f"no {klass} tariff for {key!r} in config/tariffs")
        pick = candidates[0]
        out[key] = TariffEntry(key, pick[2], json_safe(pick[1]), pick[0])
    return out


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
                holidays=load_holidays() if cal.holidays else None,
            )
            cache_[sig] = per_day[axis.day_index]
        return cache_[sig]

    return day_type_of
