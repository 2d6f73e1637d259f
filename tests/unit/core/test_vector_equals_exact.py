"""The vectorised rating path equals the exact Decimal path to the fen, line by line and in total.

Property tests over generated tariffs (every structure of docs/tariffs.md) and determinants (zero, exactly on
a threshold, more than 4 decimals, huge values that go to the exact fallback), plus the 16 real URDB tariffs
on random hourly and 15-minute loads, where the dense-load determinants builder must also equal
``core.rating.determinants.monthly_determinants``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattdesk.core.pf import PfTable
from wattdesk.core.rating.determinants import monthly_determinants
from wattdesk.core.rating.exact import Determinants, rate
from wattdesk.core.rating.vector import (
    ABSENT,
    columns_from_determinants,
    monthly_columns_from_load,
    rate_columns,
)
from wattdesk.core.tariff import Tariff, parse_tariff
from wattdesk.core.urdb import tariff_from_urdb

URDB_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "urdb-tariffs"
if not URDB_DIR.is_dir():  # the fixtures may also be vendored next to the tests
    URDB_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "urdb-tariffs"


def assert_same(tariff: Tariff, dets: list[Determinants]) -> None:
    res = rate_columns(tariff=tariff, cols=columns_from_determinants(dets))
    for i, det in enumerate(dets):
        bill = rate(tariff=tariff, det=det)
        expected = tuple((ln.code, ln.amount) for ln in bill.lines)
        assert res.lines(i) == expected, f"row {i}: {det}"
        assert res.total(i) == bill.total, f"row {i}: {det}"
        # line by line with the detail a bill line carries: code, description, quantity, unit, unit rate,
        # amount and rule (Decimal equality: the same number, whatever its exponent)
        assert res.bill_lines(i) == bill.lines, f"row {i}: {det}"
    # the same lines assembled for all rows at once (the billing run's way)
    table = res.line_tuples()
    for i, det in enumerate(dets):
        bill = rate(tariff=tariff, det=det)
        fields = [
            (ln.code, ln.description, ln.quantity, ln.unit, ln.rate, ln.amount, ln.rule) for ln in bill.lines
        ]
        assert table[i] == fields, f"row {i}: {det}"


# ------------------------------------------------------------------------------------------ generators

money = st.decimals(min_value=D("-0.2"), max_value=D("3"), places=6, allow_nan=False, allow_infinity=False)
price = st.one_of(
    st.sampled_from([2, 4, 5, 6]).flatmap(
        lambda places: st.decimals(min_value=D(0), max_value=D("2"), places=places, allow_nan=False)
    ),
    money,
    st.sampled_from([D("0.4883"), D("0.538"), D("0.99530"), D("0.09368"), D("30"), D("20"), D(0)]),
)


@st.composite
def tiers(draw: st.DrawFn, max_tiers: int = 3, scale: int = 1000) -> list[dict[str, Any]]:
    n = draw(st.integers(1, max_tiers))
    uptos = sorted(
        draw(
            st.sets(
                st.decimals(
                    min_value=D(1),
                    max_value=D(scale * 5),
                    places=draw(st.sampled_from([0, 2, 4])),
                    allow_nan=False,
                ),
                min_size=n - 1,
                max_size=n - 1,
            )
        )
    )
    out: list[dict[str, Any]] = [{"upto": str(u), "rate": str(draw(price))} for u in uptos]
    out.append({"rate": str(draw(price))})
    return out


def schedule(n: int) -> dict[str, Any]:
    return {"weekday": [h % n for h in range(24)]}


@st.composite
def tariffs(draw: st.DrawFn, pf_table: PfTable) -> Tariff:
    n_e = draw(st.integers(1, 5))
    basis = draw(st.sampled_from(["monthly", "annual", "kwh_per_kw"]))
    periods = [{"key": f"e{p}", "name": f"E{p}", "tiers": draw(tiers())} for p in range(n_e)]
    energy: dict[str, Any] = {
        "tier_basis": basis,
        "proration": draw(st.sampled_from(["average_month", "none"])),
        "tier_year_start_month": draw(st.integers(1, 12)),
        "periods": periods,
    }
    if n_e > 1:
        energy["schedule"] = schedule(n_e)
    doc: dict[str, Any] = {
        "code": "T",
        "name": "generated",
        "effective_from": "2020-01-01",
        "customer_class": draw(st.sampled_from(["residential", "commercial", "industrial", "agricultural"])),
        "energy": energy,
        "rounding": draw(st.sampled_from(["per_line", "per_bill"])),
        "locale": draw(st.sampled_from(["zh", "en"])),
        "calendar": {"semantics": draw(st.sampled_from(["real", "pysam"]))},
    }
    demand: dict[str, Any] = {}
    if draw(st.booleans()):
        n_s = draw(st.integers(1, 2))
        demand["flat"] = {
            "structures": [draw(tiers(max_tiers=2, scale=100)) for _ in range(n_s)],
            "months": [draw(st.integers(0, n_s - 1)) for _ in range(12)],
        }
    if draw(st.booleans()):
        n_d = draw(st.integers(1, 3))
        demand["tou"] = {
            "periods": [{"key": f"d{p}", "tiers": draw(tiers(max_tiers=2, scale=100))} for p in range(n_d)],
            "schedule": schedule(n_d),
        }
    if demand:
        doc["demand"] = demand
    if draw(st.booleans()):
        method = draw(st.sampled_from(["capacity", "demand"]))
        basic: dict[str, Any] = {
            "method": method,
            "rate": str(draw(st.sampled_from([D(20), D(30), D("38.5"), D("22.08")]))),
        }
        if method == "demand":
            basic["excess_reading"] = draw(st.sampled_from(["excess_over_105", "excess_over_contract"]))
            basic["threshold"] = str(draw(st.sampled_from([D("1.05"), D("1.1"), D(1)])))
            basic["high_load_factor"] = draw(
                st.sampled_from(
                    [
                        None,
                        {},
                        {"kwh_per_kva": 260, "factor": "0.9"},
                        {"kwh_per_kva": "250.5", "factor": "0.85"},
                    ]
                )
            )
        doc["basic"] = basic
    if draw(st.booleans()):
        doc["power_factor"] = {
            "standard": draw(st.sampled_from(["0.90", "0.85", "0.80"])),
            "base": draw(
                st.sampled_from(
                    [
                        ["basic", "energy"],
                        ["basic", "energy", "demand"],
                        ["energy"],
                        ["basic", "energy", "fund", "fixed"],
                    ]
                )
            ),
        }
    doc["funds"] = [
        {
            "code": f"f{i}",
            "name": f"fund {i}",
            "rate": str(draw(st.sampled_from([D("0.019"), D("0.0062"), D("0.02"), D("0.000123")]))),
            "exempt_classes": draw(st.sampled_from([[], ["residential"], ["agricultural", "industrial"]])),
        }
        for i in range(draw(st.integers(0, 2)))
    ]
    doc["fixed"] = [
        {
            "code": f"x{i}",
            "name": f"fixed {i}",
            "amount": str(
                draw(st.sampled_from([D("10"), D("259.2"), D("3897.40"), D("1.23456"), D("100.01")]))
            ),
            "per": draw(st.sampled_from(["month", "day", "year"])),
        }
        for i in range(draw(st.integers(0, 2)))
    ]
    if draw(st.booleans()):
        doc["minimum"] = {
            "amount": str(
                draw(st.sampled_from([D("5"), D("100"), D("6833.67"), D("1234.5678"), D("50000")]))
            ),
            "per": draw(st.sampled_from(["month", "day", "year"])),
        }
    return parse_tariff(doc=doc, pf_table=pf_table)


def thresholds(tariff: Tariff) -> list[D]:
    out = [t.upto for p in tariff.energy.periods for t in p.tiers if t.upto is not None]
    if tariff.flat_demand is not None:
        out += [t.upto for s in tariff.flat_demand.structures for t in s if t.upto is not None]
    return [u for u in out if u is not None]


def quantity(draw: st.DrawFn, edges: list[D], hi: int = 20_000) -> D:
    choice = draw(st.integers(0, 39))
    if choice < 4:
        return D(0)
    if choice < 12 and edges:
        return draw(st.sampled_from(edges))
    if choice == 12:  # out of the int64 bounds (exact fallback) or quantized away
        return draw(st.sampled_from([D("1E+9"), D("123456789.12345"), D("0.00005"), D("0.00004999")]))
    places = draw(st.sampled_from([0, 2, 4, 6]))
    return draw(st.decimals(min_value=D(0), max_value=D(hi), places=places, allow_nan=False))


@st.composite
def determinants(draw: st.DrawFn, tariff: Tariff) -> Determinants:
    year = draw(st.integers(2019, 2026))
    month = draw(st.integers(1, 12))
    if draw(st.booleans()):
        start = date(year, month, 1)
        end = date(year + (month == 12), month % 12 + 1, 1)
    else:
        start = date(year, month, draw(st.integers(1, 28)))
        end = start + timedelta(days=draw(st.integers(1, 45)))
    edges = thresholds(tariff)
    n_e = len(tariff.energy.periods)
    kwh = tuple(quantity(draw, [e / n_e for e in edges] + edges) for _ in range(n_e))
    n_d = 0 if tariff.tou_demand is None else len(tariff.tou_demand.periods)
    cap = draw(st.sampled_from([D(10), D("50.5"), D(100), D(315), D("400.5"), D(2000), D("0.00001"), D(0)]))
    contract = draw(st.sampled_from([None, D(80), D(200), D("190.4762"), D(0)]))
    max_kw = quantity(draw, [D(84), D(210), D("199.99"), D(200), D(100), *edges], hi=3000)
    return Determinants(
        start=start,
        end=end,
        kwh_by_period=kwh,
        kvarh=draw(
            st.one_of(
                st.none(),
                st.just(D(0)),
                st.decimals(min_value=D(0), max_value=D(30_000), places=3, allow_nan=False),
            )
        ),
        max_kw=max_kw,
        max_kw_by_period=tuple(quantity(draw, [D(50), D(100)], hi=3000) for _ in range(n_d)),
        capacity_kva=cap,
        contract_kw=contract,
        ytd_kwh_before=quantity(draw, edges, hi=6000),
        tier_year_fraction=draw(st.sampled_from([D(1), D(1) / D(3), D(200) / D(365), D("0.5"), D("0.25")])),
        ytd_amount_before=draw(st.sampled_from([D(0), D(0), D("123.4567"), D("99999.99"), D("1E-20")])),
    )


class TestGeneratedTariffs:
    @settings(
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test_vector_equals_exact(self, pf_table: PfTable, data: st.DataObject) -> None:
        t = data.draw(tariffs(pf_table))
        dets = data.draw(st.lists(determinants(t), min_size=1, max_size=8))
        assert_same(t, dets)


class TestEdges:
    def test_exact_fallback_rows_are_flagged(self, pf_table: PfTable) -> None:
        t = parse_tariff(
            doc={
                "code": "T",
                "name": "n",
                "effective_from": "2020-01-01",
                "customer_class": "industrial",
                "energy": {"periods": [{"key": "flat", "tiers": [{"rate": "0.5"}]}]},
            },
            pf_table=pf_table,
        )
        jan = {"start": date(2026, 1, 1), "end": date(2026, 2, 1)}
        dets = [
            Determinants(**jan, kwh_by_period=(D("1E+12"),)),
            Determinants(**jan, kwh_by_period=(D(100),)),
        ]
        res = rate_columns(tariff=t, cols=columns_from_determinants(dets))
        assert res.exact_rows.tolist() == [True, False]
        assert res.total(0) == D("500000000000.00")
        assert res.total(1) == D("50.00")

    def test_no_consumption_no_power_factor_adjustment(self, pf_table: PfTable) -> None:
        # a two-part tariff: basic 1250 kVA x 20 = 25,000.00; 0 kWh gets no PF line on either path
        t = parse_tariff(
            doc={
                "code": "T2",
                "name": "两部制",
                "effective_from": "2020-01-01",
                "customer_class": "industrial",
                "energy": {"periods": [{"key": "flat", "tiers": [{"rate": "0.5"}]}]},
                "basic": {"method": "capacity", "rate": 20},
                "power_factor": {"standard": "0.90"},
            },
            pf_table=pf_table,
        )
        jan = {"start": date(2026, 1, 1), "end": date(2026, 2, 1)}
        dets = [
            Determinants(**jan, kwh_by_period=(D(0),), kvarh=D(0), capacity_kva=D(1250)),
            Determinants(**jan, kwh_by_period=(D(0),), kvarh=D(250), capacity_kva=D(1250)),
            Determinants(**jan, kwh_by_period=(D(1000),), kvarh=D(0), capacity_kva=D(1250)),
        ]
        res = rate_columns(tariff=t, cols=columns_from_determinants(dets))
        assert "pf" not in dict(res.lines(0)) and "pf" not in dict(res.lines(1))
        assert res.total(0) == res.total(1) == D("25000.00")
        assert dict(res.lines(2))["pf"] == D("-191.25")  # 1000 kWh: PF 1.00 -> -0.75 % of 25,500
        assert_same(t, dets)


# ------------------------------------------------------------------------------------------ URDB tariffs

URDB_FILES = sorted(URDB_DIR.glob("*.json"))


@pytest.mark.parametrize("path", URDB_FILES, ids=[p.stem for p in URDB_FILES])
@pytest.mark.parametrize("steps_per_hour", [1, 4])
def test_urdb_tariff_builder_and_rating(path: Path, steps_per_hour: int) -> None:
    tariff = tariff_from_urdb(record=json.loads(path.read_text()))
    rng = np.random.default_rng(abs(hash(path.stem)) % 2**32)
    year = 2018
    n_steps = 365 * 24 * steps_per_hour
    n_acc = 3
    shape = 1.0 + 0.8 * np.sin(np.arange(n_steps) / (24 * steps_per_hour) * 2 * np.pi)
    scale = np.array([1.3, 40.0, 900.0])[:, None] / steps_per_hour
    kwh = np.round(scale * shape[None, :] * rng.gamma(2.0, 0.5, size=(n_acc, n_steps)), 5)
    kwh[0, : 24 * steps_per_hour * 3] = 0.0  # a few zero days
    cols = monthly_columns_from_load(tariff=tariff, year=year, kwh=kwh, steps_per_hour=steps_per_hour)
    ts = np.datetime64("2018-01-01T00:00", "m") + np.arange(n_steps) * (60 // steps_per_hour)
    dets: list[Determinants] = []
    for a in range(n_acc):
        dets += list(monthly_determinants(tariff=tariff, timestamps=ts, kwh=kwh[a]))
    # the builder equals the per-account determinants
    built = [cols.determinants(i) for i in range(cols.n)]
    for b, d in zip(built, dets, strict=True):
        assert b.kwh_by_period == d.kwh_by_period
        assert b.max_kw == d.max_kw
        assert b.max_kw_by_period == d.max_kw_by_period
        assert (b.start, b.end) == (d.start, d.end)
    assert cols.capacity_kva is None or bool(np.all(cols.capacity_kva == ABSENT))
    res = rate_columns(tariff=tariff, cols=cols)
    assert not res.exact_rows.any()
    for i, det in enumerate(dets):
        bill = rate(tariff=tariff, det=det)
        assert res.lines(i) == tuple((ln.code, ln.amount) for ln in bill.lines)
        assert res.total(i) == bill.total


# ------------------------------------------------------------------------------------------ shipped tariffs

SHIPPED = sorted(
    (Path(__file__).resolve().parents[3] / "src" / "wattdesk" / "config" / "tariffs").glob("*.yaml")
)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_tariff_real_calendar_with_kvarh(path: Path, pf_table: PfTable) -> None:
    import yaml

    from wattdesk.application.tariffs.reference_data import load_holidays

    tariff = parse_tariff(doc=yaml.safe_load(path.read_text()), pf_table=pf_table)
    holidays = load_holidays()
    rng = np.random.default_rng(7)
    n_steps = 365 * 24
    kwh = np.round(rng.gamma(2.0, 60.0, size=(2, n_steps)), 6)
    kvarh = np.round(kwh * rng.uniform(0.2, 0.9, size=(2, 1)), 6)
    cap = [D(400), D(1250)]
    contract = [D(100), None]
    cols = monthly_columns_from_load(
        tariff=tariff,
        year=2026,
        kwh=kwh,
        kvarh=kvarh,
        steps_per_hour=1,
        holidays=holidays,
        capacity_kva=cap,
        contract_kw=contract,
    )
    ts = np.datetime64("2026-01-01T00:00", "m") + np.arange(n_steps) * 60
    dets: list[Determinants] = []
    for a in range(2):
        dets += list(
            monthly_determinants(
                tariff=tariff,
                timestamps=ts,
                kwh=kwh[a],
                kvarh=kvarh[a],
                holidays=holidays,
                capacity_kva=cap[a],
                contract_kw=contract[a],
            )
        )
    res = rate_columns(tariff=tariff, cols=cols)
    for i, det in enumerate(dets):
        b = cols.determinants(i)
        assert (b.kwh_by_period, b.kvarh, b.max_kw, b.ytd_kwh_before) == (
            det.kwh_by_period,
            det.kvarh,
            det.max_kw,
            det.ytd_kwh_before,
        )
        bill = rate(tariff=tariff, det=det)
        assert res.lines(i) == tuple((ln.code, ln.amount) for ln in bill.lines)
        assert res.total(i) == bill.total
