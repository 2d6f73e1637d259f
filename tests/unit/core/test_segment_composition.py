"""The pure pieces that let issue 9's rules compose on a segmented bill (core.rating.segments): a 定量's share
of each segment and a 一户多人口 uplift prorated like the segment's tier bounds. Arithmetic written out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from wattdesk.core.rating.segments import (
    ChangeRuleError,
    ChangeRules,
    fixed_kwh_shares,
    segment_uplift,
)
from wattdesk.core.tariff import parse_tariff

MARCH = (date(2026, 3, 1), date(2026, 4, 1))  # 31 days


def tiered(proration: str) -> object:
    return parse_tariff(
        doc={
            "code": "BJ",
            "name": "居民",
            "effective_from": "2012-07-01",
            "customer_class": "residential",
            "energy": {
                "tier_basis": "monthly",
                "proration": proration,
                "periods": [
                    {
                        "key": "flat",
                        "name": "平",
                        "tiers": [
                            {"upto": 240, "rate": "0.4883"},
                            {"upto": 400, "rate": "0.5383"},
                            {"rate": "0.7883"},
                        ],
                    }
                ],
            },
        }
    )


class TestFixedKwhShares:
    def test_by_days_the_last_segment_takes_the_rest(self) -> None:
        # 3 000 x 10 / 31 = 967.7419; 3 000 − 967.7419 = 2 032.2581 (the month bills exactly 3 000)
        spans = [(date(2026, 3, 1), date(2026, 3, 11)), (date(2026, 3, 11), date(2026, 4, 1))]
        shares = fixed_kwh_shares(
            value=D(3000), spans=spans, period_start=MARCH[0], period_end=MARCH[1], rules=ChangeRules()
        )
        assert shares == (D("967.7419"), D("2032.2581"))

    def test_days_out_of_service_carry_no_share(self) -> None:
        # in service 03-01~03-10 and 03-21~03-31: 3 000 x 10/31 = 967.7419 and 3 000 x 11/31 = 1 064.5161
        spans = [(date(2026, 3, 1), date(2026, 3, 11)), (date(2026, 3, 21), date(2026, 4, 1))]
        shares = fixed_kwh_shares(
            value=D(3000), spans=spans, period_start=MARCH[0], period_end=MARCH[1], rules=ChangeRules()
        )
        assert shares == (D("967.7419"), D("1064.5161"))

    def test_last_segment_rule(self) -> None:
        rules = ChangeRules.from_document({"sub_use_fixed_kwh": "last_segment"})
        spans = [(date(2026, 3, 1), date(2026, 3, 11)), (date(2026, 3, 11), date(2026, 4, 1))]
        shares = fixed_kwh_shares(
            value=D(3000), spans=spans, period_start=MARCH[0], period_end=MARCH[1], rules=rules
        )
        assert shares == (D(0), D(3000))

    def test_an_unknown_rule_names_the_key(self) -> None:
        with pytest.raises(ChangeRuleError, match="sub_use_fixed_kwh: must be one of by_days, last_segment"):
            ChangeRules.from_document({"sub_use_fixed_kwh": "by_weight"})


class TestSegmentUplift:
    def test_average_month_prorates_like_the_bounds(self) -> None:
        # 14 days: 100 x 14 x 12 / 365 = 16 800 / 365 = 46.0274 (the bound 240 -> 110.4658)
        t = tiered("average_month")
        assert segment_uplift(
            uplift=(D(100), D(100)), tariff=t, start=date(2026, 2, 1), end=date(2026, 2, 15)
        ) == (
            D("46.0274"),
            D("46.0274"),
        )

    def test_a_calendar_month_or_no_proration_keeps_the_whole_amount(self) -> None:
        whole = (D(100), D(100))
        t = tiered("average_month")
        assert segment_uplift(uplift=whole, tariff=t, start=date(2026, 2, 1), end=date(2026, 3, 1)) == whole
        t = tiered("none")
        assert segment_uplift(uplift=whole, tariff=t, start=date(2026, 2, 1), end=date(2026, 2, 15)) == whole
        assert segment_uplift(uplift=(), tariff=t, start=date(2026, 2, 1), end=date(2026, 2, 15)) == ()


class TestMinimumCharge:
    def tariff(self, per: str) -> object:
        return parse_tariff(
            doc={
                "code": "AG",
                "name": "农业",
                "effective_from": "2020-01-01",
                "customer_class": "agricultural",
                "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.4650"}]}]},
                "minimum": {"amount": "30", "per": per},
            }
        )

    def bill(self, per: str, kwh: tuple[str, str]) -> object:
        from wattdesk.core.rating.segments import Segment, rate_segments

        t = self.tariff(per)
        cut = date(2026, 3, 11)
        segments = [
            Segment(MARCH[0], cut, t, (D(kwh[0]),), capacity_kva=D(8)),
            Segment(cut, MARCH[1], t, (D(kwh[1]),), capacity_kva=D(12)),
        ]
        return rate_segments(
            segments=segments, kvarh=None, period_start=MARCH[0], period_end=MARCH[1], rules=ChangeRules()
        )

    def test_a_small_segmented_bill_is_topped_up_to_the_month_floor(self) -> None:
        # 20 x 0.4650 = 9.30; 30 x 0.4650 = 13.95; 23.25 < 30.00 -> top-up 6.75
        bill = self.bill("month", ("20", "30"))
        assert [(ln.code, ln.amount) for ln in bill.lines] == [  # type: ignore[attr-defined]
            ("energy.flat", D("9.30")),
            ("energy.flat", D("13.95")),
            ("minimum", D("6.75")),
        ]
        assert bill.total == D("30.00")  # type: ignore[attr-defined]

    def test_a_bill_above_the_floor_or_a_per_year_minimum_gets_no_top_up(self) -> None:
        # 40 x 0.4650 = 18.60 + 30 x 0.4650 = 13.95 = 32.55 >= 30.00
        assert [ln.code for ln in self.bill("month", ("40", "30")).lines] == ["energy.flat", "energy.flat"]  # type: ignore[attr-defined]
        # per day: 30 x 31 days = 930.00 floor; 23.25 -> top-up 906.75
        assert self.bill("day", ("20", "30")).total == D("930.00")  # type: ignore[attr-defined]
        # a per-year minimum is a December top-up on the year's charges: not on a segmented bill
        assert self.bill("year", ("20", "30")).total == D("23.25")  # type: ignore[attr-defined]
