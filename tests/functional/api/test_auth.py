"""Who may call the API: bearer tokens (hashed, revocable) and browser sessions (with CSRF on writes)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

import pytest
from django.test import Client

from wattdesk.domain.access import roles
from wattdesk.interfaces.api.models import ApiToken
from wattdesk.interfaces.cli import main


class TestTokenAuth:
    def test_a_valid_token_authenticates(
        self, api_for: Callable[[str], Client], tokens: dict[str, str]
    ) -> None:
        response = api_for(roles.BILLING_CLERK).get("/api/bills?page_size=1")
        assert response.status_code == 200
        assert response.json()["count"] > 0
        token = ApiToken.objects.get(
            token_hash=hashlib.sha256(tokens[roles.BILLING_CLERK].encode()).hexdigest()
        )
        assert token.last_used_at is not None

    def test_last_used_at_is_refreshed_at_most_once_a_minute(
        self, api_for: Callable[[str], Client], tokens: dict[str, str]
    ) -> None:
        from datetime import timedelta

        from django.utils import timezone

        token = ApiToken.objects.filter(
            token_hash=hashlib.sha256(tokens[roles.BILLING_CLERK].encode()).hexdigest()
        )
        recent = timezone.now() - timedelta(seconds=10)
        token.update(last_used_at=recent)
        assert api_for(roles.BILLING_CLERK).get("/api/bills?page_size=1").status_code == 200
        assert token.get().last_used_at == recent
        stale = timezone.now() - timedelta(minutes=2)
        token.update(last_used_at=stale)
        assert api_for(roles.BILLING_CLERK).get("/api/bills?page_size=1").status_code == 200
        assert token.get().last_used_at > stale + timedelta(minutes=1)

    def test_only_the_sha256_of_the_secret_is_stored(self, tokens: dict[str, str]) -> None:
        secret = tokens[roles.ADMIN]
        assert not ApiToken.objects.filter(token_hash=secret).exists()
        assert ApiToken.objects.filter(token_hash=hashlib.sha256(secret.encode()).hexdigest()).count() == 1

    def test_a_revoked_token_is_refused(
        self, api_for: Callable[[str], Client], tokens: dict[str, str]
    ) -> None:
        ApiToken.objects.filter(token_hash=hashlib.sha256(tokens[roles.ADMIN].encode()).hexdigest()).update(
            revoked=True
        )
        response = api_for(roles.ADMIN).get("/api/bills")
        assert response.status_code == 401
        assert response.json() == {"detail": "Unauthorized"}

    @pytest.mark.parametrize(
        "header", ["", "Bearer", "Bearer nope", "Basic Zm9vOmJhcg==", "Bearer " + "x" * 5000]
    )
    def test_a_missing_or_unknown_token_is_401_not_a_redirect(self, company: Any, header: str) -> None:
        response = Client(headers={"Authorization": header} if header else {}).get("/api/customers")
        assert response.status_code == 401
        assert response.json() == {"detail": "Unauthorized"}

    def test_cli_creates_a_token_printing_the_secret_once_and_revokes_it(self, company: Any) -> None:
        username = company.logins[roles.ANALYST].username
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["api", "token", "create", "--user", username, "--name", "reporting"]) == 0
        secret = next(w for w in out.getvalue().split() if w.startswith("wd_"))
        token = ApiToken.objects.get(name="reporting")
        assert (
            token.user.username == username
            and token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        )
        auth = Client(headers={"Authorization": f"Bearer {secret}"})
        assert auth.get("/api/tariffs").status_code == 200
        with redirect_stdout(io.StringIO()):
            assert main(["api", "token", "revoke", str(token.pk)]) == 0
        assert auth.get("/api/tariffs").status_code == 401

    def test_cli_refuses_an_unknown_user_with_exit_code_2(self, company: Any, capsys: Any) -> None:
        assert main(["api", "token", "create", "--user", "nobody", "--name", "x"]) == 2
        assert "unknown user 'nobody'" in capsys.readouterr().err


class TestSessionAuth:
    def test_a_logged_in_browser_user_can_read(self, client_for: Callable[[str], Client]) -> None:
        response = client_for(roles.CS_AGENT).get("/api/customers?page_size=2")
        assert response.status_code == 200
        assert len(response.json()["items"]) == 2

    def test_a_session_post_needs_the_csrf_token(self, company: Any) -> None:
        client = Client(enforce_csrf_checks=True)
        login = company.logins[roles.BILLING_CLERK]
        assert client.login(username=login.username, password=login.password)
        body = [{"meter_serial": "X", "register": "active_total", "read_on": "2026-10-31", "value": "1"}]
        refused = client.post("/api/readings/bulk", body, content_type="application/json")
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["detail"]
        token = "k" * 32  # a CSRF secret, as the csrftoken cookie would carry it
        client.cookies["csrftoken"] = token
        accepted = client.post(
            "/api/readings/bulk", body, content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert accepted.status_code == 422  # past auth and CSRF; "X" is not a meter of the company
        assert accepted.json()["errors"] == [
            {"index": 0, "field": "meter_serial", "reason": "unknown meter 'X'"}
        ]
