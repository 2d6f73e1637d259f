"""Issue 9's rules composed on a segmented bill (变更用电), end to end as the clerks enter them: tariff and
onboarding files, the change, the transformer archive and the tier quota through the API, readings files, the
billing run. The issue's motivating example first: a 减容 that replaces the transformer mid-month, each segment
carrying its own 变损 (billing-rules-2.md §3.5); then a 一户多人口 quota on a monthly-tier household whose
month is split by a change (the month's uplift prorated to each segment like the tier bounds).
"""

from __future__ import annotations

import importlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.application.billing import run as billing
from wattdesk.application.customers.onboarding import import_accounts
from wattdesk.application.metering.readings_import import import_readings
from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.domain.access import roles
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.billing.models import Bill, BillLine
from wattdesk.domain.customers.models import HouseholdQuotaPolicy
from wattdesk.interfaces.api.tokens import create_token

pytestmark = pytest.mark.db

SH = ZoneInfo("Asia/Shanghai")
D = Decimal
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=SH)

# a two-part tariff: basic 20 元/kVA·月 by capacity, flat energy 0.6 元/kWh, PF on basic + energy (0.90),
# one fund outside the PF base
TWO_PART = """\
code: SEG-2P
name: 两部制(分段变损测试)
effective_from: 2024-01-01
customer_class: industrial
currency: CNY
rounding: per_line
energy:
  periods:
    - {key: flat, name: 平, tiers: [{rate: 0.6}]}
basic:
  method: capacity
  rate: 20
power_factor:
  standard: 0.90
  base: [basic, energy]
funds:
  - {code: renewable, name: 可再生能源电价附加, rate: 0.019}
"""
BJ_TARIFF = (
    Path(__file__).resolve().parents[3] / "src/wattdesk/config/tariffs/beijing-residential-monthly.yaml"
)

ONBOARDING = (
    "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,"
    "region,voltage_kv,capacity_kva,pf_standard,meter_serial,registers,tariff_code,tariff_from\n"
    "CS1,东风机械厂,industrial,AS1,2025-01-01,SPS1,工业路9号,R-SEG,10,630,0.90,MS1,active_total;reactive,"
    "SEG-2P,2025-01-01\n"
    "CS2,王家,residential,AS2,2025-01-01,SPS2,幸福路9号,R-SEG,0.22,8,,MS2,active_total,BJ-RES-TIER,2025-01-01\n"
)

# nameplates (S11-M series, 10 kV, Dyn11)
M630 = {
    "code": "S11-M-630/10",
    "series": "S11",
    "capacity_kva": "630",
    "p0_kw": "0.81",
    "pk_dyn11_kw": "6.2",
    "i0_percent": "0.6",
    "uk_percent": "4.5",
    "effective_from": "2020-01-01",
    "source": "nameplate",
}
M200 = {
    **M630,
    "code": "S11-M-200/10",
    "capacity_kva": "200",
    "p0_kw": "0.34",
    "pk_dyn11_kw": "2.6",
    "i0_percent": "0.9",
    "uk_percent": "4",
}
TRANSFORMER = {
    "number": "TR-S1",
    "model_code": "S11-M-630/10",
    "service_points": ["SPS1"],
    "effective_from": "2025-01-01",
    "vector_group": "Dyn11",
    "correction_k": "1",
    "loss_method": "formula",
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, body, content_type="application/json")


def read(tmp_path: Path, day: str, rows: list[tuple[str, str, int]]) -> None:
    text = "meter_serial,register,read_on,value\n" + "".join(f"{m},{r},{day},{v}\n" for m, r, v in rows)
    d = date.fromisoformat(day)
    import_readings(
        path=write(tmp_path, f"r-{day}.csv", text),
        as_of=d,
        imported_at=datetime(d.year, d.month, d.day, 18, 0, tzinfo=SH),
    )


def lines(account: str, period: str) -> list[tuple[str, Decimal, Decimal]]:
    bill = Bill.objects.get(account__number=account, period=period)
    return [(ln.code, ln.quantity, ln.amount) for ln in BillLine.objects.filter(bill=bill).order_by("seq")]


@pytest.fixture
def clerk(db: None) -> Client:
    user = get_user_model().objects.create_user(username="clerk-seg", password="x")
    grant_role(user=user, role=roles.BILLING_CLERK)
    token = create_token(username="clerk-seg", name="segments", created_at=NOW)
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


@pytest.fixture
def site(db: None, tmp_path: Path) -> Path:
    seed = importlib.import_module("wattdesk.domain.customers.migrations.0005_household_quota_policies")
    for row in seed.POLICIES:
        HouseholdQuotaPolicy.objects.get_or_create(
            code=row["code"], effective_from=row["effective_from"], defaults=row
        )
    import_tariff_files(paths=[write(tmp_path, "seg-2p.yaml", TWO_PART), BJ_TARIFF])
    import_accounts(path=write(tmp_path, "onboarding.csv", ONBOARDING))
    return tmp_path


