"""Annual tiers on a segmented period (core.rating.segments): the tier-year position before each segment and
the rule-set setting for a 改类 inside the tier year. Hand-computed; pure."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from test_rating_exact import tariff

from wattdesk.core.rating.exact import Determinants, rate
from wattdesk.core.rating.segments import (
    ChangeRuleError,
    ChangeRules,
    Segment,
    annual_positions,
    rate_segments,
)
from wattdesk.core.rating.segments_vector import vector_engine

ANNUAL: dict[str, Any] = {
    "customer_class": "residential",
    "energy": {
        "tier_basis": "annual",
        "periods": [
            {
                "key": "flat",
                "name": "平",
                "tiers": [{"upto": 2040, "rate": "0.51"}, {"upto": 3120, "rate": "0.56"}, {"rate": "0.81"}],
            }
        ],
    },
}


class TestSetting:
    def test_default_is_carry_and_restart_is_accepted(self) -> None:
        assert ChangeRules().annual_tiers_on_reclass == "carry"
        assert (
            ChangeRules.from_document({"annual_tiers_on_reclass": "restart"}).annual_tiers_on_reclass
            == "restart"
        )

    def test_an_unknown_value_names_the_key(self) -> None:
        with pytest.raises(ChangeRuleError) as e:
            ChangeRules.from_document({"annual_tiers_on_reclass": "reset"})
        assert e.value.path == "annual_tiers_on_reclass"


class TestPositions:
    def test_carry_adds_each_earlier_segment(self) -> None:
        # 1 900 before; segments of 300, 400, 50 kWh: 1 900, 2 200, 2 600
        got = annual_positions(
            codes=["A", "B", "B"], kwh=[D(300), D(400), D(50)], ytd_kwh_before=D(1900), rules=ChangeRules()
        )
        assert got == (D(1900), D(2200), D(2600))

    def test_restart_starts_the_new_tariff_at_zero(self) -> None:
        rules = ChangeRules(annual_tiers_on_reclass="restart")
        got = annual_positions(
            codes=["A", "B", "B"], kwh=[D(300), D(400), D(50)], ytd_kwh_before=D(1900), rules=rules
        )
        assert got == (D(1900), D(0), D(400))  # a change of any other value (same code) keeps counting


class TestSameTariffSegments:
    def test_two_segments_bill_as_the_unsegmented_month(self) -> None:
        t = tariff(**ANNUAL)
        mar, mid, apr = date(2026, 3, 1), date(2026, 3, 11), date(2026, 4, 1)
        segs = [
            Segment(start=mar, end=mid, tariff=t, kwh_by_period=(D(300),), ytd_kwh_before=D(1900)),
            Segment(start=mid, end=apr, tariff=t, kwh_by_period=(D(400),), ytd_kwh_before=D(2200)),
        ]
        bill = rate_segments(segments=segs, kvarh=None, period_start=mar, period_end=apr, rules=ChangeRules())
        # 140 × 0.51 = 71.40; 160 × 0.56 = 89.60; 400 × 0.56 = 224.00 → 385.00
        assert [(ln.quantity, ln.amount) for ln in bill.lines] == [
            (D(140), D("71.40")),
            (D(160), D("89.60")),
            (D(400), D("224.00")),
        ]
        whole = rate(
            tariff=t, det=Determinants(start=mar, end=apr, kwh_by_period=(D(700),), ytd_kwh_before=D(1900))
        )
        assert bill.total == whole.total == D("385.00")
        on_vector = rate_segments(
            segments=segs,
            kvarh=None,
            period_start=mar,
            period_end=apr,
            rules=ChangeRules(),
            engine=vector_engine,
        )
        assert [ln.amount for ln in on_vector.lines] == [ln.amount for ln in bill.lines]  # both paths

    def test_the_tier_year_share_scales_the_bounds(self) -> None:
        t = tariff(**ANNUAL)
        mar, apr = date(2026, 3, 1), date(2026, 4, 1)
        # on the tariff from March: 10/12 = 0.8333 of 2 040 = 1 699.9320; 1 800 kWh from 0:
        # 1 699.9320 × 0.51 = 866.965320; 100.0680 × 0.56 = 56.038080 → 866.97 + 56.04 = 923.01
        seg = Segment(start=mar, end=apr, tariff=t, kwh_by_period=(D(1800),), tier_year_fraction=D("0.8333"))
        bill = rate_segments(
            segments=[seg], kvarh=None, period_start=mar, period_end=apr, rules=ChangeRules()
        )
        assert [(ln.quantity, ln.amount) for ln in bill.lines] == [
            (D("1699.9320"), D("866.97")),
            (D("100.0680"), D("56.04")),
        ]
        assert bill.total == D("923.01")
