"""定量定比 sub-uses (core.rating.sub_use): the published illustration of billing-rules-2.md §2.6, a two-part
bill with PF and funds worked out by hand, the split rules, and the PF-from-totals override (pf_kwh) equal
on the exact and the vector path."""

from __future__ import annotations

import copy
import dataclasses
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_vector_equals_exact import assert_same, determinants, tariffs

from wattdesk.core.pf import PfTable
from wattdesk.core.rating.exact import Determinants, RatedBill, rate
from wattdesk.core.rating.sub_use import SubUse, SubUseError, rate_with_sub_uses, split
from wattdesk.core.rating.vector import columns_from_determinants, rate_columns
from wattdesk.core.tariff import Tariff, parse_tariff

JAN = {"start": date(2026, 1, 1), "end": date(2026, 2, 1)}
# periods in tariff order: 峰 peak, 平 flat, 谷 valley (made-up prices of §2.6)
TOU: dict[str, Any] = {
    "code": "LI",
    "name": "大工业",
    "effective_from": "2026-01-01",
    "customer_class": "industrial",
    "energy": {
        "periods": [
            {"key": "peak", "tiers": [{"rate": "0.96"}]},
            {"key": "flat", "tiers": [{"rate": "0.60"}]},
            {"key": "valley", "tiers": [{"rate": "0.24"}]},
        ],
        "schedule": {"weekday": [2] * 8 + [0] * 4 + [1] * 6 + [0] * 4 + [1] * 2},
    },
}
LIGHTING: dict[str, Any] = {
    "code": "GS",
    "name": "一般工商业 照明",
    "effective_from": "2026-01-01",
    "customer_class": "commercial",
    "energy": {"periods": [{"key": "flat", "tiers": [{"rate": "0.70"}]}]},
}
METER = (D(30000), D(45000), D(25000))  # 峰 30 000, 平 45 000, 谷 25 000 = 100 000 kWh


def doc(base: dict[str, Any], **extra: Any) -> dict[str, Any]:
    d = copy.deepcopy(base)
    d.update(copy.deepcopy(extra))
    return d


def tou(pf_table: PfTable | None = None, **extra: Any) -> Tariff:
    return parse_tariff(doc=doc(TOU, **extra), pf_table=pf_table)


def lighting(**extra: Any) -> Tariff:
    return parse_tariff(doc=doc(LIGHTING, **extra))


def sub(mode: str, value: str, deduction: str = "flat_first", **kw: Any) -> SubUse:
    return SubUse(label="照明", tariff=lighting(), mode=mode, value=D(value), deduction=deduction, **kw)  # type: ignore[arg-type]


def by_code(lines: Any) -> dict[str, D]:
    return {ln.code: ln.amount for ln in lines}


