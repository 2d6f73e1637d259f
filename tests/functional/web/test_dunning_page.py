"""The dunning page (/dunning/): roles, collector scope, the day's actions, cancelling a planned cut."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from auditlog.context import set_actor
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.application.billing.review import issue_bills
from wattdesk.application.dunning.nightly import run_dunning
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.dunning.models import DisconnectionOrder, DunningAction

SH = ZoneInfo("Asia/Shanghai")
VIEW_ROLES = {roles.ADMIN, roles.BILLING_CLERK, roles.COLLECTOR, roles.MARKETING_MANAGER}


@pytest.fixture
def dunned(company: Any) -> date:
    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=SH),
        issued_on=date(2026, 11, 3),
    )
    due = Bill.objects.filter(status="issued").values_list("due_on", flat=True)[0]
    assert due is not None
    day = date.fromordinal(due.toordinal() + 1)
    # a scheduled job has no actor; django-auditlog leaves the actor of the latest request of this thread in
    # its context variable (it never resets it), so name "no actor" explicitly
    with set_actor(None):
        result = run_dunning(day=day, now=datetime(day.year, day.month, day.day, 2, tzinfo=SH))
    assert result.actions > 0
    return day


@pytest.mark.parametrize("role", roles.ROLES)
def test_page_for_roles(role: str, company: Any, client_for: Callable[[str], Client]) -> None:
    r = client_for(role).get("/dunning/")
    assert r.status_code == (200 if role in VIEW_ROLES else 403)


def test_actions_of_the_day_within_the_collectors_scope(
    dunned: date, company: Any, client_for: Callable[[str], Client]
) -> None:
    admin = client_for(roles.ADMIN).get(f"/dunning/?day={dunned.isoformat()}")
    all_numbers = set(DunningAction.objects.filter(day=dunned).values_list("account__number", flat=True))
    body = admin.content.decode()
    assert all(n in body for n in all_numbers)
    user = get_user_model().objects.get(username=company.logins[roles.COLLECTOR].username)
    mine = set(accounts_for(user).values_list("number", flat=True))
    page = client_for(roles.COLLECTOR).get(f"/dunning/?day={dunned.isoformat()}").content.decode()
    assert all(n in page for n in all_numbers & mine)
    assert not any(n in page for n in all_numbers - mine)
    assert all_numbers - mine  # the scope really hides someone


def test_bad_day_is_a_400(company: Any, client_for: Callable[[str], Client]) -> None:
    r = client_for(roles.ADMIN).get("/dunning/?day=2026-13-01")
    assert r.status_code == 400
    assert "YYYY-MM-DD" in r.content.decode()


def test_cancel_a_planned_disconnection_with_a_reason(
    dunned: date, company: Any, client_for: Callable[[str], Client]
) -> None:
    action = DunningAction.objects.filter(day=dunned).select_related("account")[0]
    order = DisconnectionOrder.objects.create(
        account=action.account,
        kind="disconnect",
        status="notified",
        amount=action.amount,
        planned_at=datetime(2026, 12, 30, 9, tzinfo=SH),
        created_at=datetime(2026, 12, 23, 2, tzinfo=SH),
    )
    url = f"/dunning/orders/{order.pk}/cancel/"
    assert client_for(roles.COLLECTOR).post(url, {"reason": "x"}).status_code == 403
    clerk = client_for(roles.BILLING_CLERK)
    assert clerk.post(url, {"reason": "  "}).status_code == 302
    order.refresh_from_db()
    assert order.status == "notified"
    assert clerk.post(url, {"reason": "客户已签分期协议"}).status_code == 302
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("cancelled", "客户已签分期协议")