class TestReductionWithTransformerExchangeAndLoss:
    def test_each_segment_carries_the_loss_of_its_own_transformer(self, clerk: Client, site: Path) -> None:
        assert post(clerk, "/api/transformers/models", M630).status_code == 201
        assert post(clerk, "/api/transformers/models", M200).status_code == 201
        assert post(clerk, "/api/transformers", TRANSFORMER).status_code == 201
        # 减容 630 -> 200 kVA on 2026-03-11: the 630 kVA transformer is replaced by a 200 kVA one that day
        r = post(
            clerk,
            "/api/service-changes",
            {
                "account": "AS1",
                "service_point": "SPS1",
                "kind": "reduction",
                "effective_on": "2026-03-11",
                "capacity_kva": "200",
                "reason": "永久性减容, 更换 200 kVA 变压器",
            },
        )
        assert r.status_code == 201, r.content
        r = post(
            clerk,
            "/api/transformers",
            {**TRANSFORMER, "model_code": "S11-M-200/10", "effective_from": "2026-03-11"},
        )
        assert r.status_code == 201, r.content
        read(site, "2026-02-28", [("MS1", "active_total", 10000), ("MS1", "reactive", 5000)])
        read(site, "2026-03-11", [("MS1", "active_total", 15000), ("MS1", "reactive", 9000)])
        read(site, "2026-03-31", [("MS1", "active_total", 30000), ("MS1", "reactive", 20000)])

        result = billing.run_billing(period="2026-03", run_at=datetime(2026, 4, 2, 8, tzinfo=SH), workers=1)
        assert result.billed + result.held == 1, result.skipped

        # segment 1, 03-01~03-10 on the 630 kVA transformer: metered 5 000 kWh, 4 000 kvarh; T = 24 x 10 = 240 h
        #   S² = 5000² + 4000² = 41 000 000
        #   ΔA = 0.81 x 240 + 6.2 x 41 000 000 / (240 x 630²) = 194.4 + 2.6686 = 197.07 -> 197 kWh
        #   ΔQ = 0.6 % x 630 x 240 + 4.5 % x 41 000 000 / (240 x 630) = 907.2 + 12.2024 = 919.40 -> 919 kvarh
        #   basic 630 x 20 x 10/30 = 4 200.00; energy 5 197 x 0.6 = 3 118.20; fund 5 197 x 0.019 = 98.743 -> 98.74
        # segment 2, 03-11~03-31 on the 200 kVA transformer: 15 000 kWh, 11 000 kvarh; T = 24 x 21 = 504 h
        #   S² = 15000² + 11000² = 346 000 000
        #   ΔA = 0.34 x 504 + 2.6 x 346 000 000 / (504 x 200²) = 171.36 + 44.6230 = 215.98 -> 216 kWh
        #   ΔQ = 0.9 % x 200 x 504 + 4 % x 346 000 000 / (504 x 200) = 907.2 + 137.3016 = 1 044.50 -> 1 045 kvarh
        #   basic 200 x 20 x 21/30 = 2 800.00; energy 15 216 x 0.6 = 9 129.60; fund 15 216 x 0.019 = 289.104 -> 289.10
        # one PF for the month with the loss: kWh 5 197 + 15 216 = 20 413; kvarh 4 000 + 919 + 11 000 + 1 045 = 16 964
        #   20 413 / √(20 413² + 16 964²) = 20 413 / 26 541.8 = 0.769 -> 0.77; standard 0.90 -> +6.5 %
        #   segment 1: 7 318.20 x 6.5 % = 475.683 -> 475.68; segment 2: 11 929.60 x 6.5 % = 775.424 -> 775.42
        assert lines("AS1", "2026-03") == [
            ("basic.capacity", D("630.0000"), D("4200.00")),
            ("energy.flat", D("5197.0000"), D("3118.20")),
            ("fund.renewable", D("5197.0000"), D("98.74")),
            ("pf", D("7318.2000"), D("475.68")),
            ("basic.capacity", D("200.0000"), D("2800.00")),
            ("energy.flat", D("15216.0000"), D("9129.60")),
            ("fund.renewable", D("15216.0000"), D("289.10")),
            ("pf", D("11929.6000"), D("775.42")),
            ("loss.active", D("197.0000"), D("0.00")),
            ("loss.reactive", D("919.0000"), D("0.00")),
            ("loss.active", D("216.0000"), D("0.00")),
            ("loss.reactive", D("1045.0000"), D("0.00")),
        ]
        bill = Bill.objects.get(account__number="AS1", period="2026-03")
        # 4 200 + 3 118.20 + 98.74 + 475.68 + 2 800 + 9 129.60 + 289.10 + 775.42 = 20 886.74
        assert (bill.total, bill.kwh) == (D("20886.74"), D("20413.0000"))
        texts = list(
            BillLine.objects.filter(bill=bill, code="loss.active").values_list("description", flat=True)
        )
        assert texts == [
            "[变更前 03-01~] 变损电量 (TR-S1, 240 h)",
            "[减容 03-11~] 变损电量 (TR-S1, 504 h)",
        ]


