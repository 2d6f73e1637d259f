"""Reads on customer master data."""

from __future__ import annotations

from django.db.models import QuerySet

from wattdesk.domain.customers.models import Account, AccountStatus, ServicePoint


def account_by_number(*, number: str) -> Account | None:
    return Account.objects.select_related("customer").filter(number=number).first()


def active_accounts(*, route_code: str | None = None) -> QuerySet[Account]:
    """Active accounts, optionally only those with a service point on the given reading route (抄表段)."""
    qs = Account.objects.filter(status=AccountStatus.ACTIVE)
    if route_code is not None:
        qs = qs.filter(service_points__route__code=route_code).distinct()
    return qs.order_by("number")


def service_points_of(*, account_id: int) -> QuerySet[ServicePoint]:
    return ServicePoint.objects.filter(account_id=account_id).select_related("route", "transformer_area")
