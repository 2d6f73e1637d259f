"""Customer self-service portal (客户自助服务, /portal/): home, a bill explained, usage charts, bill history
with PDF download, the tariff in force. Mobile first (375 px); every view needs ``portal.use``.

Each view translates the request, makes one call into ``wattdesk.application.portal.screens`` (which scopes every
read through ``accounts_for`` / ``bills_for``) and renders. The account shown is chosen with ``?account=``
and remembered in the session; an account or bill that is not the user's is a 404.
"""

from __future__ import annotations

import json
from datetime import date

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wattdesk.application.portal import screens as portal
from wattdesk.domain.access import roles
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

SESSION_KEY = "portal_account"

for _order, _label, _url_name, _icon in (
    (10, _("首页"), "web:portal_home", "home"),
    (20, _("用电"), "web:portal_usage", "chart-line"),
    (30, _("账单"), "web:portal_history", "receipt"),
    (40, _("电价"), "web:portal_tariff", "bulb"),
):
    nav.register(
        nav.NavItem(
            section="portal",
            order=_order,
            label=_label,
            url_name=_url_name,
            capability=roles.PORTAL_USE,
            icon=_icon,
        )
    )


def _number(request: HttpRequest) -> str | None:
    """The account chosen with ?account= (remembered in the session), else the one chosen before."""
    number = request.GET.get("account", "").strip()
    if number:
        request.session[SESSION_KEY] = number
        return number
    remembered = request.session.get(SESSION_KEY)
    return str(remembered) if remembered else None


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Http404("bad day") from None


@capability_required(roles.PORTAL_USE)
def portal_home(request: HttpRequest) -> HttpResponse:
    try:
        page = portal.home(user=request.user, number=_number(request))
    except portal.AccountNotFound:
        if request.GET.get("account"):
            raise Http404("account") from None
        return render(request, "web/portal/no_account.html")
    return render(request, "web/portal/home.html", {"page": page})


@capability_required(roles.PORTAL_USE)
def portal_bill(request: HttpRequest, bill_id: int) -> HttpResponse:
    bill = get_object_or_404(portal.visible_bills(user=request.user).select_related("account"), pk=bill_id)
    page = portal.explain_bill(bill=bill)
    return render(request, "web/portal/bill.html", {"page": page, "groups": portal.group_lines(page.lines)})


@capability_required(roles.PORTAL_USE)
def portal_bill_pdf(request: HttpRequest, bill_id: int) -> HttpResponse:
    """The bill document (PDF) of one of the user's bills (scoped first, then rendered by bill_document)."""
    from wattdesk.application.billing.document import bill_document, render_pdf

    bill = get_object_or_404(portal.visible_bills(user=request.user), pk=bill_id)
    pdf = render_pdf(bill_document(bill_id=bill.pk))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="bill-{bill.period}-{bill.pk}.pdf"'
    return response


@capability_required(roles.PORTAL_USE)
def portal_history(request: HttpRequest) -> HttpResponse:
    try:
        account, bills = portal.bill_history(user=request.user, number=_number(request))
    except portal.AccountNotFound:
        raise Http404("account") from None
    from wattdesk.interfaces.web.pages.corrections import adjustment_links_by_bill

    links = adjustment_links_by_bill(user=request.user, bill_ids=[b.id for b in bills], portal=True)
    rows = [(b, links.get(b.id, [])) for b in bills]  # each bill's issued 退补单, read in one query
    return render(request, "web/portal/history.html", {"account": account, "bills": rows})


@capability_required(roles.PORTAL_USE)
def portal_usage(request: HttpRequest) -> HttpResponse:
    try:
        page = portal.usage(
            user=request.user,
            number=_number(request),
            today=timezone.localdate(),
            day=_day(request.GET.get("day")),
        )
    except portal.AccountNotFound:
        raise Http404("account") from None
    return render(request, "web/portal/usage.html", {"page": page, "chart": _chart_data(page)})


@capability_required(roles.PORTAL_USE)
def portal_usage_hourly(request: HttpRequest) -> HttpResponse:
    """HTMX partial: the hourly kWh of one day (the chart data swapped into the usage page)."""
    day = _day(request.GET.get("day"))
    if day is None:
        raise Http404("day")
    try:
        hours = portal.hourly(user=request.user, number=_number(request), day=day)
    except portal.AccountNotFound:
        raise Http404("account") from None
    context = {"day": day, "hours": hours, "hourly_chart": _hourly_chart(hours)}
    return render(request, "web/portal/_hourly.html", context)


@capability_required(roles.PORTAL_USE)
def portal_tariff(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    try:
        account, tariffs = portal.tariffs(user=request.user, number=_number(request), on=today)
    except portal.AccountNotFound:
        raise Http404("account") from None
    return render(request, "web/portal/tariff.html", {"account": account, "tariffs": tariffs, "on": today})


def _bar(labels: list[str], values: list[float], color: str) -> str:
    """An ECharts bar-chart option as JSON (read by static/web/charts.js from the data-chart attribute)."""
    option = {
        "grid": {"left": 44, "right": 8, "top": 24, "bottom": 44},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": labels, "axisLabel": {"rotate": 45, "fontSize": 10}},
        "yAxis": {"type": "value", "name": "kWh", "nameTextStyle": {"fontSize": 10}},
        "series": [{"type": "bar", "name": "kWh", "data": values, "itemStyle": {"color": color}}],
    }
    return json.dumps(option, separators=(",", ":"), ensure_ascii=False)


def _chart_data(page: portal.Usage) -> dict[str, str]:
    """Chart options for the usage page (floats for plotting only; the table below the chart shows Decimals)."""
    return {
        "monthly": _bar([m.period for m in page.months], [float(m.kwh) for m in page.months], "#0b5cad"),
        "daily": _bar([d.isoformat()[5:] for d, _k in page.days], [k for _d, k in page.days], "#a05a00"),
        "hourly": _hourly_chart(page.hours),
    }


def _hourly_chart(hours: tuple[float, ...]) -> str:
    return _bar([f"{h:02d}:00" for h in range(24)], list(hours), "#1e7b34")


urlpatterns = [
    path("", portal_home, name="portal_home"),
    path("bills/<int:bill_id>/", portal_bill, name="portal_bill"),
    path("bills/<int:bill_id>/pdf", portal_bill_pdf, name="portal_bill_pdf"),
    path("history/", portal_history, name="portal_history"),
    path("usage/", portal_usage, name="portal_usage"),
    path("usage/hourly/", portal_usage_hourly, name="portal_usage_hourly"),
    path("tariff/", portal_tariff, name="portal_tariff"),
]
