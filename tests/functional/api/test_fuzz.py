"""Schemathesis fuzzes every operation of the OpenAPI schema (GET and POST) with an admin token on the small
company: whatever the input, the API never answers 5xx. Bounded examples per operation (< 60 s in all)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from wattdesk.domain.access import roles
from wattdesk.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)

EXAMPLES = 6


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Calls go through the real WSGI handler, whose request signals close "old" database connections; inside
    the test's transaction that would close the PostgreSQL connection (Django's own test Client disconnects the
    same receiver). SQLite in-memory test databases are never closed, which is why only PostgreSQL showed it."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_header(company: Any) -> dict[str, str]:
    from wattdesk.interfaces.api.tokens import create_token

    issued = create_token(
        username=company.logins[roles.ADMIN].username,
        name="fuzz",
        created_at=datetime(2026, 11, 3, tzinfo=UTC),
    )
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
    database=None,
)
def test_no_server_errors(case: Any, admin_header: dict[str, str]) -> None:
    response = case.call(headers=admin_header)
    case.validate_response(response, checks=[not_a_server_error])
