"""The collection API (催费管理): a collector's worklist and visits scoped to their routes, the supervisor's
scorecards, aging and recovery by collector; who may call what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from api_helpers import user_of
from collection_helpers import assign_routes
from django.test import Client

from wattdesk.application.billing.review import issue_bills
from wattdesk.application.collection import collectors as collection
from wattdesk.domain.access import roles
from wattdesk.domain.collection.models import Visit
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.payments import queries as pay_queries

SH = ZoneInfo("Asia/Shanghai")
AS_OF = "2026-12-31"  # after the due date of the issued 2026-10 bills


@pytest.fixture
def assigned(company: Any) -> tuple[Any, set[int]]:
    """The 2026-10 bills issued; demo_collector assigned to the routes of their scope."""
    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=SH),
        issued_on=date(2026, 11, 3),
    )
    user = user_of(company, roles.COLLECTOR)
    return user, set(assign_routes(user))


class TestWorklist:
    def test_a_collector_gets_the_overdue_accounts_of_their_routes_only(
        self, assigned: Any, api_for: Callable[[str], Client]
    ) -> None:
        user, route_ids = assigned
        body = api_for(roles.COLLECTOR).get(f"/api/collection/worklist?as_of={AS_OF}").json()
        numbers = [i["account_number"] for i in body["items"]]
        assert body["collector"] == user.username and numbers
        on_routes = set(
            ServicePoint.objects.filter(account__number__in=numbers).values_list("route_id", flat=True)
        )
        assert on_routes <= route_ids
        expected = collection.worklist(collector=user, as_of=date(2026, 12, 31), limit=200)
        assert numbers == [r.account_number for r in expected]
        assert [Decimal(i["amount_due"]) for i in body["items"]] == [r.item.amount_due for r in expected]
        assert all(isinstance(i["amount_due"], str) for i in body["items"])

    def test_another_collectors_worklist_needs_collection_assess(
        self, assigned: Any, api_for: Callable[[str], Client]
    ) -> None:
        user, _ = assigned
        mine = api_for(roles.COLLECTOR).get(f"/api/collection/worklist?as_of={AS_OF}").json()
        # a collector asking for someone else's list is refused
        refused = api_for(roles.COLLECTOR).get("/api/collection/worklist?collector=demo_admin")
        assert refused.status_code == 403 and set(refused.json()) == {"detail"}
        # the supervisor drills down to the collector's list
        seen = api_for(roles.MARKETING_MANAGER).get(
            f"/api/collection/worklist?as_of={AS_OF}&collector={user.username}"
        )
        assert seen.status_code == 200 and seen.json() == mine
        assert (
            api_for(roles.MARKETING_MANAGER).get("/api/collection/worklist?collector=nobody").status_code
            == 404
        )
        # roles with neither capability
        for role in (roles.METER_READER, roles.CS_AGENT, roles.ANALYST, roles.CUSTOMER):
            assert api_for(role).get("/api/collection/worklist").status_code == 403


class TestVisits:
    def test_records_a_visit_on_an_account_of_the_collectors_routes(
        self, assigned: Any, api_for: Callable[[str], Client]
    ) -> None:
        user, _route_ids = assigned
        client = api_for(roles.COLLECTOR)
        number = client.get(f"/api/collection/worklist?as_of={AS_OF}").json()["items"][0]["account_number"]
        r = client.post(
            "/api/collection/visits",
            {"account": number, "outcome": "promised", "promised_on": "2099-01-05", "amount_collected": "0",
             "note": "下周一缴"},
            content_type="application/json",
        )  # fmt: skip
        assert r.status_code == 201, r.content
        body = r.json()
        assert (body["account"], body["outcome"], body["promised_on"], body["collector"], body["note"]) == (
            number, "promised", "2099-01-05", user.username, "下周一缴")  # fmt: skip
        v = Visit.objects.get()
        assert (v.account.number, v.collector_id, v.promised_on) == (number, user.pk, date(2099, 1, 5))
        # a worklist row now shows the latest visit
        rows = client.get(f"/api/collection/worklist?as_of={AS_OF}").json()["items"]
        assert next(i for i in rows if i["account_number"] == number)["last_visit"] == "promised"

    def test_refuses_an_account_off_the_routes_and_bad_input_writing_nothing(
        self, assigned: Any, api_for: Callable[[str], Client]
    ) -> None:
        _user, route_ids = assigned
        client = api_for(roles.COLLECTOR)
        other = (
            ServicePoint.objects.exclude(route_id__in=route_ids)
            .values_list("account__number", flat=True)
            .first()
        )
        mine = ServicePoint.objects.filter(route_id__in=route_ids).values_list("account__number", flat=True)[
            0
        ]
        for body, reason in (
            ({"account": other, "outcome": "paid"}, "not on your routes"),
            ({"account": mine, "outcome": "gone"}, "unknown outcome"),
            ({"account": mine, "outcome": "promised"}, "promised date"),
            ({"account": mine, "outcome": "paid", "amount_collected": "1.234"}, "more than 2 decimals"),
        ):
            r = client.post("/api/collection/visits", body, content_type="application/json")
            assert r.status_code == 422 and reason in r.json()["detail"], (body, r.content)
        assert Visit.objects.count() == 0
        denied = api_for(roles.MARKETING_MANAGER).post(
            "/api/collection/visits", {"account": mine, "outcome": "paid"}, content_type="application/json"
        )
        assert denied.status_code == 403 and Visit.objects.count() == 0


class TestReports:
    def test_scorecards_recovery_and_aging_by_collector_match_the_use_cases(
        self, assigned: Any, api_for: Callable[[str], Client]
    ) -> None:
        user, _ = assigned
        client = api_for(roles.MARKETING_MANAGER)
        cards = client.get("/api/collection/scorecards?period=2026-10&by=collector").json()
        expected = collection.scorecards(period="2026-10", by="collector")
        assert [(r["key"], r["rank"], Decimal(r["billed"]), Decimal(r["recovery_rate"])) for r in cards["rows"]] == [
            (r.key, r.rank, r.billed, r.recovery_rate) for r in expected.rows]  # fmt: skip
        assert [r["key"] for r in cards["rows"]] == [user.username]
        assert len(cards["trend_periods"]) == 6 and set(cards["trend"]) == {user.username, "all"}
        recovery = client.get("/api/collection/recovery?period=2026-10&by=collector").json()
        assert [(r["key"], Decimal(r["billed"]), Decimal(r["collected"]), r["rate"]) for r in recovery["rows"]] == [
            (r.key, r.billed, r.collected, str(r.rate))
            for r in collection.recovery_by_collector(period="2026-10")]  # fmt: skip
        total = pay_queries.recovery_rate(period="2026-10")[0]
        assert recovery["rows"][-1] == {"key": "all", "billed": str(total.billed),
                                        "collected": str(total.collected), "rate": str(total.rate)}  # fmt: skip
        by_region = client.get("/api/collection/recovery?period=2026-10&by=region").json()["rows"]
        assert by_region[-1] == recovery["rows"][-1]
        aging = client.get(f"/api/collection/aging?as_of={AS_OF}&by=collector").json()
        assert {r["key"]: Decimal(r["total"]) for r in aging["rows"]} == {
            r.key: r.total for r in collection.aging_by_collector(as_of=date(2026, 12, 31))}  # fmt: skip
        assert user.username in {r["key"] for r in aging["rows"]}
        by_class = client.get(f"/api/collection/aging?as_of={AS_OF}&by=class").json()["rows"]
        assert sum(Decimal(r["total"]) for r in by_class) == sum(Decimal(r["total"]) for r in aging["rows"])

    def test_reports_need_collection_assess_and_valid_parameters(
        self, assigned: Any, api_for: Callable[[str], Client]
    ) -> None:
        for url in ("/api/collection/scorecards?period=2026-10", "/api/collection/aging",
                    "/api/collection/recovery?period=2026-10"):  # fmt: skip
            for role in roles.ROLES:
                status = api_for(role).get(url).status_code
                allowed = roles.COLLECTION_ASSESS in roles.CAPABILITIES[role]
                assert (status == 200) if allowed else (status == 403), (url, role, status)
        client = api_for(roles.BILLING_CLERK)
        for url in ("/api/collection/scorecards?period=2026-13", "/api/collection/scorecards?period=2026-10&by=outlet",
                    "/api/collection/recovery?period=26-10", "/api/collection/aging?by=meter",
                    "/api/collection/aging?as_of=2026-02-30"):  # fmt: skip
            r = client.get(url)
            assert r.status_code == 422 and "detail" in r.json(), url
