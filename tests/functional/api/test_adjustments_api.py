"""退补 through the API, as a clerk enters it: every metering-error case of billing-rules-2.md §4 on a flat
agricultural tariff, with the arithmetic written out (AGR-FLAT: energy 0.4650 + fund 0.0062 元/kWh, lines
rounded to the fen), the four-eyes approval, the ledger entry on issue, and the 4xx reasons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from correction_case import CorrectionCase, build_case
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import BillAdjustment
from wattdesk.domain.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def company(db: None, settings: Any, tmp_path: Path) -> CorrectionCase:
    """Three issued months of 2000 kWh each (2026-01..03): 2000 × 0.4650 = 930.00, 2000 × 0.0062 = 12.40."""
    case = build_case(settings, tmp_path)
    for period in ("2026-01", "2026-02", "2026-03"):
        case.bill_month(period, D(2000))
    return case


@pytest.fixture
def second_api(company: CorrectionCase) -> Client:
    from datetime import UTC, datetime

    from wattdesk.interfaces.api.tokens import create_token

    token = create_token(username="second_clerk", name="second", created_at=datetime(2026, 4, 1, tzinfo=UTC))
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


def _create(api: Client, bill_id: int, error_type: str, **inputs: str) -> Any:
    body = {
        "bill_id": bill_id,
        "error_type": error_type,
        "reason_code": "校验",
        "reason": "现场校验",
        "inputs": inputs,
    }
    return api.post("/api/adjustments", body, content_type="application/json")


def test_the_bills_are_as_computed_by_hand(company: CorrectionCase) -> None:
    from wattdesk.domain.billing.models import Bill

    bill = Bill.objects.get(pk=company.bills["2026-03"])
    assert (bill.status, bill.kwh, bill.total) == ("issued", D(2000), D("942.40"))


def test_meter_5_percent_slow_back_bills_half_the_difference_over_the_period_since_the_check(
    company: CorrectionCase, api_for: Callable[[str], Client], second_api: Client
) -> None:
    # checked 2026-01-01, found 5 % slow at the end of March: three bills of 2000 kWh each.
    # per bill: true = 2000 / 0.95 = 2105.2632; settled = (2105.2632 − 2000) × ½ = 52.6316 kWh
    #   energy 2052.6316 × 0.4650 = 954.47 (954.474694) − 930.00 = 24.47
    #   fund   2052.6316 × 0.0062 =  12.73 (12.726316) −  12.40 =  0.33      → 24.80 per bill
    # three bills: 157.8948 kWh, 74.40 元 補收
    clerk = api_for(roles.BILLING_CLERK)
    r = _create(clerk, company.bills["2026-03"], "meter_error", error_percent="-5", since="2026-01-01")
    assert r.status_code == 201, r.content
    doc = r.json()
    assert (doc["status"], D(doc["kwh_difference"]), D(doc["amount"])) == ("draft", D("157.8948"), D("74.40"))
    assert (doc["period_from"], doc["period_to"]) == ("2026-01-01", "2026-04-01")
    january = [ln for ln in doc["lines"] if ln["bill_id"] == company.bills["2026-01"]]
    assert [
        (D(ln["quantity"]), D(ln["original_amount"]), D(ln["corrected_amount"]), D(ln["amount"]))
        for ln in january
    ] == [
        (D("52.6316"), D("930.00"), D("954.47"), D("24.47")),
        (D("52.6316"), D("12.40"), D("12.73"), D("0.33")),
    ]
    assert len(doc["lines"]) == 6 and "AGR-FLAT 1" in doc["price_source"]
    # four eyes: the creator may not approve it
    refused = clerk.post(f"/api/adjustments/{doc['id']}/approve")
    assert refused.status_code == 403 and "someone other than its creator" in refused.json()["detail"]
    # issue before approval: 409
    assert clerk.post(f"/api/adjustments/{doc['id']}/issue").status_code == 409
    assert second_api.post(f"/api/adjustments/{doc['id']}/approve").json()["status"] == "approved"
    issued = clerk.post(f"/api/adjustments/{doc['id']}/issue")
    assert issued.status_code == 200 and issued.json()["status"] == "issued" and issued.json()["due_on"]
    # every step audited, one entry each
    from auditlog.models import LogEntry

    for action in ("adjustments.create", "adjustments.approve", "adjustments.issue"):
        assert LogEntry.objects.filter(additional_data__batch=action, object_pk=str(doc["id"])).count() == 1
    # the customer reads the issued 退补 of their own bill through the API too
    mine = api_for(roles.CUSTOMER).get(f"/api/adjustments?bill_id={company.bills['2026-03']}")
    assert [a["id"] for a in mine.json()] == [doc["id"]] and mine.json()[0]["amount"] == "74.40"
    entry = LedgerEntry.objects.get(kind="adjustment", bill_id=company.bills["2026-03"])
    assert entry.amount == D("74.40") and f"退补 {doc['id']}" in entry.memo
    # the same error on the same bills cannot be settled twice
    twice = _create(clerk, company.bills["2026-02"], "meter_error", error_percent="-5", since="2026-01-01")
    assert twice.status_code == 409 and f"already has 退补 {doc['id']}" in twice.json()["detail"]
    # an issued 退补 cannot be cancelled (another 退补 corrects it)
    assert (
        clerk.post(
            f"/api/adjustments/{doc['id']}/cancel", {"reason": "x"}, content_type="application/json"
        ).status_code
        == 409
    )


def test_published_case_900000_kwh_10_percent_slow_back_bills_50000_kwh(
    db: None, settings: Any, tmp_path: Path
) -> None:
    # tk.swop.cn/question.php?id=4161132: 900 000 kWh recorded since the last check, meter 10 % slow.
    # true = 900 000 / 0.9 = 1 000 000; 补收 = (1 000 000 − 900 000) / 2 = 50 000 kWh.
    # At AGR-FLAT: 50 000 × 0.4650 = 23 250.00 + 50 000 × 0.0062 = 310.00 → 23 560.00 元
    from wattdesk.application.billing import adjustment

    case = build_case(settings, tmp_path, multiplier="100")
    bill_id = case.bill_month("2026-01", D(9000))  # 9000 register units × 100 = 900 000 kWh
    plan = adjustment.plan_adjustment(
        bill_id=bill_id,
        error_type="meter_error",
        inputs={"error_percent": "-10", "since": "2026-01-01"},
        today=date(2026, 4, 1),
    )
    assert plan.kwh_difference == D(50000) and plan.amount == D("23560.00")


def test_wrong_multiplier_back_bills_the_full_period_without_half(
    company: CorrectionCase, api_for: Callable[[str], Client]
) -> None:
    # CT billed as 50/5 (10) but it is 100/5 (20) since 2026-02-01: coefficient 20/10 − 1 = 1, no ½ (Art. 81.3)
    # two bills × 2000 kWh → 补收 4000 kWh; per bill 2000 × 0.4650 = 930.00 + 2000 × 0.0062 = 12.40 → 942.40
    r = _create(
        api_for(roles.BILLING_CLERK),
        company.bills["2026-03"],
        "multiplier",
        used_multiplier="10",
        correct_multiplier="20",
        since="2026-02-01",
    )
    assert r.status_code == 201, r.content
    assert (D(r.json()["kwh_difference"]), D(r.json()["amount"])) == (D(4000), D("1884.80"))


def test_wrong_reading_refunds_the_difference_of_one_bill(
    company: CorrectionCase, api_for: Callable[[str], Client]
) -> None:
    # March was over-read: the right consumption is 1800 kWh. −200 × 0.4650 = −93.00, −200 × 0.0062 = −1.24
    r = _create(api_for(roles.BILLING_CLERK), company.bills["2026-03"], "wrong_reading", correct_kwh="1800")
    assert r.status_code == 201, r.content
    assert (D(r.json()["kwh_difference"]), D(r.json()["amount"])) == (D(-200), D("-94.24"))


def test_stopped_meter_estimates_from_the_normal_months(
    db: None, settings: Any, tmp_path: Path, api_for: Callable[[str], Client], company: CorrectionCase
) -> None:
    # the meter stopped in April: April recorded 0 kWh. Normal months Jan–Mar average (2000 × 3) / 3 = 2000 kWh
    # 补收 2000 × 0.4650 = 930.00 + 2000 × 0.0062 = 12.40 → 942.40
    april = company.bill_month("2026-04", D(0))
    r = _create(api_for(roles.BILLING_CLERK), april, "stopped_meter", since="2026-04-01")
    assert r.status_code == 201, r.content
    assert (D(r.json()["kwh_difference"]), D(r.json()["amount"])) == (D(2000), D("942.40"))


class TestRefusals:
    def test_bad_input_is_a_422_with_the_reason(
        self, company: CorrectionCase, api_for: Callable[[str], Client]
    ) -> None:
        clerk = api_for(roles.BILLING_CLERK)
        bill = company.bills["2026-03"]
        cases = [
            (_create(clerk, bill, "meter_error", error_percent="-5"), "since: required"),
            (_create(clerk, bill, "meter_error", error_percent="x", since="2026-01-01"), "error_percent"),
            (_create(clerk, bill, "nope"), "error_type"),
            (
                _create(clerk, bill, "wrong_reading", correct_kwh="1800", since="2026-01-01"),
                "since: not a parameter",
            ),
            (_create(clerk, bill, "meter_error", error_percent="-5", since="2020-01-01"), "look-back"),
            (_create(clerk, bill, "wrong_reading", correct_kwh="2000"), "changes nothing"),
        ]
        for r, reason in cases:
            assert r.status_code == 422 and reason in r.json()["detail"], (r.status_code, r.content)
        assert not BillAdjustment.objects.exists()

    def test_a_draft_bill_is_a_409_and_an_unknown_bill_a_404(
        self, company: CorrectionCase, api_for: Callable[[str], Client]
    ) -> None:
        clerk = api_for(roles.BILLING_CLERK)
        draft = company.bill_month("2026-04", D(2000), issue=False)
        r = _create(clerk, draft, "wrong_reading", correct_kwh="1")
        assert r.status_code == 409 and "only an issued bill" in r.json()["detail"]
        assert _create(clerk, 987654321, "wrong_reading", correct_kwh="1").status_code == 404

    def test_a_role_without_billing_review_is_refused(
        self, company: CorrectionCase, api_for: Callable[[str], Client]
    ) -> None:
        r = _create(api_for(roles.CS_AGENT), company.bills["2026-03"], "wrong_reading", correct_kwh="1")
        assert r.status_code == 403


def test_missed_kvarh_rebills_the_power_factor_adjustment(db: None, settings: Any, tmp_path: Path) -> None:
    # LI-2P-CAPACITY, 10 000 kWh flat, 315 kVA: basic 315 × 20 = 6300.00, energy 10 000 × 0.5800 = 5800.00.
    # Billed with 2000 kvarh: PF = 10000 / √(10000² + 2000²) = 0.9806 → 0.98 → −0.75 % × 12 100 = −90.75.
    # The reactive register was misread: 6000 kvarh. PF = 10000 / √(10000² + 6000²) = 0.8575 → 0.86 → +2 %
    # × 12 100 = +242.00. 退补 = 242.00 − (−90.75) = 332.75 元 on the PF line alone.
    from correction_case import build_industrial_case
    from wattdesk.application.billing import adjustment
    from wattdesk.domain.billing.models import Bill

    _case, bill_id = build_industrial_case(settings, tmp_path)
    pf = Bill.objects.get(pk=bill_id).lines.get(rule__startswith="pf")
    assert pf.amount == D("-90.75"), list(Bill.objects.get(pk=bill_id).lines.values_list("code", "amount"))
    plan = adjustment.plan_adjustment(
        bill_id=bill_id, error_type="kvarh", inputs={"correct_kvarh": "6000"}, today=date(2026, 3, 1)
    )
    diffs = [(d.rule, d.original_amount, d.corrected_amount, d.amount) for b in plan.bills for d in b.diffs]
    assert [d for d in diffs if d[3] != 0] == [(pf.rule, D("-90.75"), D("242.00"), D("332.75"))]
    assert (plan.amount, plan.kwh_difference, plan.kvarh_difference) == (D("332.75"), D(0), D(4000))
