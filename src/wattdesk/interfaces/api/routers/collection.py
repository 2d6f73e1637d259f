"""Collection management (催费管理): the collector's worklist and visit outcomes, the supervisor's scorecards,
aging (账龄) and the recovery rate (电费回收率).

Scoping: a collector (``collection.work``) sees only the worklist of their own assigned routes and records
visits only on accounts of those routes; another collector's worklist needs ``collection.assess`` (the
supervisor's drill-down). Scorecards, aging and recovery are company-wide reports for ``collection.assess``.
The endpoints translate; the rules are in ``application.collection`` and ``domain.payments.queries``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.utils import timezone
from ninja import Router, Status
from ninja.errors import HttpError
from ninja.params.functions import Query

from wattdesk.application.collection import collectors as use_case
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import capabilities
from wattdesk.domain.payments import queries as pay_queries
from wattdesk.interfaces.api.deps import require
from wattdesk.interfaces.api.schemas.collection import (
    AgingRead,
    RecoveryRead,
    ScorecardsRead,
    VisitCreate,
    VisitRead,
    WorklistRead,
)
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, NO_CONTROL_CHARS, PERIOD_PATTERN

router = Router(tags=["collection"])

WORKLIST_MAX = 500


@router.get("/worklist", response=WorklistRead, summary="A collector's prioritized worklist (催费工单)")
def get_worklist(
    request: Any,
    as_of: date | None = Query(None, description="default: today"),  # noqa: B008
    collector: str | None = Query(
        None, pattern=KEY_PATTERN, description="username; another collector's needs collection.assess"
    ),
    limit: int = Query(200, ge=1, le=WORKLIST_MAX),
) -> dict[str, Any]:
    user = require(request, roles.COLLECTION_WORK, roles.COLLECTION_ASSESS)
    target = user
    if collector and collector != user.get_username():
        if roles.COLLECTION_ASSESS not in capabilities(user):
            raise HttpError(403, "permission denied: another collector's worklist needs collection.assess")
        target = get_user_model().objects.filter(username=collector).first()
        if target is None:
            raise HttpError(404, "no such collector")
    day = as_of or timezone.localdate()
    rows = use_case.worklist(collector=target, as_of=day, limit=limit)
    return {
        "collector": target.get_username(),
        "as_of": day,
        "items": [
            {
                "rank": r.rank,
                "account_number": r.account_number,
                "customer_name": r.customer_name,
                "phone": r.phone,
                "address": r.address,
                "route": r.route,
                "amount_due": r.item.amount_due,
                "days_overdue": r.item.days_overdue,
                "distance_km": r.item.distance_km,
                "score": r.item.score,
                "last_visit": r.last_visit,
            }
            for r in rows
        ],
    }


@router.post(
    "/visits", response={201: VisitRead}, summary="Record a visit outcome on an account of your routes"
)
def create_visit(request: Any, payload: VisitCreate) -> Status[dict[str, Any]]:
    user = require(request, roles.COLLECTION_WORK)
    visit = use_case.record_visit(
        collector=user,
        account_number=payload.account,
        visited_at=timezone.now(),
        outcome=payload.outcome,
        promised_on=payload.promised_on,
        amount_collected=payload.amount_collected,
        note=payload.note,
    )
    return Status(
        201,
        {
            "id": visit.pk,
            "collector": user.get_username(),
            "account": payload.account,
            "visited_at": visit.visited_at,
            "outcome": visit.outcome,
            "promised_on": visit.promised_on,
            "amount_collected": visit.amount_collected,
            "note": visit.note,
        },
    )


@router.get("/scorecards", response=ScorecardsRead, summary="KPI scorecards of a month, ranked, with trend")
def get_scorecards(
    request: Any,
    period: str = Query(..., pattern=PERIOD_PATTERN, description="YYYY-MM"),
    by: Literal["collector", "route", "region"] = Query("collector"),
    region: str | None = Query(None, max_length=32, pattern=NO_CONTROL_CHARS, description="drill-down"),
    route: str | None = Query(None, max_length=32, pattern=NO_CONTROL_CHARS, description="drill-down"),
    trend: bool = Query(True, description="include the six-month recovery-rate trend"),
) -> dict[str, Any]:
    require(request, roles.COLLECTION_ASSESS)
    cards = use_case.scorecards(period=period, by=by, region=region or None, route=route or None, trend=trend)
    return {
        "period": cards.period,
        "by": cards.by,
        "rows": [_kpi(r) for r in cards.rows],
        "total": _kpi(cards.total),
        "trend_periods": cards.trend_periods,
        "trend": cards.trend,
    }


def _kpi(k: use_case.Kpi) -> dict[str, Any]:
    return {
        "key": k.key,
        "label": k.label,
        "rank": k.rank,
        "parent": k.parent,
        "accounts": k.accounts,
        "billed": k.billed,
        "collected": k.collected,
        "recovery_rate": k.recovery_rate,
        "arrears_start": k.arrears_start,
        "arrears_end": k.arrears_end,
        "arrears_reduction": k.arrears_reduction,
        "bills": k.bills,
        "bills_on_time": k.bills_on_time,
        "on_time_share": k.on_time_share,
        "visits": k.visits,
        "complaints": k.complaints,
    }


@router.get("/aging", response=AgingRead, summary="Outstanding debt by days past due (账龄)")
def get_aging(
    request: Any,
    as_of: date | None = Query(None, description="default: today"),  # noqa: B008
    by: Literal["region", "route", "class", "collector"] = Query("region"),
) -> dict[str, Any]:
    require(request, roles.COLLECTION_ASSESS)
    day = as_of or timezone.localdate()
    if by == "collector":
        rows = use_case.aging_by_collector(as_of=day)
    else:
        rows = pay_queries.aging(as_of=day, by=by)
    return {
        "as_of": day,
        "by": by,
        "rows": [{"key": r.key, "buckets": r.buckets, "total": r.total} for r in rows],
    }


@router.get("/recovery", response=RecoveryRead, summary="Recovery rate (电费回收率) of a billing period")
def get_recovery(
    request: Any,
    period: str = Query(..., pattern=PERIOD_PATTERN, description="YYYY-MM"),
    by: Literal["region", "route", "class", "collector"] | None = Query(None),
    as_of: date | None = Query(None, description="count only what was allocated on or before this day"),  # noqa: B008
) -> dict[str, Any]:
    require(request, roles.COLLECTION_ASSESS)
    if by == "collector":
        rows = use_case.recovery_by_collector(period=period, as_of=as_of)
    else:
        rows = pay_queries.recovery_rate(period=period, by=by, as_of=as_of)
    return {
        "period": period,
        "by": by,
        "as_of": as_of,
        "rows": [{"key": r.key, "billed": r.billed, "collected": r.collected, "rate": r.rate} for r in rows],
    }
