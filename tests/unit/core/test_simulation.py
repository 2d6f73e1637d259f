"""core.simulation.rate_pair: every row equals the billing run's determinants + the exact path, to the fen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattdesk.application.billing.determinants import NotBillable, build
from wattdesk.core.pf import PfTable
from wattdesk.core.rating import Determinants
from wattdesk.core.rating import rate as rate_exact
from wattdesk.core.simulation import (
    INPUT_COLUMNS,
    NOT_BILLABLE_FROM,
    NOT_BILLABLE_TO,
    QUANTITY_COLUMNS,
    SimulationError,
    rate_pair,
)
from wattdesk.core.tariff import Tariff, parse_tariff

CONFIG = Path(__file__).resolve().parents[3] / "src/wattdesk/config/tariffs"


def _tariff(name: str, pf_table: PfTable, **changes: object) -> Tariff:
    doc = yaml.safe_load((CONFIG / name).read_text(encoding="utf-8"))
    doc.update(changes)
    return parse_tariff(doc=doc, pf_table=pf_table)


def _units(x: Decimal | None) -> int:
    return -1 if x is None else int(x.scaleb(4))


def _dec(u: int) -> Decimal | None:
    return None if u < 0 else Decimal(u).scaleb(-4)


def _columns(rows: list[dict[str, object]]) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for c in INPUT_COLUMNS:
        if c in ("start", "end"):
            cols[c] = np.array([r[c] for r in rows], dtype="datetime64[D]")
        else:
            cols[c] = np.array([r.get(c, -1) for r in rows], dtype=np.int64)
    return cols


def _expected(tariff: Tariff, rows: list[dict[str, object]], i: int) -> int | None:
    """The billing run's bill of row i (``build`` + ``exact.rate``), in fen; None when not billable."""
    found = _det(tariff, rows, i)
    if found is None:
        return None
    return int(rate_exact(tariff=found.tariff, det=found.det).total.scaleb(2))


@dataclass(frozen=True)
class _Found:
    tariff: Tariff
    det: Determinants

    @property
    def kwh(self) -> Decimal:
        return self.det.kwh


def _det(tariff: Tariff, rows: list[dict[str, object]], i: int) -> _Found | None:
    r = rows[i]
    kinds = {
        c: _dec(int(r[c])) for c in QUANTITY_COLUMNS if c.startswith("active_") and int(r.get(c, -1)) >= 0
    }  # type: ignore[call-overload]
    demand = {
        c: _dec(int(r[c])) for c in QUANTITY_COLUMNS if c.startswith("max_demand_") and int(r.get(c, -1)) >= 0
    }  # type: ignore[call-overload]
    # annual tiers: kWh of the same account's earlier billable rows of the tier year (the calendar year), as
    # the run sums the kWh of the account's earlier live bills
    ytd = Decimal(0)
    if tariff.energy.tier_basis == "annual":
        for j, o in enumerate(rows):
            if (
                o["account_id"] == r["account_id"]
                and o["start"].year == r["start"].year
                and o["start"] < r["start"]
            ):  # type: ignore[attr-defined,operator]
                earlier = _det(tariff, rows, j)
                ytd += Decimal(0) if earlier is None else earlier.kwh
    pf_std = int(r.get("pf_standard", -1))  # type: ignore[call-overload]
    t = tariff
    if pf_std >= 0 and tariff.power_factor is not None:
        from dataclasses import replace

        t = replace(tariff, power_factor=replace(tariff.power_factor, standard=Decimal(pf_std).scaleb(-2)))
    try:
        det = build(
            tariff=t,
            start=r["start"],  # type: ignore[arg-type]
            end=r["end"],  # type: ignore[arg-type]
            kwh_by_kind=kinds,  # type: ignore[arg-type]
            kvarh=_dec(int(r.get("kvarh", -1))),  # type: ignore[call-overload]
            max_kw=_dec(int(r.get("max_kw", -1))),  # type: ignore[call-overload]
            capacity_kva=_dec(int(r.get("capacity_kva", -1))),  # type: ignore[call-overload]
            contract_kw=_dec(int(r.get("contract_kw", -1))),  # type: ignore[call-overload]
            pf_assessed=pf_std >= 0,
            max_kw_by_kind=demand,  # type: ignore[arg-type]
            ytd_kwh_before=ytd,
        )
    except NotBillable:
        return None
    return _Found(t, det)


