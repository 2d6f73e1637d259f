"""Who is calling: a bearer token (``Authorization: Bearer wd_…``) or the Django session of a logged-in
browser user (unsafe methods then need the CSRF token, as on any Django form).

Both return the user; endpoints read it from ``request.auth`` and check a capability
(``wattdesk.domain.access.roles``) before fetching through the scoped querysets.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from wattdesk.interfaces.api.models import ApiToken, hash_secret

MAX_SECRET_LENGTH = 200
#: ``last_used_at`` is refreshed at most this often. An UPDATE per request was a second commit on every call
#: and a hot row: the concurrent requests of one integration all waited on the lock of its token's row.
TOUCH_EVERY = timedelta(minutes=1)


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        if not token or len(token) > MAX_SECRET_LENGTH:
            return None
        found = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=hash_secret(token), revoked=False, user__is_active=True)
            .first()
        )
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at >= TOUCH_EVERY:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.user = found.user
        return found.user


class BrowserSessionAuth(SessionAuth):
    """Django session; CSRF is checked on POST (ninja's APIKeyCookie with csrf=True)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


AUTH = [TokenAuth(), BrowserSessionAuth()]