class TestPublishedIllustration:
    """billing-rules-2.md §2.6: main meter 峰 30 000 / 平 45 000 / 谷 25 000; 平 0.60, 峰 0.96, 谷 0.24;
    lighting 0.70."""

    def test_fixed_quantity_flat_first_totals_62100(self) -> None:
        bill = rate_with_sub_uses(
            tariff=tou(), det=Determinants(**JAN, kwh_by_period=METER), sub_uses=[sub("fixed_kwh", "3000")]
        )
        # 平 45 000 - 3 000 = 42 000. Main: 30 000 x 0.96 = 28 800; 42 000 x 0.60 = 25 200;
        # 25 000 x 0.24 = 6 000 -> 60 000.00. Lighting 3 000 x 0.70 = 2 100.00. Total 62 100.00.
        assert by_code(bill.lines) == {
            "energy.peak": D("28800.00"),
            "energy.flat": D("25200.00"),
            "energy.valley": D("6000.00"),
            "energy.flat.sub1": D("2100.00"),
        }
        assert [ln.quantity for ln in bill.lines] == [D(30000), D(42000), D(25000), D(3000)]
        assert bill.main.total == D("60000.00")
        assert bill.total == D("62100.00")
        assert bill.kwh == D(100000)
        assert bill.lines[-1].description == "定量 照明 3000 kWh 电度电费 平"

    def test_fixed_quantity_pro_rata_totals_62046(self) -> None:
        bill = rate_with_sub_uses(
            tariff=tou(),
            det=Determinants(**JAN, kwh_by_period=METER),
            sub_uses=[sub("fixed_kwh", "3000", "pro_rata")],
        )
        # deduct 3 000 x 30/100 = 900, x 45/100 = 1 350, x 25/100 = 750:
        # 29 100 x 0.96 = 27 936; 43 650 x 0.60 = 26 190; 24 250 x 0.24 = 5 820 -> 59 946.00;
        # + lighting 2 100.00 = 62 046.00, i.e. 54.00 less than flat-first.
        assert bill.subs[0][0].by_period == (D(900), D(1350), D(750))
        assert bill.main.total == D("59946.00")
        assert bill.total == D("62046.00")

    def test_fixed_ratio_10_percent_pro_rata_totals_62620(self) -> None:
        bill = rate_with_sub_uses(
            tariff=tou(),
            det=Determinants(**JAN, kwh_by_period=METER),
            sub_uses=[sub("fixed_ratio", "10", "pro_rata")],
        )
        # 10 % of 100 000 = 10 000 kWh: deduct 3 000 / 4 500 / 2 500:
        # 27 000 x 0.96 = 25 920; 40 500 x 0.60 = 24 300; 22 500 x 0.24 = 5 400 -> 55 620.00;
        # lighting 10 000 x 0.70 = 7 000.00; total 62 620.00.
        assert bill.main.total == D("55620.00")
        assert bill.total == D("62620.00")
        assert bill.lines[-1].description == "定比 照明 10% 10000 kWh 电度电费 平"

    def test_fixed_ratio_10_percent_flat_first_totals_62800(self) -> None:
        bill = rate_with_sub_uses(
            tariff=tou(), det=Determinants(**JAN, kwh_by_period=METER), sub_uses=[sub("fixed_ratio", "10")]
        )
        # 平 45 000 - 10 000 = 35 000: 28 800 + 35 000 x 0.60 = 21 000 + 6 000 = 55 800.00;
        # + 7 000.00 = 62 800.00.
        assert bill.main.total == D("55800.00")
        assert bill.total == D("62800.00")