class TestQuotaOnASegmentedMonth:
    def test_the_month_uplift_is_prorated_to_each_segment_like_the_tier_bounds(
        self, clerk: Client, site: Path
    ) -> None:
        r = post(
            clerk,
            "/api/tier-quotas",
            {"account": "AS2", "persons": 5, "applied_on": "2026-01-10", "evidence": "户口簿 5人 同一住址"},
        )
        assert r.status_code == 201, r.content
        assert r.json()["valid_from"] == "2026-02"  # default policy: +100 kWh a month on every boundary
        r = post(
            clerk,
            "/api/service-changes",
            {
                "account": "AS2",
                "service_point": "SPS2",
                "kind": "increase",
                "effective_on": "2026-02-15",
                "capacity_kva": "12",
                "reason": "增容",
            },
        )
        assert r.status_code == 201, r.content
        read(site, "2026-01-31", [("MS2", "active_total", 0)])
        read(site, "2026-02-15", [("MS2", "active_total", 200)])
        read(site, "2026-02-28", [("MS2", "active_total", 450)])

        result = billing.run_billing(period="2026-02", run_at=datetime(2026, 3, 2, 8, tzinfo=SH), workers=1)
        assert result.billed + result.held == 1, result.skipped

        # two segments of 14 days (02-01~02-14, 02-15~02-28), average-month proration f = 14 x 12 / 365:
        #   bounds 240 x 168 / 365 = 110.4658, 400 x 168 / 365 = 184.1096
        #   uplift 100 x 168 / 365 = 46.0274 on each -> 156.4932 and 230.1370
        # segment 1, 200 kWh: tier 1 156.4932 x 0.4883 = 76.4156 -> 76.42; tier 2 43.5068 x 0.5383 = 23.4197 -> 23.42
        # segment 2, 250 kWh: tier 1 156.4932 -> 76.42; tier 2 230.1370 - 156.4932 = 73.6438 x 0.5383 = 39.6425
        #   -> 39.64; tier 3 250 - 230.1370 = 19.8630 x 0.7883 = 15.6580 -> 15.66
        # (without the quota the bounds would be 110.4658 / 184.1096)
        got = lines("AS2", "2026-02")
        assert [(c, q, a) for c, q, a in got if c.startswith("energy")] == [
            ("energy.flat.t1", D("156.4932"), D("76.42")),
            ("energy.flat.t2", D("43.5068"), D("23.42")),
            ("energy.flat.t1", D("156.4932"), D("76.42")),
            ("energy.flat.t2", D("73.6438"), D("39.64")),
            ("energy.flat.t3", D("19.8630"), D("15.66")),
        ]
        assert [c for c, _q, _a in got if c.startswith("note")] == ["note.tier_quota"]
        bill = Bill.objects.get(account__number="AS2", period="2026-02")
        # 76.42 + 23.42 + 76.42 + 39.64 + 15.66 = 231.56
        assert (bill.total, bill.kwh) == (D("231.56"), D("450.0000"))
        note = BillLine.objects.get(bill=bill, code="note.tier_quota").description
        assert "+100 kWh" in note


class TestAdjustmentOfABillWithLoss:
    def test_a_wrong_reading_is_re_rated_with_the_loss_of_the_corrected_kwh(
        self, clerk: Client, site: Path
    ) -> None:
        from wattdesk.application.billing import review

        assert post(clerk, "/api/transformers/models", M630).status_code == 201
        assert post(clerk, "/api/transformers", TRANSFORMER).status_code == 201
        read(site, "2026-03-31", [("MS1", "active_total", 10000), ("MS1", "reactive", 5000)])
        read(site, "2026-04-30", [("MS1", "active_total", 30000), ("MS1", "reactive", 20000)])
        at = datetime(2026, 5, 2, 8, tzinfo=SH)
        billing.run_billing(period="2026-04", run_at=at, workers=1)
        bill = Bill.objects.get(account__number="AS1", period="2026-04")
        if bill.status == "held":
            review.approve_bill(bill_id=bill.pk, user=None, approved_at=at)
        review.issue_bills(
            period="2026-04", user=None, issued_at=at, issued_on=at.date(), include_held_approved=True
        )
        # April, whole month (720 h) on 630 kVA: metered 20 000 kWh, 15 000 kvarh; S² = 625 000 000
        #   ΔA = 0.81 x 720 + 6.2 x 625 000 000 / (720 x 630²) = 583.2 + 13.5599 = 596.76 -> 597
        #   ΔQ = 0.6 % x 630 x 720 + 4.5 % x 625 000 000 / (720 x 630) = 2 721.6 + 62.0040 = 2 783.60 -> 2 784
        #   basic 630 x 20 = 12 600.00; energy 20 597 x 0.6 = 12 358.20; fund 20 597 x 0.019 = 391.343 -> 391.34
        #   PF 20 597 / √(20 597² + 17 784²) = 0.757 -> 0.76, standard 0.90 -> +7.0 %:
        #   24 958.20 x 7 % = 1 747.074 -> 1 747.07; total 27 096.61
        assert Bill.objects.get(pk=bill.pk).total == D("27096.61")

        # the reader misread: the meter advanced 22 000 kWh. Re-rated with the loss of the corrected kWh:
        #   S² = 22 000² + 15 000² = 709 000 000
        #   ΔA = 583.2 + 6.2 x 709 000 000 / (720 x 630²) = 583.2 + 15.3824 = 598.58 -> 599
        #   ΔQ = 2 721.6 + 4.5 % x 709 000 000 / (720 x 630) = 2 721.6 + 70.3373 = 2 791.94 -> 2 792
        #   energy 22 599 x 0.6 = 13 559.40; fund 22 599 x 0.019 = 429.381 -> 429.38
        #   PF 22 599 / √(22 599² + 17 792²) = 0.786 -> 0.79 -> +5.5 %: 26 159.40 x 5.5 % = 1 438.767 -> 1 438.77
        # per line: basic 0; energy 13 559.40 − 12 358.20 = +1 201.20; fund 429.38 − 391.34 = +38.04;
        #   PF 1 438.77 − 1 747.07 = −308.30; 退补 1 201.20 + 38.04 − 308.30 = 930.94 (补收)
        r = post(
            clerk,
            "/api/adjustments",
            {
                "bill_id": bill.pk,
                "error_type": "wrong_reading",
                "reason_code": "抄错",
                "reason": "抄表员误抄",
                "inputs": {"correct_kwh": "22000"},
            },
        )
        assert r.status_code == 201, r.content
        doc = r.json()
        assert (D(doc["kwh_difference"]), D(doc["amount"])) == (D(2000), D("930.94"))
        changed = {
            (D(ln["original_amount"]), D(ln["corrected_amount"]), D(ln["amount"]))
            for ln in doc["lines"]
            if D(ln["amount"])
        }
        assert changed == {
            (D("12358.20"), D("13559.40"), D("1201.20")),
            (D("391.34"), D("429.38"), D("38.04")),
            (D("1747.07"), D("1438.77"), D("-308.30")),
        }


