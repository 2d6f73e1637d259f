"""Fixtures for the web, portal and API tests: a small billed company with one login per role.

    def test_something(company, client_for):
        client = client_for("billing_clerk")      # a django.test.Client logged in as demo_billing_clerk
        assert client.get("/customers/").status_code == 200

``company`` is built per test (the database is rolled back after each test); see tests/sample_company.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from sample_company import PASSWORD, Company, build_company
from wattdesk.domain.access import roles


@pytest.fixture
def company(db: None, settings: Any) -> Company:
    return build_company(settings)


@pytest.fixture
def client_for(company: Company) -> Callable[[str], Client]:
    def make(role: str) -> Client:
        assert role in roles.ROLES, role
        client = Client()
        assert client.login(username=company.logins[role].username, password=PASSWORD)
        return client

    return make
