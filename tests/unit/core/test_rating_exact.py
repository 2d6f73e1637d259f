"""Hand-checked bills for every Chinese rule of the exact rating path (values worked out in the comments)."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import yaml

from wattdesk.core.pf import PfTable
from wattdesk.core.rating.exact import Determinants, RatedBill, RatingError, rate
from wattdesk.core.tariff import Tariff, parse_tariff

CONFIG = Path(__file__).resolve().parents[3] / "src" / "wattdesk" / "config"
JAN = {"start": date(2026, 1, 1), "end": date(2026, 2, 1)}
BASE: dict[str, Any] = {
    "code": "T",
    "name": "测试电价",
    "effective_from": "2026-01-01",
    "customer_class": "industrial",
    "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.5"}]}]},
}


def tariff(pf_table: PfTable | None = None, **overrides: Any) -> Tariff:
    d = copy.deepcopy(BASE)
    d.update(copy.deepcopy(overrides))
    return parse_tariff(doc=d, pf_table=pf_table)


def shipped(name: str, pf_table: PfTable) -> Tariff:
    return parse_tariff(doc=yaml.safe_load((CONFIG / "tariffs" / name).read_text()), pf_table=pf_table)


def amounts(bill: RatedBill) -> dict[str, D]:
    return {ln.code: ln.amount for ln in bill.lines}


class TestMonthlyTiers:
    def test_beijing_500_kwh_fills_three_tiers(self, pf_table: PfTable) -> None:
        t = shipped("beijing-residential-monthly.yaml", pf_table)
        bill = rate(tariff=t, det=Determinants(**JAN, kwh_by_period=(D(500),)))
        # 240 x 0.4883 = 117.192; 160 x 0.5383 = 86.128; 100 x 0.7883 = 78.83
        assert amounts(bill) == {
            "energy.flat.t1": D("117.19"),
            "energy.flat.t2": D("86.13"),
            "energy.flat.t3": D("78.83"),
        }
        assert [ln.quantity for ln in bill.lines] == [D(240), D(160), D(100)]
        assert bill.total == D("282.15")
        assert bill.lines[0].description == "电度电费 平 第1档"

    def test_beijing_within_first_tier(self, pf_table: PfTable) -> None:
        t = shipped("beijing-residential-monthly.yaml", pf_table)
        bill = rate(tariff=t, det=Determinants(**JAN, kwh_by_period=(D(200),)))
        assert bill.total == D("97.66")  # 200 x 0.4883 = 97.66

    def test_thresholds_are_prorated_by_days_when_not_a_calendar_month(self, pf_table: PfTable) -> None:
        t = shipped("beijing-residential-monthly.yaml", pf_table)
        det = Determinants(start=date(2026, 1, 15), end=date(2026, 2, 14), kwh_by_period=(D(300),))
        bill = rate(tariff=t, det=det)
        # 30 days: 240 x 30 x 12 / 365 = 236.71232.. -> 236.7123 kWh in tier 1, 63.2877 in tier 2
        assert [ln.quantity for ln in bill.lines] == [D("236.7123"), D("63.2877")]
        # 236.7123 x 0.4883 = 115.5866; 63.2877 x 0.5383 = 34.0678
        assert bill.total == D("115.59") + D("34.07")


class TestAnnualTiers:
    def test_tiers_times_tou_split_each_period_in_proportion(self, pf_table: PfTable) -> None:
        t = shipped("zhejiang-residential-annual-tou.yaml", pf_table)
        det = Determinants(**JAN, kwh_by_period=(D(200), D(100)), ytd_kwh_before=D(2600))
        bill = rate(tariff=t, det=det)
        # year position 2600 -> 2900: 160 kWh in tier 1 (up to 2760), 140 in tier 2
        # peak 200: 200 x 160/300 = 106.6667, rest 93.3333; valley 100: 53.3333, rest 46.6667
        assert [(ln.code, ln.quantity) for ln in bill.lines] == [
            ("energy.peak.t1", D("106.6667")),
            ("energy.peak.t2", D("93.3333")),
            ("energy.valley.t1", D("53.3333")),
            ("energy.valley.t2", D("46.6667")),
        ]
        # 60.5867 + 57.6800 + 15.3600 + 15.7733
        assert [ln.amount for ln in bill.lines] == [D("60.59"), D("57.68"), D("15.36"), D("15.77")]
        assert bill.total == D("149.40")

    def test_partial_tier_year_prorates_thresholds(self, pf_table: PfTable) -> None:
        t = shipped("zhejiang-residential-annual-tou.yaml", pf_table)
        det = Determinants(
            **JAN, kwh_by_period=(D(150), D(50)), ytd_kwh_before=D(1300), tier_year_fraction=D("0.5")
        )
        bill = rate(tariff=t, det=det)
        # thresholds 1380 / 2400; 1300 -> 1500: 80 kWh in tier 1, 120 in tier 2 (40% / 60%)
        # peak 60 x 0.568 + 90 x 0.618, valley 20 x 0.288 + 30 x 0.338
        assert amounts(bill) == {
            "energy.peak.t1": D("34.08"),
            "energy.peak.t2": D("55.62"),
            "energy.valley.t1": D("5.76"),
            "energy.valley.t2": D("10.14"),
        }
        assert bill.total == D("105.60")

    def test_third_tier_once_the_year_is_past_4800(self, pf_table: PfTable) -> None:
        t = shipped("zhejiang-residential-annual-tou.yaml", pf_table)
        det = Determinants(**JAN, kwh_by_period=(D(100), D(0)), ytd_kwh_before=D(5000))
        assert rate(tariff=t, det=det).total == D("86.80")  # 100 x 0.868


def two_part(reading: str = "excess_over_105", high: Any = None) -> Tariff:
    return tariff(basic={"method": "demand", "rate": 30, "excess_reading": reading, "high_load_factor": high})


class TestDemandBasicCharge:
    def test_within_105_percent_charges_the_contract_value(self) -> None:
        det = Determinants(**JAN, kwh_by_period=(D(0),), max_kw=D(420), contract_kw=D(400))
        assert amounts(rate(tariff=two_part(), det=det)) == {"basic.demand": D("12000.00")}

    def test_charges_double_above_105_percent(self) -> None:
        det = Determinants(**JAN, kwh_by_period=(D(0),), max_kw=D(450), contract_kw=D(400))
        bill = rate(tariff=two_part(), det=det)
        # 420 x 30 = 12600; (450 - 420) x 60 = 1800
        assert amounts(bill) == {"basic.demand": D("12600.00"), "basic.demand.excess": D("1800.00")}
        assert bill.total == D("14400.00")

    def test_excess_over_contract_reading_doubles_everything_above_the_contract(self) -> None:
        det = Determinants(**JAN, kwh_by_period=(D(0),), max_kw=D(450), contract_kw=D(400))
        bill = rate(tariff=two_part("excess_over_contract"), det=det)
        # 400 x 30 = 12000; 50 x 60 = 3000
        assert amounts(bill) == {"basic.demand": D("12000.00"), "basic.demand.excess": D("3000.00")}

    def test_without_contract_charges_actual_demand(self) -> None:
        det = Determinants(**JAN, kwh_by_period=(D(0),), max_kw=D(450))
        assert rate(tariff=two_part(), det=det).total == D("13500.00")

    def test_capacity_method(self) -> None:
        t = tariff(basic={"method": "capacity", "rate": 20})
        det = Determinants(**JAN, kwh_by_period=(D(0),), capacity_kva=D(630))
        assert rate(tariff=t, det=det).total == D("12600.00")

    def test_capacity_method_needs_capacity(self) -> None:
        t = tariff(basic={"method": "capacity", "rate": 20})
        with pytest.raises(RatingError):
            rate(tariff=t, det=Determinants(**JAN, kwh_by_period=(D(0),)))


class TestHighLoadFactorRule:
    def test_260_kwh_per_kva_pays_90_percent(self) -> None:
        t = two_part(high={})
        det = Determinants(
            **JAN, kwh_by_period=(D(260000),), max_kw=D(400), contract_kw=D(400), capacity_kva=D(1000)
        )
        bill = rate(tariff=t, det=det)
        # energy 130000; basic 12000; reduction -1200
        assert amounts(bill) == {
            "energy.flat": D("130000.00"),
            "basic.demand": D("12000.00"),
            "basic.demand.260": D("-1200.00"),
        }

    def test_below_260_kwh_per_kva_pays_in_full(self) -> None:
        t = two_part(high={})
        det = Determinants(
            **JAN, kwh_by_period=(D(259999),), max_kw=D(400), contract_kw=D(400), capacity_kva=D(1000)
        )
        assert "basic.demand.260" not in amounts(rate(tariff=t, det=det))

    def test_threshold_and_factor_are_data(self) -> None:
        t = two_part(high={"kwh_per_kva": 200, "factor": "0.8"})
        det = Determinants(
            **JAN, kwh_by_period=(D(200000),), max_kw=D(400), contract_kw=D(400), capacity_kva=D(1000)
        )
        assert amounts(rate(tariff=t, det=det))["basic.demand.260"] == D("-2400.00")


def pf_tariff(pf_table: PfTable, standard: str) -> Tariff:
    return tariff(
        pf_table,
        basic={"method": "capacity", "rate": 20},
        power_factor={"standard": standard},
        funds=[{"code": "renewable", "name": "可再生能源电价附加", "rate": "0.019"}],
    )


def pf_det(kvarh: str) -> Determinants:
    # energy 1000 x 0.5 = 500, basic 100 kVA x 20 = 2000: PF base 2500 (the fund 19.00 is outside)
    return Determinants(**JAN, kwh_by_period=(D(1000),), kvarh=D(kvarh), capacity_kva=D(100))


class TestPowerFactorAdjustment:
    @pytest.mark.parametrize(
        ("standard", "kvarh", "line"),
        [
            ("0.90", "1333.3333", "625.00"),  # PF 0.60 -> +25%
            ("0.90", "750", "125.00"),  # PF 0.80 -> +5%
            ("0.90", "484.3221", "0.00"),  # PF 0.90 -> 0
            ("0.90", "328.7", "-18.75"),  # PF 0.95 -> -0.75%
            ("0.90", "0", "-18.75"),  # PF 1.00 -> -0.75% (the >=0.95 row)
            ("0.85", "750", "62.50"),  # PF 0.80 -> +2.5%
            ("0.85", "362.9", "-27.50"),  # PF 0.94 -> -1.1%
            ("0.80", "426", "-32.50"),  # PF 0.92 -> -1.3%
            ("0.80", "1333.3333", "250.00"),  # PF 0.60 -> +10%
        ],
    )
    def test_adjusts_basic_plus_energy(self, pf_table: PfTable, standard: str, kvarh: str, line: str) -> None:
        bill = rate(tariff=pf_tariff(pf_table, standard), det=pf_det(kvarh))
        a = amounts(bill)
        assert a["pf"] == D(line)
        assert a["fund.renewable"] == D("19.00")
        assert bill.total == D("2519.00") + D(line)

    def test_without_reactive_energy_there_is_no_adjustment(self, pf_table: PfTable) -> None:
        det = Determinants(**JAN, kwh_by_period=(D(1000),), capacity_kva=D(100))
        assert "pf" not in amounts(rate(tariff=pf_tariff(pf_table, "0.90"), det=det))

    @pytest.mark.parametrize("kvarh", ["0", "250"])
    def test_no_consumption_no_adjustment(self, pf_table: PfTable, kvarh: str) -> None:
        # A two-part bill of basic charge only (1250 kVA x 20 = 25,000.00) with 0 kWh: the power factor is
        # undefined, so there is no adjustment (it was rewarded as PF 1.00: -0.75 % = -187.50).
        det = Determinants(**JAN, kwh_by_period=(D(0),), kvarh=D(kvarh), capacity_kva=D(1250))
        bill = rate(tariff=pf_tariff(pf_table, "0.90"), det=det)
        assert "pf" not in amounts(bill)
        assert bill.total == D("25000.00")

    def test_funds_can_be_put_in_the_base(self, pf_table: PfTable) -> None:
        t = tariff(
            pf_table,
            power_factor={"standard": "0.90", "base": ["energy", "fund"]},
            funds=[{"code": "renewable", "name": "可再生能源电价附加", "rate": "0.019"}],
        )
        # base 500 + 19 = 519; PF 0.60 -> +25% = 129.75
        assert amounts(rate(tariff=t, det=pf_det("1333.3333")))["pf"] == D("129.75")


class TestFunds:
    def test_exempt_class_has_no_fund_line(self, pf_table: PfTable) -> None:
        t = shipped("agricultural-flat.yaml", pf_table)
        bill = rate(tariff=t, det=Determinants(**JAN, kwh_by_period=(D(1000),)))
        # 1000 x 0.465 = 465; reservoir fund 1000 x 0.0062 = 6.20; renewable exempt
        assert amounts(bill) == {"energy.flat": D("465.00"), "fund.reservoir": D("6.20")}


class TestFixedAndMinimum:
    def test_minimum_charge_tops_up(self) -> None:
        t = tariff(minimum={"amount": 80})
        bill = rate(tariff=t, det=Determinants(**JAN, kwh_by_period=(D(100),)))
        assert amounts(bill) == {"energy.flat": D("50.00"), "minimum": D("30.00")}
        assert bill.total == D("80.00")

    def test_minimum_not_reached_adds_nothing(self) -> None:
        t = tariff(minimum={"amount": 80})
        assert rate(tariff=t, det=Determinants(**JAN, kwh_by_period=(D(200),))).total == D("100.00")

    def test_fixed_per_day_on_the_real_calendar_counts_days(self) -> None:
        t = tariff(fixed=[{"code": "meter", "name": "计量装置费", "amount": "0.5", "per": "day"}])
        bill = rate(tariff=t, det=Determinants(**JAN, kwh_by_period=(D(0),)))
        assert amounts(bill) == {"fixed.meter": D("15.50")}  # 31 days

    def test_fixed_per_day_on_the_pysam_calendar_is_365_over_12(self) -> None:
        t = tariff(
            fixed=[{"code": "meter", "name": "计量装置费", "amount": "0.5", "per": "day"}],
            calendar={"semantics": "pysam"},
        )
        bill = rate(tariff=t, det=Determinants(**JAN, kwh_by_period=(D(0),)))
        assert bill.lines[0].rate == D("15.20833333")
        assert bill.total == D("15.21")


class TestRounding:
    def test_per_line_and_per_bill_differ_by_a_fen(self) -> None:
        fixed = [{"code": f"f{i}", "name": f"f{i}", "amount": "0.005"} for i in range(3)]
        per_line = tariff(fixed=fixed, rounding="per_line")
        per_bill = tariff(fixed=fixed, rounding="per_bill")
        det = Determinants(**JAN, kwh_by_period=(D(0),))
        assert rate(tariff=per_line, det=det).total == D("0.03")
        bill = rate(tariff=per_bill, det=det)
        assert bill.total == D("0.02")
        assert sum(ln.amount for ln in bill.lines) == D("0.02")


class TestDeterminantChecks:
    def test_wrong_number_of_periods_is_an_error(self) -> None:
        with pytest.raises(RatingError):
            rate(tariff=tariff(), det=Determinants(**JAN, kwh_by_period=(D(1), D(2))))
