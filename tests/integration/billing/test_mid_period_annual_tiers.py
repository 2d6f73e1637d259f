"""Annual tiers (年阶梯) on a period split by a mid-period change (issue 9, loose end of part 4): the clerk
records a 改类 from one annual-tier tariff to another through POST /api/service-changes, the readings come in
through the readings API, the billing run bills the period by segments with the tier-year position kept.
A 改类 inside the tier year follows the rule set's ``annual_tiers_on_reclass`` (default ``carry``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from test_mid_period_changes import SH, Site, lines

from wattdesk.application.billing import run as uc
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.changes.models import ChangeRuleSet
from wattdesk.domain.tariffs.models import TariffVersion

pytestmark = pytest.mark.django_db


def annual(code: str, rates: tuple[str, str, str]) -> dict[str, Any]:
    """黑龙江's published annual tiers (2 040 / 3 120 kWh a year); the prices are illustrative."""
    return {
        "code": code,
        "name": f"居民年阶梯 {code}",
        "effective_from": "2024-01-01",
        "customer_class": "residential",
        "energy": {
            "tier_basis": "annual",
            "periods": [
                {
                    "key": "flat",
                    "name": "平",
                    "tiers": [
                        {"upto": 2040, "rate": rates[0]},
                        {"upto": 3120, "rate": rates[1]},
                        {"rate": rates[2]},
                    ],
                }
            ],
        },
    }


@pytest.fixture
def site(db: None) -> Site:
    s = Site()
    for code, rates in (("RES-A", ("0.51", "0.56", "0.81")), ("RES-B", ("0.60", "0.65", "0.90"))):
        TariffVersion.objects.create(
            code=code, version="1", effective_from=date(2024, 1, 1), name=code, document=annual(code, rates)
        )
    return s


def reclassed_in_march(site: Site) -> Bill:
    """An account on RES-A billed for January and February (1 900 kWh of the tier year), 改类 to RES-B on
    2026-03-11, readings x 10: 02-28 190, 03-11 220 (the 改类 day's reading closes the first segment), 03-31 260."""
    acc = site.account(tariff="RES-A")
    sp = acc.service_points.get()
    site.readings("M000010", ("2025-12-31", "active_total", "0"), ("2026-01-31", "active_total", "100"))
    uc.run_billing(period="2026-01", run_at=datetime(2026, 2, 2, 8, tzinfo=SH))
    site.readings("M000010", ("2026-02-28", "active_total", "190"))
    uc.run_billing(period="2026-02", run_at=datetime(2026, 3, 2, 8, tzinfo=SH))
    assert sorted(Bill.objects.filter(account=acc).values_list("period", "kwh")) == [
        ("2026-01", D("1000.0000")),
        ("2026-02", D("900.0000")),
    ]
    r = site.post_change(
        account=acc.number, service_point=sp.number, kind="reclass", effective_on="2026-03-11",
        tariff_code="RES-B", reason="改类",
    )  # fmt: skip
    assert r.status_code == 201, r.content
    site.readings("M000010", ("2026-03-11", "active_total", "220"), ("2026-03-31", "active_total", "260"))
    result = uc.run_billing(period="2026-03", run_at=datetime(2026, 4, 2, 8, tzinfo=SH))
    assert result.billed + result.held == 1, result.skipped
    return Bill.objects.get(account=acc, period="2026-03")


class TestReclassBetweenAnnualTariffs:
    def test_the_tier_year_position_goes_on_across_the_change_by_default(self, site: Site) -> None:
        assert ChangeRuleSet.objects.get(code="1583").document["annual_tiers_on_reclass"] == "carry"  # seeded
        bill = reclassed_in_march(site)
        # year to date before March: 1 000 + 900 = 1 900 kWh (whole tier year on the tariff: bounds 2 040 / 3 120)
        # segment 1 (RES-A, 03-01~03-10): (220 − 190) × 10 = 300 kWh from position 1 900:
        #   tier 1 2 040 − 1 900 = 140 × 0.51 = 71.40; tier 2 160 × 0.56 = 89.60
        # segment 2 (RES-B, 03-11~03-31): (260 − 220) × 10 = 400 kWh from position 1 900 + 300 = 2 200:
        #   all tier 2 (2 200..2 600 ≤ 3 120): 400 × 0.65 = 260.00
        assert lines(bill) == [
            ("energy.flat.t1", D("140.0000"), D("0.510000"), D("71.40")),
            ("energy.flat.t2", D("160.0000"), D("0.560000"), D("89.60")),
            ("energy.flat.t2", D("400.0000"), D("0.650000"), D("260.00")),
        ]
        # 71.40 + 89.60 + 260.00 = 421.00
        assert (bill.total, bill.kwh) == (D("421.00"), D("700.0000"))

    def test_restart_counts_the_new_tariff_from_zero_on_the_rest_of_the_tier_year(self, site: Site) -> None:
        rules = ChangeRuleSet.objects.get(code="1583")
        rules.document = {**rules.document, "annual_tiers_on_reclass": "restart"}
        rules.save()
        bill = reclassed_in_march(site)
        # segment 1 as above: 71.40 + 89.60
        # segment 2 (RES-B from 03-11): position 0, bounds × (12 − 2 months before March) / 12 = 0.8333:
        #   2 040 × 0.8333 = 1 699.9320; 400 kWh all tier 1: 400 × 0.60 = 240.00
        assert lines(bill) == [
            ("energy.flat.t1", D("140.0000"), D("0.510000"), D("71.40")),
            ("energy.flat.t2", D("160.0000"), D("0.560000"), D("89.60")),
            ("energy.flat.t1", D("400.0000"), D("0.600000"), D("240.00")),
        ]
        # 71.40 + 89.60 + 240.00 = 401.00
        assert bill.total == D("401.00")
