"""Back office: customer search (客户查询) and the customer 360° page (客户全景视图).

Every account comes through ``accounts_for(request.user)``: a meter reader finds only the accounts of their
routes / regions, and an account number outside the user's scope is a 404.
"""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from wattdesk.application.customers import customer_360 as use_case
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, bills_for
from wattdesk.domain.metering.models import RegisterKind
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=20,
        label=_("客户查询"),
        url_name="web:customer_search",
        capability=roles.CUSTOMERS_VIEW,
        icon="user",
    )
)


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1


@capability_required(roles.CUSTOMERS_VIEW)
def customer_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    result = use_case.search_accounts(
        accounts=accounts_for(request.user), query=query, page=_page_number(request.GET.get("page"))
    )
    context = {"result": result, "q": query.strip()}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/customers/_results.html", context)
    return render(request, "web/customers/search.html", context)


def _consumption_chart(series: use_case.ConsumptionSeries) -> str:
    labels = dict(RegisterKind.choices)
    return json.dumps(
        {
            "title": {"text": _g("月度电量（按计度器）"), "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 24},
            "grid": {"top": 70, "left": 40, "right": 20, "bottom": 30, "containLabel": True},
            "xAxis": {"type": "category", "data": list(series.months)},
            "yAxis": {"type": "value", "name": "kWh / kvarh"},
            # Floats for plotting only; the readings table shows the exact values.
            "series": [
                {
                    "name": str(labels.get(kind, kind)),
                    "type": "bar" if kind == RegisterKind.ACTIVE_TOTAL else "line",
                    "data": [None if v is None else float(v) for v in values],
                }
                for kind, values in series.series
            ],
        },
        ensure_ascii=False,
    )


@capability_required(roles.CUSTOMERS_VIEW)
def customer_detail(request: HttpRequest, number: str) -> HttpResponse:
    account = get_object_or_404(accounts_for(request.user), number=number)
    view = use_case.customer_360(account=account, as_of=timezone.localdate())
    context = {
        "c": view,
        "chart_consumption": _consumption_chart(view.consumption),
        "register_labels": dict(RegisterKind.choices),
    }
    return render(request, "web/customers/detail.html", context)


@capability_required(roles.CUSTOMERS_VIEW)
def bill_lines(request: HttpRequest, number: str, bill_id: int) -> HttpResponse:
    """HTMX partial: the line items of one bill of the account (scoped: another account's bill is a 404)."""
    if not bills_for(request.user).filter(pk=bill_id, account__number=number).exists():
        raise Http404
    lines = use_case.bill_lines(bill_id=bill_id)
    return render(request, "web/customers/_bill_lines.html", {"lines": lines})