class TestTwoPartWithPowerFactorAndFunds:
    """A two-part bill (by hand): basic 1 000 kVA x 20 = 20 000.00; the meter of §2.6 with 60 000 kvarh;
    定量 照明 3 000 kWh, flat first; standard 0.90; a fund at 0.02 元/kWh on industry, 0.019 on lighting."""

    @pytest.fixture
    def bill(self, pf_table: PfTable) -> Any:
        main = tou(
            pf_table,
            basic={"method": "capacity", "rate": "20"},
            power_factor={"standard": "0.90"},
            funds=[{"code": "f", "name": "政府性基金", "rate": "0.02"}],
        )
        light = lighting(funds=[{"code": "f", "name": "政府性基金", "rate": "0.019"}])
        su = SubUse(label="照明", tariff=light, mode="fixed_kwh", value=D(3000))
        det = Determinants(**JAN, kwh_by_period=METER, kvarh=D(60000), capacity_kva=D(1000))
        return rate_with_sub_uses(tariff=main, det=det, sub_uses=[su])

    def test_lines_and_total(self, bill: Any) -> None:
        # PF on the WHOLE meter: 100 000 / sqrt(100 000² + 60 000²) = 0.8575 -> 0.86 -> +2.0 % (on 97 000 kWh
        # alone it would be 0.8505 -> 0.85 -> +2.5 %).
        # PF base = basic 20 000 + main energy 60 000 = 80 000 (lighting outside): 80 000 x 2 % = 1 600.00.
        # Funds on all kWh, each at its own rate: 97 000 x 0.02 = 1 940.00; 3 000 x 0.019 = 57.00.
        # Lighting energy 3 000 x 0.70 = 2 100.00; no basic charge on the sub-use, the basic not reduced.
        # Total 20 000 + 60 000 + 1 600 + 1 940 + 2 100 + 57 = 85 697.00.
        assert by_code(bill.lines) == {
            "energy.peak": D("28800.00"),
            "energy.flat": D("25200.00"),
            "energy.valley": D("6000.00"),
            "basic.capacity": D("20000.00"),
            "pf": D("1600.00"),
            "fund.f": D("1940.00"),
            "energy.flat.sub1": D("2100.00"),
            "fund.f.sub1": D("57.00"),
        }
        assert bill.total == D("85697.00")
        pf = next(ln for ln in bill.lines if ln.code == "pf")
        assert pf.description == "功率因数调整电费(实际0.86, 标准0.90)"
        assert pf.quantity == D(80000)

    def test_sub_use_inside_pf_base_gets_its_own_adjustment(self, pf_table: PfTable) -> None:
        main = tou(pf_table, basic={"method": "capacity", "rate": "20"}, power_factor={"standard": "0.90"})
        su = SubUse(label="照明", tariff=lighting(), mode="fixed_kwh", value=D(3000), in_pf_base=True)
        det = Determinants(**JAN, kwh_by_period=METER, kvarh=D(60000), capacity_kva=D(1000))
        bill = rate_with_sub_uses(tariff=main, det=det, sub_uses=[su])
        # lighting 2 100.00 x 2 % (the meter's PF 0.86) = 42.00 on its own line; main PF 1 600.00 as above
        amounts = by_code(bill.lines)
        assert (amounts["pf"], amounts["pf.sub1"]) == (D("1600.00"), D("42.00"))
        assert bill.total == D("20000") + D("60000") + D("1600") + D("2100") + D("42")

    def test_sub_use_outside_the_pf_calculation_uses_the_main_kwh(self, pf_table: PfTable) -> None:
        main = tou(pf_table, basic={"method": "capacity", "rate": "20"}, power_factor={"standard": "0.90"})
        su = SubUse(label="照明", tariff=lighting(), mode="fixed_kwh", value=D(3000), in_pf_calculation=False)
        det = Determinants(**JAN, kwh_by_period=METER, kvarh=D(60000), capacity_kva=D(1000))
        bill = rate_with_sub_uses(tariff=main, det=det, sub_uses=[su])
        # 97 000 kWh with 60 000 kvarh: PF 0.85 -> +2.5 % of 80 000 = 2 000.00
        assert by_code(bill.lines)["pf"] == D("2000.00")


