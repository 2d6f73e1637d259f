"""A NUL character in a path, a query or a form field is a 400, never a 500 (PostgreSQL refuses NUL in text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from wattdesk.domain.access import roles

URLS = ["/customers/?q=%00", "/customers/A%00/", "/cashier/?account=%00", "/readings/?period=2026-10%00"]


@pytest.mark.parametrize("url", URLS)
def test_nul_in_path_or_query_is_a_400(company: Any, client_for: Callable[[str], Client], url: str) -> None:
    client = client_for(roles.ADMIN)
    client.raise_request_exception = False
    assert client.get(url).status_code == 400


def test_nul_in_a_form_field_is_a_400(company: Any, client_for: Callable[[str], Client]) -> None:
    client = client_for(roles.ADMIN)
    client.raise_request_exception = False
    form = "application/x-www-form-urlencoded"
    assert client.post("/cashier/pay/", "account=A%00&amount=1.00", content_type=form).status_code == 400


def test_ordinary_requests_pass(company: Any, client_for: Callable[[str], Client]) -> None:
    assert client_for(roles.ADMIN).get("/customers/?q=张").status_code == 200
