"""Back office: tariff-change simulations (电价调整测算).

``/simulations/``: the runs so far and a form to start one (current and proposed tariff codes of the tariff
catalogue, ``CODE`` or ``CODE@VERSION``; months; engine). POST records the run (audited) and queues it for the
``wattdesk worker`` (``interfaces.tasks.execute_simulation``), then redirects to the run's report,
``/simulations/<id>/``, which polls while the run is queued or running and then shows the revenue change by
class, region and tier, the distribution of bill changes and the most affected accounts, with charts
(ECharts, served locally) and an Excel export (``/simulations/<id>/excel/``). File paths are never accepted
from the web: the CLI reads tariff files, the page only the catalogue.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django_htmx.http import HttpResponseClientRedirect

from wattdesk.application.errors import InputError
from wattdesk.application.simulation import simulate as use_case
from wattdesk.domain.access import roles
from wattdesk.domain.customers.models import CustomerClass
from wattdesk.domain.simulation.models import SimulationRun, SimulationStatus
from wattdesk.domain.tariffs.models import TariffVersion
from wattdesk.interfaces import tasks
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=82,
        label=_("电价调整测算"),
        url_name="web:simulations",
        capability=roles.TARIFFS_SIMULATE,
        icon="chart-bar",
    )
)

_CLASS_LABELS = dict(CustomerClass.choices)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(@[A-Za-z0-9_.-]{1,32})?$")


def _yuan(fen: int) -> str:
    return use_case.yuan(fen)


def _form(data: Any) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    values = {
        "tariff_from": (data.get("tariff_from") or "").strip(),
        "tariff_to": (data.get("tariff_to") or "").strip(),
        "months": (data.get("months") or "12").strip(),
        "engine": data.get("engine") or "local",
        "up_to": (data.get("up_to") or "").strip(),
    }
    for key in ("tariff_from", "tariff_to"):
        if not _CODE.match(values[key]):
            errors.append(_g("电价须为电价目录中的代码（或“代码@版本号”）。"))
            break
    try:
        months = int(values["months"])
        if not 1 <= months <= use_case.MAX_MONTHS:
            raise ValueError
        values["months"] = months
    except ValueError:
        errors.append(_g("月数须为 1 到 %(max)d 之间的整数。") % {"max": use_case.MAX_MONTHS})
    if values["engine"] not in ("local", "spark"):
        errors.append(_g("计算引擎须为 local 或 spark。"))
    return values, errors


def _bar(categories: list[str], series: list[tuple[str, list[int]]], unit: str) -> str:
    """A bar chart option (amounts in yuan: plotting only; the tables show the exact figures)."""
    option = {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"top": 40, "left": 60, "right": 20, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": categories},
        "yAxis": {"type": "value", "name": unit},
        "series": [{"name": name, "type": "bar", "data": data} for name, data in series],
    }
    return json.dumps(option, ensure_ascii=False)


def _charts(summary: dict[str, Any]) -> dict[str, str]:
    def y(fen: int) -> int:
        return int(fen) // 100

    cls = summary.get("by_class", [])
    region = summary.get("by_region", [])
    return {
        "class": _bar(
            [str(_CLASS_LABELS.get(r["customer_class"], r["customer_class"])) for r in cls],
            [
                (_g("现行电价"), [y(r["bill_from_fen"]) for r in cls]),
                (_g("调整后"), [y(r["bill_to_fen"]) for r in cls]),
            ],
            _g("元"),
        ),
        "region": _bar(
            [r["region"] or "-" for r in region],
            [(_g("电费变化"), [y(r["change_fen"]) for r in region])],
            _g("元"),
        ),
        "distribution": _bar(
            [r["band"] for r in summary.get("distribution", [])],
            [(_g("户数"), [r["accounts"] for r in summary.get("distribution", [])])],
            _g("户"),
        ),
    }


def _tariff_codes() -> list[str]:
    return sorted(set(TariffVersion.objects.values_list("code", flat=True)))


@capability_required(roles.TARIFFS_SIMULATE)
def simulations(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    if request.method == "POST":
        values, errors = _form(request.POST)
        if not errors:
            try:
                run = tasks.start_simulation(
                    tariff_from=values["tariff_from"],
                    tariff_to=values["tariff_to"],
                    months=values["months"],
                    up_to=values["up_to"] or None,
                    engine=values["engine"],
                    actor=request.user,
                    now=timezone.now(),
                )
            except InputError as exc:
                errors.append(str(exc))
            else:
                return redirect(reverse("web:simulation", args=[run.pk]))
    else:
        values, _ = _form({})
    runs = list(SimulationRun.objects.order_by("-id")[:50])
    rows = [
        {
            "run": r,
            "change": _yuan(r.summary.get("bill_to_fen", 0) - r.summary.get("bill_from_fen", 0))
            if r.summary
            else "",
        }
        for r in runs
    ]
    status = 400 if errors and request.method == "POST" else 200
    return render(
        request,
        "web/simulation/list.html",
        {"form": values, "errors": errors, "rows": rows, "codes": _tariff_codes()},
        status=status,
    )


def _run(run_id: int) -> SimulationRun:
    run = SimulationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise Http404("no such simulation")
    return run


def _money_rows(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return [{**r, **{f"{k}_yuan": _yuan(r[k]) for k in keys}} for r in rows]


@capability_required(roles.TARIFFS_SIMULATE)
def simulation(request: HttpRequest, simulation_id: int) -> HttpResponse:
    run = _run(simulation_id)
    live = run.status in (SimulationStatus.PENDING, SimulationStatus.RUNNING)
    context: dict[str, Any] = {"run": run, "live": live}
    s = run.summary
    if run.status == SimulationStatus.DONE and s:
        money = ("bill_from_fen", "bill_to_fen", "change_fen")
        context.update(
            {
                "from_yuan": _yuan(s["bill_from_fen"]),
                "to_yuan": _yuan(s["bill_to_fen"]),
                "change_yuan": _yuan(s["bill_to_fen"] - s["bill_from_fen"]),
                "by_class": _money_rows(s["by_class"], *money),
                "by_region": _money_rows(s["by_region"], *money),
                "by_tier": _money_rows(s["by_tier"], "from_fen", "to_fen", "change_fen"),
                "distribution": s["distribution"],
                "top_increase": _money_rows(s["top_increase"], *money),
                "top_decrease": _money_rows(s["top_decrease"], *money),
                "charts": _charts(s),
            }
        )
    return render(request, "web/simulation/report.html", context)


@capability_required(roles.TARIFFS_SIMULATE)
def simulation_poll(request: HttpRequest, simulation_id: int) -> HttpResponse:
    """The HTMX poll of a queued / running simulation: its state, then a redirect to the finished report."""
    run = _run(simulation_id)
    if run.status not in (SimulationStatus.PENDING, SimulationStatus.RUNNING):
        return HttpResponseClientRedirect(reverse("web:simulation", args=[run.pk]))
    return render(request, "web/simulation/_poll.html", {"run": run})


@capability_required(roles.TARIFFS_SIMULATE)
def simulation_excel(request: HttpRequest, simulation_id: int) -> HttpResponse:
    run = _run(simulation_id)
    if run.status != SimulationStatus.DONE:
        raise Http404("the simulation has not finished")
    response = HttpResponse(
        use_case.excel(run),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="simulation-{run.pk}.xlsx"'
    return response
