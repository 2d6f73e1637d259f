"""Per-account tier quotas (一户多人口): the uplift of a grant per billing period (core.rating.quota) and the
hand-computed bills with widened tiers (exact path), plus the property test keeping the vector path equal.

Cases from billing-rules-2.md §6.5 (黑龙江 7 persons: 2856 / 3936; Guangdong-style from April: 3660 / 5700),
a monthly-tier case (北京-style 240 / 400 +100 = 340 / 500) and a mid-year grant on annual tiers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rating_exact import amounts, shipped, tariff
from test_vector_equals_exact import assert_same, determinants, tariffs

from wattdesk.core.pf import PfTable
from wattdesk.core.rating.exact import Determinants, RatingError, rate
from wattdesk.core.rating.quota import QuotaError, QuotaGrant, grant_uplift, tier_uplift

APR = date(2026, 4, 1)

# 黑龙江 annual tiers as published (2040 / 3120 kWh per year); prices 0.51 / +0.05 / +0.30 are illustrative.
HLJ: dict[str, Any] = {
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


def month(y: int, m: int) -> dict[str, date]:
    return {"start": date(y, m, 1), "end": date(y + (m == 12), m % 12 + 1, 1)}


def uplift(g: QuotaGrant, y: int, m: int, basis: str = "annual", n: int = 2) -> tuple[D, ...]:
    return tier_uplift(grants=[g], period_start=date(y, m, 1), tier_basis=basis, boundaries=n)


class TestGrantUplift:
    def test_monthly_tiers_get_one_month_in_covered_months_only(self) -> None:
        g = QuotaGrant(valid_from=APR, valid_to=date(2028, 4, 1), uplift_kwh=D(100))
        assert uplift(g, 2026, 3, "monthly") == ()
        assert uplift(g, 2026, 4, "monthly") == (D(100), D(100))
        assert uplift(g, 2028, 3, "monthly") == (D(100), D(100))
        assert uplift(g, 2028, 4, "monthly") == ()  # valid_to is the first month without it

    def test_a_billing_period_belongs_to_the_month_it_starts_in(self) -> None:
        g = QuotaGrant(valid_from=APR, valid_to=None, uplift_kwh=D(100))
        # period 2026-03-15 .. 2026-04-15 is the March period: not covered
        assert grant_uplift(grant=g, period_start=date(2026, 3, 15), tier_basis="monthly") == 0
        assert grant_uplift(grant=g, period_start=date(2026, 4, 15), tier_basis="monthly") == 100

    def test_per_year_on_monthly_tiers_is_a_twelfth(self) -> None:
        # 黑龙江 7 persons: (7 - 5) x 408 = 816 kWh per year -> 816 / 12 = 68 kWh per month
        g = QuotaGrant(valid_from=APR, valid_to=None, uplift_kwh=D(816), unit="per_year")
        assert uplift(g, 2026, 5, "monthly") == (D(68), D(68))

    def test_guangdong_from_april_remaining_months_on_annual_tiers(self) -> None:
        # +100 per month from April, no end: 9 months of 2026 -> 900 from the April bill to December
        g = QuotaGrant(valid_from=APR, valid_to=None, uplift_kwh=D(100))
        assert uplift(g, 2026, 3) == ()  # before its first month the year is not widened
        assert uplift(g, 2026, 4) == (D(900), D(900))
        assert uplift(g, 2026, 12) == (D(900), D(900))
        assert uplift(g, 2027, 1) == (D(1200), D(1200))  # a whole tier year

    def test_to_date_mode_accrues_month_by_month(self) -> None:
        g = QuotaGrant(valid_from=APR, valid_to=None, uplift_kwh=D(100), annual_mode="to_date")
        assert uplift(g, 2026, 4) == (D(100), D(100))
        assert uplift(g, 2026, 5) == (D(200), D(200))
        assert uplift(g, 2026, 12) == (D(900), D(900))  # the same December boundary as remaining_months

    def test_validity_ending_inside_a_tier_year_counts_the_covered_months(self) -> None:
        # two years from 2026-04: 2027 whole (1200), 2028 January-March (300)
        g = QuotaGrant(valid_from=APR, valid_to=date(2028, 4, 1), uplift_kwh=D(100))
        assert uplift(g, 2027, 6) == (D(1200), D(1200))
        assert uplift(g, 2028, 1) == (D(300), D(300))
        assert uplift(g, 2028, 11) == (D(300), D(300))  # the months it covered stay in the year's boundary

    def test_an_early_end_changes_only_the_months_from_it_on(self) -> None:
        # granted from April, open; ended from August (household moved out)
        g = QuotaGrant(valid_from=APR, valid_to=None, uplift_kwh=D(100), ended_from=date(2026, 8, 1))
        # months before the end are rated as granted (9 x 100), so a billed month re-rates as it was billed
        assert uplift(g, 2026, 4) == (D(900), D(900))
        assert uplift(g, 2026, 7) == (D(900), D(900))
        # from August: the months actually covered, April-July = 400
        assert uplift(g, 2026, 8) == (D(400), D(400))
        assert uplift(g, 2027, 1) == ()
        assert uplift(g, 2026, 7, "monthly") == (D(100), D(100))
        assert uplift(g, 2026, 8, "monthly") == ()
        to_date = QuotaGrant(
            valid_from=APR,
            valid_to=None,
            uplift_kwh=D(100),
            annual_mode="to_date",
            ended_from=date(2026, 8, 1),
        )
        assert uplift(to_date, 2026, 7) == (D(400), D(400))
        assert uplift(to_date, 2026, 12) == (D(400), D(400))

    def test_heilongjiang_per_year_prorated_by_covered_months(self) -> None:
        whole = QuotaGrant(
            valid_from=date(2026, 1, 1), valid_to=date(2027, 1, 1), uplift_kwh=D(816), unit="per_year"
        )
        assert uplift(whole, 2026, 12) == (D(816), D(816))
        # from April: 816 x 9 / 12 = 612
        late = QuotaGrant(valid_from=APR, valid_to=date(2027, 4, 1), uplift_kwh=D(816), unit="per_year")
        assert uplift(late, 2026, 7) == (D(612), D(612))

    def test_tier1_only_widens_the_first_boundary(self) -> None:
        g = QuotaGrant(valid_from=APR, valid_to=None, uplift_kwh=D(100), tiers="tier1")
        assert uplift(g, 2026, 4) == (D(900), D(0))

    def test_grants_add_up_and_tier_year_may_start_in_july(self) -> None:
        a = QuotaGrant(valid_from=APR, valid_to=None, uplift_kwh=D(100))
        b = QuotaGrant(valid_from=date(2026, 8, 1), valid_to=None, uplift_kwh=D(50), tiers="tier1")
        # tier year 2026-07 .. 2027-06: a covers 12 months (1200), b covers 11 from August (550)
        got = tier_uplift(
            grants=[a, b],
            period_start=date(2026, 9, 1),
            tier_basis="annual",
            boundaries=2,
            tier_year_start_month=7,
        )
        assert got == (D(1750), D(1200))
        # in July b is not in force yet
        got = tier_uplift(
            grants=[a, b],
            period_start=date(2026, 7, 1),
            tier_basis="annual",
            boundaries=2,
            tier_year_start_month=7,
        )
        assert got == (D(1200), D(1200))

    def test_bad_grants_are_refused(self) -> None:
        with pytest.raises(QuotaError):
            QuotaGrant(valid_from=date(2026, 4, 2), valid_to=None, uplift_kwh=D(100))
        with pytest.raises(QuotaError):
            QuotaGrant(valid_from=APR, valid_to=APR, uplift_kwh=D(100))
        with pytest.raises(QuotaError):
            QuotaGrant(valid_from=APR, valid_to=None, uplift_kwh=D(-1))
        with pytest.raises(QuotaError):
            QuotaGrant(valid_from=APR, valid_to=None, uplift_kwh=D(1), ended_from=APR)


class TestRatingWithUplift:
    def test_heilongjiang_seven_persons_2856_3936(self, pf_table: PfTable) -> None:
        t = tariff(pf_table, **HLJ)
        # 7 persons: (7 - 5) x 408 = 816; tier 1 <= 2040 + 816 = 2856, tier 2 upper 3120 + 816 = 3936.
        # December: 2800 kWh billed before, 1200 this month -> position 2800 .. 4000:
        #   tier 1: 2856 - 2800 = 56 x 0.51 = 28.56
        #   tier 2: 3936 - 2856 = 1080 x 0.56 = 604.80
        #   tier 3: 4000 - 3936 = 64 x 0.81 = 51.84        total 685.20
        det = Determinants(
            **month(2026, 12),
            kwh_by_period=(D(1200),),
            ytd_kwh_before=D(2800),
            tier_uplift_kwh=(D(816), D(816)),
        )
        bill = rate(tariff=t, det=det)
        assert [ln.quantity for ln in bill.lines] == [D(56), D(1080), D(64)]
        assert amounts(bill) == {
            "energy.flat.t1": D("28.56"),
            "energy.flat.t2": D("604.80"),
            "energy.flat.t3": D("51.84"),
        }
        assert bill.total == D("685.20")
        # without the quota: tier 2 = 3120 - 2800 = 320 x 0.56 = 179.20; tier 3 = 880 x 0.81 = 712.80
        plain = rate(
            tariff=t, det=Determinants(**month(2026, 12), kwh_by_period=(D(1200),), ytd_kwh_before=D(2800))
        )
        assert plain.total == D("892.00")

    def test_guangdong_style_from_april_3660_5700(self, pf_table: PfTable) -> None:
        t = shipped("zhejiang-residential-annual.yaml", pf_table)
        # annual 2760 / 4800 at 0.538 / 0.588 / 0.838; +100 kWh/month on every boundary from April: +900
        # -> 3660 / 5700. May: 3500 kWh billed before, 2300 this month -> position 3500 .. 5800:
        #   tier 1: 3660 - 3500 = 160 x 0.538 = 86.08
        #   tier 2: 5700 - 3660 = 2040 x 0.588 = 1199.52
        #   tier 3: 5800 - 5700 = 100 x 0.838 = 83.80        total 1369.40
        det = Determinants(
            **month(2026, 5),
            kwh_by_period=(D(2300),),
            ytd_kwh_before=D(3500),
            tier_uplift_kwh=(D(900), D(900)),
        )
        bill = rate(tariff=t, det=det)
        assert [ln.quantity for ln in bill.lines] == [D(160), D(2040), D(100)]
        assert bill.total == D("1369.40")

    def test_monthly_tiers_beijing_style_340_500(self, pf_table: PfTable) -> None:
        t = shipped("beijing-residential-monthly.yaml", pf_table)
        # 240 / 400 + 100 = 340 / 500 (as Beijing's own 6-person tiers 1~340 / 341~500); 520 kWh:
        #   340 x 0.4883 = 166.022 -> 166.02; 160 x 0.5383 = 86.128 -> 86.13; 20 x 0.7883 = 15.766 -> 15.77
        det = Determinants(**month(2026, 4), kwh_by_period=(D(520),), tier_uplift_kwh=(D(100), D(100)))
        bill = rate(tariff=t, det=det)
        assert [ln.quantity for ln in bill.lines] == [D(340), D(160), D(20)]
        assert bill.total == D("267.92")

    def test_uplift_is_added_after_the_average_month_proration(self, pf_table: PfTable) -> None:
        t = shipped("beijing-residential-monthly.yaml", pf_table)
        # 2026-01-15 .. 2026-02-15 = 31 days: 240 x 31 x 12 / 365 = 244.6027 (+100 = 344.6027);
        # 400 x 372 / 365 = 407.6712 (+100 = 507.6712); 400 kWh stay in tier 1... up to 344.6027:
        #   t1 344.6027, t2 400 - 344.6027 = 55.3973
        det = Determinants(
            start=date(2026, 1, 15),
            end=date(2026, 2, 15),
            kwh_by_period=(D(400),),
            tier_uplift_kwh=(D(100), D(100)),
        )
        bill = rate(tariff=t, det=det)
        assert [ln.quantity for ln in bill.lines] == [D("344.6027"), D("55.3973")]

    def test_mid_year_grant_keeps_the_annual_position(self, pf_table: PfTable) -> None:
        t = shipped("zhejiang-residential-annual.yaml", pf_table)
        # January-March billed 2900 kWh without a quota: March's bill put 140 kWh in tier 2 (2760 .. 2900).
        march = rate(
            tariff=t,
            det=Determinants(**month(2026, 3), kwh_by_period=(D(1000),), ytd_kwh_before=D(1900)),
        )
        # 1900 .. 2900: tier 1 860 x 0.538 = 462.68; tier 2 140 x 0.588 = 82.32
        assert [ln.quantity for ln in march.lines] == [D(860), D(140)]
        # April, quota from April (+900 -> 3660): the position stays 2900, so April's 1000 kWh are
        # tier 1 up to 3660 (760 x 0.538 = 408.88) and tier 2 (240 x 0.588 = 141.12); March's 140 stay in tier 2.
        april = rate(
            tariff=t,
            det=Determinants(
                **month(2026, 4),
                kwh_by_period=(D(1000),),
                ytd_kwh_before=D(2900),
                tier_uplift_kwh=(D(900), D(900)),
            ),
        )
        assert [ln.quantity for ln in april.lines] == [D(760), D(240)]
        assert april.total == D("550.00")

    def test_tou_periods_share_the_widened_boundary(self, pf_table: PfTable) -> None:
        t = shipped("zhejiang-residential-annual-tou.yaml", pf_table)
        # peak 600 + valley 400 = 1000 kWh, position 3000 .. 4000, boundary 2760 + 900 = 3660:
        # tier 1 width 660, tier 2 width 340, split by period in proportion:
        #   peak t1 = 600 x 660 / 1000 = 396, peak t2 = 204; valley t1 = 264, valley t2 = 136
        det = Determinants(
            **month(2026, 6),
            kwh_by_period=(D(600), D(400)),
            ytd_kwh_before=D(3000),
            tier_uplift_kwh=(D(900), D(900)),
        )
        bill = rate(tariff=t, det=det)
        assert {ln.code: ln.quantity for ln in bill.lines} == {
            "energy.peak.t1": D(396),
            "energy.peak.t2": D(204),
            "energy.valley.t1": D(264),
            "energy.valley.t2": D(136),
        }

    def test_negative_uplift_is_refused(self, pf_table: PfTable) -> None:
        t = shipped("zhejiang-residential-annual.yaml", pf_table)
        with pytest.raises(RatingError):
            rate(
                tariff=t, det=Determinants(**month(2026, 4), kwh_by_period=(D(1),), tier_uplift_kwh=(D(-1),))
            )


uplifts = st.lists(
    st.one_of(
        st.just(D(0)),
        st.sampled_from([D(100), D(900), D(816), D(612), D("68.0000"), D("0.00004"), D("1E+9")]),
        st.decimals(min_value=D(0), max_value=D(5000), places=4, allow_nan=False),
    ),
    min_size=0,
    max_size=4,
).map(tuple)


class TestVectorEqualsExactWithUplift:
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test_vector_equals_exact(self, pf_table: PfTable, data: st.DataObject) -> None:
        t = data.draw(tariffs(pf_table))
        dets = [
            replace(d, tier_uplift_kwh=data.draw(uplifts))
            for d in data.draw(st.lists(determinants(t), min_size=1, max_size=8))
        ]
        assert_same(t, dets)

    def test_a_widened_row_next_to_a_plain_one(self, pf_table: PfTable) -> None:
        t = shipped("zhejiang-residential-annual-tou.yaml", pf_table)
        base = Determinants(**month(2026, 6), kwh_by_period=(D(600), D(400)), ytd_kwh_before=D(3000))
        widened = replace(base, tier_uplift_kwh=(D(900), D(900)))
        assert_same(t, [base, widened, replace(base, tier_uplift_kwh=(D(900),))])
