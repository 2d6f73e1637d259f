"""API test fixtures: the web tests' ``company`` (a small billed company, one login per role) plus one API
token per role.

    def test_x(api_for):
        response = api_for("billing_clerk").get("/api/bills")   # Authorization: Bearer <that role's token>
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from wattdesk.domain.access import roles

# Reuse the web fixtures (company, client_for) without copying them: load that conftest under its own name.
_spec = importlib.util.spec_from_file_location(
    "wattdesk_tests_web_conftest", Path(__file__).resolve().parent.parent / "web" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_web = sys.modules.get(_spec.name) or importlib.util.module_from_spec(_spec)
if _spec.name not in sys.modules:
    sys.modules[_spec.name] = _web
    _spec.loader.exec_module(_web)

company = _web.company
client_for = _web.client_for
Company = _web.Company
PASSWORD = _web.PASSWORD

CREATED_AT = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def tokens(company: Any) -> dict[str, str]:
    """role -> bearer secret of a token for that role's demo login."""
    from wattdesk.interfaces.api.tokens import create_token

    return {
        role: create_token(
            username=company.logins[role].username, name=f"test {role}", created_at=CREATED_AT
        ).secret
        for role in roles.ROLES
    }


@pytest.fixture
def api_for(tokens: dict[str, str]) -> Callable[[str], Client]:
    def make(role: str) -> Client:
        return Client(headers={"Authorization": f"Bearer {tokens[role]}"})

    return make
