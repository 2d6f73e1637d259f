"""Fixtures for web, portal and API tests: a small synthetic company, billed, with one login per role.

    def test_something(company, client_for):
        client = client_for("billing_clerk")      # a django.test.Client logged in as demo_billing_clerk
        assert client.get("/customers/").status_code == 200

``company`` is built once per test (the database is rolled back after each test). Keep tests using it
fast: 120 accounts, 3 months, the latest month billed (some bills held), one interval-metered customer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from wattdesk.domain.access import roles
from wattdesk.domain.access.operations import DemoLogin, create_demo_users

PASSWORD = "Test-pass-2026!"
END_MONTH = date(2026, 10, 1)
PERIOD = "2026-10"


@dataclass(frozen=True)
class Company:
    logins: dict[str, DemoLogin]
    period: str


@pytest.fixture
def company(db: None, settings: Any) -> Company:
    from wattdesk.application.billing_run import run_billing

    # PBKDF2 at full strength costs ~0.4 s per login created; tests don't need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from wattdesk.application.synth import generate_county

    generate_county(accounts=120, months=3, seed=7, end_month=END_MONTH, interval_share=0.05)
    run_billing(period=PERIOD, run_at=datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")), workers=1)
    logins = {d.role: d for d in create_demo_users(password=PASSWORD)}
    return Company(logins=logins, period=PERIOD)


@pytest.fixture
def client_for(company: Company) -> Callable[[str], Client]:
    def make(role: str) -> Client:
        assert role in roles.ROLES, role
        client = Client()
        assert client.login(username=company.logins[role].username, password=PASSWORD)
        return client

    return make