# 定量定比: billing-rules-2.md §2.6 on a two-part bill (as tests/functional/api/test_sub_use_api.py)
SUB_MAIN = """\
code: LI-TOU
name: 大工业两部制 (§2.6 示例价)
effective_from: 2024-01-01
customer_class: industrial
energy:
  periods:
    - {key: peak, name: 峰, tiers: [{rate: 0.96}]}
    - {key: flat, name: 平, tiers: [{rate: 0.60}]}
    - {key: valley, name: 谷, tiers: [{rate: 0.24}]}
  schedule:
    weekday: [2, 2, 2, 2, 2, 2, 2, 2, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2]
basic: {method: capacity, rate: 20}
power_factor: {standard: 0.90, base: [basic, energy]}
funds:
  - {code: fund, name: 政府性基金, rate: 0.02}
"""
SUB_LIGHTING = """\
code: GS-LIGHT
name: 一般工商业 照明
effective_from: 2020-01-01
customer_class: commercial
energy:
  periods:
    - {key: flat, name: 平, tiers: [{rate: 0.70}]}
funds:
  - {code: fund, name: 政府性基金, rate: 0.019}
"""
SUB_ONBOARDING = (
    "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,"
    "region,voltage_kv,capacity_kva,pf_standard,meter_serial,registers,tariff_code,tariff_from\n"
    "CU1,机械厂,industrial,AU1,2024-01-01,SPU1,工业路1号,R1,10,1000,0.90,MU1,"
    "active_total;active_peak;active_valley;reactive,LI-TOU,2024-01-01\n"
)


