"""抄表段分配 (the supervisor's page): who may open it, a collector assigned from a date and a meter reader put on a
route through the page, refusals shown, audit entries naming the supervisor; and the newly assigned collector's
走收 and worklist list the route's debtors at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from auditlog.models import LogEntry
from collector_support import issue_period_bills
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from wattdesk.domain.access import roles
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.collection.models import CollectorAssignment
from wattdesk.domain.customers.models import ReadingRoute

ASSIGN_ROLES = {roles.ADMIN, roles.MARKETING_MANAGER}


@pytest.mark.parametrize("role", roles.ROLES)
def test_only_supervisors_open_it(role: str, company: Any, client_for: Callable[[str], Client]) -> None:
    response = client_for(role).get("/collection/assignments/")
    assert (response.status_code == 200) == (role in ASSIGN_ROLES), response.status_code
    if role not in ASSIGN_ROLES:
        assert response.status_code == 403
        assert (
            client_for(role).post("/collection/assignments/", {"action": "end_collector"}).status_code == 403
        )


def test_a_supervisor_assigns_a_collector_and_a_reader(
    company: Any, client_for: Callable[[str], Client]
) -> None:
    issue_period_bills(company.period)
    users = get_user_model()
    newcomer = users.objects.create_user("collector_new", password="x")
    grant_role(user=newcomer, role=roles.COLLECTOR)
    held = set(CollectorAssignment.objects.values_list("route_id", flat=True))
    route = ReadingRoute.objects.exclude(pk__in=held).order_by("code").first()
    assert route is not None
    manager = client_for(roles.MARKETING_MANAGER)
    page = manager.get("/collection/assignments/").content.decode()
    assert f'data-route="{route.code}"' in page and 'value="collector_new"' in page
    today = timezone.localdate()
    r = manager.post("/collection/assignments/", {"action": "assign_collector", "route": route.code,
                                                  "user": "collector_new", "from_date": today.isoformat()})  # fmt: skip
    assert r.status_code == 302
    row = manager.get("/collection/assignments/").context["rows"]
    assert next(x for x in row if x.route_code == route.code).collector == "collector_new"
    entry = LogEntry.objects.get(additional_data__batch="collection.assign_collector")
    assert entry.actor.username == company.logins[roles.MARKETING_MANAGER].username
    # the new collector works the route at once: 走收 and the worklist list the same debtors of that route
    collector = Client()
    collector.force_login(newcomer)
    zoushou = collector.get("/collector/").context["work"]
    worklist = collector.get("/collection/worklist/").context["rows"]
    assert zoushou and sorted(w.account_number for w in zoushou) == sorted(w.account_number for w in worklist)
    # a meter reader on the route
    reader = company.logins[roles.METER_READER].username
    r = manager.post(
        "/collection/assignments/", {"action": "add_reader", "route": route.code, "user": reader}
    )
    assert r.status_code == 302
    row = manager.get("/collection/assignments/").context["rows"]
    assert reader in next(x for x in row if x.route_code == route.code).readers


def test_refusals_are_shown(company: Any, client_for: Callable[[str], Client]) -> None:
    manager = client_for(roles.MARKETING_MANAGER)
    route = ReadingRoute.objects.order_by("code").first()
    cases = [
        {"action": "assign_collector", "route": route.code, "user": "nobody", "from_date": "2026-01-01"},
        {
            "action": "assign_collector",
            "route": route.code,
            "user": "demo_collector",
            "from_date": "01/02/2026",
        },
        {"action": "add_reader", "route": "NO-SUCH", "user": "demo_meter_reader"},
        {"action": "drop_tables"},
    ]
    for data in cases:
        r = manager.post("/collection/assignments/", data)
        assert r.status_code == 400 and 'data-testid="assignment-error"' in r.content.decode(), data
    # the reason in the page's language, not the use case's English
    said = {
        "zh-hans": ("nobody 不是在岗的催费员。", "没有抄表段 NO-SUCH。"),
        "en": ("nobody is not an active collector.", "There is no reading route NO-SUCH."),
    }
    for language, (not_staff, no_route) in said.items():
        head = {"HTTP_ACCEPT_LANGUAGE": language}
        assert not_staff in manager.post("/collection/assignments/", cases[0], **head).content.decode()
        assert no_route in manager.post("/collection/assignments/", cases[2], **head).content.decode()
    assert not LogEntry.objects.filter(additional_data__batch__startswith="collection.").exists()
