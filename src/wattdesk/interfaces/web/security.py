"""Security basics of the web interface: response headers (CSP) and the login-lockout backend.

- ``SecurityHeadersMiddleware`` sets a Content-Security-Policy that lets the browser load scripts, styles,
  images, fonts and XHR only from our own origin (no inline script, no ``onclick=`` attributes: behaviour
  lives in ``static/web/*.js``), forbids framing, and a Permissions-Policy. Django's own
  ``SecurityMiddleware`` / ``XFrameOptionsMiddleware`` add nosniff, Referrer-Policy and X-Frame-Options.
- ``LockoutBackend`` is django-axes' lockout check (first in AUTHENTICATION_BACKENDS): after
  ``AXES_FAILURE_LIMIT`` failed logins for one username from one address, that pair is refused for
  ``AXES_COOLOFF_TIME``. Lockout applies to logins that come with a request (the login page, the admin
  login); ``authenticate()`` called by server-side code without a request (test clients, management
  commands) goes straight to the ModelBackend instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


class LockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return None  # no request, no client to lock out: let the next backend decide
        return super().authenticate(request, username=username, password=password, **kwargs)
