"""Step 1 of the segmented bill (``core.rating.segments``, 变更用电) on the vectorised path. Pure.

:func:`vector_engine` rates every segment of a batch with ``core.rating.vector.rate_columns``: one call per
distinct tariff, all segments on that tariff at once (the int64 path, equal to the exact path to the fen).
The vector path returns line codes and rounded amounts only, so a line built here carries its code, its amount
and its rule category (the code's first part: ``energy`` / ``demand`` / ``fund`` / ``basic``), which is all
the combine step reads of it, except for the basic lines it prorates by days: those also need the unrounded
monthly amount ``quantity x rate``, which is the tariff's basic formula on the segment's quantities
(``exact._basic``: capacity or demand x the monthly price, no division, no rounding); their rounded amounts
are the vector path's. Steps 2-4 (proration, one PF, fixed charges) are the shared combine step, so a
segmented bill is the same on both paths (tests/unit/core/test_segments_vector.py, a hypothesis property).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from wattdesk.core.rating.exact import Determinants, Line, RatingError, _basic
from wattdesk.core.rating.vector import columns_from_determinants, rate_columns

ZERO = Decimal(0)


def vector_engine(items: Sequence[tuple[Any, Determinants]]) -> list[list[Line]]:
    """The lines of each (tariff, determinants) item, rated on the vector path (see the module docstring)."""
    groups: list[tuple[Any, list[int]]] = []
    for i, (tariff, _det) in enumerate(items):
        for t, idxs in groups:
            if t == tariff:
                idxs.append(i)
                break
        else:
            groups.append((tariff, [i]))
    out: list[list[Line]] = [[] for _ in items]
    for tariff, idxs in groups:
        dets = [items[i][1] for i in idxs]
        rated = rate_columns(tariff=tariff, cols=columns_from_determinants(dets))
        for row, i in enumerate(idxs):
            basic = iter(_basic(tariff, dets[row], dets[row].kwh))
            lines: list[Line] = []
            for code, amount in rated.lines(row):
                if code.startswith("basic"):
                    formula = next(basic, None)
                    if formula is None or formula.code != code:
                        raise RatingError(f"basic line {code} of the vector path has no formula line")
                    lines.append(dataclasses.replace(formula, amount=amount))
                else:
                    lines.append(Line(code, "", ZERO, "", ZERO, amount, code))
            out[i] = lines
    return out
