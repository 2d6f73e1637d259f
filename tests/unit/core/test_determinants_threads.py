"""``monthly_columns_from_load`` gives the same determinants whatever the number of worker threads and the
block size (threads share whole blocks; each writes its own rows). The single-thread result is held to the exact
per-account determinants by tests/unit/core/test_vector_equals_exact.py and test_quote_vector.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattdesk.core.rating.exact import RatingError
from wattdesk.core.rating.vector import DeterminantColumns, monthly_columns_from_load
from wattdesk.core.tariff import Tariff
from wattdesk.core.urdb import tariff_from_urdb

URDB = Path(__file__).resolve().parents[2] / "fixtures" / "urdb-tariffs"
# TOU energy with tiers, TOU demand (the masked maxima), annual tiers: one of each shape at least
NAMES = ("pge_e19_s", "coned_sc9_j", "scppd_lp1", "sdge_al_tou")


def _tariff(name: str) -> Tariff:
    return tariff_from_urdb(record=json.loads((URDB / f"{name}.json").read_text()))


def _fields(c: DeterminantColumns) -> dict[str, Any]:
    return {
        "start": c.start,
        "end": c.end,
        "kwh_by_period": c.kwh_by_period,
        "kvarh": c.kvarh,
        "max_kw": c.max_kw,
        "max_kw_by_period": c.max_kw_by_period,
        "ytd_kwh_before": c.ytd_kwh_before,
    }


def _assert_equal(a: DeterminantColumns, b: DeterminantColumns) -> None:
    fa, fb = _fields(a), _fields(b)
    for k, v in fa.items():
        if v is None:
            assert fb[k] is None, k
        else:
            assert fb[k] is not None and np.array_equal(v, fb[k]), k


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(NAMES),
    n_acc=st.integers(1, 23),
    chunk_rows=st.integers(1, 9),
    workers=st.integers(2, 5),
    seed=st.integers(0, 2**16),
    with_kvarh=st.booleans(),
)
def test_any_number_of_threads_gives_the_same_columns(
    name: str, n_acc: int, chunk_rows: int, workers: int, seed: int, with_kvarh: bool
) -> None:
    tariff = _tariff(name)
    rng = np.random.default_rng(seed)
    steps = 365 * 24
    kwh = np.round(rng.gamma(2.0, 3.0, size=(n_acc, steps)) * rng.lognormal(0, 2, size=(n_acc, 1)), 5)
    kvarh = np.round(kwh * 0.3, 5) if with_kvarh else None
    kw: dict[str, Any] = dict(
        tariff=tariff, year=2018, kwh=kwh, kvarh=kvarh, steps_per_hour=1, semantics="pysam"
    )
    one = monthly_columns_from_load(**kw)
    _assert_equal(one, monthly_columns_from_load(**kw, chunk_rows=chunk_rows, workers=workers))
    _assert_equal(one, monthly_columns_from_load(**kw, chunk_rows=chunk_rows, workers=1))


def test_the_first_bad_block_is_reported_with_threads() -> None:
    kwh = np.ones((10, 365 * 24))
    kwh[3, 5] = -1.0
    kwh[8, 5] = np.nan
    with pytest.raises(RatingError, match=r"accounts 2\.\.3"):
        monthly_columns_from_load(
            tariff=_tariff("scppd_lp1"), year=2018, kwh=kwh, steps_per_hour=1, chunk_rows=2, workers=4
        )


@pytest.mark.parametrize("bad", [{"workers": 0}, {"chunk_rows": 0}])
def test_workers_and_block_size_must_be_positive(bad: dict[str, Any]) -> None:
    with pytest.raises(RatingError, match="at least 1"):
        monthly_columns_from_load(
            tariff=_tariff("scppd_lp1"), year=2018, kwh=np.ones((1, 365 * 24)), steps_per_hour=1, **bad
        )