class TestAdjustmentOfABillWithASubUse:
    def test_a_wrong_reading_is_re_rated_with_the_lighting_sub_use(
        self, clerk: Client, tmp_path: Path
    ) -> None:
        from wattdesk.application.billing import review

        import_tariff_files(
            paths=[write(tmp_path, "main.yaml", SUB_MAIN), write(tmp_path, "light.yaml", SUB_LIGHTING)]
        )
        import_accounts(path=write(tmp_path, "onboarding.csv", SUB_ONBOARDING))
        r = post(
            clerk,
            "/api/sub-uses",
            {
                "service_point": "SPU1",
                "label": "照明",
                "tariff_code": "GS-LIGHT",
                "mode": "fixed_kwh",
                "value": "3000",
                "effective_from": "2026-03-01",
                "reviewed_on": "2025-06-30",
            },
        )
        assert r.status_code == 201, r.content
        regs = ("active_total", "active_peak", "active_valley", "reactive")
        read(tmp_path, "2026-02-25", [("MU1", k, 1000) for k in regs])
        read(
            tmp_path,
            "2026-03-25",
            [("MU1", k, v) for k, v in zip(regs, (101000, 31000, 26000, 61000), strict=True)],
        )
        at = datetime(2026, 4, 2, 8, tzinfo=SH)
        billing.run_billing(period="2026-03", run_at=at, workers=1)
        bill = Bill.objects.get(account__number="AU1", period="2026-03")
        if bill.status == "held":
            review.approve_bill(bill_id=bill.pk, user=None, approved_at=at)
        review.issue_bills(
            period="2026-03", user=None, issued_at=at, issued_on=at.date(), include_held_approved=True
        )
        # as billed (§2.6): 峰 30 000 x 0.96 = 28 800.00; 平 45 000 − 3 000 照明 = 42 000 x 0.60 = 25 200.00;
        #   谷 25 000 x 0.24 = 6 000.00; basic 1 000 x 20 = 20 000.00; PF 0.86 on 0.90 +2 % of 80 000 = 1 600.00;
        #   fund 97 000 x 0.02 = 1 940.00; 照明 3 000 x 0.70 = 2 100.00 + 3 000 x 0.019 = 57.00 -> 85 697.00
        assert Bill.objects.get(pk=bill.pk).total == D("85697.00")

        # the meter advanced 110 000 kWh: +10 000 spread over the periods 3 000 / 4 500 / 2 500; the 定量 照明
        # stays 3 000 kWh, taken from 平 again:
        #   峰 33 000 x 0.96 = 31 680.00 (+2 880.00); 平 49 500 − 3 000 = 46 500 x 0.60 = 27 900.00 (+2 700.00);
        #   谷 27 500 x 0.24 = 6 600.00 (+600.00); PF 110 000 / √(110 000² + 60 000²) = 0.878 -> 0.88, +1 % of
        #   20 000 + 66 180 = 86 180 -> 861.80 (−738.20); fund 107 000 x 0.02 = 2 140.00 (+200.00); 照明 unchanged
        #   退补 2 880 + 2 700 + 600 − 738.20 + 200 = 5 641.80
        r = post(
            clerk,
            "/api/adjustments",
            {
                "bill_id": bill.pk,
                "error_type": "wrong_reading",
                "reason_code": "抄错",
                "reason": "抄表员误抄",
                "inputs": {"correct_kwh": "110000"},
            },
        )
        assert r.status_code == 201, r.content
        doc = r.json()
        assert (D(doc["kwh_difference"]), D(doc["amount"])) == (D(10000), D("5641.80"))
        changed = {
            (D(ln["original_amount"]), D(ln["corrected_amount"]), D(ln["amount"]))
            for ln in doc["lines"]
            if D(ln["amount"])
        }
        assert changed == {
            (D("28800.00"), D("31680.00"), D("2880.00")),
            (D("25200.00"), D("27900.00"), D("2700.00")),
            (D("6000.00"), D("6600.00"), D("600.00")),
            (D("1600.00"), D("861.80"), D("-738.20")),
            (D("1940.00"), D("2140.00"), D("200.00")),
        }


class TestSubUseOnASegmentedMonth:
    def test_the_fixed_quantity_is_shared_by_days_and_each_segment_splits_its_own_kwh(
        self, clerk: Client, tmp_path: Path
    ) -> None:
        import_tariff_files(
            paths=[write(tmp_path, "main.yaml", SUB_MAIN), write(tmp_path, "light.yaml", SUB_LIGHTING)]
        )
        import_accounts(path=write(tmp_path, "onboarding.csv", SUB_ONBOARDING))
        body = {
            "service_point": "SPU1",
            "label": "照明",
            "tariff_code": "GS-LIGHT",
            "mode": "fixed_kwh",
            "value": "3000",
            "effective_from": "2026-03-01",
            "reviewed_on": "2025-06-30",
        }
        assert post(clerk, "/api/sub-uses", body).status_code == 201
        r = post(
            clerk,
            "/api/service-changes",
            {
                "account": "AU1",
                "service_point": "SPU1",
                "kind": "reduction",
                "effective_on": "2026-03-11",
                "capacity_kva": "630",
                "reason": "永久性减容",
            },
        )
        assert r.status_code == 201, r.content
        regs = ("active_total", "active_peak", "active_valley", "reactive")
        for day, values in (
            ("2026-02-28", (1000, 1000, 1000, 1000)),
            ("2026-03-11", (31000, 10000, 9000, 21000)),
            ("2026-03-31", (101000, 31000, 26000, 61000)),
        ):
            read(tmp_path, day, [("MU1", k, v) for k, v in zip(regs, values, strict=True)])
        result = billing.run_billing(period="2026-03", run_at=datetime(2026, 4, 2, 8, tzinfo=SH), workers=1)
        assert result.billed + result.held == 1, result.skipped
        # 定量 照明 3 000 kWh a month shared by days (ChangeRules.sub_use_fixed_kwh "by_days", the default):
        #   03-01~03-10: 3 000 x 10 / 31 = 967.7419; 03-11~03-31: 3 000 − 967.7419 = 2 032.2581
        # segment 1 (1 000 kVA): 总 30 000, 峰 9 000, 谷 8 000 -> 平 13 000 − 967.7419 = 12 032.2581
        #   basic 1 000 x 20 x 10/30 = 6 666.67; 峰 9 000 x 0.96 = 8 640.00; 平 12 032.2581 x 0.60 = 7 219.35;
        #   谷 8 000 x 0.24 = 1 920.00; fund 29 032.2581 x 0.02 = 580.65
        # segment 2 (630 kVA): 总 70 000, 峰 21 000, 谷 17 000 -> 平 32 000 − 2 032.2581 = 29 967.7419
        #   basic 630 x 20 x 21/30 = 8 820.00; 峰 20 160.00; 平 29 967.7419 x 0.60 = 17 980.65; 谷 4 080.00;
        #   fund 67 967.7419 x 0.02 = 1 359.35
        # one PF on the whole meter (照明 inside the PF calculation): 100 000 kWh, 60 000 kvarh -> 0.86, +2 %:
        #   segment 1: (6 666.67 + 8 640 + 7 219.35 + 1 920) = 24 446.02 x 2 % = 488.92
        #   segment 2: (8 820 + 20 160 + 17 980.65 + 4 080) = 51 040.65 x 2 % = 1 020.81
        # 照明 on its own tariff: 967.7419 x 0.70 = 677.42, x 0.019 = 18.39; 2 032.2581 x 0.70 = 1 422.58,
        #   x 0.019 = 38.61
        assert lines("AU1", "2026-03") == [
            ("basic.capacity", D(1000), D("6666.67")),
            ("energy.peak", D(9000), D("8640.00")),
            ("energy.flat", D("12032.2581"), D("7219.35")),
            ("energy.valley", D(8000), D("1920.00")),
            ("fund.fund", D("29032.2581"), D("580.65")),
            ("pf", D("24446.02"), D("488.92")),
            ("basic.capacity", D(630), D("8820.00")),
            ("energy.peak", D(21000), D("20160.00")),
            ("energy.flat", D("29967.7419"), D("17980.65")),
            ("energy.valley", D(17000), D("4080.00")),
            ("fund.fund", D("67967.7419"), D("1359.35")),
            ("pf", D("51040.65"), D("1020.81")),
            ("energy.flat.sub1", D("967.7419"), D("677.42")),
            ("fund.fund.sub1", D("967.7419"), D("18.39")),
            ("energy.flat.sub1", D("2032.2581"), D("1422.58")),
            ("fund.fund.sub1", D("2032.2581"), D("38.61")),
        ]
        bill = Bill.objects.get(account__number="AU1", period="2026-03")
        # 25 515.59 + 53 420.81 + 695.81 + 1 461.19 = 81 093.40; kWh the whole meter's
        assert (bill.total, bill.kwh, bill.hold_reason) == (D("81093.40"), D(100000), "")
        texts = BillLine.objects.filter(bill=bill, code="energy.flat.sub1").values_list(
            "description", flat=True
        )
        assert list(texts) == [
            "[变更前 03-01~] 定量 照明 967.7419 kWh 电度电费 平",
            "[减容 03-11~] 定量 照明 2032.2581 kWh 电度电费 平",
        ]


