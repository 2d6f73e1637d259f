"""Collector assignments and visit bodies for the collection API tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, capabilities
from wattdesk.domain.collection.models import CollectorAssignment
from wattdesk.domain.customers.models import ReadingRoute, ServicePoint


def assign_routes(user: Any) -> list[int]:
    """Assign the user (from 2026-01-01) to the routes of their scope, or to the first route if unscoped;
    returns the route ids."""
    scope = getattr(user, "staff_scope", None)
    routes = list(scope.routes.all()) if scope is not None else []
    if not routes:
        routes = list(ReadingRoute.objects.order_by("code")[:1])
    for route in routes:
        CollectorAssignment.objects.get_or_create(user=user, route=route, from_date=date(2026, 1, 1))
    return [r.pk for r in routes]


def visit_body(user: Any) -> dict[str, str]:
    """A visit the API accepts from a user with collection.work (assigned to a route of one of their
    accounts first); for other users, any body (they are refused before it is read)."""
    if roles.COLLECTION_WORK not in capabilities(user):
        return {"account": "-", "outcome": "not_home"}
    route_ids = assign_routes(user)
    number = (
        ServicePoint.objects.filter(route_id__in=route_ids, account__in=accounts_for(user))
        .order_by("account__number")
        .values_list("account__number", flat=True)
        .first()
    )
    assert number is not None
    return {"account": number, "outcome": "not_home", "note": "permission table"}
