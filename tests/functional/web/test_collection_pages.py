"""The collector's worklist and the supervisor's scorecards: roles, scope, drill-down."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from wattdesk.application.billing.review import issue_bills
from wattdesk.domain.access import roles
from wattdesk.domain.collection.models import CollectorAssignment, Visit
from wattdesk.domain.customers.models import ServicePoint

SH = ZoneInfo("Asia/Shanghai")
AS_OF = "2026-12-31"  # after the due date of the issued 2026-10 bills


@pytest.fixture
def assigned(company: Any) -> Any:
    """The issued bills of the period; demo_collector assigned to the routes of its StaffScope."""
    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=SH),
        issued_on=date(2026, 11, 3),
    )
    user = get_user_model().objects.get(username=company.logins[roles.COLLECTOR].username)
    routes = list(user.staff_scope.routes.all())
    assert routes
    for route in routes:
        CollectorAssignment.objects.create(user=user, route=route, from_date=date(2026, 1, 1))
    return user, {r.pk for r in routes}


WORK_ROLES = {roles.COLLECTOR, roles.ADMIN}
ASSESS_ROLES = {roles.ADMIN, roles.BILLING_CLERK, roles.MARKETING_MANAGER}


@pytest.mark.parametrize("role", roles.ROLES)
def test_roles(role: str, client_for: Callable[[str], Client], assigned: Any) -> None:
    client = client_for(role)
    worklist = client.get("/collection/worklist/")
    cards = client.get("/collection/scorecards/?period=2026-10")
    assert (worklist.status_code == 200) == (role in WORK_ROLES)
    assert (cards.status_code == 200) == (role in ASSESS_ROLES)


def test_collector_sees_only_their_routes(client_for: Callable[[str], Client], assigned: Any) -> None:
    _user, route_ids = assigned
    response = client_for(roles.COLLECTOR).get(f"/collection/worklist/?as_of={AS_OF}")
    assert response.status_code == 200
    rows = response.context["rows"]
    assert rows, "the collector has overdue accounts on their routes"
    numbers = [r.account_number for r in rows]
    on_routes = set(
        ServicePoint.objects.filter(account__number__in=numbers).values_list("route_id", flat=True)
    )
    assert on_routes <= route_ids
    # every overdue account of those routes is listed, highest score first
    scores = [r.item.score for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert response.content.decode().count('data-testid="work-item"') == len(rows)
    # the admin has no assignment and is no collector: standing in, they work on every debtor of the company
    admin_rows = client_for(roles.ADMIN).get(f"/collection/worklist/?as_of={AS_OF}").context["rows"]
    assert set(numbers) < {r.account_number for r in admin_rows}


def test_record_a_visit_and_refuse_one_off_route(
    client_for: Callable[[str], Client], assigned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The visit happens on AS_OF (the page stamps it with the clock): a promise must not be dated before the
    # visit, so on the real clock the fixed promise date below would be refused once that day has passed.
    visited_at = datetime(2026, 12, 31, 10, tzinfo=SH)
    monkeypatch.setattr(timezone, "now", lambda: visited_at)
    client = client_for(roles.COLLECTOR)
    rows = client.get(f"/collection/worklist/?as_of={AS_OF}").context["rows"]
    ok = client.post(
        f"/collection/worklist/?as_of={AS_OF}",
        {"account": rows[0].account_number, "outcome": "promised", "promised_on": "2027-01-05"},
    )
    assert ok.status_code == 302
    visit = Visit.objects.get()
    assert (visit.account.number, visit.outcome, visit.promised_on) == (
        rows[0].account_number,
        "promised",
        date(2027, 1, 5),
    )
    _user, route_ids = assigned
    other = (
        ServicePoint.objects.exclude(route_id__in=route_ids).values_list("account__number", flat=True).first()
    )
    bad = client.post(f"/collection/worklist/?as_of={AS_OF}", {"account": other, "outcome": "paid"})
    assert bad.status_code == 400
    assert Visit.objects.count() == 1


def test_scorecards_drill_down(client_for: Callable[[str], Client], assigned: Any) -> None:
    client = client_for(roles.MARKETING_MANAGER)
    by_region = client.get("/collection/scorecards/?period=2026-10&by=region")
    assert by_region.status_code == 200
    cards = by_region.context["cards"]
    assert cards.total.billed > 0
    assert cards.total.collected == 0  # nothing paid yet in this company
    region = cards.rows[0].key
    by_route = client.get(f"/collection/scorecards/?period=2026-10&by=route&region={region}").context["cards"]
    assert by_route.rows and sum(r.billed for r in by_route.rows) == cards.rows[0].billed
    user, _ = assigned
    by_coll = client.get("/collection/scorecards/?period=2026-10&by=collector").context["cards"]
    assert [r.key for r in by_coll.rows] == [user.username]
    # recovery by collector: the collector's routes, the rest of the company under "-", and the total
    page = client.get("/collection/scorecards/?period=2026-10&by=collector")
    recovery = {r.key: r for r in page.context["recovery"]}
    assert set(recovery) == {user.username, "-", "all"}
    assert recovery[user.username].billed == by_coll.rows[0].billed > 0
    assert (
        recovery[user.username].billed + recovery["-"].billed == recovery["all"].billed == cards.total.billed
    )
    assert 'data-testid="recovery-by-collector"' in page.content.decode()
    accounts = client.get(f"/collection/scorecards/?period=2026-10&by=collector&collector={user.username}")
    assert accounts.status_code == 200
    assert 'data-chart="' in accounts.content.decode()
    assert client.get("/collection/scorecards/?period=2026-13").status_code == 400
    assert client.get("/collection/scorecards/?period=2026-10&by=outlet").status_code == 400
