"""Every endpoint x every role: the roles holding the endpoint's capability get a 2xx, the others 403/404."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from adjustment_helpers import ENDPOINT_ROWS as ADJUSTMENT_ENDPOINTS
from adjustment_helpers import adjustment_parts
from api_helpers import payment_of, user_of, valid_reading, visible
from collection_helpers import visit_body
from collection_orders_helpers import order_parts
from django.test import Client
from django.utils import timezone
from inspection_helpers import inspection_parts
from sub_use_helpers import sub_use_parts
from tier_quota_helpers import quota_parts
from transformer_helpers import transformer_parts

from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion
from wattdesk.interfaces.api.api import api


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # OpenAPI path template
    needs: frozenset[str]  # any one of these capabilities
    url: str  # with {account} {customer} {meter} {bill} {tariff} {period} placeholders


def _any(*caps: str) -> frozenset[str]:
    return frozenset(caps)


ENDPOINTS = (
    Endpoint("GET", "/api/customers", _any(roles.CUSTOMERS_VIEW), "/api/customers?page_size=5"),
    Endpoint("GET", "/api/customers/{number}", _any(roles.CUSTOMERS_VIEW), "/api/customers/{customer}"),
    Endpoint("GET", "/api/accounts", _any(roles.CUSTOMERS_VIEW, roles.PORTAL_USE), "/api/accounts"),
    Endpoint(
        "GET",
        "/api/accounts/{number}",
        _any(roles.CUSTOMERS_VIEW, roles.PORTAL_USE),
        "/api/accounts/{account}",
    ),
    Endpoint(
        "GET",
        "/api/accounts/{number}/ledger",
        _any(roles.LEDGER_VIEW, roles.PORTAL_USE),
        "/api/accounts/{account}/ledger",
    ),
    Endpoint("GET", "/api/meters/{serial}", _any(roles.READINGS_VIEW), "/api/meters/{meter}"),
    Endpoint(
        "GET", "/api/readings", _any(roles.READINGS_VIEW), "/api/readings?meter={meter}&period={period}"
    ),
    Endpoint("POST", "/api/readings/bulk", _any(roles.READINGS_IMPORT), "/api/readings/bulk"),
    Endpoint("GET", "/api/tariffs", _any(roles.TARIFFS_VIEW), "/api/tariffs"),
    Endpoint("GET", "/api/tariffs/{code}", _any(roles.TARIFFS_VIEW), "/api/tariffs/{tariff}?on=2026-10-15"),
    Endpoint("POST", "/api/tariffs/changes", _any(roles.TARIFFS_EDIT), "/api/tariffs/changes"),
    Endpoint("GET", "/api/transformers/models", _any(roles.READINGS_VIEW), "/api/transformers/models"),
    Endpoint("POST", "/api/transformers/models", _any(roles.METERING_ARCHIVE), "/api/transformers/models"),
    Endpoint("POST", "/api/transformers", _any(roles.METERING_ARCHIVE), "/api/transformers"),
    Endpoint(
        "GET", "/api/transformers/{number}", _any(roles.READINGS_VIEW), "/api/transformers/{transformer}"
    ),
    Endpoint(
        "POST",
        "/api/transformers/{number}/end",
        _any(roles.METERING_ARCHIVE),
        "/api/transformers/{transformer}/end",
    ),
    Endpoint(
        "POST", "/api/transformers/loss-table", _any(roles.METERING_ARCHIVE), "/api/transformers/loss-table"
    ),
    Endpoint("GET", "/api/sub-uses", _any(roles.TARIFFS_VIEW), "/api/sub-uses?service_point={sub_use_sp}"),
    Endpoint("POST", "/api/sub-uses", _any(roles.TARIFFS_EDIT, roles.BILLING_REVIEW), "/api/sub-uses"),
    Endpoint(
        "POST",
        "/api/sub-uses/{agreement_id}/end",
        _any(roles.TARIFFS_EDIT, roles.BILLING_REVIEW),
        "/api/sub-uses/{sub_use}/end",
    ),
    Endpoint("GET", "/api/tier-quotas", _any(roles.CUSTOMERS_VIEW), "/api/tier-quotas?account={account}"),
    Endpoint("POST", "/api/tier-quotas", _any(roles.BILLING_REVIEW), "/api/tier-quotas"),
    Endpoint(
        "POST",
        "/api/tier-quotas/{grant_id}/end",
        _any(roles.BILLING_REVIEW),
        "/api/tier-quotas/{tier_quota}/end",
    ),
    Endpoint("GET", "/api/bills", _any(roles.BILLING_VIEW, roles.PORTAL_USE), "/api/bills?period={period}"),
    Endpoint("GET", "/api/bills/{bill_id}", _any(roles.BILLING_VIEW, roles.PORTAL_USE), "/api/bills/{bill}"),
    Endpoint(
        "POST", "/api/bills/{bill_id}/approve", _any(roles.BILLING_REVIEW), "/api/bills/{held_bill}/approve"
    ),
    Endpoint("POST", "/api/bills/{bill_id}/hold", _any(roles.BILLING_REVIEW), "/api/bills/{draft_bill}/hold"),
    Endpoint(
        "POST", "/api/bills/{bill_id}/cancel", _any(roles.BILLING_REVIEW), "/api/bills/{cancel_bill}/cancel"
    ),
    Endpoint("POST", "/api/bills/issue", _any(roles.BILLING_REVIEW), "/api/bills/issue"),
    Endpoint("GET", "/api/billing-runs", _any(roles.BILLING_VIEW), "/api/billing-runs"),
    Endpoint("POST", "/api/billing-runs", _any(roles.BILLING_RUN), "/api/billing-runs"),
    Endpoint("POST", "/api/service-changes", _any(roles.SERVICE_CHANGES), "/api/service-changes"),
    Endpoint(
        "GET", "/api/service-changes", _any(roles.BILLING_VIEW), "/api/service-changes?account={account}"
    ),
    Endpoint(
        "GET", "/api/billing-runs/{run_id}", _any(roles.BILLING_VIEW), "/api/billing-runs/{stalled_run}"
    ),
    Endpoint(
        "POST",
        "/api/billing-runs/{run_id}/resume",
        _any(roles.BILLING_RUN),
        "/api/billing-runs/{stalled_run}/resume",
    ),
    Endpoint(
        "POST",
        "/api/billing-runs/{run_id}/restart",
        _any(roles.BILLING_RUN),
        "/api/billing-runs/{stalled_run_2}/restart",
    ),
    Endpoint("POST", "/api/outlets/plans", _any(roles.OUTLETS_PLAN), "/api/outlets/plans"),
    Endpoint("GET", "/api/outlets/plans/{job_id}", _any(roles.OUTLETS_PLAN), "/api/outlets/plans/{plan_job}"),
    Endpoint("POST", "/api/nightly-passes", _any(roles.DUNNING_MANAGE), "/api/nightly-passes"),
    # a queued import / export is its starter's only: each role asks for a job of its own (job_parts_of)
    Endpoint(
        "GET",
        "/api/reading-imports/{job_id}",
        _any(roles.READINGS_IMPORT),
        "/api/reading-imports/{import_job}",
    ),
    Endpoint("GET", "/api/audit-exports/{job_id}", _any(roles.AUDIT_VIEW), "/api/audit-exports/{export_job}"),
    Endpoint(
        "GET", "/api/nightly-passes/{job_id}", _any(roles.DUNNING_MANAGE), "/api/nightly-passes/{nightly_job}"
    ),
    Endpoint(
        "GET",
        "/api/collection/worklist",
        _any(roles.COLLECTION_WORK, roles.COLLECTION_ASSESS),
        "/api/collection/worklist?as_of=2026-12-31",
    ),
    Endpoint("POST", "/api/collection/visits", _any(roles.COLLECTION_WORK), "/api/collection/visits"),
    Endpoint(
        "GET",
        "/api/collection/scorecards",
        _any(roles.COLLECTION_ASSESS),
        "/api/collection/scorecards?period={period}&by=collector",
    ),
    Endpoint(
        "GET", "/api/collection/aging", _any(roles.COLLECTION_ASSESS), "/api/collection/aging?by=collector"
    ),
    Endpoint(
        "GET",
        "/api/collection/recovery",
        _any(roles.COLLECTION_ASSESS),
        "/api/collection/recovery?period={period}&by=collector",
    ),
    Endpoint("GET", "/api/payments", _any(roles.LEDGER_VIEW, roles.PORTAL_USE), "/api/payments?channel=bank"),
    Endpoint(
        "GET",
        "/api/payments/{payment_id}",
        _any(roles.LEDGER_VIEW, roles.PORTAL_USE),
        "/api/payments/{payment}",
    ),
    Endpoint("POST", "/api/payments", _any(roles.PAYMENTS_COUNTER, roles.PAYMENTS_COLLECT), "/api/payments"),
    Endpoint(
        "POST",
        "/api/payments/batch",
        _any(roles.PAYMENTS_COUNTER, roles.PAYMENTS_COLLECT),
        "/api/payments/batch",
    ),
    Endpoint(
        "POST",
        "/api/payments/{payment_id}/reverse",
        _any(roles.PAYMENTS_REVERSE),
        "/api/payments/{payment}/reverse",
    ),
    Endpoint(
        "GET",
        "/api/waivers",
        _any(roles.LEDGER_WAIVE_REQUEST, roles.LEDGER_WAIVE),
        "/api/waivers?status=pending",
    ),
    Endpoint("POST", "/api/waivers", _any(roles.LEDGER_WAIVE_REQUEST), "/api/waivers"),
    Endpoint(
        "POST",
        "/api/waivers/{waiver_id}/approve",
        _any(roles.LEDGER_WAIVE),
        "/api/waivers/{waiver_approve}/approve",
    ),
    Endpoint(
        "POST",
        "/api/waivers/{waiver_id}/reject",
        _any(roles.LEDGER_WAIVE),
        "/api/waivers/{waiver_reject}/reject",
    ),
    Endpoint(
        "GET",
        "/api/disconnection-orders",
        _any(roles.COLLECTION_VIEW),
        "/api/disconnection-orders?status=awaiting",
    ),
    Endpoint(
        "POST",
        "/api/disconnection-orders/{order_id}/approve",
        _any(roles.DUNNING_APPROVE),
        "/api/disconnection-orders/{order_approve}/approve",
    ),
    Endpoint(
        "POST",
        "/api/disconnection-orders/{order_id}/execute",
        _any(roles.DUNNING_EXECUTE),
        "/api/disconnection-orders/{order_execute}/execute",
    ),
    Endpoint(
        "POST",
        "/api/disconnection-orders/{order_id}/cancel",
        _any(roles.DUNNING_MANAGE),
        "/api/disconnection-orders/{order_cancel}/cancel",
    ),
    Endpoint(
        "GET",
        "/api/fee-control/accounts/{number}/states",
        _any(roles.COLLECTION_VIEW, roles.PORTAL_USE),
        "/api/fee-control/accounts/{account}/states",
    ),
    Endpoint(
        "GET",
        "/api/fee-control/accounts/{number}/commands",
        _any(roles.COLLECTION_VIEW),
        "/api/fee-control/accounts/{account}/commands",
    ),
    Endpoint("GET", "/api/fee-control/commands", _any(roles.COLLECTION_VIEW), "/api/fee-control/commands"),
    Endpoint("GET", "/api/inspection-cases", _any(roles.BILLING_VIEW), "/api/inspection-cases"),
    Endpoint("POST", "/api/inspection-cases", _any(roles.BILLING_REVIEW), "/api/inspection-cases"),
    Endpoint(
        "GET",
        "/api/inspection-cases/{case_id}",
        _any(roles.BILLING_VIEW),
        "/api/inspection-cases/{inspection_case}",
    ),
    Endpoint(
        "POST",
        "/api/inspection-cases/{case_id}/compute",
        _any(roles.BILLING_REVIEW),
        "/api/inspection-cases/{inspection_compute}/compute",
    ),
    Endpoint(
        "POST",
        "/api/inspection-cases/{case_id}/approve",
        _any(roles.BILLING_REVIEW),
        "/api/inspection-cases/{inspection_approve}/approve",
    ),
    Endpoint(
        "POST",
        "/api/inspection-cases/{case_id}/post",
        _any(roles.BILLING_REVIEW),
        "/api/inspection-cases/{inspection_post}/post",
    ),
    Endpoint(
        "POST",
        "/api/inspection-cases/{case_id}/reject",
        _any(roles.BILLING_REVIEW),
        "/api/inspection-cases/{inspection_reject}/reject",
    ),
    Endpoint(
        "POST",
        "/api/inspection-cases/{case_id}/reverse",
        _any(roles.BILLING_REVIEW),
        "/api/inspection-cases/{inspection_reverse}/reverse",
    ),
    *(Endpoint(m, p, _any(*caps), url) for m, p, caps, url in ADJUSTMENT_ENDPOINTS),
)


def job_parts() -> dict[str, Any]:
    """Two stalled billing runs (resume one, restart the other) and a queued plan and nightly pass."""
    from datetime import timedelta

    from wattdesk.domain.billing.models import BillingRun
    from wattdesk.interfaces import tasks

    long_ago = timezone.now() - timedelta(hours=3)
    stalled = [
        BillingRun.objects.create(
            period=p, started_at=long_ago, heartbeat_at=long_ago, status="running", allow_empty=True
        ).pk
        for p in ("2026-06", "2026-07")
    ]
    return {
        "stalled_run": stalled[0],
        "stalled_run_2": stalled[1],
        "plan_job": tasks.enqueue_outlet_plan(k=1, radius_km=3.0, relocate=0, objective="coverage").id,
        "nightly_job": tasks.enqueue_nightly_pass(day=timezone.localdate()).id,
    }


def job_parts_of(user: Any) -> dict[str, Any]:
    """A queued reading import and audit export started by ``user`` (never run: the GET shows them queued)."""
    from wattdesk.interfaces import tasks

    return {
        "import_job": tasks.enqueue_readings_import(
            path="/nonexistent/readings.csv", file_name="readings.csv", as_of=timezone.localdate(), by=user.pk
        ).id,
        "export_job": tasks.enqueue_audit_export(filters={}, language="zh-hans", by=user.pk).id,
    }


def review_parts(period: str) -> dict[str, int]:
    """Bills in the state each review action needs (a held one, two drafts); the roles allowed to act see the
    whole company, the others are refused before the bill is looked at."""
    held = Bill.objects.filter(period=period, status=BillStatus.HELD).order_by("id").first()
    drafts = list(Bill.objects.filter(period=period, status=BillStatus.DRAFT).order_by("id")[:2])
    assert held is not None and len(drafts) == 2
    return {"held_bill": held.pk, "draft_bill": drafts[0].pk, "cancel_bill": drafts[1].pk}


def test_the_table_covers_every_operation_of_the_api() -> None:
    paths = api.get_openapi_schema()["paths"]
    operations = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    assert operations == {(e.method, e.path) for e in ENDPOINTS}


@pytest.mark.parametrize("role", roles.ROLES)
def test_each_endpoint_answers_each_role_by_capability(
    role: str, company: Any, api_for: Callable[[str], Client]
) -> None:
    user = user_of(company, role)
    caps = roles.CAPABILITIES[role]
    tariff = TariffVersion.objects.order_by("code").values_list("code", flat=True).first()
    parts = {**visible(user), "tariff": tariff, "period": company.period}
    parts["payment"] = payment_of(user, f"perm-{role}")
    parts.update(review_parts(company.period))
    parts.update(job_parts())
    parts.update(job_parts_of(user))
    bodies: dict[str, Any] = {"/api/billing-runs": {"period": company.period}}
    bodies["/api/billing-runs/{run_id}/resume"] = {}
    bodies["/api/billing-runs/{run_id}/restart"] = {}
    bodies["/api/outlets/plans"] = {"k": 1, "radius_km": 3}
    bodies["/api/nightly-passes"] = {"day": "2026-11-27"}
    bodies["/api/collection/visits"] = visit_body(user)
    pay = {"account": parts["account"], "amount": "1.00", "channel": "bank"}
    bodies["/api/payments"] = {**pay, "channel_txn_id": f"perm-one-{role}"}
    bodies["/api/payments/batch"] = [{**pay, "channel_txn_id": f"perm-batch-{role}"}]
    bodies["/api/payments/{payment_id}/reverse"] = {"reason": "permission table"}
    bodies["/api/bills/{bill_id}/approve"] = {"note": "permission table"}
    bodies["/api/bills/{bill_id}/hold"] = {"reason": "permission table"}
    bodies["/api/bills/{bill_id}/cancel"] = {"reason": "permission table"}
    bodies["/api/bills/issue"] = {"period": company.period}
    on_tariff = (  # the account's own tariff, far ahead: an unchanged item, accepted without writing
        TariffAssignment.objects.filter(
            service_point__account__number=parts["account"], effective_to__isnull=True
        )
        .values_list("tariff_code", flat=True)
        .first()
    )
    bodies["/api/tariffs/changes"] = [
        {"account_number": parts["account"], "tariff_code": on_tariff or "-", "effective_from": "2030-01-01"}
    ]
    point = ServicePoint.objects.filter(account__number=parts["account"]).order_by("number").first()
    bodies["/api/service-changes"] = {"account": parts["account"], "service_point": point.number if point else "-",
                                      "kind": "meter_exchange", "effective_on": "2026-11-01",
                                      "meter_serial": f"PERM-{role}"[:32]}  # fmt: skip
    # 退补 first: a transformer installed below (back-dated) changes what an old bill re-rates to, and a 退补
    # rightly refuses a bill it cannot reproduce
    adjustment_urls, adjustment_bodies = adjustment_parts(user)
    parts.update(adjustment_urls)
    bodies.update(adjustment_bodies)
    transformer_urls, transformer_bodies = transformer_parts(user)
    parts.update(transformer_urls)
    bodies.update(transformer_bodies)
    sub_use_urls, bodies["/api/sub-uses"], bodies["/api/sub-uses/{agreement_id}/end"] = sub_use_parts()
    parts.update(sub_use_urls)
    quota_urls, bodies["/api/tier-quotas"] = quota_parts(user, timezone.now())
    parts.update(quota_urls)
    bodies["/api/tier-quotas/{grant_id}/end"] = {
        "ends_from": parts["quota_ends"],
        "reason": "permission table",
    }
    parts.update(order_parts(user, timezone.now()))
    parts.update(inspection_parts(user))
    bodies["/api/inspection-cases"] = {"account": parts["account"], "behaviour": "T1", "found_on": "2024-03-01",
                                       "inspector": "王检查", "evidence": "permission table"}  # fmt: skip
    bodies["/api/inspection-cases/{case_id}/compute"] = {
        "usages": [{"capacity_kw": "2", "use": "power", "price": "0.4"}]
    }
    bodies["/api/inspection-cases/{case_id}/approve"] = {"note": "permission table"}
    bodies["/api/inspection-cases/{case_id}/post"] = {}
    bodies["/api/inspection-cases/{case_id}/reject"] = {"reason": "permission table"}
    bodies["/api/inspection-cases/{case_id}/reverse"] = {"reason": "permission table"}
    bodies["/api/waivers"] = {"bill_id": int(parts["waiver_new_bill"]) or 1, "reason": "permission table"}
    bodies["/api/waivers/{waiver_id}/approve"] = {"note": ""}
    bodies["/api/waivers/{waiver_id}/reject"] = {"note": "permission table"}
    bodies["/api/disconnection-orders/{order_id}/approve"] = {}
    bodies["/api/disconnection-orders/{order_id}/execute"] = {"note": "permission table"}
    bodies["/api/disconnection-orders/{order_id}/cancel"] = {"reason": "permission table"}
    if roles.READINGS_IMPORT in caps:
        bodies["/api/readings/bulk"] = [valid_reading(user)]
    else:
        bodies["/api/readings/bulk"] = [
            {"meter_serial": "M", "register": "active_total", "read_on": "2026-10-31", "value": "1"}
        ]
    client = api_for(role)
    wrong = []
    for e in ENDPOINTS:
        url = e.url.format(**parts)
        if e.method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, bodies[e.path], content_type="application/json")
        allowed = bool(caps & e.needs)
        ok = 200 <= response.status_code < 300 if allowed else response.status_code in (403, 404)
        if not ok:
            wrong.append(
                (
                    e.method,
                    url,
                    "allowed" if allowed else "denied",
                    response.status_code,
                    response.content[:200],
                )
            )
        elif not allowed:
            assert set(response.json()) == {"detail"}
    assert wrong == []
