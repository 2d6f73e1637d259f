"""The permission matrix: every URL of the project, for every role and for an anonymous visitor.

URL patterns are discovered from the resolver (a page added tomorrow is covered without touching this
file). For each web view the expected outcome follows from the capability it declares
(``view.wattdesk_capability``) and ``roles.CAPABILITIES``:

- anonymous: redirected to the login page (``public`` views excepted);
- a role holding the capability: neither 403 nor a redirect to login; with path parameters filled from an
  object inside the role's scope, not 404 either;
- a role without it: 403 (a POST-only view is tried with POST when GET says 405);
- a scoped role (meter reader, collector, customer) given an object outside its scope: 404 (or 403).

``/admin/`` follows Django's is_staff rule; ``/api/`` is covered by the API's own tests, here only that it
refuses an anonymous caller (401).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.customers.models import Account
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

OWN_CHECKS = ("admin/", "api/", "i18n/", "static/")
#: Path parameters that identify an object inside a scope (accounts, bills, meters…); tariffs are not scoped.
SCOPED_PARAMS = frozenset({"number", "account", "account_number", "customer_number", "bill_id", "bill", "serial",
                           "meter", "service_point", "sp_number"})  # fmt: skip


#: Parameters naming something that is not a company object (a background job's id): a placeholder is used
#: and the allowed role may get 404 for it (never 403).
FREE_PARAMS: dict[str, list[str]] = {
    "job_id": ["no-such-job"],
    "order_id": ["999999"],
    "waiver_id": ["999999"],
    "close_id": ["999999"],
    "exception_id": ["999999"],
    "adjustment_id": ["999999"],
    "simulation_id": ["999999"],
}


@dataclass(frozen=True)
class Route:
    route: str  # "customers/<str:number>/"
    name: str  # "web:customer_detail"
    callback: Callable[..., Any]
    params: tuple[str, ...]


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}:{p.namespace}".strip(":") if p.namespace else namespace
            yield from _walk(p, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            route = prefix + str(p.pattern)
            name = f"{namespace}:{p.name}".strip(":") if p.name else ""
            params = tuple(p.pattern.regex.groupindex)
            yield Route(route=route, name=name, callback=p.callback, params=params)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver()))


def web_routes() -> list[Route]:
    return [r for r in all_routes() if not r.route.startswith(OWN_CHECKS)]


def declared(callback: Any) -> str | None:
    cap = getattr(callback, "wattdesk_capability", None)
    if cap is None:
        cap = getattr(getattr(callback, "view_class", None), "wattdesk_capability", None)
    return cap


# --- no undeclared views ------------------------------------------------------------------------------


def test_every_web_view_declares_a_capability() -> None:
    routes = web_routes()
    assert any(r.name == "web:login" for r in routes) and any(r.name == "web:audit" for r in routes)
    undeclared = [r.route for r in routes if declared(r.callback) is None]
    assert undeclared == []
    known = roles.ALL_CAPABILITIES | {"public", "authenticated"}
    unknown = {r.route: declared(r.callback) for r in routes if declared(r.callback) not in known}
    assert unknown == {}


def test_only_login_and_health_are_public() -> None:
    public = sorted(r.name for r in web_routes() if declared(r.callback) == "public")
    # the gateway callback is authenticated by its HMAC signature instead (docs/payments-gateway.md)
    assert public == ["web:gateway_callback", "web:health", "web:login"]


# --- filling path parameters ----------------------------------------------------------------------------


def _samples(account: Account) -> dict[str, list[str]]:
    """Candidate values per parameter name, all derived from one account (so pairs are consistent)."""
    bill = Bill.objects.filter(account=account).order_by("-period", "-version").first()
    assert bill is not None, account.number
    sp = account.service_points.order_by("number").first()
    assignment = TariffAssignment.objects.filter(service_point=sp).order_by("-effective_from").first()
    tariff = (
        TariffVersion.objects.filter(code=assignment.tariff_code).order_by("-effective_from").first()
        if assignment
        else TariffVersion.objects.order_by("code").first()
    )
    assert tariff is not None
    meter = None
    if sp is not None:
        inst = sp.meter_installations.select_related("meter").order_by("-installed_on").first()
        meter = inst.meter if inst else None
    values: dict[str, list[str]] = {
        "number": [account.number, account.customer.number] + ([sp.number] if sp else []),
        "account": [account.number],
        "account_number": [account.number],
        "customer_number": [account.customer.number],
        "bill_id": [str(bill.pk)],
        "bill": [str(bill.pk)],
        "period": [bill.period],
        "run_id": [str(bill.run_id)] if bill.run_id else [],
        "code": [tariff.code],
        "tariff_code": [tariff.code],
        "effective_from": [tariff.effective_from.isoformat()],
        "version": [tariff.version],
    }
    if sp is not None:
        values["service_point"] = values["sp_number"] = [sp.number]
    if meter is not None:
        values["serial"] = values["meter"] = [meter.serial]
    return {**FREE_PARAMS, **values}


def _paths(route: Route, samples: dict[str, list[str]]) -> list[str]:
    missing = [p for p in route.params if not samples.get(p)]
    if missing:
        raise LookupError(f"{route.route}: the matrix does not know how to fill {missing}; teach _samples()")
    out = []
    for combo in itertools.product(*(samples[p] for p in route.params)):
        kwargs = dict(zip(route.params, combo, strict=True))
        try:
            out.append(reverse(route.name, kwargs=kwargs))
        except Exception:  # a candidate the converter refuses (e.g. a non-digit for <int:>)
            continue
    return out


def _login_redirect(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL))


def _get(client: Client, path: str) -> Any:
    return client.get(path, HTTP_ACCEPT="text/html")


@pytest.fixture
def matrix(company: Any, client_for: Callable[[str], Client]) -> dict[str, Any]:
    clients = {role: client_for(role) for role in roles.ROLES}
    users = {role: resolve_user(company.logins[role].username) for role in roles.ROLES}
    return {"clients": clients, "users": users}


def resolve_user(username: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


def _anchor(qs: Any) -> Account | None:
    return qs.filter(bills__isnull=False).distinct().order_by("number").first()


def test_every_web_url_for_every_role(matrix: dict[str, Any]) -> None:
    routes = web_routes()
    failures: list[str] = []
    any_account = _anchor(Account.objects.all())
    assert any_account is not None
    anonymous = Client()
    generic = _samples(any_account)
    checked = 0

    for route in routes:
        cap = declared(route.callback)
        if route.name in ("web:logout",):  # POST only, tested in test_security
            continue
        # anonymous
        for path in _paths(route, generic)[:1]:
            r = _get(anonymous, path)
            if cap == "public":
                if r.status_code in (401, 403) or _login_redirect(r):
                    failures.append(f"anonymous {path}: public view answered {r.status_code}")
            elif not _login_redirect(r):
                failures.append(f"anonymous {path}: expected redirect to login, got {r.status_code}")
        if cap == "public":
            continue

        for role in roles.ROLES:
            client, user = matrix["clients"][role], matrix["users"][role]
            allowed = cap == "authenticated" or cap in roles.CAPABILITIES[role]
            scope = accounts_for(user)
            inside = _anchor(scope)
            samples = _samples(inside) if inside is not None else generic
            paths = _paths(route, samples)
            checked += 1
            if not allowed:
                for path in paths[:1]:
                    r = _get(client, path)
                    if r.status_code == 405:
                        r = client.post(path)
                    if r.status_code != 403:
                        failures.append(f"{role} {path} ({cap}): expected 403, got {r.status_code}")
                continue
            statuses = [_get(client, p).status_code for p in paths]
            if any(s == 403 for s in statuses) and cap != "authenticated":
                failures.append(f"{role} {paths} ({cap}): allowed but got {statuses}")
            if (
                route.params
                and inside is not None
                and not set(route.params) & set(FREE_PARAMS)
                and not any(s not in (403, 404) for s in statuses)
            ):
                failures.append(f"{role} {paths} ({cap}): object in scope but got {statuses}")
            if any(_login_redirect(_get(client, p)) for p in paths[:1]):
                failures.append(f"{role} {paths[0]}: logged in but sent to login")
            # an object outside a scoped role's territory / own accounts is not found
            if set(route.params) & SCOPED_PARAMS and (role in roles.SCOPED_ROLES or role == roles.CUSTOMER):
                outside = _anchor(Account.objects.exclude(pk__in=scope.values("pk")))
                assert outside is not None, role
                for p in _paths(route, _samples(outside)):
                    s = _get(client, p).status_code
                    if s not in (403, 404):
                        failures.append(f"{role} {p} ({cap}): object outside the scope answered {s}")

    assert checked > 0
    assert failures == [], "\n".join(failures)


def test_the_role_table_is_what_the_pages_enforce() -> None:
    """Spot checks of roles.CAPABILITIES itself, so a slip in the table is not silently 'expected'."""
    caps = roles.CAPABILITIES
    assert roles.AUDIT_VIEW in caps[roles.ADMIN]
    assert all(roles.AUDIT_VIEW not in caps[r] for r in roles.ROLES if r != roles.ADMIN)
    assert caps[roles.CUSTOMER] == frozenset({roles.PORTAL_USE})
    assert all(roles.PORTAL_USE not in caps[r] for r in roles.STAFF_ROLES)
    assert roles.BILLING_RUN not in caps[roles.METER_READER] | caps[roles.ANALYST] | caps[roles.COLLECTOR]


# --- admin and API ---------------------------------------------------------------------------------------


def test_admin_is_for_staff_only(matrix: dict[str, Any]) -> None:
    admin_routes = [
        r
        for r in all_routes()
        if r.route.startswith("admin/") and not r.params and r.name.endswith("changelist")
    ]
    assert len(admin_routes) >= 10
    urls = ["/admin/"] + [reverse(r.name) for r in admin_routes]
    failures = []
    for url in urls:
        r = Client().get(url)
        if not (
            r.status_code == 302 and r["Location"].startswith(("/admin/login/", reverse(settings.LOGIN_URL)))
        ):
            failures.append(f"anonymous {url}: {r.status_code}")
        for role in roles.ROLES:
            user = matrix["users"][role]
            r = matrix["clients"][role].get(url)
            if user.is_staff and user.is_superuser:
                if r.status_code != 200:
                    failures.append(f"{role} {url}: staff superuser got {r.status_code}")
            elif r.status_code == 200 or not (
                r.status_code == 302 and r["Location"].startswith("/admin/login/")
            ):
                failures.append(f"{role} {url}: non-staff got {r.status_code}")
    assert matrix["users"][roles.ADMIN].is_staff
    assert [role for role in roles.ROLES if matrix["users"][role].is_staff] == [roles.ADMIN]
    assert failures == [], "\n".join(failures)


def test_api_refuses_anonymous(company: Any) -> None:
    api_routes = [r for r in all_routes() if r.route.startswith("api/")]
    assert api_routes, "no API routes found"
    generic = _samples(_anchor(Account.objects.all()))  # type: ignore[arg-type]
    docs = ("openapi", "docs", "api-root")
    checked = 0
    failures = []
    for route in api_routes:
        if any(d in route.name for d in docs):
            continue
        path = "/" + route.route
        for p in route.params:
            path = path.replace(f"<{p}>", generic.get(p, ["x"])[0])
        r = Client().get(path)
        if r.status_code == 405:
            r = Client().post(path, data="{}", content_type="application/json")
        checked += 1
        if r.status_code != 401:
            failures.append(f"anonymous {path}: {r.status_code}")
    assert checked > 0
    assert failures == [], "\n".join(failures)
