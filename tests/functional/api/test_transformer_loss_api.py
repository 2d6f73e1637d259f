"""Transformer loss (变损, 高供低计, issue 9 part 2) end to end, as a billing clerk enters it: the tariff file and the
onboarding file, the transformer model and the customer transformer through the API, the readings file, the
billing run; the bill lines to the fen and the printed bill's 变损电量.

The case is billing-rules-2.md §1.7: S11-M-315/10 Dyn11 (P0 0.48 kW, Pk 3.65 kW, I0 1.0 %, Uk 4 %), K = 1, a whole
month in service (720 h), metered 峰 30 000 / 平 35 000 / 谷 25 000 kWh and 45 000 kvarh, PF standard 0.90.
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
from wattdesk.application.billing.document import bill_document, render_pdf
from wattdesk.application.customers.onboarding import import_accounts
from wattdesk.application.metering.readings_import import import_readings
from wattdesk.application.portal.screens import explain_bill
from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.domain.access import roles
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.billing.models import Bill, BillLine
from wattdesk.interfaces.api.tokens import create_token

pytestmark = pytest.mark.db

SH = ZoneInfo("Asia/Shanghai")
D = Decimal
NOW = datetime(2026, 5, 3, 9, 0, tzinfo=SH)

TARIFF = """\
code: LOSS-TOU
name: 两部制分时电价 (变损测试)
effective_from: 2024-01-01
customer_class: industrial
currency: CNY
rounding: per_line
energy:
  base_tiers:
    - {rate: 0.5000}
  periods:
    - {key: peak, name: 峰, multiplier: 1.5}
    - {key: flat, name: 平, multiplier: 1}
    - {key: valley, name: 谷, multiplier: 0.5}
  schedule:
    weekday: [2, 2, 2, 2, 2, 2, 2, 2, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 2, 2]
    weekend: [2, 2, 2, 2, 2, 2, 2, 2, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 2, 2]
basic:
  method: capacity
  rate: 20
power_factor:
  standard: 0.90
  base: [basic, energy]
funds:
  - {code: renewable, name: 可再生能源电价附加, rate: 0.019}
