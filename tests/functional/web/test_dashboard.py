"""Dashboard: the numbers are exact database aggregates, equal to sums computed independently here."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from html import unescape
from typing import Any

from django.contrib.staticfiles import finders
from django.test import Client

from wattdesk.application.analytics.dashboard import Change
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.metering.models import ReadingException
from wattdesk.interfaces.web.templatetags.fmt import format_big, format_fixed


def _live(period: str) -> list[Bill]:
    return list(
        Bill.objects.filter(period=period)
        .exclude(status=BillStatus.CANCELLED)
        .select_related("account__customer")
    )


class TestDashboard:
    def test_totals_equal_independent_sums(self, company: Any, client_for: Callable[[str], Client]) -> None:
        bills = _live(company.period)
        assert len(bills) > 50
        kwh = sum((b.kwh for b in bills), Decimal(0))
        revenue = sum((b.total for b in bills), Decimal(0))
        statuses = [b.status for b in bills]

        response = client_for("billing_clerk").get("/dashboard/")
        assert response.status_code == 200
        d = response.context["d"]
        assert d.period == company.period
        assert d.current.kwh == kwh
        assert d.current.revenue == revenue
        assert (d.current.issued, d.current.held, d.current.draft) == (
            statuses.count(BillStatus.ISSUED),
            statuses.count(BillStatus.HELD),
            statuses.count(BillStatus.DRAFT),
        )
        assert d.current.held > 0  # the fixture holds some bills
        assert (
            d.exceptions_open
            == ReadingException.objects.filter(period=company.period, resolved=False).count()
        )
        html = response.content.decode()
        # large figures in 万 / 亿 (zh), the exact value in the title (fmt filters)
        assert (
            f'data-testid="kpi-revenue" title="{format_fixed(revenue)}">{format_big(revenue, "zh-hans")}<'
            in html
        )
        assert f'data-testid="kpi-kwh" title="{format_fixed(kwh)}">{format_big(kwh, "zh-hans")}<' in html
        assert format_big(revenue, "zh-hans").endswith("万")  # the fixture's month is over 10,000 yuan

        by_class: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for b in bills:
            by_class[b.account.customer.customer_class][0] += b.kwh
            by_class[b.account.customer.customer_class][1] += b.total
        assert {s.key: [s.kwh, s.revenue] for s in d.by_class} == dict(by_class)

        first_sp = {}
        for sp in ServicePoint.objects.select_related("region").order_by("-id"):
            first_sp[sp.account_id] = sp.region.code  # the lowest id wins
        by_region: dict[str, list[Any]] = defaultdict(lambda: [Decimal(0), 0])
        for b in bills:
            by_region[first_sp[b.account_id]][0] += b.total
            by_region[first_sp[b.account_id]][1] += 1
        assert {s.key: [s.revenue, s.bills] for s in d.by_region} == dict(by_region)
        assert sum(s.bills for s in d.by_region) == len(bills)

        # Charts: ECharts from our own static files, options as JSON on the elements.
        assert "/static/vendor/echarts/echarts.min.js" in html
        assert "/static/web/charts.js" in html
        assert html.count("data-chart=") == 3
        options = [json.loads(unescape(m)) for m in re.findall(r'data-chart="([^"]*)"', html)]
        by_class_chart = next(o for o in options if o["xAxis"]["data"] == [s.label for s in d.by_class])
        assert by_class_chart["series"][1]["data"] == [float(s.revenue) for s in d.by_class]

    def test_month_on_month_and_period_select(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        # A bill in the previous month gives the comparison a base.
        template = _live(company.period)[0]
        Bill.objects.create(
            account=template.account,
            period="2026-09",
            status=BillStatus.ISSUED,
            start=template.start.replace(month=9),
            end=template.start,
            kwh=Decimal("1000.0000"),
            total=Decimal("488.30"),
        )
        client = client_for("marketing_manager")
        d = client.get("/dashboard/").context["d"]
        assert d.previous.period == "2026-09"
        assert d.previous.revenue == Decimal("488.30") and d.previous.issued == 1
        expected = ((d.current.revenue - Decimal("488.30")) * 100 / Decimal("488.30")).quantize(
            Decimal("0.1")
        )
        assert d.revenue_change.pct == expected
        assert [t.period for t in d.trend] == ["2026-09", company.period]

        sept = client.get("/dashboard/", {"period": "2026-09"})
        d9 = sept.context["d"]
        assert d9.period == "2026-09" and d9.current.kwh == Decimal("1000.0000") and d9.current.bills == 1
        assert d9.previous.bills == 0 and d9.revenue_change.pct is None
        assert '<option value="2026-09" selected>' in sept.content.decode()
        # A malformed period falls back to the latest billed one.
        assert client.get("/dashboard/", {"period": "bogus"}).context["d"].period == company.period

    def test_only_roles_with_dashboard_view(self, company: Any, client_for: Callable[[str], Client]) -> None:
        assert client_for("analyst").get("/dashboard/").status_code == 200
        assert client_for("meter_reader").get("/dashboard/").status_code == 403
        assert client_for("customer").get("/dashboard/").status_code == 403


def test_change_percent() -> None:
    assert Change(previous=Decimal("200.00"), current=Decimal("250.00")).pct == Decimal("25.0")
    assert Change(previous=Decimal("300"), current=Decimal("200")).pct == Decimal("-33.3")
    assert Change(previous=Decimal(0), current=Decimal(5)).pct is None


def test_echarts_is_vendored_and_found_by_staticfiles() -> None:
    path = finders.find("vendor/echarts/echarts.min.js")
    assert path, "run `make vendor` (npm ci) to install ECharts"
    with open(path, encoding="utf-8") as fh:
        head = fh.read(4000)
    assert "Apache" in head or "echarts" in head
    assert finders.find("web/charts.js")
