"""POST / GET /api/service-changes on the sample company, by role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api_helpers import user_of, visible
from django.test import Client

from wattdesk.domain.changes.models import ServiceChange
from wattdesk.domain.customers.models import ServicePoint


def test_the_clerk_records_a_meter_exchange_and_lists_it_a_reader_is_refused(
    company: Any, api_for: Callable[[str], Client]
) -> None:
    account = visible(user_of(company, "billing_clerk"))["account"]
    point = ServicePoint.objects.filter(account__number=account).order_by("number").first()
    assert point is not None
    body = {
        "account": account,
        "service_point": point.number,
        "kind": "meter_exchange",
        "effective_on": "2026-11-01",
        "meter_serial": "NEW-1",
    }
    refused = api_for("meter_reader").post("/api/service-changes", body, content_type="application/json")
    assert refused.status_code == 403 and not ServiceChange.objects.exists()
    r = api_for("billing_clerk").post("/api/service-changes", body, content_type="application/json")
    assert r.status_code == 201, r.content
    assert (r.json()["kind"], r.json()["capacity_before"]) == ("meter_exchange", f"{point.capacity_kva:.4f}")
    listed = api_for("billing_clerk").get(f"/api/service-changes?account={account}")
    assert [c["id"] for c in listed.json()] == [r.json()["id"]]
    unknown = api_for("billing_clerk").post(
        "/api/service-changes", {**body, "account": "NOPE"}, content_type="application/json"
    )
    assert unknown.status_code == 404
