"""Inspection cases through the API (/api/inspection-cases): a clerk opens and computes the published 窃电 case,
a second person approves and posts; the same clerk approving is refused; bad facts are 422 with the field."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.test import Client

from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db
D = Decimal
URL = "/api/inspection-cases"


def _post(client: Client, url: str, body: Any = None) -> Any:
    return client.post(url, body if body is not None else {}, content_type="application/json")


@pytest.fixture
def account(company: Any) -> Account:
    account = Account.objects.order_by("number").first()
    assert account is not None
    return account


def opened(client: Client, account: Account, behaviour: str = "T1", found_on: str = "2024-03-01") -> int:
    r = _post(client, URL, {"account": account.number, "behaviour": behaviour, "found_on": found_on,
                            "inspector": "王检查", "evidence": "B相私接2kW电炉"})  # fmt: skip
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "open"
    return int(r.json()["id"])


class TestTheftCaseThroughTheAPI:
    def test_open_compute_approve_by_a_second_person_and_post(
        self, account: Account, api_for: Callable[[str], Client]
    ) -> None:
        clerk, admin = api_for("billing_clerk"), api_for("admin")
        case_id = opened(clerk, account)
        before = LedgerEntry.objects.filter(account=account).count()
        # §5.5: 2 kW × 180 d × 12 h = 4320 kWh × 0.40 = 1728.00 ; 违约使用电费 1728 × 3 = 5184.00
        r = _post(
            clerk,
            f"{URL}/{case_id}/compute",
            {"usages": [{"capacity_kw": "2", "use": "power", "price": "0.40"}]},
        )
        assert r.status_code == 200, r.content
        body = r.json()
        assert (body["status"], body["rule_set"], body["energy_kwh"]) == ("computed", "1996", "4320.0000")
        assert [(ln["label"], ln["amount"]) for ln in body["lines"]] == [
            ("补交电费", "1728.00"),
            ("违约使用电费", "5184.00"),
        ]
        assert body["total"] == "6912.00"

        r = _post(clerk, f"{URL}/{case_id}/approve", {"note": "自己审批"})
        assert r.status_code == 403
        assert "four-eyes" in r.json()["detail"]
        r = _post(clerk, f"{URL}/{case_id}/post")
        assert r.status_code == 409  # not approved yet

        r = _post(admin, f"{URL}/{case_id}/approve", {"note": "核实无误"})
        assert (r.status_code, r.json()["status"], r.json()["approved_by"]) == (200, "approved", "demo_admin")
        r = _post(clerk, f"{URL}/{case_id}/post")
        assert r.status_code == 200, r.content
        lines = r.json()["lines"]
        assert all(ln["ledger_entry_id"] for ln in lines)
        new = LedgerEntry.objects.filter(account=account).order_by("id")[before:]
        assert [(e.kind, e.amount) for e in new] == [
            ("adjustment", D("1728.00")),
            ("adjustment", D("5184.00")),
        ]
        assert LogEntry.objects.filter(additional_data__batch="inspection.post").count() == 1

        r = clerk.get(f"{URL}?status=posted&account={account.number}")
        assert [c["id"] for c in r.json()["items"]] == [case_id]

        r = _post(clerk, f"{URL}/{case_id}/reverse", {"reason": "复议撤销"})
        assert (r.status_code, r.json()["status"], r.json()["reversal_reason"]) == (
            200,
            "reversed",
            "复议撤销",
        )
        assert sum(e.amount for e in LedgerEntry.objects.filter(account=account).order_by("id")[before:]) == 0
        assert _post(clerk, f"{URL}/{case_id}/reverse", {"reason": "again"}).status_code == 409


class TestRefusals:
    def test_a_case_after_may_2024_is_refused_with_the_reason(
        self, account: Account, api_for: Callable[[str], Client]
    ) -> None:
        clerk = api_for("billing_clerk")
        case_id = opened(clerk, account, found_on="2024-06-15")
        r = _post(
            clerk,
            f"{URL}/{case_id}/compute",
            {"usages": [{"capacity_kw": "2", "use": "power", "price": "0.4"}]},
        )
        assert r.status_code == 422
        assert "no 窃电/违约用电 rule set is in force on 2024-06-15" in r.json()["detail"]

    def test_bad_facts_name_the_field(self, account: Account, api_for: Callable[[str], Client]) -> None:
        clerk = api_for("billing_clerk")
        case_id = opened(clerk, account)
        r = _post(
            clerk,
            f"{URL}/{case_id}/compute",
            {"usages": [{"capacity_kw": "-2", "use": "power", "price": "1"}]},
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "usages.capacity_kw"
        r = _post(clerk, f"{URL}/{case_id}/compute", {"usages": [{"use": "power", "price": "1"}]})
        assert r.status_code == 422
        assert r.json()["detail"] == "usages[0].capacity_kw: required"

    def test_unknown_behaviour_and_account(self, account: Account, api_for: Callable[[str], Client]) -> None:
        clerk = api_for("billing_clerk")
        body = {
            "account": account.number,
            "behaviour": "ZZ",
            "found_on": "2024-03-01",
            "inspector": "x",
            "evidence": "y",
        }
        assert _post(clerk, URL, body).status_code == 422
        assert _post(clerk, URL, {**body, "behaviour": "T1", "account": "NOPE"}).status_code == 404

    def test_view_only_roles_cannot_open(self, account: Account, api_for: Callable[[str], Client]) -> None:
        body = {
            "account": account.number,
            "behaviour": "T1",
            "found_on": "2024-03-01",
            "inspector": "x",
            "evidence": "y",
        }
        assert _post(api_for("cs_agent"), URL, body).status_code == 403
        assert api_for("cs_agent").get(URL).status_code == 200
