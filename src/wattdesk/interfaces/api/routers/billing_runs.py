"""Billing runs (抄核收 · 核算): list and status with billing.view; launch, resume, restart with billing.run.

POST launches the run through the same use case as the CLI and the web page (``application.billing.launch``:
one live run per period, guarded by the database; the run's audit entry when it finishes) and enqueues it for
a ``wattdesk worker``: 202 with the run; poll ``GET /api/billing-runs/{id}`` for its state and done / total.
A period without readings is refused (422) unless ``allow_empty``; a live run of the period gives 409. A run
whose process died shows ``state: stalled``: ``POST …/{id}/resume`` or ``…/{id}/restart``.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from ninja.params.functions import Query

from wattdesk.application.billing import launch
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import BillingRun
from wattdesk.interfaces import tasks
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas.billing import BillingRunCreate, BillingRunRead
from wattdesk.interfaces.api.schemas.common import PERIOD_PATTERN

router = Router(tags=["billing runs"])


class RunConflict(Schema):
    detail: str
    run_id: int


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


@router.get(
    "/{run_id}",
    response=BillingRunRead,
    summary="A billing run: state (stalled if its process died) and progress",
)
def get_run(request: Any, run_id: int) -> BillingRun:
    require(request, roles.BILLING_VIEW)
    return get_object_or_404(BillingRun.objects.select_related("route"), pk=run_id)


def _reload(run: BillingRun) -> BillingRun:
    return BillingRun.objects.select_related("route").get(pk=run.pk)


@router.post(
    "",
    response={202: BillingRunRead, 409: RunConflict},
    summary="Launch a billing run for a period (optionally one route); it runs on a worker",
)
def create_run(request: Any, payload: BillingRunCreate) -> Status[Any]:
    require(request, roles.BILLING_RUN)
    try:
        run = tasks.start_billing_run(
            period=payload.period,
            route=payload.route or None,
            actor=request.user,
            now=timezone.now(),
            allow_empty=payload.allow_empty,
        )
    except launch.RunInProgress as exc:
        return Status(409, {"detail": str(exc), "run_id": exc.run_id})
    return Status(202, _reload(run))


def _take_over(request: Any, run_id: int, take: Callable[..., Any]) -> Status[Any]:
    """Resume or restart a stalled run (``take`` queues it on a worker): 202 with the run, 409 if refused."""
    require(request, roles.BILLING_RUN)
    get_object_or_404(BillingRun, pk=run_id)
    try:
        run = take(run_id=run_id, actor=request.user, now=timezone.now())
    except (launch.RunNotResumable, launch.RunInProgress) as exc:
        return Status(409, {"detail": str(exc), "run_id": getattr(exc, "run_id", run_id)})
    return Status(202, _reload(run))


@router.post(
    "/{run_id}/resume",
    response={202: BillingRunRead, 409: RunConflict},
    summary="Resume a stalled (or failed) billing run: same run, next attempt, on a worker",
)
def resume_run(request: Any, run_id: int) -> Status[Any]:
    return _take_over(request, run_id, tasks.resume_billing_run)


@router.post(
    "/{run_id}/restart",
    response={202: BillingRunRead, 409: RunConflict},
    summary="Abandon a stalled (or failed) billing run and launch a new run of its period on a worker",
)
def restart_run(request: Any, run_id: int) -> Status[Any]:
    return _take_over(request, run_id, tasks.restart_billing_run)