def _check(tariff_from: Tariff, tariff_to: Tariff, rows: list[dict[str, object]]) -> None:
    got = rate_pair(_columns(rows), tariff_from=tariff_from, tariff_to=tariff_to)
    for i in range(len(rows)):
        exp_from, exp_to = _expected(tariff_from, rows, i), _expected(tariff_to, rows, i)
        status = (NOT_BILLABLE_FROM if exp_from is None else 0) | (NOT_BILLABLE_TO if exp_to is None else 0)
        assert int(got["status"][i]) == status, (i, rows[i])
        if status == 0:
            assert int(got["bill_from_fen"][i]) == exp_from, (i, rows[i])
            assert int(got["bill_to_fen"][i]) == exp_to, (i, rows[i])
        else:
            assert int(got["bill_from_fen"][i]) == 0 and int(got["bill_to_fen"][i]) == 0


MONTHS = [(date(2026, m, 1), date(2026 + (m == 12), m % 12 + 1, 1)) for m in range(1, 13)]
qty = st.integers(min_value=0, max_value=30_000_000)  # up to 3,000 kWh in 0.0001 units
maybe = st.one_of(st.just(-1), qty)


@st.composite
def residential_rows(draw: st.DrawFn) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for acc in range(1, draw(st.integers(1, 4)) + 1):
        for m in sorted(draw(st.sets(st.integers(0, 11), min_size=1, max_size=12))):
            start, end = MONTHS[m]
            peak, valley, total = draw(maybe), draw(maybe), draw(maybe)
            if total >= 0 and peak >= 0 and draw(st.booleans()):
                total = peak + max(valley, 0) + draw(st.integers(0, 1000))  # a consistent total register
            rows.append(
                {
                    "account_id": acc,
                    "start": start,
                    "end": end,
                    "active_peak": peak,
                    "active_valley": valley,
                    "active_total": total,
                }
            )
    return rows


class TestRatePair:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=residential_rows())
    def test_equals_the_runs_determinants_and_the_exact_path_for_annual_tou_and_monthly_tiers(
        self, pf_table: PfTable, rows: list[dict[str, object]]
    ) -> None:
        _check(
            _tariff("zhejiang-residential-annual-tou.yaml", pf_table),
            _tariff("beijing-residential-monthly.yaml", pf_table),
            rows,
        )

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        data=st.lists(
            st.tuples(qty, qty, qty, maybe, maybe, st.sampled_from([-1, 80, 85, 90]), st.integers(0, 11)),
            min_size=1,
            max_size=8,
        )
    )
    def test_equals_the_exact_path_for_two_part_tariffs_with_demand_capacity_and_power_factor(
        self, pf_table: PfTable, data: list[tuple[int, int, int, int, int, int, int]]
    ) -> None:
        rows: list[dict[str, object]] = []
        for i, (peak, flat, valley, kvarh, max_kw, pf, m) in enumerate(data):
            start, end = MONTHS[m]
            rows.append(
                {
                    "account_id": i + 1,
                    "start": start,
                    "end": end,
                    "active_peak": peak,
                    "active_flat": flat,
                    "active_valley": valley,
                    "active_total": peak + flat + valley,
                    "kvarh": kvarh,
                    "max_kw": max_kw,
                    "capacity_kva": 3_150_000,
                    "contract_kw": 2_000_000,
                    "pf_standard": pf,
                }
            )
        _check(
            _tariff("large-industry-two-part-capacity.yaml", pf_table),
            _tariff("large-industry-two-part-demand.yaml", pf_table),
            rows,
        )

    def test_refuses_a_missing_column(self, pf_table: PfTable) -> None:
        t = _tariff("beijing-residential-monthly.yaml", pf_table)
        cols = _columns([{"account_id": 1, "start": MONTHS[0][0], "end": MONTHS[0][1], "active_total": 1}])
        del cols["kvarh"]
        with pytest.raises(SimulationError, match="kvarh"):
            rate_pair(cols, tariff_from=t, tariff_to=t)

    def test_a_power_factor_standard_without_a_table_is_not_billable_like_the_run(
        self, pf_table: PfTable
    ) -> None:
        t = _tariff("large-industry-two-part-capacity.yaml", pf_table)
        row = {"account_id": 1, "start": MONTHS[0][0], "end": MONTHS[0][1], "active_total": 10_000_000,
               "active_critical": 0, "active_peak": 3_000_000, "active_flat": 4_000_000, "active_valley": 3_000_000, "active_deep_valley": 0, "kvarh": 4_000_000, "max_kw": 2_000_000,
               "capacity_kva": 3_150_000, "pf_standard": 77}  # fmt: skip
        got = rate_pair(
            _columns([row, {**row, "account_id": 2, "pf_standard": 90}]), tariff_from=t, tariff_to=t
        )
        assert got["status"].tolist() == [NOT_BILLABLE_FROM | NOT_BILLABLE_TO, 0]
        assert got["bill_from_fen"][1] == _expected(t, [row, {**row, "account_id": 2, "pf_standard": 90}], 1)
