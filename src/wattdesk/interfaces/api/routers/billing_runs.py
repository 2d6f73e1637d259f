"""Billing runs (抄核收 · 核算): list with billing.view, launch with billing.run.

POST runs the billing synchronously in the request (one process, one connection) and returns the run's
summary; meant for a route or a small company. Large runs belong to the CLI (`wattdesk bill run`).
"""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import paginate
from ninja.params.functions import Query

from wattdesk.application.billing.run import run_billing
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import BillingRun
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas import (
    PERIOD_PATTERN,
    BillingRunCreate,
    BillingRunRead,
    BillingRunResultRead,
)

router = Router(tags=["billing runs"])


@router.get("", response=list[BillingRunRead], summary="Billing runs, latest first")
@paginate(Pages)
def list_runs(
    request: Any, period: str | None = Query(None, pattern=PERIOD_PATTERN, description="YYYY-MM")
) -> QuerySet[BillingRun]:
    require(request, roles.BILLING_VIEW)
    qs = BillingRun.objects.select_related("route")
    if period:
        qs = qs.filter(period=period)
    return qs.order_by("-started_at", "-id")


@router.post(
    "", response={201: BillingRunResultRead}, summary="Run billing for a period (optionally one route)"
)
def create_run(request: Any, payload: BillingRunCreate) -> Status[dict[str, Any]]:
    require(request, roles.BILLING_RUN)
    result = run_billing(
        period=payload.period, route=payload.route or None, run_at=timezone.now(), workers=1, pipeline=False
    )
    return Status(
        201,
        {
            "run_id": result.run_id,
            "period": result.period,
            "route": result.route,
            "status": result.status,
            "accounts": result.accounts,
            "already_billed": result.already_billed,
            "billed": result.billed,
            "held": result.held,
            "estimated": result.estimated,
            "skipped": dict(result.skipped),
            "kwh": result.kwh,
            "total": result.total,
            "revenue_by_class": dict(result.revenue_by_class),
        },
    )
