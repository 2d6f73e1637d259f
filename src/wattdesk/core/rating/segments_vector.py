"""Step 1 of the segmented bill (``core.rating.segments``, 变更用电) on the vectorised path. Pure.

:func:`vector_engine` rates every segment of a batch with ``core.rating.vector.rate_columns``: one call per
distinct tariff, all segments on that tariff at once (the int64 path, equal to the exact path to the fen).
Each line carries what the exact path's does (``RatedColumns.bill_lines``: code, description, quantity, unit,
unit rate, rounded amount, rule), which is what the combine step reads (the basic lines it prorates by days
use ``quantity x rate``). Steps 2-4 (proration, one PF, fixed charges) are the shared combine step, so a
segmented bill is the same on both paths, line by line (tests/unit/core/test_segments_vector.py, a hypothesis
property).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattdesk.core.rating.exact import Determinants, Line
from wattdesk.core.rating.vector import columns_from_determinants, rate_columns


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
        rated = rate_columns(tariff=tariff, cols=columns_from_determinants([items[i][1] for i in idxs]))
        for row, i in enumerate(idxs):
            out[i] = list(rated.bill_lines(row))
    return out
