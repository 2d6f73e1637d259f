"""The waiver screen (/waivers/): request from the account's late fees, HTMX approve / reject, four-eyes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.operations import post_entry
from wattdesk.domain.payments.models import WaiverRequest

SH = ZoneInfo("Asia/Shanghai")
HTMX = {"HTTP_HX_REQUEST": "true"}


def user(company: Any, role: str) -> Any:
    return get_user_model().objects.get(username=company.logins[role].username)


@pytest.fixture
def fee_bill(company: Any) -> Bill:
    """A bill of the first account the collector can see (so every role's scope holds it) with a late fee."""
    account = (
        accounts_for(user(company, roles.COLLECTOR)).filter(bills__isnull=False).order_by("number").first()
    )
    assert account is not None
    bill = Bill.objects.filter(account=account).order_by("-period").first()
    assert bill is not None
    post_entry(account_id=account.pk, kind="late_fee", amount=Decimal("4.20"),
               posted_at=datetime(2026, 11, 25, 23, 59, tzinfo=SH), bill_id=bill.pk, memo="违约金")  # fmt: skip
    return bill


@pytest.mark.parametrize("role", roles.ROLES)
def test_page_for_roles(role: str, company: Any, client_for: Callable[[str], Client]) -> None:
    r = client_for(role).get("/waivers/")
    assert r.status_code == (200 if roles.LEDGER_WAIVE_REQUEST in roles.CAPABILITIES[role] else 403)


def test_request_from_the_accounts_late_fees_then_approve_with_htmx(
    fee_bill: Bill, company: Any, client_for: Callable[[str], Client]
) -> None:
    agent = client_for(roles.CS_AGENT)
    page = agent.get(f"/waivers/?account={fee_bill.account.number}")
    assert page.status_code == 200
    assert "4.20" in page.content.decode() and 'data-testid="waiver-request"' in page.content.decode()
    r = agent.post("/waivers/request/", {"bill_id": fee_bill.pk, "account": fee_bill.account.number,
                                         "reason": "营业厅系统故障"})  # fmt: skip
    assert r.status_code == 302
    req = WaiverRequest.objects.get(bill=fee_bill)
    assert (req.status, req.amount, req.requested_by) == (
        "pending",
        Decimal("4.20"),
        user(company, roles.CS_AGENT),
    )
    follow = agent.get(r["Location"]).content.decode()
    assert f"#{req.pk}" in follow  # the success message and the "already pending" note
    # the agent cannot decide
    assert agent.post(f"/waivers/{req.pk}/approve/", **HTMX).status_code == 403
    # a billing clerk approves from the queue: the answer is the row
    clerk = client_for(roles.BILLING_CLERK)
    queue = clerk.get("/waivers/").content.decode()
    assert f'id="waiver-{req.pk}"' in queue and 'data-testid="waiver-approve"' in queue
    row = clerk.post(f"/waivers/{req.pk}/approve/", {"note": "同意"}, **HTMX)
    assert row.status_code == 200
    html = row.content.decode()
    assert html.lstrip().startswith(f'<tr id="waiver-{req.pk}"') and "<html" not in html
    req.refresh_from_db()
    assert (req.status, req.waived, req.decided_by) == (
        "approved",
        Decimal("4.20"),
        user(company, roles.BILLING_CLERK),
    )
    assert LedgerEntry.objects.filter(bill=fee_bill, kind="reversal", amount=Decimal("-4.20")).count() == 1


def test_the_requester_sees_no_approve_button_and_is_refused(
    fee_bill: Bill, company: Any, client_for: Callable[[str], Client]
) -> None:
    clerk = client_for(roles.BILLING_CLERK)
    clerk.post("/waivers/request/", {"bill_id": fee_bill.pk, "reason": "x"})
    req = WaiverRequest.objects.get(bill=fee_bill)
    queue = clerk.get("/waivers/").content.decode()
    assert 'data-testid="waiver-approve"' not in queue
    row = clerk.post(f"/waivers/{req.pk}/approve/", **HTMX).content.decode()
    assert "four-eyes" in row and 'role="alert"' in row
    # without HTMX: a redirect and the message
    r = clerk.post(f"/waivers/{req.pk}/approve/")
    assert r.status_code == 302 and "four-eyes" in clerk.get(r["Location"]).content.decode()
    req.refresh_from_db()
    assert req.status == "pending"
    assert not LedgerEntry.objects.filter(bill=fee_bill, kind="reversal").exists()


def test_reject_needs_a_reason_and_a_second_request_is_refused(
    fee_bill: Bill, company: Any, client_for: Callable[[str], Client]
) -> None:
    agent = client_for(roles.CS_AGENT)
    agent.post("/waivers/request/", {"bill_id": fee_bill.pk, "reason": "x"})
    r = agent.post("/waivers/request/", {"bill_id": fee_bill.pk, "reason": "y"})
    assert "already has a pending waiver request" in agent.get(r["Location"]).content.decode()
    assert WaiverRequest.objects.filter(bill=fee_bill).count() == 1
    req = WaiverRequest.objects.get(bill=fee_bill)
    admin = client_for(roles.ADMIN)
    assert "reason" in admin.post(f"/waivers/{req.pk}/reject/", {"note": ""}, **HTMX).content.decode()
    row = admin.post(f"/waivers/{req.pk}/reject/", {"note": "材料不全"}, **HTMX).content.decode()
    assert "材料不全" in row
    req.refresh_from_db()
    assert (req.status, req.decision_note) == ("rejected", "材料不全")
    rejected = admin.get("/waivers/?status=rejected").content.decode()
    assert f'id="waiver-{req.pk}"' in rejected


def test_out_of_scope_and_bad_input(
    fee_bill: Bill, company: Any, client_for: Callable[[str], Client]
) -> None:
    agent = client_for(roles.CS_AGENT)
    assert agent.get("/waivers/?account=NOPE").status_code == 400
    assert agent.get("/waivers/?status=maybe").status_code == 400
    assert agent.post("/waivers/request/", {"bill_id": 999999, "reason": "x"}).status_code == 404
    assert client_for(roles.BILLING_CLERK).post("/waivers/999999/approve/").status_code == 404
    r = agent.post("/waivers/request/", {"bill_id": "abc", "reason": "x"})
    assert r.status_code == 302 and not WaiverRequest.objects.exists()


def test_the_customer_page_links_to_the_request_form_for_those_who_may_ask(
    fee_bill: Bill, client_for: Callable[[str], Client]
) -> None:
    number = fee_bill.account.number
    page = client_for(roles.CS_AGENT).get(f"/customers/{number}/").content.decode()
    assert f'href="/waivers/?account={number}" data-testid="waiver-link"' in page
    reader = client_for(roles.METER_READER).get(f"/customers/{number}/")
    assert reader.status_code in (200, 404) and 'data-testid="waiver-link"' not in reader.content.decode()
