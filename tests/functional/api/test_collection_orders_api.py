"""/api/waivers and /api/disconnection-orders: the steps, their refusals (409 with the reason) and scopes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from api_helpers import user_of
from collection_orders_helpers import order_parts, other_clerk
from django.test import Client
from django.utils import timezone

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account
from wattdesk.domain.dunning.models import DisconnectionOrder
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.payments.models import WaiverRequest

JSON = "application/json"


def test_ask_then_approve_a_waiver(company: Any, api_for: Callable[[str], Client]) -> None:
    parts = order_parts(user_of(company, roles.ADMIN), timezone.now())
    bill_id = int(parts["waiver_new_bill"])
    agent = api_for(roles.CS_AGENT)
    r = agent.post("/api/waivers", {"bill_id": bill_id, "reason": "系统故障"}, content_type=JSON)
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["status"], body["amount"], body["requested_by"]) == ("pending", "3.50", "demo_cs_agent")
    again = agent.post("/api/waivers", {"bill_id": bill_id, "reason": "again"}, content_type=JSON)
    assert again.status_code == 409 and "pending" in again.json()["detail"]
    assert agent.post(f"/api/waivers/{body['id']}/approve", {}, content_type=JSON).status_code == 403
    clerk = api_for(roles.BILLING_CLERK)
    r = clerk.post(f"/api/waivers/{body['id']}/approve", {"note": "同意"}, content_type=JSON)
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["waived"], r.json()["decided_by"]) == (
        "approved",
        "3.50",
        "demo_billing_clerk",
    )
    assert LedgerEntry.objects.filter(bill_id=bill_id, kind="reversal", amount=Decimal("-3.50")).count() == 1
    assert clerk.post(f"/api/waivers/{body['id']}/approve", {}, content_type=JSON).status_code == 409
    listed = clerk.get("/api/waivers?status=approved").json()
    assert [w["id"] for w in listed["items"]] == [body["id"]]


def test_four_eyes_and_reject_reasons(company: Any, api_for: Callable[[str], Client]) -> None:
    parts = order_parts(user_of(company, roles.ADMIN), timezone.now())
    clerk = api_for(roles.BILLING_CLERK)
    mine = clerk.post(
        "/api/waivers", {"bill_id": int(parts["waiver_new_bill"]), "reason": "x"}, content_type=JSON
    )
    own = clerk.post(f"/api/waivers/{mine.json()['id']}/approve", {}, content_type=JSON)
    assert own.status_code == 409 and "four-eyes" in own.json()["detail"]
    reject = parts["waiver_reject"]  # requested by another clerk
    assert WaiverRequest.objects.get(pk=reject).requested_by == other_clerk()
    r = clerk.post(f"/api/waivers/{reject}/reject", {"note": ""}, content_type=JSON)
    assert r.status_code == 409 and "reason" in r.json()["detail"]
    r = clerk.post(f"/api/waivers/{reject}/reject", {"note": "材料不全"}, content_type=JSON)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert clerk.post("/api/waivers/999999/approve", {}, content_type=JSON).status_code == 404
    bad = api_for(roles.CS_AGENT).post("/api/waivers", {"bill_id": 1, "reason": ""}, content_type=JSON)
    assert bad.status_code == 422


def test_orders_approve_execute_cancel(company: Any, api_for: Callable[[str], Client]) -> None:
    parts = order_parts(user_of(company, roles.ADMIN), timezone.now())
    manager = api_for(roles.MARKETING_MANAGER)
    awaiting = manager.get("/api/disconnection-orders?status=awaiting").json()
    assert {o["id"] for o in awaiting["items"]} == {int(parts["order_approve"]), int(parts["order_cancel"])}
    r = manager.post(f"/api/disconnection-orders/{parts['order_approve']}/approve", {}, content_type=JSON)
    assert r.status_code == 200 and (r.json()["state"], r.json()["approved_by"]) == (
        "approved",
        "demo_marketing_manager",
    )
    early = manager.post(f"/api/disconnection-orders/{parts['order_cancel']}/approve", {}, content_type=JSON)
    assert early.status_code == 409 and "notice period" in early.json()["detail"]
    admin = api_for(roles.ADMIN)
    r = admin.post(
        f"/api/disconnection-orders/{parts['order_execute']}/execute", {"note": "已复电"}, content_type=JSON
    )
    assert r.status_code == 200 and (r.json()["status"], r.json()["execution_note"]) == ("executed", "已复电")
    again = admin.post(f"/api/disconnection-orders/{parts['order_execute']}/execute", {}, content_type=JSON)
    assert again.status_code == 409
    r = manager.post(
        f"/api/disconnection-orders/{parts['order_cancel']}/cancel", {"reason": "分期"}, content_type=JSON
    )
    assert r.status_code == 200 and (r.json()["status"], r.json()["cancel_reason"]) == ("cancelled", "分期")
    assert manager.get("/api/disconnection-orders?status=nope").status_code == 422


def test_the_collector_sees_and_executes_only_inside_the_scope(
    company: Any, api_for: Callable[[str], Client]
) -> None:
    collector = user_of(company, roles.COLLECTOR)
    outside = Account.objects.exclude(pk__in=accounts_for(collector).values("pk")).order_by("number").first()
    assert outside is not None
    now = timezone.now()
    order = DisconnectionOrder.objects.create(account=outside, kind="restore", status="planned", planned_at=now,
                                              created_at=now)  # fmt: skip
    client = api_for(roles.COLLECTOR)
    assert order.pk not in {o["id"] for o in client.get("/api/disconnection-orders").json()["items"]}
    assert (
        client.post(f"/api/disconnection-orders/{order.pk}/execute", {}, content_type=JSON).status_code == 404
    )
