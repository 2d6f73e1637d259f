"""Request context for the audit trail: the logged-in actor and the client's address on every entry.

django-auditlog's middleware takes the *first* X-Forwarded-For entry, which any client can set. WattDesk
trusts that header only when it is deployed behind a reverse proxy (WATTDESK_HTTPS) and then takes the
address the proxy itself appended (the last entry); otherwise REMOTE_ADDR.
"""

from __future__ import annotations

from typing import Any

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.http import HttpRequest


class AuditMiddleware(AuditlogMiddleware):  # type: ignore[misc]
    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> Any:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if getattr(settings, "WATTDESK_HTTPS", False) and forwarded.strip():
            addr = forwarded.split(",")[-1].strip()
            if addr.startswith("["):  # [v6]:port
                return addr[1:].split("]")[0]
            if addr.count(":") == 1:  # v4:port
                return addr.split(":")[0]
            return addr
        return request.META.get("REMOTE_ADDR")
