"""GET /api/customers (search, paginated), GET /api/customers/{number}: capability customers.view."""

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from ninja import Router
from ninja.pagination import paginate
from ninja.params.functions import Path, Query

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, customers_for
from wattdesk.domain.customers.models import Customer, CustomerClass
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, NO_CONTROL_CHARS
from wattdesk.interfaces.api.schemas.customers import CustomerRead

KEY = Path(..., pattern=KEY_PATTERN)

router = Router(tags=["customers"])


def _scoped(user: Any) -> QuerySet[Customer]:
    # only the accounts the caller may see (a collector's customer may have accounts on other routes)
    return customers_for(user).prefetch_related(Prefetch("accounts", queryset=accounts_for(user)))


@router.get("", response=list[CustomerRead], summary="Search customers")
@paginate(Pages)
def list_customers(
    request: Any,
    q: str | None = Query(
        None, max_length=100, pattern=NO_CONTROL_CHARS, description="number or name contains"
    ),
    customer_class: CustomerClass | None = Query(None, alias="class", description="用电类别"),  # noqa: B008
) -> QuerySet[Customer]:
    user = require(request, roles.CUSTOMERS_VIEW)
    qs = _scoped(user)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(name__icontains=q))
    if customer_class:
        qs = qs.filter(customer_class=customer_class)
    return qs.order_by("number")


@router.get("/{number}", response=CustomerRead, summary="One customer")
def get_customer(request: Any, number: str = KEY) -> Customer:
    user = require(request, roles.CUSTOMERS_VIEW)
    return get_object_or_404(_scoped(user), number=number)
