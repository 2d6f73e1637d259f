"""API test fixtures: one API token per role on top of ``company`` (tests/functional/conftest.py).

def test_x(api_for):
    response = api_for("billing_clerk").get("/api/bills")   # Authorization: Bearer <that role's token>
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from wattdesk.domain.access import roles

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
