"""What the endpoints return: scoping (id guessing is a 404), all-or-nothing bulk readings, money as exact
decimal strings, filters, pagination, the schema and the docs page."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from api_helpers import user_of, valid_reading
from django.test import Client
from django.utils import timezone

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, bills_for
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger import queries as ledger
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.metering.models import ImportBatch, RegisterReading


class TestIdGuessing:
    def test_collector_asking_for_an_account_outside_their_routes_gets_404(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        collector = user_of(company, roles.COLLECTOR)
        outside = (
            Account.objects.exclude(pk__in=accounts_for(collector).values("pk")).order_by("number").first()
        )
        inside = accounts_for(collector).order_by("number").first()
        assert outside is not None and inside is not None
        client = api_for(roles.COLLECTOR)
        for suffix in ("", "/ledger"):
            response = client.get(f"/api/accounts/{outside.number}{suffix}")
            assert response.status_code == 404
            assert response.json() == {"detail": "Not Found"}
            assert client.get(f"/api/accounts/{inside.number}{suffix}").status_code == 200

    def test_customer_asking_for_another_customers_bill_gets_404(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        customer = user_of(company, roles.CUSTOMER)
        own = bills_for(customer).order_by("id").first()
        other = Bill.objects.exclude(pk__in=bills_for(customer).values("pk")).order_by("id").first()
        assert own is not None and other is not None
        client = api_for(roles.CUSTOMER)
        assert client.get(f"/api/bills/{other.pk}").json() == {"detail": "Not Found"}
        assert client.get(f"/api/bills/{other.pk}").status_code == 404
        assert client.get(f"/api/bills/{own.pk}").status_code == 200
        listed = client.get("/api/bills?page_size=500").json()
        assert {b["id"] for b in listed["items"]} == set(bills_for(customer).values_list("pk", flat=True))

    def test_customer_lists_only_their_own_accounts(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        customer = user_of(company, roles.CUSTOMER)
        body = api_for(roles.CUSTOMER).get("/api/accounts").json()
        assert {a["number"] for a in body["items"]} == set(
            accounts_for(customer).values_list("number", flat=True)
        )
        assert body["count"] == accounts_for(customer).count()


class TestBulkReadings:
    def test_one_bad_item_is_a_422_listing_it_and_nothing_is_stored(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        good = valid_reading(user_of(company, roles.METER_READER))
        bad = {**good, "value": "twelve"}
        readings, batches = RegisterReading.objects.count(), ImportBatch.objects.count()
        response = api_for(roles.METER_READER).post(
            "/api/readings/bulk", [good, bad], content_type="application/json"
        )
        assert response.status_code == 422
        body = response.json()
        assert body["detail"] == "1 bad item(s), nothing stored"
        assert body["errors"][0] == {"index": 1, "field": "value", "reason": "not a number: 'twelve'"}
        assert all(e["index"] == 1 for e in body["errors"])  # the good item is not blamed
        assert (RegisterReading.objects.count(), ImportBatch.objects.count()) == (readings, batches)

    def test_a_structurally_bad_item_is_a_422_with_its_index(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        good = valid_reading(user_of(company, roles.METER_READER))
        response = api_for(roles.METER_READER).post(
            "/api/readings/bulk", [good, good, {"meter_serial": "X"}], content_type="application/json"
        )
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert {(e["index"], e["field"]) for e in errors} == {(2, "register"), (2, "read_on"), (2, "value")}

    def test_a_meter_outside_the_readers_routes_is_an_unknown_meter(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        outside = valid_reading(user_of(company, roles.BILLING_CLERK))
        reader_meters = valid_reading(user_of(company, roles.METER_READER))
        if outside["meter_serial"] == reader_meters["meter_serial"]:
            return  # the company's latest reading happens to be on the reader's routes
        response = api_for(roles.METER_READER).post(
            "/api/readings/bulk", [outside], content_type="application/json"
        )
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"index": 0, "field": "meter_serial", "reason": f"unknown meter {outside['meter_serial']!r}"}
        ]

    def test_good_items_are_stored_through_the_import(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        good = valid_reading(user_of(company, roles.METER_READER))
        response = api_for(roles.METER_READER).post(
            "/api/readings/bulk", [good], content_type="application/json"
        )
        assert response.status_code == 201
        body = response.json()
        assert body["readings"] == 1 and body["already_imported"] is False
        stored = RegisterReading.objects.get(
            register__meter__serial=good["meter_serial"],
            register__kind="active_total",
            read_on=good["read_on"],
        )
        assert stored.value == Decimal(good["value"]) and stored.import_batch_id == body["batch_id"]
        listed = api_for(roles.METER_READER).get(f"/api/readings?meter={good['meter_serial']}&page_size=500")
        assert {
            "read_on": good["read_on"],
            "value": format(stored.value, "f"),
            "register": "active_total",
        }.items() <= (next(r for r in listed.json()["items"] if r["read_on"] == good["read_on"]).items())


class TestMoneyAsStrings:
    def test_bill_total_and_lines_are_the_stored_decimals_as_strings(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        bill = Bill.objects.filter(period=company.period).order_by("-total").first()
        assert bill is not None
        body = api_for(roles.BILLING_CLERK).get(f"/api/bills/{bill.pk}").json()
        assert body["total"] == str(bill.total) and isinstance(body["total"], str)
        assert body["kwh"] == str(bill.kwh)
        lines = list(bill.lines.order_by("seq"))
        assert [(ln["code"], ln["amount"], ln["quantity"], ln["rate"]) for ln in body["lines"]] == [
            (ln.code, str(ln.amount), str(ln.quantity), str(ln.rate)) for ln in lines
        ]
        assert sum(Decimal(ln["amount"]) for ln in body["lines"]) == bill.total

    def test_ledger_balance_is_the_ledger_balance(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        bill = Bill.objects.filter(period=company.period).order_by("id").first()
        assert bill is not None
        body = api_for(roles.CS_AGENT).get(f"/api/accounts/{bill.account.number}/ledger").json()
        assert body["balance"] == str(ledger.balance(account_id=bill.account_id))
        assert [e["amount"] for e in body["entries"]] == [
            str(e.amount) for e in ledger.entries(account_id=bill.account_id)
        ]

    def test_openapi_declares_money_as_strings(self, company: Any, api_for: Callable[[str], Client]) -> None:
        schema = api_for(roles.ADMIN).get("/api/openapi.json").json()
        total = schema["components"]["schemas"]["BillRead"]["properties"]["total"]
        assert total["type"] == "string" and total["format"] == "decimal"


class TestListing:
    def test_filters_and_page_size_cap(self, company: Any, api_for: Callable[[str], Client]) -> None:
        client = api_for(roles.BILLING_CLERK)
        held = client.get(f"/api/bills?period={company.period}&status=held&page_size=500").json()
        assert held["count"] == Bill.objects.filter(period=company.period, status="held").count()
        assert all(b["status"] == "held" for b in held["items"])
        assert client.get("/api/customers?page_size=501").status_code == 422
        page = client.get("/api/customers?class=residential&page_size=3&page=2").json()
        assert len(page["items"]) == 3
        bad = client.get("/api/bills?period=2026-13")
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "period"

    def test_billing_run_for_a_billed_period_is_queued_and_reports_the_accounts_already_billed(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        from wattdesk.application.billing.launch import execute_run

        response = api_for(roles.BILLING_CLERK).post(
            "/api/billing-runs", {"period": company.period}, content_type="application/json"
        )
        assert response.status_code == 202
        run_id = response.json()["id"]
        execute_run(run_id=run_id, attempt=1, clock=timezone.now)  # what the queued task does
        body = api_for(roles.BILLING_CLERK).get(f"/api/billing-runs/{run_id}").json()
        assert body["state"] == "finished" and body["done"] == body["total"] == body["counts"]["accounts"]
        assert body["counts"]["billed"] == 0 and body["counts"]["already_billed"] > 0
        assert body["counts"]["total"] == "0"
        assert api_for(roles.BILLING_CLERK).post(
            "/api/billing-runs", {"period": company.period, "route": "NOPE"}, content_type="application/json"
        ).json() == {"detail": "unknown reading route 'NOPE'"}


class TestDocs:
    def test_swagger_ui_loads_nothing_from_a_cdn(self, client_for: Callable[[str], Client]) -> None:
        html = client_for(roles.ADMIN).get("/api/docs").content.decode()
        assert "/static/ninja/swagger-ui-bundle.js" in html
        # Every script and stylesheet the page loads is ours: no absolute or protocol-relative address. (A bare
        # "cdn" search failed whenever the random CSRF token happened to contain those three letters.)
        loaded = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", html, flags=re.IGNORECASE)
        assert loaded and all(url.startswith("/") and not url.startswith("//") for url in loaded), loaded
        assert "cdn." not in html.lower() and "https://" not in html and "http://" not in html


class TestReviewActions:
    def test_hold_approve_and_cancel_answer_the_bill_and_its_new_status(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        client = api_for(roles.BILLING_CLERK)
        bill = Bill.objects.filter(period=company.period, status="draft").order_by("id").first()
        assert bill is not None
        head = {
            "bill_id": bill.pk,
            "account": bill.account.number,
            "period": bill.period,
            "total": str(bill.total),
        }
        held = client.post(
            f"/api/bills/{bill.pk}/hold", {"reason": "表码待核实"}, content_type="application/json"
        )
        assert (held.status_code, held.json()) == (200, {**head, "status": "held"})
        approved = client.post(
            f"/api/bills/{bill.pk}/approve", {"note": "ok"}, content_type="application/json"
        )
        assert (approved.status_code, approved.json()) == (200, {**head, "status": "draft"})
        cancelled = client.post(
            f"/api/bills/{bill.pk}/cancel", {"reason": "重复"}, content_type="application/json"
        )
        body = cancelled.json()
        assert cancelled.status_code == 200
        reversal = body.pop("reversal_entry_id")
        expected = "0.00" if reversal is None else str(LedgerEntry.objects.get(pk=reversal).amount)
        assert (body.pop("version"), body.pop("reversal_amount")) == (bill.version, expected)
        assert body == {**head, "status": "cancelled"}