class TestSplit:
    def test_fixed_quantity_first_then_fixed_ratio_on_the_total(self) -> None:
        ratio = dataclasses.replace(sub("fixed_ratio", "10"), label="居民", tag="sub2")
        parts = split(
            tariff=tou(),
            det=Determinants(**JAN, kwh_by_period=METER),
            sub_uses=[ratio, sub("fixed_kwh", "3000")],
        )
        # 定量 3 000 first, then 定比 10 % of the meter's 100 000 (not of 97 000) = 10 000; both from 平
        assert [(d.sub_use.mode, d.kwh) for d, _t, _det in parts.parts] == [
            ("fixed_kwh", D(3000)),
            ("fixed_ratio", D(10000)),
        ]
        assert parts.main.kwh_by_period == (D(30000), D(32000), D(25000))
        assert parts.main.pf_kwh == D(100000)

    def test_fixed_ratio_rounds_half_up_to_whole_kwh(self) -> None:
        parts = split(
            tariff=lighting(),
            det=Determinants(**JAN, kwh_by_period=(D(1235),)),
            sub_uses=[sub("fixed_ratio", "10")],
        )
        assert parts.parts[0][0].kwh == D(124)  # 123.5 -> 124
        parts = split(
            tariff=lighting(),
            det=Determinants(**JAN, kwh_by_period=(D(1234),)),
            sub_uses=[sub("fixed_ratio", "10")],
        )
        assert parts.parts[0][0].kwh == D(123)  # 123.4 -> 123

    def test_flat_first_moves_on_to_the_other_periods_when_flat_runs_out(self) -> None:
        parts = split(
            tariff=tou(),
            det=Determinants(**JAN, kwh_by_period=(D(300), D(100), D(200))),
            sub_uses=[sub("fixed_kwh", "250")],
        )
        # 平 100 first, then 峰 150 (tariff order after 平: 峰, 谷)
        assert parts.parts[0][0].by_period == (D(150), D(100), D(0))

    def test_priority_list_takes_the_listed_periods_in_order(self) -> None:
        su = sub("fixed_kwh", "250", "priority_list", priority=("valley", "flat"))
        parts = split(
            tariff=tou(), det=Determinants(**JAN, kwh_by_period=(D(300), D(100), D(200))), sub_uses=[su]
        )
        assert parts.parts[0][0].by_period == (D(0), D(50), D(200))

    def test_pro_rata_is_exact_by_largest_remainder(self) -> None:
        parts = split(
            tariff=tou(),
            det=Determinants(**JAN, kwh_by_period=(D(1), D(1), D(1))),
            sub_uses=[sub("fixed_kwh", "1", "pro_rata")],
        )
        # 1/3 each = 0.3333 r 1: the 1 missing 0.0001 goes to the first period (ties: earlier)
        assert parts.parts[0][0].by_period == (D("0.3334"), D("0.3333"), D("0.3333"))
        assert parts.main.kwh == D(2)

    def test_more_than_metered_is_capped_and_flagged(self) -> None:
        parts = split(
            tariff=lighting(),
            det=Determinants(**JAN, kwh_by_period=(D(2000),)),
            sub_uses=[sub("fixed_kwh", "3000")],
        )
        (d, _t, sub_det) = parts.parts[0]
        assert (d.wanted, d.kwh, d.capped) == (D(3000), D(2000), True)
        assert parts.capped == (d,)
        assert parts.main.kwh == 0 and sub_det.kwh == D(2000)

    def test_more_than_metered_with_overflow_error_is_refused(self) -> None:
        with pytest.raises(SubUseError, match="3000 kWh is more than the 2000 kWh left"):
            split(
                tariff=lighting(),
                det=Determinants(**JAN, kwh_by_period=(D(2000),)),
                sub_uses=[sub("fixed_kwh", "3000", overflow="error")],
            )

    def test_unknown_priority_period_is_refused(self) -> None:
        su = sub("fixed_kwh", "10", "priority_list", priority=("deep_valley",))
        with pytest.raises(SubUseError, match="deep_valley"):
            split(tariff=tou(), det=Determinants(**JAN, kwh_by_period=METER), sub_uses=[su])

    def test_a_ratio_above_100_percent_is_refused(self) -> None:
        with pytest.raises(SubUseError):
            sub("fixed_ratio", "101")

    def test_tou_sub_use_tariff_gets_the_deducted_periods(self) -> None:
        su = SubUse(label="居民", tariff=tou(), mode="fixed_kwh", value=D(3000), deduction="pro_rata")
        parts = split(tariff=tou(), det=Determinants(**JAN, kwh_by_period=METER), sub_uses=[su])
        assert parts.parts[0][2].kwh_by_period == (D(900), D(1350), D(750))