"""

ONBOARDING = (
    "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,region,"
    "route,voltage_kv,capacity_kva,pf_standard,meter_serial,registers,tariff_code\n"
    "CL1,华东机械厂,industrial,AL1,2025-01-01,SPL1,工业路1号,R-LOSS,RT-LOSS,10,315,0.90,ML1,"
    "active_peak;active_flat;active_valley;reactive,LOSS-TOU\n"
)

MODEL = {
    "code": "S11-M-315/10",
    "series": "S11",
    "capacity_kva": "315",
    "p0_kw": "0.48",
    "pk_dyn11_kw": "3.65",
    "i0_percent": "1.0",
    "uk_percent": "4",
    "effective_from": "2020-01-01",
    "source": "nameplate",
}
TRANSFORMER = {
    "number": "TR-L1",
    "model_code": "S11-M-315/10",
    "service_points": ["SPL1"],
    "effective_from": "2025-01-01",
    "vector_group": "Dyn11",
    "correction_k": "1",
    "loss_method": "formula",
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def clerk(db: None) -> Client:
    user = get_user_model().objects.create_user(username="clerk-loss", password="x")
    grant_role(user=user, role=roles.BILLING_CLERK)
    token = create_token(username="clerk-loss", name="loss test", created_at=NOW)
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


@pytest.fixture
def customer(db: None, tmp_path: Path) -> None:
    tariff = write(tmp_path, "loss-tou.yaml", TARIFF)
    import_tariff_files(paths=[tariff])
    import_accounts(path=write(tmp_path, "onboarding.csv", ONBOARDING))
    # the opening reading (the end of March) and April's: 峰 30 000, 平 35 000, 谷 25 000 kWh, 45 000 kvarh
    import_readings(
        path=write(
            tmp_path,
            "march.csv",
            "meter_serial,register,read_on,value\n"
            "ML1,active_peak,2026-03-31,1000\nML1,active_flat,2026-03-31,2000\n"
            "ML1,active_valley,2026-03-31,3000\nML1,reactive,2026-03-31,4000\n",
        ),
        as_of=date(2026, 4, 1),
        imported_at=NOW,
    )


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, body, content_type="application/json")


def april(tmp_path: Path) -> None:
    import_readings(
        path=write(
            tmp_path,
            "april.csv",
            "meter_serial,register,read_on,value\n"
            "ML1,active_peak,2026-04-30,31000\nML1,active_flat,2026-04-30,37000\n"
            "ML1,active_valley,2026-04-30,28000\nML1,reactive,2026-04-30,49000\n",
        ),
        as_of=NOW.date(),
        imported_at=NOW,
    )


def bill_lines() -> list[tuple[str, Decimal, Decimal]]:
    bill = Bill.objects.get(account__number="AL1", period="2026-04")
    return [(ln.code, ln.quantity, ln.amount) for ln in BillLine.objects.filter(bill=bill).order_by("seq")]


class TestTransformerLossEndToEnd:
    def test_clerk_registers_the_transformer_and_the_bill_carries_the_loss(
        self, clerk: Client, customer: None, tmp_path: Path
    ) -> None:
        r = post(clerk, "/api/transformers/models", MODEL)
        assert r.status_code == 201, r.content
        assert r.json()["pk_dyn11_kw"] == "3.65"
        r = post(clerk, "/api/transformers", TRANSFORMER)
        assert r.status_code == 201, r.content
        assert r.json()["versions"][0]["service_points"] == ["SPL1"]
        april(tmp_path)

        result = billing.run_billing(period="2026-04", run_at=NOW, route="RT-LOSS", pipeline=False)
        assert result.billed + result.held == 1, result.skipped

        # Loss (§1.7): ΔA = 0.48 x 720 + 3.65 x (90000² + 45000²) / (720 x 315²) = 345.6 + 517.29 = 862.89 -> 863
        #              ΔQ = 0.01 x 315 x 720 + 0.04 x (90000² + 45000²) / (720 x 315) = 2268 + 1785.71 -> 4054
        # split: 峰 863 x 30000/90000 = 287.67 -> 288; 谷 863 x 25000/90000 = 239.72 -> 240; 平 863 - 528 = 335
        # billed: 峰 30 288 x 0.75 = 22 716.00; 平 35 335 x 0.50 = 17 667.50; 谷 25 240 x 0.25 = 6 310.00
        # basic: 315 kVA x 20 = 6 300.00
        # PF with loss: 90 863 / √(90 863² + 49 054²) = 0.880 -> 0.88; standard 0.90 -> +1.0 %:
        #     (22 716.00 + 17 667.50 + 6 310.00 + 6 300.00) x 1 % = 52 993.50 x 0.01 = 529.935 -> 529.94
        # fund: 90 863 kWh x 0.019 = 1 726.397 -> 1 726.40
        # total: 46 693.50 + 6 300.00 + 529.94 + 1 726.40 = 55 249.84
        lines = bill_lines()
        priced = {c: (q, a) for c, q, a in lines if not c.startswith("loss.")}
        assert priced["energy.peak"] == (D("30288.0000"), D("22716.00"))
        assert priced["energy.flat"] == (D("35335.0000"), D("17667.50"))
        assert priced["energy.valley"] == (D("25240.0000"), D("6310.00"))
        assert priced["basic.capacity"] == (D("315.0000"), D("6300.00"))
        pf = [(c, a) for c, _q, a in lines if c.startswith("pf")]
        assert pf == [(pf[0][0], D("529.94"))]
        assert [(c, q, a) for c, q, a in lines if c.startswith("fund")] == [
            ("fund.renewable", D("90863.0000"), D("1726.40"))
        ]
        assert [(c, q, a) for c, q, a in lines if c.startswith("loss.")] == [
            ("loss.active.peak", D("288.0000"), D("0.00")),
            ("loss.active.flat", D("335.0000"), D("0.00")),
            ("loss.active.valley", D("240.0000"), D("0.00")),
            ("loss.reactive", D("4054.0000"), D("0.00")),
        ]
        bill = Bill.objects.get(account__number="AL1", period="2026-04")
        assert bill.total == D("55249.84")
        assert bill.kwh == D("90863.0000")

        doc = bill_document(bill_id=bill.pk)
        assert doc.loss_kwh == D(863) and doc.loss_kvarh == D(4054)
        assert doc.power_factor == D("0.88")
        assert [k.kwh for k in doc.kwh_by_period] == [D(30288), D(35335), D(25240)]
        assert all(ln.code.startswith("loss.") for ln in doc.loss_lines) and not doc.other_lines
        assert render_pdf(doc).startswith(b"%PDF")
        # the clerk's bill page lists the loss under the TOU quantities, not among the charges
        web = Client()
        web.force_login(get_user_model().objects.get(username="clerk-loss"))
        page = web.get(f"/bills/{bill.pk}/")
        assert page.status_code == 200
        html = page.content.decode()
        assert 'data-testid="bill-loss"' in html
        assert "变损电量 峰 (TR-L1, 720 h) 288.00 kWh" in html
        # the portal's line-by-line explanation groups them apart from the charges
        explained = [ln for ln in explain_bill(bill=bill).lines if ln.group == "变损电量"]
        assert [(ln.formula, ln.amount) for ln in explained] == [
            ("288 kWh，已计入计费电量", D("0.00")),
            ("335 kWh，已计入计费电量", D("0.00")),
            ("240 kWh，已计入计费电量", D("0.00")),
            ("4054 kvarh，已计入计费电量", D("0.00")),
        ]

    def test_without_a_transformer_the_same_readings_bill_the_metered_quantities(
        self, customer: None, tmp_path: Path
    ) -> None:
        # 高供高计 or no archive entry: no loss. PF 90 000 / √(90 000² + 45 000²) = 0.894 -> 0.89 (+0.5 %)
        # energy 30 000 x 0.75 + 35 000 x 0.5 + 25 000 x 0.25 = 22 500 + 17 500 + 6 250 = 46 250.00
        # PF (46 250 + 6 300) x 0.5 % = 262.75; fund 90 000 x 0.019 = 1 710.00
        # total 46 250.00 + 6 300.00 + 262.75 + 1 710.00 = 54 522.75
        april(tmp_path)
        billing.run_billing(period="2026-04", run_at=NOW, route="RT-LOSS", pipeline=False)
        assert not [c for c, _q, _a in bill_lines() if c.startswith("loss.")]
        assert Bill.objects.get(account__number="AL1", period="2026-04").total == D("54522.75")

    def test_a_transformer_installed_mid_month_runs_its_days_only(
        self, clerk: Client, customer: None, tmp_path: Path
    ) -> None:
        # in service from 04-21: 10 days x 24 = 240 h
        # ΔA = 0.48 x 240 + 3.65 x 10 125 000 000 / (240 x 99 225) = 115.2 + 1551.87 = 1667.07 -> 1667
        # (the copper part grows as the same energy passes in fewer hours: β = S / T / Se)
        assert post(clerk, "/api/transformers/models", MODEL).status_code == 201
        assert (
            post(clerk, "/api/transformers", {**TRANSFORMER, "effective_from": "2026-04-21"}).status_code
            == 201
        )
        april(tmp_path)
        billing.run_billing(period="2026-04", run_at=NOW, route="RT-LOSS", pipeline=False)
        loss = sum((q for c, q, _a in bill_lines() if c.startswith("loss.active")), D(0))
        assert loss == D(1667)

    def test_fixed_agreed_loss(self, clerk: Client, customer: None, tmp_path: Path) -> None:
        # 协议变损 500 kWh / 1500 kvarh a month; split 500 x 30000/90000 = 166.67 -> 167, 500 x 25000/90000
        # = 138.89 -> 139, 平 500 - 167 - 139 = 194
        assert post(clerk, "/api/transformers/models", MODEL).status_code == 201
        body = {**TRANSFORMER, "loss_method": "fixed", "fixed_kwh": "500", "fixed_kvarh": "1500"}
        assert post(clerk, "/api/transformers", body).status_code == 201
        april(tmp_path)
        billing.run_billing(period="2026-04", run_at=NOW, route="RT-LOSS", pipeline=False)
        assert [(c, q) for c, q, _a in bill_lines() if c.startswith("loss.")] == [
            ("loss.active.peak", D(167)),
            ("loss.active.flat", D(194)),
            ("loss.active.valley", D(139)),
            ("loss.reactive", D(1500)),
        ]

    def test_table_method_without_a_row_skips_the_account_with_the_reason(
        self, clerk: Client, customer: None, tmp_path: Path
    ) -> None:
        assert post(clerk, "/api/transformers/models", MODEL).status_code == 201
        assert post(clerk, "/api/transformers", {**TRANSFORMER, "loss_method": "table"}).status_code == 201
        april(tmp_path)
        result = billing.run_billing(period="2026-04", run_at=NOW, route="RT-LOSS", pipeline=False)
        assert result.skipped == {"transformer_loss": 1}
        # the clerk loads the table; the band 80 000 kWh and up of 315 kVA gives 1 200 kWh / 4 000 kvarh
        table = {
            "effective_from": "2020-01-01",
            "source": "省变损查对表 (test)",
            "rows": [
                {"capacity_kva": "315", "basis": "kwh", "lower": "0", "upper": "80000", "loss_kwh": "900"},
                {
                    "capacity_kva": "315",
                    "basis": "kwh",
                    "lower": "80000",
                    "loss_kwh": "1200",
                    "loss_kvarh": "4000",
                },
            ],
        }
        r = post(clerk, "/api/transformers/loss-table", table)
        assert r.status_code == 201, r.content
        billing.run_billing(period="2026-04", run_at=NOW, route="RT-LOSS", pipeline=False)
        assert sum((q for c, q, _a in bill_lines() if c.startswith("loss.active")), D(0)) == D(1200)


class TestArchiveInput:
    def test_bad_input_is_422_with_the_reason(self, clerk: Client, customer: None) -> None:
        r = post(clerk, "/api/transformers/models", {**MODEL, "p0_kw": "-1"})
        assert r.status_code == 422 and "p0_kw" in r.json()["detail"]
        assert post(clerk, "/api/transformers/models", MODEL).status_code == 201
        r = post(clerk, "/api/transformers/models", MODEL)
        assert r.status_code == 422 and "already has a version from 2020-01-01" in r.json()["detail"]
        r = post(clerk, "/api/transformers", {**TRANSFORMER, "service_points": ["NOPE"]})
        assert r.status_code == 422 and r.json()["detail"] == "service_points: unknown service point 'NOPE'"
        r = post(clerk, "/api/transformers", {**TRANSFORMER, "vector_group": "Yyn0"})
        assert r.status_code == 422 and "no load loss Pk for Yyn0" in r.json()["detail"]
        r = post(clerk, "/api/transformers", {**TRANSFORMER, "loss_method": "fixed"})
        assert r.status_code == 422 and "fixed_kwh" in r.json()["detail"]
        r = post(clerk, "/api/transformers", {**TRANSFORMER, "effective_from": "2019-01-01"})
        assert r.status_code == 422 and "no version of transformer model" in r.json()["detail"]

    def test_versions_end_and_audit(self, clerk: Client, customer: None) -> None:
        assert post(clerk, "/api/transformers/models", MODEL).status_code == 201
        assert post(clerk, "/api/transformers", TRANSFORMER).status_code == 201
        # K re-rated from 2026-06-01: the first version ends there
        r = post(
            clerk, "/api/transformers", {**TRANSFORMER, "correction_k": "1.1", "effective_from": "2026-06-01"}
        )
        assert r.status_code == 201
        versions = r.json()["versions"]
        assert [(v["effective_from"], v["effective_to"], v["correction_k"]) for v in versions] == [
            ("2025-01-01", "2026-06-01", "1.0000"),
            ("2026-06-01", None, "1.1000"),
        ]
        r = post(clerk, "/api/transformers/TR-L1/end", {"end_on": "2026-07-15"})
        assert r.status_code == 200 and r.json()["versions"][-1]["effective_to"] == "2026-07-15"
        assert clerk.get("/api/transformers/TR-L1").json()["number"] == "TR-L1"
        entries = LogEntry.objects.filter(additional_data__batch__startswith="metering.")
        assert sorted((e.additional_data["batch"], e.actor.username) for e in entries) == [
            ("metering.customer_transformer", "clerk-loss"),
            ("metering.customer_transformer", "clerk-loss"),
            ("metering.customer_transformer_end", "clerk-loss"),
            ("metering.transformer_model", "clerk-loss"),
        ]

    def test_a_meter_reader_may_read_but_not_register(self, customer: None) -> None:
        user = get_user_model().objects.create_user(username="reader-loss", password="x")
        grant_role(user=user, role=roles.METER_READER)
        token = create_token(username="reader-loss", name="reader", created_at=NOW)
        reader = Client(headers={"Authorization": f"Bearer {token.secret}"})
        assert post(reader, "/api/transformers/models", MODEL).status_code == 403
        assert reader.get("/api/transformers/models").status_code == 200
