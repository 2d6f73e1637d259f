"""The vector quote (every account at once, core.rating.vector) equals the exact per-account quote to the fen.

Line by line (code and rounded amount, in the exact path's order), bill totals, periods and kWh, on the 16
URDB tariffs, the example WattDesk tariffs (real calendar with public holidays), a per-year minimum, and random
loads (hypothesis): dense whole-year matrices and irregular per-account series (partial years, gaps).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattdesk.application.billing.quote import (
    AccountLoad,
    DenseLoad,
    LoadData,
    QuoteResult,
    account_loads,
    quote,
    quote_exact,
    quote_json,
)
from wattdesk.application.tariffs.reference_data import load_holidays, read_tariff_documents
from wattdesk.core.calendar import Semantics
from wattdesk.core.tariff import Tariff
from wattdesk.core.urdb import tariff_from_urdb

ROOT = Path(__file__).resolve().parents[3]
URDB = sorted((ROOT / "tests" / "fixtures" / "urdb-tariffs").glob("*.json"))
OURS = sorted((ROOT / "src" / "wattdesk" / "config" / "tariffs").glob("*.yaml"))


def _loads(n: int, steps: int, sph: int, seed: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    rng = np.random.default_rng(seed)
    hour = (np.arange(steps) / sph) % 24
    shape = 0.6 + 0.4 * np.clip(np.sin((hour - 6) / 14 * np.pi), 0, None)
    size = rng.lognormal(mean=2.5, sigma=1.2, size=(n, 1)) / sph
    kwh = np.round(size * shape[None, :] * rng.gamma(4.0, 0.25, size=(n, steps)), 4)
    kwh[rng.random((n, steps)) < 0.01] = 0.0  # some empty intervals
    return kwh


def dense(n: int, year: int, sph: int, seed: int, kvarh: bool = False) -> DenseLoad:
    days = 366 if year % 4 == 0 else 365
    steps = days * 24 * sph
    kwh = _loads(n, steps, sph, seed)
    return DenseLoad(
        accounts=tuple(f"A{i}" for i in range(n)),
        year=year,
        steps_per_hour=sph,
        kwh=kwh,
        kvarh=np.round(kwh * 0.4, 4) if kvarh else None,
    )


def _plain(d: Decimal) -> str:
    """How the JSON writes a quantity or unit rate: plain, no trailing zeros."""
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def assert_same(res: QuoteResult, load: LoadData, **kw: Any) -> None:
    """Every bill of the vector quote equals the exact per-account quote: periods, kWh, every line field by field
    (in the result and in the --json document), totals."""
    exact = quote_exact(load=load, **kw)
    doc = json.loads(quote_json(res))["bills"]
    i = 0
    assert res.accounts == tuple(q.account for q in exact)
    assert [b["account"] for b in doc] == [q.account for q in exact]
    for a, q in enumerate(exact):
        assert Decimal(doc[a]["total"]) == q.total and doc[a]["total"] == f"{q.total:f}"
        assert len(doc[a]["periods"]) == len(q.periods)
        for p, jp in zip(q.periods, doc[a]["periods"], strict=True):
            assert int(res.account_of_row[i]) == a
            assert (str(res.start[i]), str(res.end[i])) == (p.start.isoformat(), p.end.isoformat())
            assert (jp["start"], jp["end"]) == (p.start.isoformat(), p.end.isoformat())
            assert Decimal(int(res.kwh_units[i])).scaleb(-4) == p.kwh
            assert Decimal(jp["kwh"]) == p.kwh
            assert res.lines(i) == tuple((ln.code, ln.amount) for ln in p.bill.lines), (a, p.start)
            assert res.bill_lines(i) == p.bill.lines, (a, p.start)
            assert jp["lines"] == [
                {
                    "code": ln.code,
                    "description": ln.description,
                    "quantity": _plain(ln.quantity),
                    "unit": ln.unit,
                    "rate": _plain(ln.rate),
                    "amount": f"{ln.amount:f}" if ln.amount else "0.00",  # the exact path may hold -0.00
                    "rule": ln.rule,
                }
                for ln in p.bill.lines
            ], (a, p.start)
            assert res.total(i) == p.bill.total and jp["total"] == f"{p.bill.total:f}"
            i += 1
    assert i == res.total_fen.size


def urdb(path: Path, **extra: Any) -> Tariff:
    record = json.loads(path.read_text())
    record.update(extra)
    return tariff_from_urdb(record=record)


def check(tariff: Tariff, load: LoadData, semantics: Semantics, **kw: Any) -> QuoteResult:
    holidays = load_holidays() if semantics == "real" and tariff.calendar.holidays else None
    args: dict[str, Any] = dict(tariff=tariff, semantics=semantics, holidays=holidays, **kw)
    res = quote(load=load, **args)
    assert_same(res, load, **args)
    return res


@pytest.mark.parametrize("path", URDB, ids=[p.stem for p in URDB])
def test_urdb_tariffs_dense_year(path: Path) -> None:
    res = check(urdb(path), dense(4, 2018, 1, seed=len(path.stem)), "pysam")
    assert res.total_fen.size == 48 and not res.exact_rows.all()


@pytest.mark.parametrize("path", URDB[:6], ids=[p.stem for p in URDB[:6]])
def test_urdb_tariffs_fifteen_minutes_and_series(path: Path) -> None:
    load = dense(2, 2018, 4, seed=3)
    check(urdb(path), load, "pysam")
    # the same load as per-account series (the irregular path) gives the same bills
    check(urdb(path), account_loads(load), "pysam")


@pytest.mark.parametrize("path", OURS, ids=[p.stem for p in OURS])
@pytest.mark.parametrize("semantics", ["real", "pysam"])
def test_wattdesk_tariffs_with_holidays_kvarh_capacity(path: Path, semantics: Semantics) -> None:
    (doc,) = read_tariff_documents(path=path)
    load = dense(3, 2026, 1, seed=11, kvarh=True)
    check(doc.tariff, load, semantics, capacity_kva=Decimal("500"), contract_kw=Decimal("80.5"))


@pytest.mark.parametrize("per", ["$/year", "$/month", "$/day"])
def test_minimum_charge_carries_the_year_to_date(per: str) -> None:
    # a minimum high enough to bind for the small accounts, not for the big ones
    amount = {"$/year": 9000, "$/month": 700, "$/day": 23}[per]
    tariff = urdb(URDB[0], mincharge=amount, minchargeunits=per)
    load = dense(6, 2018, 1, seed=5)
    res = check(tariff, load, "pysam")
    if "minimum" in res.codes:
        assert res.present[:, res.codes.index("minimum")].any()
    # and across two calendar years of irregular series
    ts = np.datetime64("2018-07-01T00:00", "m") + np.arange(24 * 300) * 60
    kwh = _loads(2, ts.size, 1, seed=9)
    series = tuple(AccountLoad(account=f"S{i}", timestamps=ts, kwh=kwh[i], kvarh=None) for i in range(2))
    check(tariff, series, "pysam")


@st.composite
def series_loads(draw: st.DrawFn) -> tuple[AccountLoad, ...]:
    n = draw(st.integers(1, 3))
    out = []
    for a in range(n):
        sph = draw(st.sampled_from([1, 4]))
        start = np.datetime64("2026-01-01T00:00", "m") + draw(st.integers(0, 400)) * np.timedelta64(1, "D")
        hours = draw(st.integers(2, 24 * 70))
        steps = hours * sph
        ts = start + np.arange(steps) * (60 // sph)
        keep = np.random.default_rng(draw(st.integers(0, 2**31))).random(steps) > draw(
            st.sampled_from([0.0, 0.3])
        )
        keep[:2] = True
        kwh = _loads(1, steps, sph, seed=draw(st.integers(0, 2**31)))[0] * draw(
            st.sampled_from([0.01, 1.0, 300.0])
        )
        out.append(AccountLoad(account=f"R{a}", timestamps=ts[keep], kwh=kwh[keep], kvarh=kwh[keep] * 0.5))
    return tuple(out)


TARIFF_POOL = [("urdb", p) for p in URDB] + [("ours", p) for p in OURS]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pick=st.sampled_from(TARIFF_POOL), loads=series_loads(), semantics=st.sampled_from(["real", "pysam"]))
def test_random_series_equal_exact(
    pick: tuple[str, Path], loads: tuple[AccountLoad, ...], semantics: str
) -> None:
    kind, path = pick
    tariff = urdb(path) if kind == "urdb" else read_tariff_documents(path=path)[0].tariff
    sem: Semantics = "pysam" if semantics == "pysam" else "real"
    check(tariff, loads, sem, capacity_kva=Decimal("315"), contract_kw=Decimal("42"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pick=st.sampled_from(TARIFF_POOL),
    seed=st.integers(0, 2**31),
    scale=st.sampled_from([0.001, 1.0, 50.0, 1e5]),
    year=st.sampled_from([2018, 2024, 2026]),
)
def test_random_dense_years_equal_exact(pick: tuple[str, Path], seed: int, scale: float, year: int) -> None:
    kind, path = pick
    tariff = urdb(path) if kind == "urdb" else read_tariff_documents(path=path)[0].tariff
    load = dense(2, year, 1, seed=seed, kvarh=True)
    load = DenseLoad(
        accounts=load.accounts,
        year=year,
        steps_per_hour=1,
        kwh=np.round(load.kwh * scale, 4),
        kvarh=None if load.kvarh is None else np.round(load.kvarh * scale, 4),
    )
    check(tariff, load, "real" if kind == "ours" else "pysam", capacity_kva=Decimal("1000"))


@pytest.mark.parametrize("path", [URDB[0], OURS[0]], ids=[URDB[0].stem, OURS[0].stem])
def test_rows_beyond_the_int64_bounds_keep_their_exact_lines(path: Path) -> None:
    # 200,000 kWh an hour is more than 2**40 units (1.1e8 kWh) a month: those rows are priced by the exact
    # path inside the engine, and their JSON lines come from the exact bills
    tariff = urdb(path) if path.suffix == ".json" else read_tariff_documents(path=path)[0].tariff
    load = dense(2, 2018, 1, seed=3)
    kwh = load.kwh.copy()
    kwh[1] = 200_000.0
    load = DenseLoad(accounts=load.accounts, year=2018, steps_per_hour=1, kwh=kwh, kvarh=None)
    res = check(tariff, load, "pysam" if path.suffix == ".json" else "real")
    assert res.exact_rows[12:].all() and not res.exact_rows[:12].any()
