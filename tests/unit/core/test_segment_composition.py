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