class TestReclassOnTheSameTransformer:
    def test_one_loss_for_the_month_shared_by_the_segments_kwh(self, clerk: Client, site: Path) -> None:
        # a second two-part tariff, energy at 0.65; the 改类 does not touch the transformer
        import_tariff_files(
            paths=[
                write(site, "seg-2p-b.yaml", TWO_PART.replace("SEG-2P", "SEG-2P-B").replace("0.6}", "0.65}"))
            ]
        )
        assert post(clerk, "/api/transformers/models", M630).status_code == 201
        assert post(clerk, "/api/transformers", TRANSFORMER).status_code == 201
        r = post(
            clerk,
            "/api/service-changes",
            {
                "account": "AS1",
                "service_point": "SPS1",
                "kind": "reclass",
                "effective_on": "2026-03-11",
                "tariff_code": "SEG-2P-B",
                "reason": "改类",
            },
        )
        assert r.status_code == 201, r.content
        read(site, "2026-02-28", [("MS1", "active_total", 10000), ("MS1", "reactive", 5000)])
        read(site, "2026-03-11", [("MS1", "active_total", 15000), ("MS1", "reactive", 9000)])
        read(site, "2026-03-31", [("MS1", "active_total", 30000), ("MS1", "reactive", 20000)])
        result = billing.run_billing(period="2026-03", run_at=datetime(2026, 4, 2, 8, tzinfo=SH), workers=1)
        assert result.billed + result.held == 1, result.skipped

        # one transformer all month: one loss over 720 h on the month's 20 000 kWh and 15 000 kvarh, as an
        # unsplit month: S² = 625 000 000; ΔA = 0.81 x 720 + 6.2 x S² / (720 x 630²) = 583.2 + 13.5599 -> 597;
        #   ΔQ = 0.6 % x 630 x 720 + 4.5 % x S² / (720 x 630) = 2 721.6 + 62.0040 -> 2 784
        # shared by kWh: 03-01~03-10 597 x 5 000 / 20 000 = 149.25 -> 149; 03-11~03-31 597 − 149 = 448
        # basic: same capacity and price all month -> 630 x 20 = 12 600.00 once
        # segment 1 (0.60): 5 149 x 0.6 = 3 089.40; fund 5 149 x 0.019 = 97.831 -> 97.83
        # segment 2 (0.65): 15 448 x 0.65 = 10 041.20; fund 15 448 x 0.019 = 293.512 -> 293.51
        # PF: 20 597 / √(20 597² + 17 784²) = 0.757 -> 0.76, +7.0 %:
        #   (12 600 + 3 089.40) x 7 % = 1 098.258 -> 1 098.26; 10 041.20 x 7 % = 702.884 -> 702.88
        assert lines("AS1", "2026-03") == [
            ("basic.capacity", D(630), D("12600.00")),
            ("energy.flat", D(5149), D("3089.40")),
            ("fund.renewable", D(5149), D("97.83")),
            ("pf", D("15689.40"), D("1098.26")),
            ("energy.flat", D(15448), D("10041.20")),
            ("fund.renewable", D(15448), D("293.51")),
            ("pf", D("10041.20"), D("702.88")),
            ("loss.active", D(597), D("0.00")),
            ("loss.reactive", D(2784), D("0.00")),
        ]
        bill = Bill.objects.get(account__number="AS1", period="2026-03")
        # 12 600 + 3 089.40 + 97.83 + 1 098.26 + 10 041.20 + 293.51 + 702.88 = 27 923.08
        assert (bill.total, bill.kwh) == (D("27923.08"), D(20597))
        assert BillLine.objects.get(bill=bill, code="loss.active").description == "变损电量 (TR-S1, 720 h)"


