"""Mid-period changes: the segment combine step (core.rating.segments) on the published cases of
billing-rules-2.md §3.7, with the arithmetic written out."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from wattdesk.core.pf import PfTable
from wattdesk.core.rating.exact import RatingError
from wattdesk.core.rating.segments import (
    ChangeRuleError,
    ChangeRules,
    Segment,
    days_denominator,
    rate_segments,
    split_date,
)
from wattdesk.core.tariff import Tariff, parse_tariff

RULES_1996 = ChangeRules(version="1996", two_year_rule=True)
RULES_1583 = ChangeRules()


def tariff(basic_rate: str, pf_table: PfTable | None = None, **extra: Any) -> Tariff:
    doc: dict[str, Any] = {
        "code": "LI",
        "name": "大工业",
        "effective_from": "2016-01-01",
        "customer_class": "industrial",
        "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.5"}]}]},
        "basic": {"method": "capacity", "rate": basic_rate},
    }
    doc.update(copy.deepcopy(extra))
    return parse_tariff(doc=doc, pf_table=pf_table)


def basic_total(bill: Any) -> D:
    return sum((ln.amount for ln in bill.lines if ln.rule.startswith("basic")), D(0))


class TestPublishedCases:
    def test_new_install_suspended_within_two_years_is_charged_half_under_1996(self) -> None:
        # 1000 + 630 kVA, 15 元/kVA·月, 1000 kVA sealed on 6-11, month-end reading (30-day June).
        # Published: 1000×15 + 630×15 − 1000×15×(30−10)÷30×0.5 = 19 450.
        # Segments: 06-01~06-10: 1630×15×10/30 = 8 150; 06-11~06-30: 630×15×20/30 = 6 300 and the sealed
        # 1000 kVA at 50 %: 1000×7.5×20/30 = 5 000. 8 150 + 6 300 + 5 000 = 19 450.00
        t = tariff("15")
        seal = split_date(effective_on=date(2016, 6, 11), effect="seal", rules=RULES_1996)
        assert seal == date(2016, 6, 11)  # the sealing day is not charged on the old capacity
        segs = [
            Segment(date(2016, 6, 1), seal, t, (D(0),), capacity_kva=D(1630)),
            Segment(seal, date(2016, 7, 1), t, (D(0),), capacity_kva=D(630), sealed_half_kva=D(1000)),
        ]
        bill = rate_segments(
            segments=segs,
            kvarh=None,
            period_start=date(2016, 6, 1),
            period_end=date(2016, 7, 1),
            rules=RULES_1996,
        )
        assert [ln.amount for ln in bill.lines] == [D("8150.00"), D("6300.00"), D("5000.00")]
        assert bill.total == D("19450.00")
        assert "06-11~06-30 20/30天" in bill.lines[1].description
        assert bill.lines[2].rule == "basic.capacity.two_year" and "50%" in bill.lines[2].description

    def test_same_case_under_1583_sealed_part_is_free(self) -> None:
        # 1583: the sealed part is free from the sealing day: 24 450 − 1000×15×20/30 = 14 450
        # (8 150 + 6 300 = 14 450.00).
        t = tariff("15")
        segs = [
            Segment(date(2016, 9, 1), date(2016, 9, 11), t, (D(0),), capacity_kva=D(1630)),
            Segment(date(2016, 9, 11), date(2016, 10, 1), t, (D(0),), capacity_kva=D(630)),
        ]
        bill = rate_segments(
            segments=segs,
            kvarh=None,
            period_start=date(2016, 9, 1),
            period_end=date(2016, 10, 1),
            rules=RULES_1583,
        )
        assert basic_total(bill) == D("14450.00")

    def test_temporary_exchange_315_to_400(self) -> None:
        # 315 kVA, 暂换 to 400 kVA on 5-12, reading day the 24th, 10 元/kVA·月: period 04-24 .. 05-24.
        # 04-24~05-11 = 18 days on 315: 315×18/30×10 = 1 890; 05-12~05-23 = 12 days on 400: 400×12/30×10
        # = 1 600. 1 890 + 1 600 = 3 490.00
        t = tariff("10")
        cut = split_date(effective_on=date(2026, 5, 12), effect="seal", rules=RULES_1583)
        segs = [
            Segment(date(2026, 4, 24), cut, t, (D(0),), capacity_kva=D(315)),
            Segment(cut, date(2026, 5, 24), t, (D(0),), capacity_kva=D(400)),
        ]
        bill = rate_segments(
            segments=segs,
            kvarh=None,
            period_start=date(2026, 4, 24),
            period_end=date(2026, 5, 24),
            rules=RULES_1583,
        )
        assert [ln.amount for ln in bill.lines] == [D("1890.00"), D("1600.00")]
        assert bill.total == D("3490.00")

    def test_mid_month_suspension_by_thirtieths(self) -> None:
        # 2 × 400 kVA, 30 元, one 400 sealed on the 11th of a 30-day month (September):
        # 01~10: 800×30×10/30 = 8 000; 11~30: 400×30×20/30 = 8 000; total 16 000.00
        # (= 400×30 + 400×30×10/30 as published).
        t = tariff("30")
        segs = [
            Segment(date(2026, 9, 1), date(2026, 9, 11), t, (D(0),), capacity_kva=D(800)),
            Segment(date(2026, 9, 11), date(2026, 10, 1), t, (D(0),), capacity_kva=D(400)),
        ]
        bill = rate_segments(
            segments=segs,
            kvarh=None,
            period_start=date(2026, 9, 1),
            period_end=date(2026, 10, 1),
            rules=RULES_1583,
        )
        assert bill.total == D("16000.00")

    def test_mid_month_suspension_by_days_in_month(self) -> None:
        # Same in a 31-day month (October) with actual days: 800×30×10/31 = 7 741.935… → 7 741.94;
        # 400×30×21/31 = 8 129.032… → 8 129.03; 7 741.94 + 8 129.03 = 15 870.97
        # (= 12 000 + 12 000×10/31 = 15 870.97 as published).
        rules = ChangeRules(denominator="days_in_month")
        t = tariff("30")
        segs = [
            Segment(date(2026, 10, 1), date(2026, 10, 11), t, (D(0),), capacity_kva=D(800)),
            Segment(date(2026, 10, 11), date(2026, 11, 1), t, (D(0),), capacity_kva=D(400)),
        ]
        bill = rate_segments(
            segments=segs,
            kvarh=None,
            period_start=date(2026, 10, 1),
            period_end=date(2026, 11, 1),
            rules=rules,
        )
        assert [ln.amount for ln in bill.lines] == [D("7741.94"), D("8129.03")]
        assert bill.total == D("15870.97")

    def test_new_connection_by_thirtieths(self) -> None:
        # 400 kVA, 30 元, energised on the 18th of a 30-day month: 18th..30th = 13 days (part day = 1 day):
        # 400×30×13/30 = 5 200.00
        t = tariff("30")
        on = split_date(effective_on=date(2026, 9, 18), effect="unseal", rules=RULES_1583)
        assert on == date(2026, 9, 18)  # the unsealing day is charged
        segs = [Segment(on, date(2026, 10, 1), t, (D(0),), capacity_kva=D(400))]
        bill = rate_segments(
            segments=segs,
            kvarh=None,
            period_start=date(2026, 9, 1),
            period_end=date(2026, 10, 1),
            rules=RULES_1583,
        )
        assert bill.total == D("5200.00")

    def test_new_connection_by_days_in_month(self) -> None:
        # 31-day month, 18th..31st = 14 days: 400×30×14/31 = 5 419.354… → 5 419.35
        rules = ChangeRules(denominator="days_in_month")
        t = tariff("30")
        segs = [Segment(date(2026, 10, 18), date(2026, 11, 1), t, (D(0),), capacity_kva=D(400))]
        bill = rate_segments(
            segments=segs,
            kvarh=None,
            period_start=date(2026, 10, 1),
            period_end=date(2026, 11, 1),
            rules=rules,
        )
        assert bill.total == D("5419.35")


class TestCombine:
    def test_a_meter_exchange_alone_keeps_the_full_monthly_basic_charge(self) -> None:
        # same capacity on both sides: one run over the whole period → 400×30 = 12 000, not 10/30 + 21/30;
        # energy per segment: 100×0.5 = 50 and 300×0.5 = 150
        t = tariff("30")
        segs = [
            Segment(date(2026, 10, 1), date(2026, 10, 11), t, (D(100),), capacity_kva=D(400)),
            Segment(date(2026, 10, 11), date(2026, 11, 1), t, (D(300),), capacity_kva=D(400)),
        ]
        bill = rate_segments(
            segments=segs,
            kvarh=None,
            period_start=date(2026, 10, 1),
            period_end=date(2026, 11, 1),
            rules=RULES_1583,
        )
        assert [(ln.code, ln.amount) for ln in bill.lines] == [
            ("basic.capacity", D("12000.00")),
            ("energy.flat", D("50.00")),
            ("energy.flat", D("150.00")),
        ]
        assert bill.total == D("12200.00")

    def test_one_power_factor_for_the_month_and_each_segments_own_standard(self, pf_table: PfTable) -> None:
        # 315 kVA on 0.90 until 09-10, then 80 kVA on 0.85 (减容), 20 元/kVA·月, energy 0.5 元/kWh.
        # kWh 10 000 + 20 000 = 30 000, kvarh 20 000: PF = 30000/√(30000²+20000²) = 0.832 → 0.83.
        # Segment 1 base: 315×20×10/30 = 2 100 + 10 000×0.5 = 5 000 → 7 100; 0.90 table at 0.83: +3.5 %
        #   → 7 100 × 0.035 = 248.50
        # Segment 2 base: 80×20×20/30 = 1 066.666… → 1 066.67 + 20 000×0.5 = 10 000 → 11 066.67;
        #   0.85 table at 0.83: +1.0 % → 110.6667 → 110.67
        t90 = tariff("20", pf_table, power_factor={"standard": "0.90"})
        t85 = tariff("20", pf_table, power_factor={"standard": "0.85"})
        segs = [
            Segment(date(2026, 9, 1), date(2026, 9, 11), t90, (D(10000),), capacity_kva=D(315)),
            Segment(date(2026, 9, 11), date(2026, 10, 1), t85, (D(20000),), capacity_kva=D(80)),
        ]
        bill = rate_segments(
            segments=segs,
            kvarh=D(20000),
            period_start=date(2026, 9, 1),
            period_end=date(2026, 10, 1),
            rules=RULES_1583,
        )
        assert bill.power_factor == D("0.83")
        pf_lines = [ln for ln in bill.lines if ln.code == "pf"]
        assert [(ln.quantity, ln.rate, ln.amount) for ln in pf_lines] == [
            (D("7100.00"), D("0.035"), D("248.50")),
            (D("11066.67"), D("0.010"), D("110.67")),
        ]
        assert bill.total == D("2100.00") + D("5000.00") + D("248.50") + D("1066.67") + D("10000.00") + D(
            "110.67"
        )

    def test_overlapping_segments_are_refused(self) -> None:
        t = tariff("30")
        segs = [
            Segment(date(2026, 9, 1), date(2026, 9, 12), t, (D(0),), capacity_kva=D(400)),
            Segment(date(2026, 9, 11), date(2026, 10, 1), t, (D(0),), capacity_kva=D(400)),
        ]
        with pytest.raises(RatingError, match="overlap"):
            rate_segments(
                segments=segs,
                kvarh=None,
                period_start=date(2026, 9, 1),
                period_end=date(2026, 10, 1),
                rules=RULES_1583,
            )


class TestRules:
    def test_defaults_and_parsing(self) -> None:
        r = ChangeRules.from_document(
            {"version": "1996", "two_year_rule": True, "denominator": "days_in_period"}
        )
        assert (r.version, r.two_year_rule, r.two_year_factor, r.denominator) == (
            "1996",
            True,
            D("0.5"),
            "days_in_period",
        )
        assert days_denominator(rules=r, start=date(2026, 4, 24), end=date(2026, 5, 24)) == 30
        assert (
            days_denominator(
                rules=ChangeRules(denominator="days_in_month"), start=date(2026, 2, 1), end=date(2026, 3, 1)
            )
            == 28
        )
        assert days_denominator(rules=ChangeRules(), start=date(2026, 2, 1), end=date(2026, 3, 1)) == 30

    @pytest.mark.parametrize(
        ("doc", "path"),
        [
            ({"denominator": "31"}, "denominator"),
            ({"sealing_day_charged": "no"}, "sealing_day_charged"),
            ({"suspension_min_days": -1}, "suspension_min_days"),
            ({"bogus": 1}, "bogus"),
            ({"two_year_factor": "2"}, "two_year_factor"),
        ],
    )
    def test_bad_documents_name_the_key(self, doc: dict[str, Any], path: str) -> None:
        with pytest.raises(ChangeRuleError) as err:
            ChangeRules.from_document(doc)
        assert err.value.path == path

    def test_day_semantics_switch(self) -> None:
        rules = ChangeRules(sealing_day_charged=True, unsealing_day_charged=False)
        assert split_date(effective_on=date(2026, 9, 11), effect="seal", rules=rules) == date(2026, 9, 12)
        assert split_date(effective_on=date(2026, 9, 11), effect="unseal", rules=rules) == date(2026, 9, 12)
        assert split_date(effective_on=date(2026, 9, 11), effect="neutral", rules=rules) == date(2026, 9, 11)
