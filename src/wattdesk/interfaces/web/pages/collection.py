"""Back office: the collector's worklist (催费工单, phone-sized) and the supervisor's KPI scorecards (催费考核)
with ranking, six-month trend and drill-down region → route → collector → accounts."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from wattdesk.application.collection import assignments
from wattdesk.application.collection import collectors as use_case
from wattdesk.application.errors import InputError
from wattdesk.application.periods import period_input
from wattdesk.domain.access import roles
from wattdesk.domain.collection import queries as collection_queries
from wattdesk.domain.collection.models import VisitOutcome
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required
from wattdesk.interfaces.web.errors import user_message

nav.register(
    nav.NavItem(
        section="staff",
        order=70,
        label=_("催费工单"),
        url_name="web:collection_worklist",
        capability=roles.COLLECTION_WORK,
        icon="list-check",
    )
)
nav.register(
    nav.NavItem(
        section="staff",
        order=72,
        label=_("催费考核"),
        url_name="web:collection_scorecards",
        capability=roles.COLLECTION_ASSESS,
        icon="trophy",
    )
)

nav.register(
    nav.NavItem(
        section="staff",
        order=73,
        label=_("抄表段分配"),
        url_name="web:route_assignments",
        capability=roles.COLLECTION_ASSIGN,
        icon="route",
    )
)

WORKLIST_LIMIT = 200


def _date(text: str | None, default: date) -> tuple[date, bool]:
    if not text:
        return default, True
    try:
        return date.fromisoformat(text), True
    except ValueError:
        return default, False


@capability_required(roles.COLLECTION_WORK)
def worklist(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    as_of, ok = _date(request.GET.get("as_of"), today)
    errors = [] if ok else [_g("日期格式应为 YYYY-MM-DD。")]
    status = 200
    if request.method == "POST":
        try:
            promised = request.POST.get("promised_on") or None
            use_case.record_visit(
                collector=request.user,
                account_number=request.POST.get("account", ""),
                visited_at=timezone.now(),
                outcome=request.POST.get("outcome", ""),
                promised_on=date.fromisoformat(promised) if promised else None,
                amount_collected=request.POST.get("amount_collected") or "0",
                note=request.POST.get("note", ""),
            )
            return redirect(
                f"{request.path}?as_of={as_of.isoformat()}&saved={request.POST.get('account', '')}"
            )
        except (InputError, ValueError) as exc:
            errors.append(user_message(exc))
            status = 400
    rows = use_case.worklist(collector=request.user, as_of=as_of, limit=WORKLIST_LIMIT)
    context = {
        "rows": rows,
        "as_of": as_of,
        "errors": errors,
        "outcomes": VisitOutcome.choices,
        "saved": request.GET.get("saved", ""),
    }
    return render(request, "web/collection/worklist.html", context, status=status)


def _trend_chart(cards: use_case.Scorecards, keys: list[str]) -> str:
    series = [
        {
            "name": key if key != "all" else _g("全部"),
            "type": "line",
            "data": [round(float(v) * 100, 2) for v in cards.trend.get(key, [])],  # floats for plotting only
        }
        for key in keys
    ]
    option = {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "type": "scroll"},
        "grid": {"top": 40, "left": 50, "right": 20, "bottom": 30},
        "xAxis": {"type": "category", "data": cards.trend_periods},
        "yAxis": {"type": "value", "name": _g("回收率 %"), "scale": True},
        "series": series,
    }
    return json.dumps(option, ensure_ascii=False)


@capability_required(roles.COLLECTION_ASSESS)
def scorecards(request: HttpRequest) -> HttpResponse:
    default_period = use_case.collectors_period_default(timezone.localdate())
    period = request.GET.get("period") or default_period
    by = request.GET.get("by") or "region"
    region = request.GET.get("region") or None
    route = request.GET.get("route") or None
    collector = request.GET.get("collector") or None
    try:
        cards = use_case.scorecards(period=period, by=by, region=region, route=route)
    except InputError as exc:
        return render(
            request,
            "web/collection/scorecards.html",
            {"errors": [user_message(exc)], "period": period, "by": by},
            status=400,
        )
    accounts: list[Any] = []
    collector_user = None
    if collector:
        collector_user = get_user_model().objects.filter(username=collector).first()
        if collector_user is None:
            return render(
                request,
                "web/collection/scorecards.html",
                {"errors": [_g("没有这个催费员。")], "period": period, "by": by},
                status=404,
            )
        end = period_input(period).end
        accounts = use_case.worklist(collector=collector_user, as_of=end, limit=WORKLIST_LIMIT)
    # company-wide recovery by collector, with the accounts of routes without a collector ("-")
    recovery = (
        use_case.recovery_by_collector(period=period)
        if cards.by == "collector" and not region and not route
        else []
    )
    keys = [r.key for r in cards.rows[:8]] + ["all"]
    next_by = {"region": "route", "route": "collector", "collector": ""}[cards.by]
    context = {
        "cards": cards,
        "period": period,
        "by": by,
        "region": region or "",
        "route": route or "",
        "collector": collector or "",
        "collector_user": collector_user,
        "accounts": accounts,
        "recovery": recovery,
        "next_by": next_by,
        "chart_trend": _trend_chart(cards, keys),
        "groupings": use_case.GROUPINGS,
        "errors": [],
    }
    return render(request, "web/collection/scorecards.html", context)


def _assignment_message(exc: InputError) -> str:
    """A refused assignment in the page's language (the use case's message is English)."""
    if not isinstance(exc, assignments.AssignmentRefused) or not exc.code:
        return user_message(exc)
    params = dict(exc.params)
    texts = {
        "capability": _g("分配抄表段需要 collection.assign 权限。"),
        "no_route": _g("没有抄表段 %(route)s。"),
        "not_staff": _g("%(user)s 不是在岗的催费员。")
        if params.get("role") == roles.COLLECTOR
        else _g("%(user)s 不是在岗的抄表员。"),
        "planned": _g("抄表段 %(route)s 已安排 %(user)s 自 %(day)s 起催费：请先结束该分配。"),
        "no_collector": _g("抄表段 %(route)s 在 %(day)s 及以后没有催费员。"),
        "not_reader": _g("%(user)s 不抄抄表段 %(route)s。"),
    }
    text = texts.get(exc.code)
    return text % params if text else user_message(exc)


@capability_required(roles.COLLECTION_ASSIGN)
def route_assignments(request: HttpRequest) -> HttpResponse:
    """抄表段分配: each route's collector (effective-dated) and meter readers; a supervisor changes them."""
    today = timezone.localdate()
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        route = request.POST.get("route", "")
        try:
            if action == "assign_collector":
                on, ok = _date(request.POST.get("from_date"), today)
                if not ok:
                    raise InputError(_g("日期格式应为 YYYY-MM-DD。"))
                done = assignments.assign_collector(
                    actor=request.user,
                    route_code=route,
                    collector_username=request.POST.get("user", ""),
                    from_date=on,
                )
                note = _g("%(route)s 的催费员自 %(day)s 起为 %(user)s") % {
                    "route": done.route, "day": on.isoformat(), "user": done.user}  # fmt: skip
            elif action == "end_collector":
                on, ok = _date(request.POST.get("last_day"), today)
                if not ok:
                    raise InputError(_g("日期格式应为 YYYY-MM-DD。"))
                done = assignments.end_collector(
                    actor=request.user, route_code=route, last_day=on, today=today
                )
                note = _g("%(route)s 的催费员分配至 %(day)s 结束") % {
                    "route": done.route,
                    "day": on.isoformat(),
                }
            elif action in ("add_reader", "remove_reader"):
                change = assignments.add_reader if action == "add_reader" else assignments.remove_reader
                done = change(
                    actor=request.user, route_code=route, reader_username=request.POST.get("user", "")
                )
                note = (_g("%(user)s 抄 %(route)s") if action == "add_reader" else _g("%(user)s 不再抄 %(route)s")) % {
                    "user": done.user, "route": done.route}  # fmt: skip
            else:
                raise InputError(_g("未知操作。"))
        except InputError as exc:
            errors.append(_assignment_message(exc))
            status = 400
        else:
            messages.success(request, note)
            return redirect("web:route_assignments")
    context = {
        "rows": collection_queries.route_assignments(on=today),
        "collectors": collection_queries.staff_with_role(roles.COLLECTOR),
        "readers": collection_queries.staff_with_role(roles.METER_READER),
        "today": today,
        "errors": errors,
    }
    return render(request, "web/collection/assignments.html", context, status=status)


urlpatterns = [
    path("collection/assignments/", route_assignments, name="route_assignments"),
    path("collection/worklist/", worklist, name="collection_worklist"),
    path("collection/scorecards/", scorecards, name="collection_scorecards"),
]