class TestASharedTransformerIsNotSplit:
    def test_a_changed_point_on_a_transformer_feeding_another_point_is_skipped(
        self, clerk: Client, site: Path
    ) -> None:
        two_points = (
            "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,"
            "region,voltage_kv,capacity_kva,pf_standard,meter_serial,registers,tariff_code,tariff_from\n"
            "CS3,红星厂,industrial,AS3,2025-01-01,SPT1,工业路3号,R-SEG,10,315,0.90,MT1,active_total;reactive,"
            "SEG-2P,2025-01-01\n"
            "CS3,红星厂,industrial,AS3,2025-01-01,SPT2,工业路3号,R-SEG,10,315,0.90,MT2,active_total;reactive,"
            "SEG-2P,2025-01-01\n"
        )
        import_accounts(path=write(site, "two-points.csv", two_points))
        assert post(clerk, "/api/transformers/models", M630).status_code == 201
        body = {**TRANSFORMER, "number": "TR-S3", "service_points": ["SPT1", "SPT2"]}
        assert post(clerk, "/api/transformers", body).status_code == 201
        r = post(
            clerk,
            "/api/service-changes",
            {
                "account": "AS3",
                "service_point": "SPT1",
                "kind": "reduction",
                "effective_on": "2026-03-11",
                "capacity_kva": "200",
                "reason": "减容",
            },
        )
        assert r.status_code == 201, r.content
        for day, (a, q) in (
            ("2026-02-28", (1000, 500)),
            ("2026-03-11", (2000, 900)),
            ("2026-03-31", (5000, 2000)),
        ):
            read(
                site,
                day,
                [(m, "active_total", a) for m in ("MT1", "MT2")]
                + [(m, "reactive", q) for m in ("MT1", "MT2")],
            )
        result = billing.run_billing(period="2026-03", run_at=datetime(2026, 4, 2, 8, tzinfo=SH), workers=1)
        # each point would count the transformer's no-load loss: not billed, never billed wrong
        assert result.skipped.get("transformer_loss") == 1, result.skipped
        assert not Bill.objects.filter(account__number="AS3").exists()


