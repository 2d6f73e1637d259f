"""Power-factor adjustment (功率因数调整电费, 〔83〕水电财字第215号).

Monthly power factor (月加权平均功率因数) = kWh / sqrt(kWh² + kvarh²), rounded to 2 decimals half-up.
The adjustment is a percentage of a base (by default basic charge 基本电费 + energy charge 电度电费) read
from a table keyed by (standard, power factor). The table is data (config/pf-adjustment.csv); this module
only parses rows that the application layer has read and looks values up. Pure: no file I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

PF_STEP = Decimal("0.01")


class PfTableError(ValueError):
    """A malformed power-factor table row."""


@dataclass(frozen=True)
class PfTable:
    """Adjustment percentages (negative = reduction 减收, positive = surcharge 增收) per standard.

    ``rows[standard]`` is a tuple of ``(power_factor, percent)`` sorted by power factor, one row per 0.01.
    """

    rows: Mapping[Decimal, tuple[tuple[Decimal, Decimal], ...]]

    def standards(self) -> tuple[Decimal, ...]:
        return tuple(sorted(self.rows))

    def percent(self, *, standard: Decimal, power_factor: Decimal) -> Decimal:
        """Adjustment percent for a rounded power factor.

        Above the highest row the highest row applies (e.g. ≥0.95 at standard 0.90). Below the lowest row
        the table is extended linearly with the slope of its two lowest rows (the rule "+2 per 0.01 further
        down" of the published tables).
        """
        table = self.rows.get(standard)
        if table is None:
            raise PfTableError(f"no power-factor table for standard {standard}")
        lookup = dict(table)
        if power_factor in lookup:
            return lookup[power_factor]
        lowest_pf, lowest_pct = table[0]
        highest_pf, highest_pct = table[-1]
        if power_factor > highest_pf:
            return highest_pct
        if power_factor < lowest_pf:
            if len(table) < 2:
                return lowest_pct
            slope = (table[0][1] - table[1][1]) / (table[1][0] - table[0][0])
            return lowest_pct + slope * (lowest_pf - power_factor)
        raise PfTableError(f"power factor {power_factor} missing from the table for standard {standard}")


def parse_pf_table(rows: Iterable[Mapping[str, str]]) -> PfTable:
    """Build a :class:`PfTable` from rows with keys ``standard, power_factor, adjustment_percent``."""
    by_std: dict[Decimal, dict[Decimal, Decimal]] = {}
    for n, row in enumerate(rows, start=1):
        try:
            std = Decimal(str(row["standard"]).strip())
            pf = Decimal(str(row["power_factor"]).strip())
            pct = Decimal(str(row["adjustment_percent"]).strip())
        except KeyError as exc:
            raise PfTableError(f"row {n}: missing column {exc.args[0]}") from None
        except InvalidOperation:
            raise PfTableError(f"row {n}: not a decimal") from None
        if not (Decimal(0) < pf <= Decimal(1)) or not (Decimal(0) < std <= Decimal(1)):
            raise PfTableError(f"row {n}: power factor out of range")
        if pf.quantize(PF_STEP) != pf:
            raise PfTableError(f"row {n}: power factor {pf} not on a 0.01 step")
        by_std.setdefault(std.quantize(PF_STEP), {})[pf.quantize(PF_STEP)] = pct
    return PfTable(rows={s: tuple(sorted(v.items())) for s, v in by_std.items()})


def power_factor(*, kwh: Decimal, kvarh: Decimal) -> Decimal:
    """Monthly power factor kWh / sqrt(kWh² + kvarh²), rounded to 0.01 half-up.

    Computed with 50 significant digits (Decimal sqrt is correctly rounded, so exact ties such as 0.955 are
    recognised). The same result is obtained exactly with integers: the rounded value is ``p`` when
    ``(p - 0.005)² · S ≤ kWh² < (p + 0.005)² · S`` with ``S = kWh² + kvarh²``.
    """
    if kwh < 0 or kvarh < 0:
        raise ValueError("kWh and kvarh must be non-negative")
    if kwh == 0 and kvarh == 0:
        return Decimal("1.00")
    with localcontext() as ctx:
        ctx.prec = 50
        pf = kwh / (kwh * kwh + kvarh * kvarh).sqrt()
    return pf.quantize(PF_STEP, rounding=ROUND_HALF_UP)
