"""Request context for the audit trail: the logged-in actor and the client's address on every entry.

django-auditlog's middleware takes the *first* X-Forwarded-For entry, which any client can set. WattDesk
trusts that header only when it is deployed behind a reverse proxy (WATTDESK_HTTPS) and then takes the
address the proxy itself appended (the last entry); otherwise REMOTE_ADDR.
"""

from __future__ import annotations

from typing import Any

from auditlog.context import auditlog_value
from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.http import HttpRequest


class AuditMiddleware(AuditlogMiddleware):  # type: ignore[misc]
    def __call__(self, request: HttpRequest) -> Any:
        # django-auditlog sets its context variable for the request but never resets it, so the actor of a
        # finished request would stay attached to the thread and be credited with whatever that thread does
        # next (a job, the next test). Restore the value the thread had before this request.
        token = auditlog_value.set({})
        try:
            return super().__call__(request)
        finally:
            auditlog_value.reset(token)

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