class TestAdjustmentOfASegmentedBill:
    def test_a_wrong_reading_re_rates_each_segment_with_its_own_loss(self, clerk: Client, site: Path) -> None:
        from wattdesk.application.billing import review

        assert post(clerk, "/api/transformers/models", M630).status_code == 201
        assert post(clerk, "/api/transformers/models", M200).status_code == 201
        assert post(clerk, "/api/transformers", TRANSFORMER).status_code == 201
        change = {
            "account": "AS1",
            "service_point": "SPS1",
            "kind": "reduction",
            "effective_on": "2026-03-11",
            "capacity_kva": "200",
            "reason": "永久性减容",
        }
        assert post(clerk, "/api/service-changes", change).status_code == 201
        body = {**TRANSFORMER, "model_code": "S11-M-200/10", "effective_from": "2026-03-11"}
        assert post(clerk, "/api/transformers", body).status_code == 201
        read(site, "2026-02-28", [("MS1", "active_total", 10000), ("MS1", "reactive", 5000)])
        read(site, "2026-03-11", [("MS1", "active_total", 15000), ("MS1", "reactive", 9000)])
        read(site, "2026-03-31", [("MS1", "active_total", 30000), ("MS1", "reactive", 20000)])
        at = datetime(2026, 4, 2, 8, tzinfo=SH)
        billing.run_billing(period="2026-03", run_at=at, workers=1)
        bill = Bill.objects.get(account__number="AS1", period="2026-03")
        if bill.status == "held":
            review.approve_bill(bill_id=bill.pk, user=None, approved_at=at)
        review.issue_bills(
            period="2026-03", user=None, issued_at=at, issued_on=at.date(), include_held_approved=True
        )
        assert Bill.objects.get(pk=bill.pk).total == D(
            "20886.74"
        )  # as TestReductionWithTransformerExchangeAndLoss

        # the meter advanced 22 000 kWh, not 20 000: +2 000 spread by kWh, 5 000 -> 5 500 and 15 000 -> 16 500;
        # kvarh unchanged. Each segment re-rated with the loss of its own transformer on the corrected kWh:
        #   segment 1 (630 kVA, 240 h): S² = 5500² + 4000² = 46 250 000
        #     ΔA = 194.4 + 6.2 x 46 250 000 / (240 x 630²) = 194.4 + 3.0103 = 197.41 -> 197
        #     ΔQ = 907.2 + 4.5 % x 46 250 000 / (240 x 630) = 907.2 + 13.7649 = 920.96 -> 921
        #     energy 5 697 x 0.6 = 3 418.20 (+300.00); fund 5 697 x 0.019 = 108.243 -> 108.24 (+9.50)
        #   segment 2 (200 kVA, 504 h): S² = 16500² + 11000² = 393 250 000
        #     ΔA = 171.36 + 2.6 x 393 250 000 / (504 x 200²) = 171.36 + 50.7173 = 222.08 -> 222
        #     ΔQ = 907.2 + 4 % x 393 250 000 / (504 x 200) = 907.2 + 156.0516 = 1 063.25 -> 1 063
        #     energy 16 722 x 0.6 = 10 033.20 (+903.60); fund 16 722 x 0.019 = 317.718 -> 317.72 (+28.62)
        #   PF: 22 419 / √(22 419² + 16 984²) = 0.797 -> 0.80, +5 %:
        #     (4 200 + 3 418.20) x 5 % = 380.91 (−94.77); (2 800 + 10 033.20) x 5 % = 641.66 (−133.76)
        #   basic unchanged; 退补 300 + 9.50 − 94.77 + 903.60 + 28.62 − 133.76 = 1 013.19
        r = post(
            clerk,
            "/api/adjustments",
            {
                "bill_id": bill.pk,
                "error_type": "wrong_reading",
                "reason_code": "抄错",
                "reason": "抄表员误抄",
                "inputs": {"correct_kwh": "22000"},
            },
        )
        assert r.status_code == 201, r.content
        doc = r.json()
        assert (D(doc["kwh_difference"]), D(doc["amount"])) == (D(2000), D("1013.19"))
        changed = [
            (ln["code"], D(ln["original_amount"]), D(ln["corrected_amount"]), D(ln["amount"]))
            for ln in doc["lines"]
            if D(ln["amount"])
        ]
        assert sorted(changed) == sorted(
            [
                ("energy.flat", D("3118.20"), D("3418.20"), D("300.00")),
                ("fund.renewable", D("98.74"), D("108.24"), D("9.50")),
                ("pf", D("475.68"), D("380.91"), D("-94.77")),
                ("energy.flat", D("9129.60"), D("10033.20"), D("903.60")),
                ("fund.renewable", D("289.10"), D("317.72"), D("28.62")),
                ("pf", D("775.42"), D("641.66"), D("-133.76")),
            ]
        )


class TestOneQuotaNoteABill:
    def test_an_account_with_a_segmented_and_a_whole_month_point_names_its_quota_once(
        self, clerk: Client, site: Path
    ) -> None:
        two_points = (
            "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,"
            "region,voltage_kv,capacity_kva,pf_standard,meter_serial,registers,tariff_code,tariff_from\n"
            "CS4,赵家,residential,AS4,2025-01-01,SPQ1,幸福路4号,R-SEG,0.22,8,,MQ1,active_total,BJ-RES-TIER,2025-01-01\n"
            "CS4,赵家,residential,AS4,2025-01-01,SPQ2,幸福路4号,R-SEG,0.22,8,,MQ2,active_total,BJ-RES-TIER,2025-01-01\n"
        )
        import_accounts(path=write(site, "two-homes.csv", two_points))
        body = {"account": "AS4", "persons": 5, "applied_on": "2026-01-10", "evidence": "户口簿 5人"}
        assert post(clerk, "/api/tier-quotas", body).status_code == 201
        change = {
            "account": "AS4",
            "service_point": "SPQ1",
            "kind": "increase",
            "effective_on": "2026-02-15",
            "capacity_kva": "12",
            "reason": "增容",
        }
        assert post(clerk, "/api/service-changes", change).status_code == 201
        for day, v in (("2026-01-31", 0), ("2026-02-15", 200), ("2026-02-28", 450)):
            read(site, day, [("MQ1", "active_total", v), ("MQ2", "active_total", v)])
        result = billing.run_billing(period="2026-02", run_at=datetime(2026, 3, 2, 8, tzinfo=SH), workers=1)
        assert result.billed + result.held == 1, result.skipped
        codes = [c for c, _q, _a in lines("AS4", "2026-02")]
        assert codes.count("note.tier_quota") == 1
        # both points are widened: the whole-month point on 340 / 500, each segment on 156.4932 / 230.1370
        energy = [(c, q) for c, q, _a in lines("AS4", "2026-02") if c.startswith("energy")]
        assert ("energy.flat.t1", D(340)) in energy and ("energy.flat.t1", D("156.4932")) in energy
