"""Shell views: login, logout, the home redirect and a health check. Pages live in their own modules."""

from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import authenticated, forbidden, public


@public
def health(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


login_view = public(LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True))


@authenticated
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:login")


@authenticated
def home(request: HttpRequest) -> HttpResponse:
    """Customers go to the portal; staff to the first page of their menu."""
    if has_capability(request.user, roles.PORTAL_USE):
        items = nav.items_for(request.user, "portal")
    else:
        items = nav.items_for(request.user, "staff")
    if items:
        return redirect(items[0]["url"])
    return forbidden(request)