class TestPowerFactorFromTotals:
    """``Determinants.pf_kwh`` (PF from the whole meter) gives the same bill on both rating paths."""

    def test_pf_kwh_changes_the_adjustment_on_both_paths(self, pf_table: PfTable) -> None:
        t = tou(pf_table, basic={"method": "capacity", "rate": "20"}, power_factor={"standard": "0.90"})
        det = Determinants(
            **JAN, kwh_by_period=(D(30000), D(42000), D(25000)), kvarh=D(60000), capacity_kva=D(1000)
        )
        whole = dataclasses.replace(det, pf_kwh=D(100000))
        # 97 000 kWh: PF 0.85 -> +2.5 % x 80 000 = 2 000.00; with pf_kwh 100 000: 0.86 -> +2 % = 1 600.00
        assert by_code(rate(tariff=t, det=det).lines)["pf"] == D("2000.00")
        assert by_code(rate(tariff=t, det=whole).lines)["pf"] == D("1600.00")
        res = rate_columns(tariff=t, cols=columns_from_determinants([det, whole]))
        assert dict(res.lines(0))["pf"] == D("2000.00") and dict(res.lines(1))["pf"] == D("1600.00")
        # no consumption on the main use but a metered whole: the adjustment still applies to the basic
        empty = dataclasses.replace(whole, kwh_by_period=(D(0), D(0), D(0)))
        assert by_code(rate(tariff=t, det=empty).lines)["pf"] == D("400.00")  # 20 000 x 2 %
        assert_same(t, [det, whole, empty])

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test_vector_equals_exact_with_pf_kwh(self, pf_table: PfTable, data: st.DataObject) -> None:
        t = data.draw(tariffs(pf_table))
        dets = data.draw(st.lists(determinants(t), min_size=1, max_size=6))
        pf = st.one_of(
            st.none(),
            st.just(D(0)),
            st.decimals(
                min_value=D(0),
                max_value=D(40_000),
                places=data.draw(st.sampled_from([0, 2, 4])),
                allow_nan=False,
            ),
        )
        dets = [dataclasses.replace(d, pf_kwh=data.draw(pf)) for d in dets]
        assert_same(t, dets)

    def test_sub_use_parts_equal_on_both_paths(self, pf_table: PfTable) -> None:
        main = tou(pf_table, basic={"method": "capacity", "rate": "20"}, power_factor={"standard": "0.90"})
        su = SubUse(
            label="照明",
            tariff=lighting(),
            mode="fixed_ratio",
            value=D("12.5"),
            deduction="pro_rata",
            in_pf_base=True,
        )
        det = Determinants(
            **JAN, kwh_by_period=(D("3333.3"), D("4444.4"), D("1111.1")), kvarh=D(5000), capacity_kva=D(630)
        )

        def vector(t: Tariff, d: Determinants) -> RatedBill:
            res = rate_columns(tariff=t, cols=columns_from_determinants([d]))
            exact = rate(tariff=t, det=d)
            assert res.lines(0) == tuple((ln.code, ln.amount) for ln in exact.lines)
            return exact

        a = rate_with_sub_uses(tariff=main, det=det, sub_uses=[su])
        b = rate_with_sub_uses(tariff=main, det=det, sub_uses=[su], rate_one=vector)
        assert a == b


class TestSplitInvariants:
    @settings(max_examples=300, deadline=None)
    @given(
        kwh=st.lists(st.decimals(min_value=D(0), max_value=D(50_000), places=4), min_size=3, max_size=3),
        subs=st.lists(
            st.tuples(
                st.sampled_from(["fixed_kwh", "fixed_ratio"]),
                st.decimals(min_value=D("0.0001"), max_value=D(100), places=4),
                st.sampled_from(["flat_first", "pro_rata", "priority_list"]),
            ),
            min_size=1,
            max_size=3,
        ),
    )
    def test_deductions_never_overdraw_and_add_up(self, kwh: list[D], subs: list[tuple[str, D, str]]) -> None:
        uses = [
            SubUse(
                label=f"u{i}",
                tariff=lighting(),
                mode=mode,  # type: ignore[arg-type]
                value=value if mode == "fixed_ratio" else value * 1000,
                deduction=order,  # type: ignore[arg-type]
                priority=("valley", "peak") if order == "priority_list" else (),
                tag=f"sub{i}",
            )
            for i, (mode, value, order) in enumerate(subs, start=1)
        ]
        det = Determinants(**JAN, kwh_by_period=tuple(kwh))
        parts = split(tariff=tou(), det=det, sub_uses=uses)
        deductions = [d for d, _t, _det in parts.parts]
        assert all(q >= 0 for q in parts.main.kwh_by_period)
        for d in deductions:
            assert sum(d.by_period, D(0)) == d.kwh <= d.wanted
            assert d.capped == (d.kwh < d.wanted)
        # main + sub-uses = the meter, period by period; PF on the whole meter
        for p in range(3):
            assert parts.main.kwh_by_period[p] + sum((d.by_period[p] for d in deductions), D(0)) == kwh[p]
        assert parts.main.pf_kwh == sum(kwh, D(0))
        # 定量 first, then 定比
        modes = [d.sub_use.mode for d in deductions]
        assert modes == sorted(modes, key=["fixed_kwh", "fixed_ratio"].index)
