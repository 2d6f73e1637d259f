"""Deny by default: every web view declares the capability it needs, or that it is public.

    @capability_required(roles.BILLING_RUN)
    def launch_run(request): ...

    @public                      # login page, health check: reachable without logging in
    def login_view(request): ...

``CapabilityMiddleware`` refuses (403) any view that declares neither, so a new page that forgets its
declaration is unreachable rather than open; ``tests/functional/web/test_permission_matrix.py`` walks every
URL for every role. Objects inside a view come from ``wattdesk.domain.access.queries`` (scoped querysets), so an
id outside the user's scope is a 404.

The Django admin (``/admin/``) keeps its own staff/permission checks; the REST API (``/api/``) authenticates
and checks capabilities per endpoint (``wattdesk.interfaces.api``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseForbidden
from django.template.loader import render_to_string

from wattdesk.domain.access.queries import has_capability

V = TypeVar("V", bound=Callable[..., HttpResponseBase])

OWN_CHECKS = ("/admin/", "/api/", "/static/", "/i18n/")


def capability_required(capability: str) -> Callable[[V], V]:
    """The view needs ``capability`` (see ``wattdesk.domain.access.roles``); 403 otherwise."""

    def deco(view: V) -> V:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_capability(request.user, capability):
                return forbidden(request)
            return view(request, *args, **kwargs)

        wrapped.wattdesk_capability = capability  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return deco


def public(view: V) -> V:
    """Reachable without logging in (login page, health check)."""
    view = login_not_required(view)
    view.wattdesk_capability = "public"  # type: ignore[attr-defined]
    return view


def authenticated(view: V) -> V:
    """Any logged-in user (home redirect, logout, language switch): no data behind it."""
    view.wattdesk_capability = "authenticated"  # type: ignore[attr-defined]
    return view


def forbidden(request: HttpRequest) -> HttpResponse:
    return HttpResponseForbidden(render_to_string("web/403.html", request=request))


class CapabilityMiddleware:
    """Refuses any view under the web interface that does not declare a capability (deny by default)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if request.path.startswith(OWN_CHECKS):
            return None
        declared = getattr(view_func, "wattdesk_capability", None)
        if declared is None:
            # Class-based views: the attribute sits on the class.
            declared = getattr(getattr(view_func, "view_class", None), "wattdesk_capability", None)
        if declared is None:
            return forbidden(request)
        return None
