"""The disconnection / restore orders screen (/disconnection-orders/): filters, approval, recorded execution."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from wattdesk.application.dunning.nightly import load_policy
from wattdesk.application.tariffs.reference_data import load_holidays
from wattdesk.core.dunning import is_permitted
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account
from wattdesk.domain.dunning.models import DisconnectionOrder
from wattdesk.domain.ledger.queries import balance

# The whole module runs at a fixed time: a cut is recorded only on a working day of a year whose official
# holiday calendar is known (an unknown year is refused, never guessed), so "the next working day after today"
# must not depend on the day the suite runs (under `make pytest-shifted` today is 45 days ahead).
NOW = datetime(2026, 12, 8, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


def user(company: Any, role: str) -> Any:
    return get_user_model().objects.get(username=company.logins[role].username)


def owing_accounts(company: Any, n: int) -> list[Account]:
    """Accounts inside the collector's scope that owe money and are not protected."""
    out = []
    for a in accounts_for(user(company, roles.COLLECTOR)).select_related("customer").order_by("number"):
        pp = a.customer.payment_profile or {}
        if not a.customer.protected and not pp.get("vulnerable") and balance(account_id=a.pk) > 0:
            out.append(a)
        if len(out) == n:
            return out
    raise AssertionError("not enough owing accounts in the collector's scope")


@pytest.fixture
def orders(company: Any) -> dict[str, DisconnectionOrder]:
    now = timezone.now()
    a, b, c = owing_accounts(company, 3)
    due = DisconnectionOrder.objects.create(
        account=a, kind="disconnect", status="notified", amount=Decimal("88.00"),
        planned_at=now - timedelta(hours=2), created_at=now - timedelta(days=7),
    )  # fmt: skip
    early = DisconnectionOrder.objects.create(
        account=b, kind="disconnect", status="notified", amount=Decimal("66.00"),
        planned_at=now + timedelta(days=2), created_at=now - timedelta(days=5),
    )  # fmt: skip
    restore = DisconnectionOrder.objects.create(
        account=c, kind="restore", status="planned", planned_at=now, created_at=now
    )
    return {"due": due, "early": early, "restore": restore}


VIEW = {roles.ADMIN, roles.BILLING_CLERK, roles.COLLECTOR, roles.MARKETING_MANAGER}


@pytest.mark.parametrize("role", roles.ROLES)
def test_page_for_roles(role: str, company: Any, client_for: Callable[[str], Client]) -> None:
    assert client_for(role).get("/disconnection-orders/").status_code == (200 if role in VIEW else 403)


def test_filters(orders: dict[str, DisconnectionOrder], client_for: Callable[[str], Client]) -> None:
    c = client_for(roles.MARKETING_MANAGER)
    page = c.get("/disconnection-orders/?status=awaiting").content.decode()
    assert (
        f'data-testid="order-{orders["due"].pk}"' in page
        and f'data-testid="order-{orders["early"].pk}"' in page
    )
    assert f'data-testid="order-{orders["restore"].pk}"' not in page
    page = c.get("/disconnection-orders/?kind=restore").content.decode()
    assert (
        f'data-testid="order-{orders["restore"].pk}"' in page
        and f'data-testid="order-{orders["due"].pk}"' not in page
    )
    number = orders["early"].account.number
    page = c.get(f"/disconnection-orders/?account={number}").content.decode()
    assert (
        f'data-testid="order-{orders["early"].pk}"' in page
        and f'data-testid="order-{orders["due"].pk}"' not in page
    )
    bad = c.get("/disconnection-orders/?status=gone")
    assert bad.status_code == 400 and "status must be one of" in bad.content.decode()


def test_supervisor_approves_only_once_the_notice_has_elapsed(
    orders: dict[str, DisconnectionOrder], company: Any, client_for: Callable[[str], Client]
) -> None:
    c = client_for(roles.MARKETING_MANAGER)
    back = "/disconnection-orders/?status=awaiting"
    r = c.post(f"/disconnection-orders/{orders['due'].pk}/approve/", {"back": back})
    assert r.status_code == 302 and r["Location"] == back
    due = DisconnectionOrder.objects.get(pk=orders["due"].pk)
    assert due.approved_by == user(company, roles.MARKETING_MANAGER) and due.status == "notified"
    r = c.post(f"/disconnection-orders/{orders['early'].pk}/approve/", {"back": "https://evil.example/"})
    assert r["Location"] == "/disconnection-orders/"  # only back to the list
    assert "notice period runs until" in c.get(r["Location"]).content.decode()
    assert DisconnectionOrder.objects.get(pk=orders["early"].pk).approved_at is None
    approved = c.get("/disconnection-orders/?status=approved").content.decode()
    assert f'data-testid="order-{orders["due"].pk}"' in approved
    # a collector may not approve; a clerk neither
    assert (
        client_for(roles.COLLECTOR).post(f"/disconnection-orders/{orders['early'].pk}/approve/").status_code
        == 403
    )
    assert (
        client_for(roles.BILLING_CLERK)
        .post(f"/disconnection-orders/{orders['early'].pk}/approve/")
        .status_code
        == 403
    )


