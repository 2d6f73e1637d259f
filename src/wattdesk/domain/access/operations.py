"""Writes on access: roles as Django groups, staff scopes, portal logins, and the demo users."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from wattdesk.domain.access import roles
from wattdesk.domain.access.models import CustomerLogin, StaffScope
from wattdesk.domain.customers.models import Customer, ReadingRoute, Region


def ensure_role_groups() -> dict[str, Group]:
    """One Django group per role (idempotent)."""
    return {name: Group.objects.get_or_create(name=name)[0] for name in roles.ROLES}


def grant_role(*, user: Any, role: str) -> None:
    if role not in roles.ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(roles.ROLES)}")
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    if hasattr(user, "_wattdesk_roles"):
        del user._wattdesk_roles


def set_scope(
    *,
    user: Any,
    all_regions: bool = False,
    regions: Iterable[Region] = (),
    routes: Iterable[ReadingRoute] = (),
) -> StaffScope:
    scope, _ = StaffScope.objects.update_or_create(user=user, defaults={"all_regions": all_regions})
    scope.regions.set(list(regions))
    scope.routes.set(list(routes))
    return scope


def link_customer(*, user: Any, customer: Customer) -> CustomerLogin:
    login, _ = CustomerLogin.objects.update_or_create(user=user, defaults={"customer": customer})
    grant_role(user=user, role=roles.CUSTOMER)
    return login


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    note: str


def create_demo_users(*, password: str) -> list[DemoLogin]:
    """One login per role for the demo company; scoped roles get the first region's routes, the customer
    login the first residential customer that has an interval meter (or any residential customer)."""
    user_model = get_user_model()
    out: list[DemoLogin] = []
    with transaction.atomic():
        ensure_role_groups()
        first_region = Region.objects.order_by("code").first()
        for role in roles.ROLES:
            username = f"demo_{role}"
            user, _ = user_model.objects.get_or_create(username=username, defaults={"is_staff": False})
            user.set_password(password)
            user.is_superuser = role == roles.ADMIN
            user.is_staff = role == roles.ADMIN  # Django admin for master data
            user.save()
            grant_role(user=user, role=role)
            note = ""
            if role in roles.SCOPED_ROLES and first_region is not None:
                routes = list(ReadingRoute.objects.filter(region=first_region).order_by("code")[:3])
                set_scope(user=user, routes=routes)
                note = "routes " + ", ".join(r.code for r in routes)
            if role == roles.CUSTOMER:
                customer = (
                    Customer.objects.filter(
                        customer_class="residential",
                        accounts__service_points__meter_installations__meter__interval=True,
                    )
                    .order_by("number")
                    .first()
                    or Customer.objects.filter(customer_class="residential").order_by("number").first()
                )
                if customer is not None:
                    link_customer(user=user, customer=customer)
                    note = f"customer {customer.number}"
            out.append(DemoLogin(role=role, username=username, password=password, note=note))
    return out
