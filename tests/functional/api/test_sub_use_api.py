"""定量定比 end to end, as a clerk enters it: tariff files, the onboarding file, a sub-use agreement through
POST /api/sub-uses, the readings file, the billing run; the bill shows the lighting sub-use as its own lines.
Then the API's refusals (422 with the field, 404, 403) and ending an agreement (POST /api/sub-uses/{id}/end).

The case is billing-rules-2.md §2.6 on a two-part bill (my hand computation in the test): meter 峰 30 000 /
平 45 000 / 谷 25 000 kWh (总 100 000, reactive 60 000 kvarh), 1 000 kVA at 20 元/kVA, 定量 照明 3 000 kWh taken
from 平 (flat_first, the default), PF standard 0.90, one fund at 0.02 (industry) / 0.019 (lighting) 元/kWh.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.application.billing import run as billing
from wattdesk.application.billing.document import bill_document
from wattdesk.application.customers.onboarding import import_accounts
from wattdesk.application.metering.readings_import import import_readings
from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.domain.access import roles
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.billing.models import Bill, BillLine
from wattdesk.domain.tariffs.models import SubUseAgreement
from wattdesk.interfaces.api.tokens import create_token

pytestmark = pytest.mark.db

SH = ZoneInfo("Asia/Shanghai")
D = Decimal
JSON = "application/json"
NOW = datetime(2026, 4, 2, 8, 0, tzinfo=SH)

MAIN = """\
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
LIGHTING = """\
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
ONBOARDING = (
    "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,"
    "region,voltage_kv,capacity_kva,pf_standard,meter_serial,registers,tariff_code,tariff_from\n"
    "C1,机械厂,industrial,A1,2024-01-01,SP1,工业路1号,R1,10,1000,0.90,M1,"
    "active_total;active_peak;active_valley;reactive,LI-TOU,2024-01-01\n"
)
# opening reads on 2026-02-25, the March reads on 2026-03-25: 总 100 000, 峰 30 000, 谷 25 000 (平 = 45 000),
# reactive 60 000
READINGS_FEB = (
    "meter_serial,register,read_on,value\n"
    "M1,active_total,2026-02-25,1000\nM1,active_peak,2026-02-25,1000\n"
    "M1,active_valley,2026-02-25,1000\nM1,reactive,2026-02-25,1000\n"
)
READINGS_MAR = (
    "meter_serial,register,read_on,value\n"
    "M1,active_total,2026-03-25,101000\nM1,active_peak,2026-03-25,31000\n"
    "M1,active_valley,2026-03-25,26000\nM1,reactive,2026-03-25,61000\n"
)
AGREEMENT = {
    "service_point": "SP1",
    "label": "照明",
    "tariff_code": "GS-LIGHT",
    "mode": "fixed_kwh",
    "value": "3000",
    "effective_from": "2026-03-01",
    "reviewed_on": "2025-06-30",
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def api_client(role: str) -> Client:
    user = get_user_model().objects.create_user(username=f"u-{role}", password="x")
    grant_role(user=user, role=role)
    token = create_token(username=user.username, name="t", created_at=NOW)
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type=JSON)


@pytest.fixture
def factory(db: None, tmp_path: Path) -> Path:
    import_tariff_files(paths=[write(tmp_path, "main.yaml", MAIN), write(tmp_path, "light.yaml", LIGHTING)])
    import_accounts(path=write(tmp_path, "onboarding.csv", ONBOARDING))
    import_readings(path=write(tmp_path, "feb.csv", READINGS_FEB), as_of=date(2026, 3, 1), imported_at=NOW)
    return tmp_path


def bill_lines(period: str) -> list[tuple[str, str, Decimal, Decimal]]:
    bill = Bill.objects.get(account__number="A1", period=period)
    return [
        (ln.code, ln.description, ln.quantity, ln.amount)
        for ln in BillLine.objects.filter(bill=bill).order_by("seq")
    ]


class TestFixedQuantityLightingEndToEnd:
    def test_agreement_readings_run_give_the_split_bill(self, factory: Path) -> None:
        clerk = api_client(roles.BILLING_CLERK)
        r = post(clerk, "/api/sub-uses", AGREEMENT)
        assert r.status_code == 201, r.content
        body = r.json()
        assert (
            body["mode"],
            body["value"],
            body["deduction"],
            body["in_pf_calculation"],
            body["in_pf_base"],
        ) == (
            "fixed_kwh",
            "3000.0000",
            "flat_first",
            True,
            False,
        )
        assert LogEntry.objects.filter(additional_data__batch="tariffs.sub_use.create").count() == 1
        listed = api_client(roles.ANALYST).get("/api/sub-uses?service_point=SP1")
        assert listed.status_code == 200 and [a["id"] for a in listed.json()] == [body["id"]]
        import_readings(path=write(factory, "mar.csv", READINGS_MAR), as_of=date(2026, 4, 1), imported_at=NOW)
        result = billing.run_billing(period="2026-03", run_at=NOW, workers=1)
        assert result.billed + result.held == 1, result.skipped
        # Main use: 平 45 000 - 3 000 = 42 000 (flat first):
        #   30 000 x 0.96 = 28 800.00; 42 000 x 0.60 = 25 200.00; 25 000 x 0.24 = 6 000.00 (60 000.00, §2.6)
        # Basic charge NOT reduced for the sub-use: 1 000 kVA x 20 = 20 000.00
        # PF on the whole meter: 100 000 / sqrt(100 000² + 60 000²) = 0.8575 -> 0.86, standard 0.90 -> +2 %;
        #   base = basic + main energy = 80 000 (lighting outside): +1 600.00
        # Funds on ALL kWh at each category's rate: 97 000 x 0.02 = 1 940.00; 3 000 x 0.019 = 57.00
        # Lighting 3 000 x 0.70 = 2 100.00
        # Total 28 800 + 25 200 + 6 000 + 20 000 + 1 600 + 1 940 + 2 100 + 57 = 85 697.00
        assert bill_lines("2026-03") == [
            ("energy.peak", "电度电费 峰", D(30000), D("28800.00")),
            ("energy.flat", "电度电费 平", D(42000), D("25200.00")),
            ("energy.valley", "电度电费 谷", D(25000), D("6000.00")),
            ("basic.capacity", "基本电费(按容量)", D(1000), D("20000.00")),
            ("pf", "功率因数调整电费(实际0.86, 标准0.90)", D(80000), D("1600.00")),
            ("fund.fund", "政府性基金", D(97000), D("1940.00")),
            ("energy.flat.sub1", "定量 照明 3000 kWh 电度电费 平", D(3000), D("2100.00")),
            ("fund.fund.sub1", "定量 照明 3000 kWh 政府性基金", D(3000), D("57.00")),
        ]
        bill = Bill.objects.get(account__number="A1", period="2026-03")
        assert (bill.total, bill.kwh) == (D("85697.00"), D(100000))
        # the printed bill: the lighting line among the energy lines (60 000 + 2 100), its fund among the
        # funds (1 940 + 57); kWh by period is the meter's (平 42 000 + 3 000 = 45 000)
        doc = bill_document(bill_id=bill.pk)
        assert [ln.description for ln in doc.energy_lines][-1] == "定量 照明 3000 kWh 电度电费 平"
        assert (doc.energy_total, doc.funds_total, doc.pf_total) == (
            D("62100.00"),
            D("1997.00"),
            D("1600.00"),
        )
        assert [p.kwh for p in doc.kwh_by_period] == [D(30000), D(45000), D(25000)]

    def test_an_ended_agreement_no_longer_splits_the_bill(self, factory: Path) -> None:
        clerk = api_client(roles.BILLING_CLERK)
        agreement_id = post(clerk, "/api/sub-uses", AGREEMENT).json()["id"]
        r = post(clerk, f"/api/sub-uses/{agreement_id}/end", {"effective_to": "2026-03-01", "reason": "x"})
        assert r.status_code == 422 and "must be after the agreement's start" in r.json()["detail"]
        r = post(
            clerk, f"/api/sub-uses/{agreement_id}/end", {"effective_to": "2026-03-02", "reason": "装分表"}
        )
        assert r.status_code == 200, r.content
        assert (r.json()["effective_to"], r.json()["end_reason"]) == ("2026-03-02", "装分表")
        again = post(
            clerk, f"/api/sub-uses/{agreement_id}/end", {"effective_to": "2026-04-01", "reason": "x"}
        )
        assert again.status_code == 422 and "already ended" in again.json()["detail"]
        assert LogEntry.objects.filter(additional_data__batch="tariffs.sub_use.end").count() == 1
        # in force on 2026-03-01 (the period start) only: the March bill is still split; a later period is not
        import_readings(path=write(factory, "mar.csv", READINGS_MAR), as_of=date(2026, 4, 1), imported_at=NOW)
        billing.run_billing(period="2026-03", run_at=NOW, workers=1)
        assert "energy.flat.sub1" in [code for code, *_ in bill_lines("2026-03")]
        assert SubUseAgreement.objects.get(pk=agreement_id).effective_to == date(2026, 3, 2)


class TestRefusals:
    @pytest.mark.parametrize(
        ("change", "field", "reason"),
        [
            ({"service_point": "SP9"}, "service_point", "unknown service point"),
            ({"tariff_code": "NOPE"}, "tariff_code", "has no version in force"),
            ({"value": "0"}, "value", "must be greater than 0"),
            ({"value": "1e3"}, "value", "is not an amount"),
            ({"value": "3000.12345"}, "value", "more than 4 decimals"),
            ({"mode": "fixed_ratio", "value": "120"}, "value", "at most 100"),
            ({"deduction": "priority_list"}, "priority", "needs the period keys"),
            ({"deduction": "priority_list", "priority": ["critical"]}, "priority", "critical"),
            ({"priority": ["flat"]}, "priority", "only a priority_list"),
            ({"reviewed_on": "2999-01-01"}, "reviewed_on", "in the future"),
            ({"effective_from": "2023-06-01"}, "service_point", "no tariff assignment"),
        ],
    )
    def test_a_bad_agreement_is_a_422_naming_the_field(
        self, factory: Path, change: dict[str, Any], field: str, reason: str
    ) -> None:
        r = post(api_client(roles.BILLING_CLERK), "/api/sub-uses", {**AGREEMENT, **change})
        assert r.status_code == 422, r.content
        detail = r.json()["detail"]
        assert detail.startswith(f"{field}: ") and reason in detail, detail
        assert not SubUseAgreement.objects.exists()

    def test_the_same_sub_use_twice_is_refused(self, factory: Path) -> None:
        clerk = api_client(roles.BILLING_CLERK)
        assert post(clerk, "/api/sub-uses", AGREEMENT).status_code == 201
        r = post(clerk, "/api/sub-uses", {**AGREEMENT, "effective_from": "2026-05-01"})
        assert r.status_code == 422 and "already in force from 2026-03-01" in r.json()["detail"]

    def test_a_billed_period_cannot_be_changed_by_an_agreement(self, factory: Path) -> None:
        import_readings(path=write(factory, "mar.csv", READINGS_MAR), as_of=date(2026, 4, 1), imported_at=NOW)
        billing.run_billing(period="2026-03", run_at=NOW, workers=1)
        r = post(api_client(roles.BILLING_CLERK), "/api/sub-uses", AGREEMENT)
        assert r.status_code == 422
        assert "2026-03-01 is inside or before period 2026-03, already billed" in r.json()["detail"]

    def test_schema_errors_and_unknown_ids(self, factory: Path) -> None:
        clerk = api_client(roles.BILLING_CLERK)
        r = post(clerk, "/api/sub-uses", {**AGREEMENT, "mode": "quota"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "mode"
        r = post(clerk, "/api/sub-uses/999999/end", {"effective_to": "2026-04-01", "reason": "x"})
        assert r.status_code == 404

    def test_a_role_without_the_capability_is_refused(self, factory: Path) -> None:
        r = post(api_client(roles.ANALYST), "/api/sub-uses", AGREEMENT)
        assert r.status_code == 403
        assert api_client(roles.METER_READER).get("/api/sub-uses?service_point=SP1").status_code == 403
        assert not SubUseAgreement.objects.exists()


class TestOtherSettingsThroughTheRun:
    def agree_and_bill(self, factory: Path, **change: Any) -> Any:
        r = post(api_client(roles.BILLING_CLERK), "/api/sub-uses", {**AGREEMENT, **change})
        assert r.status_code == 201, r.content
        import_readings(path=write(factory, "mar.csv", READINGS_MAR), as_of=date(2026, 4, 1), imported_at=NOW)
        return billing.run_billing(period="2026-03", run_at=NOW, workers=1)

    def test_fixed_ratio_pro_rata(self, factory: Path) -> None:
        self.agree_and_bill(factory, mode="fixed_ratio", value="10", deduction="pro_rata")
        # 定比 10 % of the meter's 100 000 = 10 000 kWh, pro rata 30/45/25: 3 000 / 4 500 / 2 500 (§2.6):
        #   27 000 x 0.96 = 25 920.00; 40 500 x 0.60 = 24 300.00; 22 500 x 0.24 = 5 400.00 (55 620.00)
        # PF still 0.86 on the whole meter: +2 % x (20 000 + 55 620) = 1 512.40
        # funds 90 000 x 0.02 = 1 800.00 and 10 000 x 0.019 = 190.00; lighting 10 000 x 0.70 = 7 000.00
        assert [(code, qty, amount) for code, _d, qty, amount in bill_lines("2026-03")] == [
            ("energy.peak", D(27000), D("25920.00")),
            ("energy.flat", D(40500), D("24300.00")),
            ("energy.valley", D(22500), D("5400.00")),
            ("basic.capacity", D(1000), D("20000.00")),
            ("pf", D(75620), D("1512.40")),
            ("fund.fund", D(90000), D("1800.00")),
            ("energy.flat.sub1", D(10000), D("7000.00")),
            ("fund.fund.sub1", D(10000), D("190.00")),
        ]
        assert bill_lines("2026-03")[6][1] == "定比 照明 10% 10000 kWh 电度电费 平"
        # 25 920 + 24 300 + 5 400 + 20 000 + 1 512.40 + 1 800 + 7 000 + 190 = 86 122.40
        assert Bill.objects.get(account__number="A1").total == D("86122.40")

    def test_a_fixed_quantity_above_the_meter_is_capped_and_the_bill_held(self, factory: Path) -> None:
        result = self.agree_and_bill(factory, value="200000")
        assert result.held == 1
        bill = Bill.objects.get(account__number="A1")
        assert bill.status == "held"
        assert bill.hold_reason == (
            "sub-use above the metered kWh: 定量 照明 200000.0000 kWh, only 100000.0000 kWh left on the meter"
        )
        # all 100 000 kWh on lighting: no main energy or main fund; basic 20 000.00; PF 0.86 on the whole
        # meter, +2 % of the basic = 400.00; lighting 100 000 x 0.70 = 70 000.00, fund x 0.019 = 1 900.00
        assert [(code, amount) for code, _d, _q, amount in bill_lines("2026-03")] == [
            ("basic.capacity", D("20000.00")),
            ("pf", D("400.00")),
            ("energy.flat.sub1", D("70000.00")),
            ("fund.fund.sub1", D("1900.00")),
        ]
        assert bill.total == D("92300.00")

    def test_overflow_error_leaves_the_account_unbilled(self, factory: Path) -> None:
        result = self.agree_and_bill(factory, value="200000", overflow="error")
        assert result.skipped == {"sub_use_error": 1}
        assert not Bill.objects.exists()

    def test_a_review_older_than_12_months_is_noted_on_the_bill(self, factory: Path) -> None:
        self.agree_and_bill(factory, reviewed_on="2025-02-28")  # + 12 months = 2026-02-28 <= period start
        code, description, qty, amount = bill_lines("2026-03")[-1]
        assert (code, qty, amount) == ("note.sub_use_review", D(0), D(0))
        assert description == "定量定比 照明 核定于 2025-02-28, 已超过12个月 (sub-use review overdue)"
        assert Bill.objects.get(account__number="A1").total == D("85697.00")  # the note charges nothing

    def test_a_review_within_12_months_adds_no_note(self, factory: Path) -> None:
        self.agree_and_bill(factory, reviewed_on="2025-03-02")
        assert "note.sub_use_review" not in [code for code, *_ in bill_lines("2026-03")]
