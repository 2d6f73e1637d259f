"""Tariff coverage (issue 9 part 9), pure: URDB records on register readings, the PF standard as written."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from wattdesk.application.billing.determinants import NotBillable, build, energy_by_period, seasonal_period
from wattdesk.core.pf import PfTable
from wattdesk.core.rating.exact import Determinants, rate
from wattdesk.core.tariff import TariffError, parse_tariff
from wattdesk.core.urdb import PERIOD_KEYS_FIELD, tariff_from_urdb

URDB = Path(__file__).resolve().parents[2] / "fixtures" / "urdb-tariffs"


def record(name: str) -> dict[str, Any]:
    doc = json.loads((URDB / f"{name}.json").read_text())
    return doc[0] if isinstance(doc, list) else doc


class TestSeasonalUrdbOnATotalRegister:
    def test_the_month_decides_the_one_period(self) -> None:
        t = tariff_from_urdb(record=record("jemc_a_senior"))  # winter p1 Jan-Apr, Oct-Dec; summer p2 May-Sep
        assert seasonal_period(tariff=t, start=date(2026, 3, 1), end=date(2026, 4, 1)) == 0
        assert seasonal_period(tariff=t, start=date(2026, 7, 1), end=date(2026, 8, 1)) == 1
        # a window across the season change (billing day 15, April 15 to May 15) has two periods
        assert seasonal_period(tariff=t, start=date(2026, 4, 15), end=date(2026, 5, 15)) is None
        kwh = energy_by_period(
            tariff=t, kwh_by_kind={"active_total": D(1200)}, start=date(2026, 7, 1), end=date(2026, 8, 1)
        )
        assert kwh == (D(0), D(1200))

    def test_a_true_tou_record_needs_its_registers(self) -> None:
        t = tariff_from_urdb(record=record("psco_re_tou"))
        with pytest.raises(NotBillable) as err:
            energy_by_period(
                tariff=t, kwh_by_kind={"active_total": D(100)}, start=date(2026, 7, 1), end=date(2026, 8, 1)
            )
        assert err.value.reason == "tou_registers"


class TestUrdbPeriodKeys:
    def test_names_the_register_of_each_period(self) -> None:
        rec = record("dom_va_gs3")  # two energy periods
        rec[PERIOD_KEYS_FIELD] = ["valley", "peak"]
        t = tariff_from_urdb(record=rec)
        assert [p.key for p in t.energy.periods] == ["valley", "peak"]
        kwh = energy_by_period(tariff=t, kwh_by_kind={"active_valley": D(300), "active_peak": D(100)})
        assert kwh == (D(300), D(100))
        # 总 - 谷 = 峰 also works: 400 - 300 = 100
        assert energy_by_period(tariff=t, kwh_by_kind={"active_total": D(400), "active_valley": D(300)}) == (
            D(300),
            D(100),
        )

    @pytest.mark.parametrize(
        ("keys", "message"),
        [
            (["valley"], "wattdesk_period_keys: must name 2 periods, names 1"),
            (["valley", "night"], "wattdesk_period_keys[1]: not a TOU period key 'night'"),
            (["peak", "peak"], "wattdesk_period_keys[1]: duplicate period key 'peak'"),
        ],
    )
    def test_bad_keys_name_the_field(self, keys: list[str], message: str) -> None:
        rec = copy.deepcopy(record("dom_va_gs3"))
        rec[PERIOD_KEYS_FIELD] = keys
        with pytest.raises(TariffError) as err:
            tariff_from_urdb(record=rec)
        assert str(err.value).startswith(message)


class TestPowerFactorStandardAsWritten:
    def test_a_090_standard_read_from_json_as_0_9_prints_0_90(self, pf_table: PfTable) -> None:
        doc = {
            "code": "T",
            "name": "测试",
            "effective_from": "2026-01-01",
            "customer_class": "industrial",
            "energy": {"periods": [{"key": "flat", "tiers": [{"rate": "0.5"}]}]},
            "power_factor": {"standard": 0.9},  # what yaml.safe_load / json give for "0.90"
        }
        t = parse_tariff(doc=doc, pf_table=pf_table)
        det = Determinants(
            start=date(2026, 1, 1), end=date(2026, 2, 1), kwh_by_period=(D(1000),), kvarh=D(750)
        )
        pf = next(ln for ln in rate(tariff=t, det=det).lines if ln.code == "pf")
        # PF = 1000 / sqrt(1000² + 750²) = 0.80 at standard 0.90: +5 % of 500.00 = 25.00
        assert pf.description == "功率因数调整电费(实际0.80, 标准0.90)"
        assert (pf.rule, pf.amount) == ("pf.0.90", D("25.0000"))


class TestTouDemandFromRegisters:
    def tariff(self) -> Any:
        rec = record("fpl_gsldt1")
        rec["wattdesk_period_keys"] = ["valley", "peak"]
        rec["wattdesk_demand_period_keys"] = ["valley", "peak"]
        return tariff_from_urdb(record=rec)

    def test_the_demand_periods_come_from_max_demand_registers(self) -> None:
        det = build(
            tariff=self.tariff(),
            start=date(2026, 3, 1),
            end=date(2026, 4, 1),
            kwh_by_kind={"active_peak": D(2000), "active_valley": D(4000)},
            kvarh=None,
            max_kw=None,
            capacity_kva=None,
            contract_kw=None,
            pf_assessed=False,
            max_kw_by_kind={"max_demand_peak": D(100), "max_demand_valley": D(60)},
        )
        assert (det.kwh_by_period, det.max_kw_by_period, det.max_kw) == (
            (D(4000), D(2000)),
            (D(60), D(100)),
            D(100),
        )
        # the rating (shared by both paths: the vector columns carry max_kw_by_period as the interval path does)
        bill = rate(tariff=self.tariff(), det=det)
        # 192.08 + 143.18 + 60 x 2.85 + 100 x 14.87 + 88.67 = 2081.93
        assert bill.total == D("2081.93")

    def test_a_missing_period_register_is_not_billable(self) -> None:
        with pytest.raises(NotBillable) as err:
            build(
                tariff=self.tariff(),
                start=date(2026, 3, 1),
                end=date(2026, 4, 1),
                kwh_by_kind={"active_peak": D(2000), "active_valley": D(4000)},
                kvarh=None,
                max_kw=D(100),
                capacity_kva=None,
                contract_kw=None,
                pf_assessed=False,
                max_kw_by_kind={"max_demand_peak": D(100)},
            )
        assert (err.value.reason, err.value.detail) == (
            "tou_demand",
            "no maximum-demand register read for TOU demand period(s) valley (max_demand_valley)",
        )
