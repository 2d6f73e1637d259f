"""Bills: staff with billing.view see their scope; a customer (portal.use) sees the bills of their accounts."""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from ninja import Router
from ninja.pagination import paginate
from ninja.params.functions import Query

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import bills_for
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas import NO_CONTROL_CHARS, PERIOD_PATTERN, BillDetailRead, BillRead

router = Router(tags=["bills"])

MAX_ID = 2**63 - 1


@router.get("", response=list[BillRead], summary="Bills in the caller's scope")
@paginate(Pages)
def list_bills(
    request: Any,
    period: str | None = Query(None, pattern=PERIOD_PATTERN, description="YYYY-MM"),
    status: BillStatus | None = Query(None),  # noqa: B008 (ninja parameter declaration)
    account: str | None = Query(None, max_length=32, pattern=NO_CONTROL_CHARS, description="account number"),
) -> QuerySet[Bill]:
    user = require(request, roles.BILLING_VIEW, roles.PORTAL_USE)
    qs = bills_for(user)
    if period:
        qs = qs.filter(period=period)
    if status:
        qs = qs.filter(status=status)
    if account:
        qs = qs.filter(account__number=account)
    return qs.select_related("account").order_by("-period", "account__number", "-version")


@router.get("/{bill_id}", response=BillDetailRead, summary="One bill with its lines")
def get_bill(request: Any, bill_id: int) -> Bill:
    user = require(request, roles.BILLING_VIEW, roles.PORTAL_USE)
    if not 0 < bill_id <= MAX_ID:
        raise Http404("no such bill")
    return get_object_or_404(bills_for(user).select_related("account"), pk=bill_id)