def _crew_clock(monkeypatch: pytest.MonkeyPatch, at: Any) -> None:
    """The page reads the clock once per request (``timezone.now()``): pin it for the execute POST."""
    from types import SimpleNamespace

    from wattdesk.interfaces.web.pages import disconnection as page

    monkeypatch.setattr(page, "timezone", SimpleNamespace(now=lambda: at))


def _next_working_day(hour: int, minute: int = 0) -> Any:
    """A time on the next day, after today, on which a cut is permitted at 10:00 (no weekend / holiday rule
    is assumed: the policy and the holiday calendar decide), at ``hour:minute`` local time."""
    day = timezone.localtime(timezone.now()).replace(hour=10, minute=0, second=0, microsecond=0)
    for _ in range(60):
        day += timedelta(days=1)
        if is_permitted(day, load_policy(), load_holidays().holidays):
            return day.replace(hour=hour, minute=minute)
    raise AssertionError("no permitted day in the next 60 days")


def test_the_crew_records_the_execution_rechecked_now(
    orders: dict[str, DisconnectionOrder],
    company: Any,
    client_for: Callable[[str], Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client_for(roles.MARKETING_MANAGER).post(f"/disconnection-orders/{orders['due'].pk}/approve/")
    crew = client_for(roles.COLLECTOR)
    page = crew.get("/disconnection-orders/?status=approved").content.decode()
    assert 'data-testid="order-execute"' in page
    night = _next_working_day(23, 30)
    assert not is_permitted(night, load_policy(), load_holidays().holidays)
    _crew_clock(monkeypatch, night)
    r = crew.post(f"/disconnection-orders/{orders['due'].pk}/execute/", {"note": "已拉闸"})
    assert r.status_code == 302
    due = DisconnectionOrder.objects.get(pk=orders["due"].pk)
    assert due.status == "notified" and due.executed_at is None  # no cut at night
    assert "no disconnection" in crew.get(r["Location"]).content.decode()
    morning = _next_working_day(10)
    _crew_clock(monkeypatch, morning)
    r = crew.post(f"/disconnection-orders/{orders['due'].pk}/execute/", {"note": "已拉闸"})
    due = DisconnectionOrder.objects.get(pk=orders["due"].pk)
    assert (due.status, due.executed_at, due.executed_by, due.execution_note) == (
        "executed", morning, user(company, roles.COLLECTOR), "已拉闸",
    )  # fmt: skip
    # not approved yet: refused whatever the hour
    crew.post(f"/disconnection-orders/{orders['early'].pk}/execute/")
    assert DisconnectionOrder.objects.get(pk=orders["early"].pk).status == "notified"
    # a restore is recorded at any hour
    crew.post(f"/disconnection-orders/{orders['restore'].pk}/execute/", {"note": "已复电"})
    restore = DisconnectionOrder.objects.get(pk=orders["restore"].pk)
    assert (restore.status, restore.execution_note) == ("executed", "已复电")
    assert (
        client_for(roles.MARKETING_MANAGER)
        .post(f"/disconnection-orders/{orders['early'].pk}/execute/")
        .status_code
        == 403
    )


def test_an_order_outside_the_collectors_scope_is_not_found(
    company: Any, client_for: Callable[[str], Client]
) -> None:
    mine = accounts_for(user(company, roles.COLLECTOR)).values("pk")
    outside = Account.objects.exclude(pk__in=mine).order_by("number").first()
    assert outside is not None
    now = timezone.now()
    order = DisconnectionOrder.objects.create(
        account=outside, kind="restore", status="planned", planned_at=now, created_at=now
    )
    crew = client_for(roles.COLLECTOR)
    assert crew.post(f"/disconnection-orders/{order.pk}/execute/").status_code == 404
    assert f'data-testid="order-{order.pk}"' not in crew.get("/disconnection-orders/").content.decode()
