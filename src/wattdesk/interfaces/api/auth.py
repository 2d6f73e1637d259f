"""Who is calling: a bearer token (``Authorization: Bearer wd_…``) or the Django session of a logged-in
browser user (unsafe methods then need the CSRF token, as on any Django form).

Both return the user; endpoints read it from ``request.auth`` and check a capability
(``wattdesk.domain.access.roles``) before fetching through the scoped querysets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.expressions import Col
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from wattdesk.domain.access import roles
from wattdesk.interfaces.api.models import ApiToken, hash_secret

MAX_SECRET_LENGTH = 200
#: ``last_used_at`` is refreshed at most this often. An UPDATE per request was a second commit on every call
#: and a hot row: the concurrent requests of one integration all waited on the lock of its token's row.
TOUCH_EVERY = timedelta(minutes=1)


class TokenAuth(HttpBearer):
    """A bearer token: ONE statement per request finds the token (not revoked), its user (active) and the
    user's role names. Nothing is cached between requests, so revoking a token, deactivating the user or
    changing their roles takes effect on the next request. (The ORM's select_related plus the roles query
    cost as much CPU as posting a payment; see docs/performance.md, "Payments through the API".)"""

    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        if not token or len(token) > MAX_SECRET_LENGTH:
            return None
        sql, names, converters = _token_sql()
        with connection.cursor() as cur:
            cur.execute(sql, [hash_secret(token)])
            row = cur.fetchone()
        if row is None:
            return None
        # the values as the ORM would give them (SQLite: aware datetimes, booleans)
        token_id, last_used_at, groups, *values = (
            _convert(v, convert) for v, convert in zip(row, converters, strict=True)
        )
        user = get_user_model().from_db(connection.alias, names, values)
        # the roles read with the token: role_names() (domain.access.queries) keeps them on the user
        user._wattdesk_roles = frozenset(g for g in (groups or "").split(",") if g in roles.ROLES)  # type: ignore[attr-defined]
        now = timezone.now()
        if last_used_at is None or now - last_used_at >= TOUCH_EVERY:
            ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
        request.user = user
        return user


Converter = list[tuple[Callable[..., Any], Any]]


def _convert(value: Any, converters: Converter) -> Any:
    for convert, expression in converters:
        value = convert(value, expression, connection)
    return value


def _converters(model: Any, field: Any) -> Converter:
    """The database converters the ORM applies to ``field`` read from ``model``'s table."""
    col = Col(model._meta.db_table, field)
    found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
    return [(c, col) for c in found]


@functools.cache
def _token_sql() -> tuple[str, list[str], list[Converter]]:
    """The token lookup (built once per process), the user's field names in the order it selects them, and
    the converters of every column it selects."""
    qn = connection.ops.quote_name
    user_model = get_user_model()
    fields = list(user_model._meta.concrete_fields)
    converters = [
        [],
        _converters(ApiToken, ApiToken._meta.get_field("last_used_at")),
        [],
        *(_converters(user_model, f) for f in fields),
    ]
    names = [f.attname for f in fields]
    cols = ", ".join(f"u.{qn(str(f.column))}" for f in fields)
    groups = user_model._meta.get_field("groups")
    through = groups.remote_field.through._meta.db_table  # type: ignore[union-attr]
    group_table = groups.related_model._meta.db_table
    # role names are identifiers (``roles.ROLES``): a comma separates them safely
    agg = "string_agg(g.name, ',')" if connection.vendor == "postgresql" else "group_concat(g.name, ',')"
    sql = (
        f"SELECT t.id, t.last_used_at, "
        f"(SELECT {agg} FROM {qn(through)} ug JOIN {qn(group_table)} g ON g.id = ug.group_id "
        f"WHERE ug.user_id = u.id), {cols} "
        f"FROM {qn(ApiToken._meta.db_table)} t JOIN {qn(user_model._meta.db_table)} u ON u.id = t.user_id "
        f"WHERE t.token_hash = %s AND NOT t.revoked AND u.is_active"
    )
    return sql, names, converters


class BrowserSessionAuth(SessionAuth):
    """Django session; CSRF is checked on POST (ninja's APIKeyCookie with csrf=True)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


AUTH = [TokenAuth(), BrowserSessionAuth()]
