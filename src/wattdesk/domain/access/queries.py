"""Reads on access: a user's roles and capabilities, and the querysets scoped to what the user may see.

Every interface (web views, portal, API) gets its objects through these functions, never through an
unscoped ``Model.objects``: an object outside the scope is simply not found (404), so guessing an id or a
number reveals nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.customers.models import Account, Customer, ServicePoint
from wattdesk.domain.metering.models import Meter


def role_names(user: Any) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_wattdesk_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=roles.ROLES).values_list("name", flat=True))
        user._wattdesk_roles = cached
    return cached


def capabilities(user: Any) -> frozenset[str]:
    """The union of the capabilities of the user's roles; all staff capabilities for a superuser."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return roles.CAPABILITIES[roles.ADMIN]
    out: set[str] = set()
    for r in role_names(user):
        out |= roles.CAPABILITIES.get(r, frozenset())
    return frozenset(out)


def has_capability(user: Any, capability: str) -> bool:
    return capability in capabilities(user)


def is_customer(user: Any) -> bool:
    return roles.CUSTOMER in role_names(user) and not user.is_superuser


def _territory(user: Any) -> Q | None:
    """None = no limit; otherwise a Q on ServicePoint (possibly matching nothing)."""
    if user.is_superuser:
        return None
    names = role_names(user)
    staff = names - {roles.CUSTOMER}
    if not staff:
        return Q(pk__in=[])
    if staff - roles.SCOPED_ROLES:
        return None  # an unscoped staff role (clerk, agent, manager…) sees the whole company
    scope = getattr(user, "staff_scope", None)
    if scope is None:
        return Q(pk__in=[])
    if scope.all_regions:
        return None
    return Q(region__in=scope.regions.all()) | Q(route__in=scope.routes.all())


def service_points_for(user: Any) -> QuerySet[ServicePoint]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ServicePoint.objects.none()
    if is_customer(user):
        return ServicePoint.objects.filter(account__customer__logins__user=user)
    q = _territory(user)
    return ServicePoint.objects.all() if q is None else ServicePoint.objects.filter(q)


def accounts_for(user: Any) -> QuerySet[Account]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Account.objects.none()
    if is_customer(user):
        return Account.objects.filter(customer__logins__user=user)
    q = _territory(user)
    if q is None:
        return Account.objects.all()
    return Account.objects.filter(pk__in=ServicePoint.objects.filter(q).values("account_id"))


def customers_for(user: Any) -> QuerySet[Customer]:
    return Customer.objects.filter(pk__in=accounts_for(user).values("customer_id"))


def bills_for(user: Any) -> QuerySet[Bill]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Bill.objects.none()
    if is_customer(user):
        return Bill.objects.filter(account__customer__logins__user=user)
    if _territory(user) is None:
        return Bill.objects.all()  # company-wide staff: no account subquery (a 1M-row IN costs 10x the count)
    return Bill.objects.filter(account__in=accounts_for(user))


def meters_for(user: Any) -> QuerySet[Meter]:
    return Meter.objects.filter(installations__service_point__in=service_points_for(user)).distinct()
