"""Held readings decided through the API: accept, correct (second approval above the configured bill impact),
estimate, field check; the account is re-billed at once and the clerk issues the bill. AGR-FLAT, by hand:
2000 kWh → 2000 × 0.4650 = 930.00 + 2000 × 0.0062 = 12.40 = 942.40."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.test import Client

from correction_case import CorrectionCase, build_case
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, ReadingCorrection
from wattdesk.domain.metering.models import RegisterReading

pytestmark = pytest.mark.django_db


@pytest.fixture
def company(db: None, settings: Any, tmp_path: Path) -> CorrectionCase:
    """January and February issued (2000 kWh each, register 1000 → 3000 → 5000); March read as 4500, below
    February's 5000: held (negative advance), so the March run skips the account."""
    case = build_case(settings, tmp_path)
    for period in ("2026-01", "2026-02"):
        case.bill_month(period, D(2000))
    case.import_reading(date(2026, 3, 25), D(4500))
    from wattdesk.application.billing.run import run_billing

    run = run_billing(period="2026-03", run_at=datetime(2026, 4, 2, 1, tzinfo=UTC), workers=1)
    assert run.skipped.get("reading_exception") == 1
    return case


@pytest.fixture
def second_api(company: CorrectionCase) -> Client:
    from wattdesk.interfaces.api.tokens import create_token

    token = create_token(username="second_clerk", name="second", created_at=datetime(2026, 4, 1, tzinfo=UTC))
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


def held() -> RegisterReading:
    return RegisterReading.objects.get(read_on=date(2026, 3, 25), status="exception")


def decide(api: Client, reading_id: int, action: str, **more: Any) -> Any:
    body = {"reading_id": reading_id, "action": action, "reason": "抄表员误读", **more}
    return api.post("/api/reading-corrections", body, content_type="application/json")


def test_a_correction_under_the_threshold_is_applied_and_the_account_rebilled_then_issued(
    company: CorrectionCase, api_for: Callable[[str], Client], settings: Any
) -> None:
    settings.WATTDESK_READING_CORRECTION_APPROVAL_YUAN = "100000"
    clerk = api_for(roles.BILLING_CLERK)
    reading = held()
    r = decide(clerk, reading.pk, "correct", new_value="7000")  # 7000 − 5000 = 2000 kWh
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["status"], D(body["kwh_after"]), body["rebill_skipped"]) == ("applied", D(2000), "")
    bill = Bill.objects.get(pk=body["rebilled_bill_id"])
    assert (bill.period, bill.status, bill.kwh, bill.total) == ("2026-03", "draft", D(2000), D("942.40"))
    reading.refresh_from_db()
    assert reading.status == "superseded"  # kept as history, never edited
    assert LogEntry.objects.filter(additional_data__batch="readings.correct").count() == 1
    issued = clerk.post("/api/bills/issue", {"period": "2026-03"}, content_type="application/json")
    assert issued.status_code == 200 and issued.json()["issued"] == 1
    bill.refresh_from_db()
    assert bill.status == "issued"


def test_a_correction_above_the_threshold_waits_for_a_second_person(
    company: CorrectionCase, api_for: Callable[[str], Client], second_api: Client, settings: Any
) -> None:
    # impact: the kWh change × the latest bill's average price (942.40 / 2000 = 0.4712 元/kWh) > 100 元
    settings.WATTDESK_READING_CORRECTION_APPROVAL_YUAN = "100"
    clerk = api_for(roles.BILLING_CLERK)
    r = decide(clerk, held().pk, "correct", new_value="7000")
    body = r.json()
    assert body["status"] == "pending" and D(body["impact"]) > 100 and body["rebilled_bill_id"] is None
    assert held().status == "exception"
    again = decide(clerk, held().pk, "accept")
    assert again.status_code == 409 and "waiting for approval" in again.json()["detail"]
    own = clerk.post(f"/api/reading-corrections/{body['correction_id']}/approve")
    assert own.status_code == 403 and "someone other than its requester" in own.json()["detail"]
    ok = second_api.post(f"/api/reading-corrections/{body['correction_id']}/approve")
    assert ok.status_code == 200 and ok.json()["status"] == "applied"
    assert Bill.objects.get(pk=ok.json()["rebilled_bill_id"]).total == D("942.40")


def test_a_rejected_correction_leaves_the_reading_held(
    company: CorrectionCase, api_for: Callable[[str], Client], second_api: Client, settings: Any
) -> None:
    settings.WATTDESK_READING_CORRECTION_APPROVAL_YUAN = "1"
    c = decide(api_for(roles.BILLING_CLERK), held().pk, "correct", new_value="7000").json()
    r = second_api.post(
        f"/api/reading-corrections/{c['correction_id']}/reject",
        {"reason": "再核"},
        content_type="application/json",
    )
    assert r.json()["status"] == "rejected" and held().status == "exception"


def test_field_check_then_accept(company: CorrectionCase, api_for: Callable[[str], Client]) -> None:
    clerk = api_for(roles.BILLING_CLERK)
    reading = held()
    sent = decide(clerk, reading.pk, "field_check")
    assert sent.json()["status"] == "field_check" and held().pk == reading.pk
    assert ReadingCorrection.objects.get(pk=sent.json()["correction_id"]).status == "field_check"
    # the meter reader found the register really reads 4500 (the meter went back): accepted as read
    accepted = decide(clerk, reading.pk, "accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "applied"
    assert ReadingCorrection.objects.get(pk=sent.json()["correction_id"]).status == "applied"
    reading.refresh_from_db()
    assert reading.status == "valid"


def test_estimate_replaces_the_held_reading_with_an_estimate(
    company: CorrectionCase, api_for: Callable[[str], Client]
) -> None:
    # history: two months of 2000 kWh → the estimate is about 2000 kWh (days-weighted), flagged estimated
    r = decide(api_for(roles.BILLING_CLERK), held().pk, "estimate")
    assert r.status_code == 200, r.content
    est = RegisterReading.objects.get(read_on=date(2026, 3, 25), status="estimated")
    assert est.source == "estimated" and est.consumption is not None and est.consumption > 0
    bill = Bill.objects.get(pk=r.json()["rebilled_bill_id"])
    assert bill.kwh == est.consumption and bill.lines.filter(rule="estimated").exists()


class TestRefusals:
    def test_bad_input(self, company: CorrectionCase, api_for: Callable[[str], Client]) -> None:
        clerk = api_for(roles.BILLING_CLERK)
        reading = held()
        for r, field, reason in (
            (decide(clerk, reading.pk, "correct"), "new_value", "not a register value"),
            (decide(clerk, reading.pk, "correct", new_value="abc"), "new_value", "not a register value"),
            (decide(clerk, reading.pk, "accept", new_value="1"), "new_value", "only a correction"),
            (decide(clerk, reading.pk, "delete"), "action", "not one of"),
            (decide(clerk, reading.pk, "accept", reason=" "), "-", "reason is required"),
        ):
            assert r.status_code == 422 and reason in r.json()["detail"], r.content
            assert r.json()["errors"][0]["field"] == field
        assert decide(clerk, 987654321, "accept").status_code == 404
        assert decide(api_for(roles.METER_READER), reading.pk, "accept").status_code == 403

    def test_a_reading_that_is_not_held_is_a_409(
        self, company: CorrectionCase, api_for: Callable[[str], Client]
    ) -> None:
        valid = RegisterReading.objects.get(read_on=date(2026, 2, 25))
        r = decide(api_for(roles.BILLING_CLERK), valid.pk, "accept")
        assert r.status_code == 409 and "not held" in r.json()["detail"]
