"""Back office: the dashboard (经营看板) of a billing period: KPI cards and ECharts charts."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from wattdesk.application.analytics import dashboard as use_case
from wattdesk.core.period import Period
from wattdesk.domain.access import roles
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required
from wattdesk.interfaces.web.templatetags.fmt import big_axis_unit

nav.register(
    nav.NavItem(
        section="staff",
        order=10,
        label=_("经营看板"),
        url_name="web:dashboard",
        capability=roles.DASHBOARD_VIEW,
        icon="chart-bar",
    )
)


def _chart(title: str, kind: str, labels: list[str], kwh: list[Decimal], revenue: list[Decimal]) -> str:
    """An ECharts option: kWh sold and revenue (two y axes) per label, as bars or lines."""
    # Floats for plotting only; the tables and cards show the exact Decimal strings.
    return json.dumps(
        {
            "title": {"text": title, "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 24},
            "grid": {"top": 60, "left": 50, "right": 50, "bottom": 30, "containLabel": True},
            "xAxis": {"type": "category", "data": labels},
            # Axis labels in 万 / 亿 (zh) or K / M (en), as the cards' ``big`` figures: charts.js turns
            # "wattdeskUnit" into the label formatter (a JSON option cannot carry a function).
            "yAxis": [
                {"type": "value", "name": "kWh", "wattdeskUnit": big_axis_unit(kwh)},
                {"type": "value", "name": _g("元"), "wattdeskUnit": big_axis_unit(revenue)},
            ],
            "series": [
                {"name": _g("售电量 kWh"), "type": kind, "data": [float(v) for v in kwh]},
                {
                    "name": _g("应收电费 元"),
                    "type": kind,
                    "yAxisIndex": 1,
                    "data": [float(v) for v in revenue],
                },
            ],
        },
        ensure_ascii=False,
    )


def _bar(title: str, slices: tuple[use_case.Slice, ...]) -> str:
    return _chart(
        title, "bar", [s.label for s in slices], [s.kwh for s in slices], [s.revenue for s in slices]
    )


def _trend(trend: tuple[use_case.PeriodTotals, ...]) -> str:
    return _chart(
        _g("近12期趋势"),
        "line",
        [t.period for t in trend],
        [t.kwh for t in trend],
        [t.revenue for t in trend],
    )


@capability_required(roles.DASHBOARD_VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period") or None
    if period is not None and not Period.is_valid(period):
        period = None
    data = use_case.dashboard(period=period)
    context: dict[str, Any] = {
        "d": data,
        "chart_class": _bar(_g("按用电类别"), data.by_class),
        "chart_region": _bar(_g("按供电区域"), data.by_region),
        "chart_trend": _trend(data.trend),
    }
    return render(request, "web/dashboard/dashboard.html", context)
