"""Security basics: CSRF on login/logout, login lockout, headers, DEBUG default, hashed passwords, cookies."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from wattdesk.interfaces.web.security import CONTENT_SECURITY_POLICY

PASSWORD = "Secure-pass-2026!"
TEMPLATES = Path(__file__).resolve().parents[3] / "src" / "wattdesk"


@pytest.fixture
def user(db: None, settings: Any) -> Any:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return get_user_model().objects.create_user("sec_user", password=PASSWORD, is_superuser=True)


def _csrf_token(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return str(client.cookies[settings.CSRF_COOKIE_NAME].value)


class TestCsrf:
    def test_login_post_without_token_is_refused(self, user: Any) -> None:
        client = Client(enforce_csrf_checks=True)
        response = client.post("/login/", {"username": "sec_user", "password": PASSWORD})
        assert response.status_code == 403
        assert "_auth_user_id" not in client.session

    def test_login_post_with_token_logs_in(self, user: Any) -> None:
        client = Client(enforce_csrf_checks=True)
        token = _csrf_token(client, "/login/")
        response = client.post(
            "/login/", {"username": "sec_user", "password": PASSWORD, "csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(user.pk)

    def test_logout_post_without_token_is_refused_and_keeps_the_session(self, user: Any) -> None:
        client = Client(enforce_csrf_checks=True)
        token = _csrf_token(client, "/login/")
        client.post("/login/", {"username": "sec_user", "password": PASSWORD, "csrfmiddlewaretoken": token})
        assert client.post("/logout/").status_code == 403
        assert client.session["_auth_user_id"] == str(user.pk)
        # with the (rotated) token from a logged-in page, logout works
        token = str(client.cookies[settings.CSRF_COOKIE_NAME].value)
        response = client.post("/logout/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 302
        assert "_auth_user_id" not in client.session

    def test_logout_by_get_is_not_allowed(self, user: Any) -> None:
        client = Client()
        assert client.login(username="sec_user", password=PASSWORD)
        assert client.get("/logout/").status_code == 405
        assert "_auth_user_id" in client.session


class TestLockout:
    def test_locked_after_the_failure_limit_even_with_the_right_password(self, user: Any) -> None:
        assert settings.AXES_FAILURE_LIMIT == 5
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            response = client.post(
                "/login/", {"username": "sec_user", "password": "wrong"}, REMOTE_ADDR="10.9.9.9"
            )
            assert response.status_code == 200  # the form again, with an error
            assert "_auth_user_id" not in client.session
        response = client.post(
            "/login/", {"username": "sec_user", "password": "wrong"}, REMOTE_ADDR="10.9.9.9"
        )
        assert response.status_code == 429
        response = client.post(
            "/login/", {"username": "sec_user", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9"
        )
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session
        assert 'data-testid="lockout"' in response.content.decode()
        attempt = AccessAttempt.objects.get(username="sec_user")
        # five failures, then the attempt refused during the lockout is counted too
        assert (attempt.ip_address, attempt.failures_since_start) == ("10.9.9.9", 6)

    def test_lockout_is_per_username_and_address(self, user: Any) -> None:
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post("/login/", {"username": "sec_user", "password": "wrong"}, REMOTE_ADDR="10.9.9.9")
        other = Client()
        response = other.post(
            "/login/", {"username": "sec_user", "password": PASSWORD}, REMOTE_ADDR="10.9.9.10"
        )
        assert response.status_code == 302
        assert other.session["_auth_user_id"] == str(user.pk)

    def test_a_success_resets_the_count(self, user: Any) -> None:
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            client.post("/login/", {"username": "sec_user", "password": "wrong"}, REMOTE_ADDR="10.9.9.9")
        ok = client.post("/login/", {"username": "sec_user", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
        assert ok.status_code == 302
        assert not AccessAttempt.objects.filter(username="sec_user").exists()

    def test_cooloff_is_fifteen_minutes(self) -> None:
        assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
        assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
        assert settings.AUTHENTICATION_BACKENDS[0] == "wattdesk.interfaces.web.security.LockoutBackend"


class TestHeaders:
    def test_security_headers_on_pages(self, db: None) -> None:
        response = Client().get("/login/")
        assert response.status_code == 200
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        csp = dict(part.split(" ", 1) for part in response["Content-Security-Policy"].split("; "))
        assert (csp["script-src"], csp["style-src"], csp["img-src"]) == ("'self'", "'self'", "'self'")
        assert csp["frame-ancestors"] == "'none'"

    def test_login_page_has_no_inline_script_or_handler(self, db: None) -> None:
        html = Client().get("/login/").content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert not re.search(r"\son[a-z]+\s*=", html)

    def test_templates_have_no_inline_event_handlers(self) -> None:
        offenders = []
        for path in TEMPLATES.rglob("templates/web/**/*.html"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\son[a-z]+\s*=\s*[\"']", line):
                    offenders.append(f"{path.relative_to(TEMPLATES)}:{n}")
        assert offenders == [], (
            "CSP blocks inline handlers; use data-autosubmit / a static script: " + ", ".join(offenders)
        )


class TestCookiesAndPasswords:
    def test_session_cookie_is_httponly_and_samesite_lax(self, user: Any) -> None:
        client = Client()
        token = _csrf_token(client, "/login/")
        client.post("/login/", {"username": "sec_user", "password": PASSWORD, "csrfmiddlewaretoken": token})
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert client.cookies[settings.CSRF_COOKIE_NAME]["samesite"] == "Lax"

    def test_passwords_are_stored_hashed(self, db: None) -> None:
        created = get_user_model().objects.create_user("hash_me", password=PASSWORD)
        stored = get_user_model().objects.values_list("password", flat=True).get(pk=created.pk)
        assert PASSWORD not in stored
        assert stored.startswith(("pbkdf2_sha256$", "argon2", "bcrypt", "scrypt", "md5$"))
        assert created.check_password(PASSWORD)

    @pytest.mark.parametrize(
        ("password", "reason"),
        [("Ab1!xyz", "too short"), ("password123", "common"), ("48201937465", "numeric")],
    )
    def test_weak_passwords_are_rejected(self, password: str, reason: str) -> None:
        with pytest.raises(ValidationError):
            validate_password(password)

    def test_similar_to_username_is_rejected(self, db: None) -> None:
        candidate = get_user_model()(username="zhangwei_billing")
        with pytest.raises(ValidationError):
            validate_password("zhangwei_billing1", user=candidate)
        validate_password("Kx7#tariff-Qm", user=candidate)


class TestDebug:
    def test_debug_off_by_default(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "WATTDESK_DEBUG"}
        code = "import wattdesk.settings as s; print(s.DEBUG, s.SESSION_COOKIE_HTTPONLY)"
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == ["False", "True"]
        # HTMX takes the CSRF token from the template (hx-headers), so the cookie need not be readable by JS
        assert settings.CSRF_COOKIE_HTTPONLY is False

    def test_debug_only_when_asked(self) -> None:
        env = {**os.environ, "WATTDESK_DEBUG": "1"}
        code = "import wattdesk.settings as s; print(s.DEBUG)"
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "True"
        assert settings.DEBUG is False
