"""Back office: payment-outlet planning (网点规划): coverage today, best new sites or a relocation, on a
lon/lat scatter "map" (ECharts, no map tiles) with before / after figures.

A solve takes seconds to tens of seconds (HiGHS MILP), so it never runs inside the request: POST validates
the form and enqueues ``interfaces.tasks.plan_outlets`` for a ``wattdesk worker``, then redirects to
``/outlets/?job=ID``, which shows the job's state (polled with HTMX every second while it is queued or
running) and, once it has finished, the plan from the task's result."""

from __future__ import annotations

import json
import math
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django_htmx.http import HttpResponseClientRedirect

from wattdesk.application.outlets import planning as use_case
from wattdesk.domain.access import roles
from wattdesk.interfaces import tasks
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=85,
        label=_("网点规划"),
        url_name="web:outlets",
        capability=roles.OUTLETS_PLAN,
        icon="map-pin",
    )
)

SAMPLE = 3000  # customer premises drawn on the map


def _int(text: str | None, default: int, lo: int, hi: int) -> tuple[int, bool]:
    try:
        v = int(text) if text not in (None, "") else default
    except ValueError:
        return default, False
    return (v, True) if lo <= v <= hi else (default, False)


def _float(text: str | None, default: float, lo: float, hi: float) -> tuple[float, bool]:
    try:
        v = float(text) if text not in (None, "") else default
    except ValueError:
        return default, False
    return (v, True) if math.isfinite(v) and lo < v <= hi else (default, False)


def _points(sites: Any) -> list[list[Any]]:
    return [[round(s.lon, 6), round(s.lat, 6), f"{s.code} {s.name}"] for s in sites]


def _map(*, customers: tuple[Any, Any], outlets: Any, candidates: Any, opened: Any, closed: Any) -> str:
    lat, lon = customers
    # Floats for plotting only. One degree of longitude is cos(lat) of a degree of latitude: the y axis is
    # stretched accordingly by the grid height in the template (no projection, no tiles).
    series: list[dict[str, Any]] = [
        {
            "name": _g("客户"),
            "type": "scatter",
            "symbolSize": 2,
            "large": True,
            "itemStyle": {"color": "#9aa5b1", "opacity": 0.6},
            "data": [[round(float(x), 5), round(float(y), 5)] for x, y in zip(lon, lat, strict=True)],
        },
        {
            "name": _g("候选站点"),
            "type": "scatter",
            "symbol": "triangle",
            "symbolSize": 9,
            "itemStyle": {"color": "#ffffff", "borderColor": "#7b8794", "borderWidth": 1},
            "data": _points(candidates),
        },
        {
            "name": _g("现有网点"),
            "type": "scatter",
            "symbol": "rect",
            "symbolSize": 12,
            "itemStyle": {"color": "#1f6feb"},
            "data": _points(outlets),
        },
        {
            "name": _g("新增网点"),
            "type": "scatter",
            "symbol": "pin",
            "symbolSize": 26,
            "itemStyle": {"color": "#d1242f"},
            "data": _points(opened),
        },
        {
            "name": _g("撤并网点"),
            "type": "scatter",
            "symbol": "diamond",
            "symbolSize": 14,
            "itemStyle": {"color": "#24292f"},
            "data": _points(closed),
        },
    ]
    option = {
        "tooltip": {"trigger": "item"},
        "legend": {"top": 0},
        "grid": {"top": 40, "left": 60, "right": 20, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "value", "name": _g("经度"), "scale": True, "splitLine": {"show": False}},
        "yAxis": {"type": "value", "name": _g("纬度"), "scale": True, "splitLine": {"show": False}},
        "series": series,
    }
    return json.dumps(option, ensure_ascii=False)


def _form(data: Any) -> tuple[dict[str, Any], list[str]]:
    radius, ok_r = _float(data.get("radius_km"), 3.0, 0.0, 100.0)
    k, ok_k = _int(data.get("k"), 3, 0, use_case.MAX_K)
    relocate, ok_rel = _int(data.get("relocate"), 0, 0, 20)
    objective = data.get("objective", "coverage")
    if objective not in ("coverage", "median"):
        objective = "coverage"
    errors = []
    if not ok_r:
        errors.append(_g("覆盖半径须为 0 到 100 之间的公里数。"))
    if not ok_k:
        errors.append(_g("新增网点数须为 0 到 %(max)d 之间的整数。") % {"max": use_case.MAX_K})
    if not ok_rel:
        errors.append(_g("迁址数须为 0 到 20 之间的整数。"))
    return {"radius_km": radius, "k": k, "relocate": relocate, "objective": objective}, errors


def _job(job_id: str) -> tasks.JobStatus:
    job = tasks.job_status(job_id=job_id, task_name="plan_outlets")
    if job is None:
        raise Http404("no such plan")
    return job


@capability_required(roles.OUTLETS_PLAN)
def outlets(request: HttpRequest) -> HttpResponse:
    job = None
    if request.method == "POST":
        form, errors = _form(request.POST)
        if not errors:
            queued = tasks.enqueue_outlet_plan(**form)
            return redirect(reverse("web:outlets") + f"?job={queued.id}")
    elif request.GET.get("job"):
        job = _job(request.GET["job"])
        form, errors = _form(job.kwargs)
        if job.state == "failed":
            errors.append(_g("求解失败：%(err)s") % {"err": job.error})
    else:
        form, errors = _form({})

    context: dict[str, Any] = {**form, "job": job}
    report = use_case.coverage(radius_km=form["radius_km"])
    context["coverage"] = report
    plan = job.result if job is not None else None
    context["plan"] = plan
    context["before_pct"] = f"{100 * report.figures.coverage:.1f}"
    context["after_pct"] = f"{100 * plan['after']['coverage']:.1f}" if plan else ""
    context["errors"] = errors
    closed = {s["code"] for s in plan["closed"]} if plan else set()
    context["chart_map"] = _map(
        customers=use_case.customer_sample(size=SAMPLE),
        outlets=[o for o in report.outlets if o.code not in closed],
        candidates=report.candidates,
        opened=[use_case.Site(**s) for s in plan["sites"]] if plan else (),
        closed=[o for o in report.outlets if o.code in closed],
    )
    return render(request, "web/outlets/outlets.html", context)


@capability_required(roles.OUTLETS_PLAN)
def outlets_job(request: HttpRequest, job_id: str) -> HttpResponse:
    """The HTMX poll of a queued plan: its state while live, then a redirect to the page with the plan."""
    job = _job(job_id)
    if not job.live:
        return HttpResponseClientRedirect(reverse("web:outlets") + f"?job={job.job_id}")
    return render(request, "web/outlets/_job.html", {"job": job})
