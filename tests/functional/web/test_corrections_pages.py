"""The pages of held-reading decisions and 退补单: a clerk corrects a held reading from the readings page and the
account is re-billed; a clerk creates a 退补 from an issued bill's page, a second clerk approves it, it is issued
and the customer sees it on the portal. AGR-FLAT by hand: 2000 kWh → 930.00 + 12.40 = 942.40."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from correction_case import PASSWORD, CorrectionCase, build_case
from wattdesk.domain.billing.models import Bill, BillAdjustment
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.metering.models import ReadingException, RegisterReading

pytestmark = pytest.mark.django_db


def login(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


@pytest.fixture
def case(db: None, settings: Any, tmp_path: Path) -> CorrectionCase:
    c = build_case(settings, tmp_path)
    for period in ("2026-01", "2026-02"):
        c.bill_month(period, D(2000))
    return c


def test_a_clerk_corrects_a_held_reading_from_the_readings_page(case: CorrectionCase, settings: Any) -> None:
    from wattdesk.application.billing.run import run_billing

    settings.WATTDESK_READING_CORRECTION_APPROVAL_YUAN = "100000"
    case.import_reading(date(2026, 3, 25), D(4500))  # below February's 5000: held
    run_billing(period="2026-03", run_at=datetime(2026, 4, 2, 1, tzinfo=UTC), workers=1)
    clerk = login(case.logins["billing_clerk"].username)
    page = clerk.get("/readings/?period=2026-03").content.decode()
    exc = ReadingException.objects.get(period="2026-03", resolved=False, severity="error")
    assert f"/readings/exceptions/{exc.pk}/" in page
    form = clerk.get(f"/readings/exceptions/{exc.pk}/")
    assert form.status_code == 200 and "4500" in form.content.decode()
    bad = clerk.post(
        f"/readings/exceptions/{exc.pk}/", {"action": "correct", "new_value": "7000", "reason": ""}
    )
    assert bad.status_code == 400 and "reason is required" in bad.content.decode()
    r = clerk.post(
        f"/readings/exceptions/{exc.pk}/", {"action": "correct", "new_value": "7000", "reason": "误读"}
    )
    assert r.status_code == 200
    bill_id = r.context["result"].rebilled_bill_id
    bill = Bill.objects.get(pk=bill_id)
    assert (bill.kwh, bill.total, bill.status) == (D(2000), D("942.40"), "draft")
    assert f"/bills/{bill_id}/" in r.content.decode()
    again = clerk.post(f"/readings/exceptions/{exc.pk}/", {"action": "accept", "reason": "x"})
    assert again.status_code == 409  # the reading is no longer held


def test_a_pending_correction_is_approved_on_the_pending_page_by_another_clerk(
    case: CorrectionCase, settings: Any
) -> None:
    from wattdesk.application.billing.run import run_billing

    settings.WATTDESK_READING_CORRECTION_APPROVAL_YUAN = "10"
    case.import_reading(date(2026, 3, 25), D(4500))
    run_billing(period="2026-03", run_at=datetime(2026, 4, 2, 1, tzinfo=UTC), workers=1)
    exc = ReadingException.objects.get(period="2026-03", resolved=False, severity="error")
    clerk = login(case.logins["billing_clerk"].username)
    r = clerk.post(
        f"/readings/exceptions/{exc.pk}/", {"action": "correct", "new_value": "7000", "reason": "误读"}
    )
    assert r.context["result"].status == "pending"
    pending = clerk.get("/readings/corrections/")
    assert "误读" in pending.content.decode() and pending.context["rows"][0].new_value == D(7000)
    cid = r.context["result"].correction_id
    own = clerk.post("/readings/corrections/", {"correction_id": cid, "decision": "approve"})
    assert own.status_code == 400 and "someone other than its requester" in own.content.decode()
    ok = login("second_clerk").post("/readings/corrections/", {"correction_id": cid, "decision": "approve"})
    assert ok.status_code == 302
    assert RegisterReading.objects.get(read_on=date(2026, 3, 25), status="valid").value == D(7000)


def test_a_clerk_back_bills_a_slow_meter_and_the_customer_sees_the_document(case: CorrectionCase) -> None:
    # 5 % slow since 2026-01-01, two bills of 2000 kWh: per bill (2000/0.95 − 2000) × ½ = 52.6316 kWh
    # → energy 954.47 − 930.00 = 24.47, fund 12.73 − 12.40 = 0.33: 24.80 per bill, 49.60 in all
    clerk = login(case.logins["billing_clerk"].username)
    feb = case.bills["2026-02"]
    page = clerk.get(f"/bills/{feb}/").content.decode()
    assert f"/bills/{feb}/adjustments/new/" in page
    bad = clerk.post(
        f"/bills/{feb}/adjustments/new/",
        {"error_type": "meter_error", "error_percent": "-5", "reason_code": "校验", "reason": "慢5%"},
    )
    assert bad.status_code == 400 and "since: required" in bad.content.decode()
    r = clerk.post(
        f"/bills/{feb}/adjustments/new/",
        {
            "error_type": "meter_error",
            "error_percent": "-5",
            "since": "2026-01-01",
            "reason_code": "校验",
            "reason": "现场校验慢 5%",
        },
    )
    a = BillAdjustment.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/adjustments/{a.pk}/"
    assert (a.kwh_difference, a.amount, a.status) == (D("105.2632"), D("49.60"), "draft")
    # the creator cannot approve; a second clerk does, the creator issues
    own = clerk.post(f"/adjustments/{a.pk}/", {"action": "approve"})
    assert own.status_code == 400 and "someone other than its creator" in own.content.decode()
    assert login("second_clerk").post(f"/adjustments/{a.pk}/", {"action": "approve"}).status_code == 302
    assert clerk.post(f"/adjustments/{a.pk}/", {"action": "issue"}).status_code == 302
    a.refresh_from_db()
    assert a.status == "issued"
    assert LedgerEntry.objects.get(kind="adjustment").amount == D("49.60")
    # the bill page links it; the customer's portal shows it as its own document linked to the bill
    assert f"/adjustments/{a.pk}/" in clerk.get(f"/bills/{feb}/").content.decode()
    account_page = clerk.get(f"/customers/{case.account_number}/").content.decode()
    assert 'data-testid="account-adjustments"' in account_page and f"/adjustments/{a.pk}/" in account_page
    customer = login(case.logins["customer"].username)
    portal_bill = customer.get(f"/portal/bills/{feb}/").content.decode()
    assert f"/portal/adjustments/{a.pk}/" in portal_bill
    doc = customer.get(f"/portal/adjustments/{a.pk}/")
    assert (
        doc.status_code == 200
        and "49.60" in doc.content.decode()
        and "电能表误差超差" in doc.content.decode()
    )


def test_a_draft_adjustment_is_not_on_the_portal(case: CorrectionCase) -> None:
    clerk = login(case.logins["billing_clerk"].username)
    feb = case.bills["2026-02"]
    clerk.post(
        f"/bills/{feb}/adjustments/new/",
        {"error_type": "wrong_reading", "correct_kwh": "1900", "reason_code": "错抄", "reason": "错抄"},
    )
    a = BillAdjustment.objects.get()
    assert a.amount == D("-47.12")  # −100 × 0.4650 = −46.50, −100 × 0.0062 = −0.62
    customer = login(case.logins["customer"].username)
    assert customer.get(f"/portal/adjustments/{a.pk}/").status_code == 404
    assert f"/portal/adjustments/{a.pk}/" not in customer.get(f"/portal/bills/{feb}/").content.decode()
