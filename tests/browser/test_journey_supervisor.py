"""Collection supervisor (催费考核, here the marketing manager): KPI scorecards ranked by region, route and
collector, drill-down to one collector's accounts, the recovery-rate trend drawn by ECharts from our own static
files; then the dunning actions (催费与停复电) and the disconnection orders (停复电工单): one approved once its notice
has run out, another cancelled with a reason."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import MAIN_NAV, assert_chart_rendered, assert_clean, url_of
from playwright.sync_api import expect

from wattdesk.interfaces.web.templatetags.fmt import format_fixed

pytestmark = pytest.mark.browser

SH = ZoneInfo("Asia/Shanghai")
SECOND = "collector_east"


@pytest.fixture
def two_collectors(company: Any) -> dict[str, Any]:
    """The 2026-10 bills issued; demo_collector on the routes of their scope (first region), a second collector
    on three routes of the second region; three of demo_collector's accounts paid in full in November, none
    of the second's. So demo_collector ranks first, the second collector second with nothing collected."""
    from django.contrib.auth import get_user_model

    from wattdesk.application.billing.review import issue_bills
    from wattdesk.application.payments.posting import post_payment
    from wattdesk.domain.access import roles
    from wattdesk.domain.access.operations import grant_role
    from wattdesk.domain.collection.models import CollectorAssignment
    from wattdesk.domain.customers.models import Account, ReadingRoute, Region
    from wattdesk.domain.ledger.queries import balance

    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=SH),
        issued_on=date(2026, 11, 3),
    )
    users = get_user_model()
    first = users.objects.get(username=company.logins[roles.COLLECTOR].username)
    first_routes = list(first.staff_scope.routes.order_by("code"))
    second = users.objects.create_user(SECOND, password="x-Pass-2026!", last_name="东", first_name="区")
    grant_role(user=second, role=roles.COLLECTOR)
    other_region = Region.objects.order_by("code")[1]
    second_routes = list(ReadingRoute.objects.filter(region=other_region).order_by("code")[:3])
    assert first_routes and second_routes
    for user, routes in ((first, first_routes), (second, second_routes)):
        for route in routes:
            CollectorAssignment.objects.create(user=user, route=route, from_date=date(2026, 1, 1))

    paid: dict[str, Decimal] = {}
    owing = Account.objects.filter(service_points__route__in=first_routes, bills__period=company.period)
    for account in owing.distinct().order_by("number"):
        owed = balance(account_id=account.pk)
        if owed > 0:
            post_payment(account_number=account.number, amount=owed, channel="counter",
                         channel_txn_id=f"SUP-{account.number}", received_at=datetime(2026, 11, 10, 10, tzinfo=SH))  # fmt: skip
            paid[account.number] = owed
        if len(paid) == 3:
            break
    assert len(paid) == 3
    return {"first": first, "second": second, "first_routes": first_routes, "paid": paid}


def pick(page: Any, period: str, by: str) -> None:
    form = page.get_by_test_id("scorecard-form")
    form.get_by_label("月份").fill(period)
    form.get_by_label("维度").select_option(by)
    form.get_by_role("button", name="查询").click()


def rank_keys(page: Any) -> list[str]:
    rows = page.get_by_test_id("rank-row")
    expect(rows.first).to_be_visible()
    return [r.get_attribute("data-key") or "" for r in rows.all()]


def test_supervisor_ranks_drills_down_and_sees_the_trend(
    company: Any, two_collectors: dict[str, Any], page_for: Any, browsing: Any, shot: Any
) -> None:
    from wattdesk.domain.customers.models import Account, ReadingRoute, Region
    from wattdesk.domain.ledger.queries import balance

    cards_url = url_of("web:collection_scorecards")
    first, paid = two_collectors["first"], two_collectors["paid"]
    period = company.period

    page = page_for("marketing_manager")
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="催费考核").click()
    expect(page).to_have_url(f"{browsing.base_url}{cards_url}")
    expect(page.get_by_role("heading", name="催费考核")).to_be_visible()

    # By region (供电所): every region ranked; the summary counts what was collected.
    pick(page, period, "region")
    regions = rank_keys(page)
    assert sorted(regions) == sorted(Region.objects.values_list("code", flat=True))
    ranks = [int(r.locator("td").first.inner_text()) for r in page.get_by_test_id("rank-row").all()]
    assert ranks == list(range(1, len(regions) + 1))
    collected = sum(paid.values(), Decimal("0.00"))
    expect(page.get_by_test_id("total-recovery").locator("xpath=..")).to_contain_text(f"¥{collected} / ¥")
    assert_chart_rendered(page.get_by_test_id("chart-trend"))
    shot(page, "01-by-region")

    # Drill into the collector's region: its routes only.
    region = first.staff_scope.routes.first().region.code
    page.get_by_test_id("ranking").get_by_role("link", name=region, exact=True).click()
    expect(page.get_by_test_id("drill-path")).to_contain_text(region)
    routes = rank_keys(page)
    assert set(routes) == set(ReadingRoute.objects.filter(region__code=region).values_list("code", flat=True))
    assert_chart_rendered(page.get_by_test_id("chart-trend"))
    shot(page, "02-region-routes")

    # By route (抄表段) company-wide, then by collector (催费员): the paying collector ranks first.
    pick(page, period, "route")
    assert set(rank_keys(page)) >= set(routes)
    pick(page, period, "collector")
    assert rank_keys(page) == [first.username, SECOND]
    top = page.get_by_test_id("rank-row").first
    expect(top.locator("td").nth(4)).to_have_text(format_fixed(collected))  # 实收
    expect(page.get_by_test_id("rank-row").nth(1).locator("td").nth(4)).to_have_text("0.00")
    expect(page.get_by_test_id("rank-row").nth(1).locator("td").nth(5)).to_have_text("0%")
    assert_chart_rendered(page.get_by_test_id("chart-trend"))
    shot(page, "03-by-collector")

    # Drill down to the first collector in November (the October bills fell due in it): their accounts that
    # are overdue at the end of the month, all on their routes, the paid ones not among them.
    pick(page, "2026-11", "collector")
    page.get_by_test_id("ranking").get_by_role("link", name=first.username, exact=True).click()
    expect(page.get_by_test_id("drill-path")).to_contain_text(first.username)
    accounts = page.get_by_test_id("collector-accounts").locator("tbody tr")
    expect(accounts.first).to_be_visible()
    numbers = [r.get_by_role("link").inner_text() for r in accounts.all()]
    on_routes = Account.objects.filter(service_points__route__in=two_collectors["first_routes"]).distinct()
    owing = {a.number for a in on_routes if balance(account_id=a.pk) > 0}
    assert owing and not owing & set(paid)
    assert sorted(numbers) == sorted(owing)  # every account that owes on their routes, and only those
    assert_chart_rendered(page.get_by_test_id("chart-trend"))
    page.wait_for_load_state("networkidle")
    shot(page, "04-collector-drill-down")

    seen = browsing.seen(page)
    assert any("/static/vendor/echarts/" in u for u in seen.requests), seen.requests
    assert seen.foreign_requests(browsing.base_url) == []
    assert_clean(browsing, page)


def test_supervisor_approves_one_disconnection_and_cancels_another(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    """Dated from today (approval compares the notice's planned time with the real clock): the 2026-10 bills
    issued 100 days ago, the demand (催交) served 31 days ago, the notice (停电通知) 30 days ago — so every
    planned disconnection's notice period is over, whatever holidays moved it."""
    from django.utils import timezone

    from wattdesk.application.billing.review import issue_bills
    from wattdesk.application.dunning.nightly import run_dunning
    from wattdesk.domain.dunning.models import DisconnectionOrder

    dunning_url = url_of("web:dunning")
    orders_url = url_of("web:disconnection_orders")
    today = timezone.localdate()
    issued_on = today - timedelta(days=100)
    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime.combine(issued_on, time(9), SH),
        issued_on=issued_on,
    )
    for back in (31, 30):
        day = today - timedelta(days=back)
        run_dunning(day=day, now=datetime.combine(day, time(9), SH))
    awaiting = list(
        DisconnectionOrder.objects.filter(kind="disconnect", status="notified", approved_at__isnull=True)
        .select_related("account")
        .order_by("account__number")[:2]
    )
    assert len(awaiting) == 2, "the notice pass planned disconnections for long-overdue accounts"
    approve, cancel = awaiting

    # The day's dunning actions: the notices served.
    page = page_for("marketing_manager")
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="催费与停复电").click()
    expect(page).to_have_url(f"{browsing.base_url}{dunning_url}")
    page.get_by_test_id("dunning-day").get_by_label("日期").fill(day.isoformat())
    page.get_by_test_id("dunning-day").get_by_role("button", name="查看").click()
    actions = page.get_by_test_id("dunning-actions")
    expect(actions.locator("tbody tr").filter(has_text=approve.account.number).first).to_be_visible()
    expect(actions.locator("tbody tr").filter(has_text=cancel.account.number).first).to_be_visible()
    shot(page, "01-dunning-day")

    # The disconnection orders awaiting approval: approve one (the notice period is over).
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="停复电工单").click()
    expect(page).to_have_url(f"{browsing.base_url}{orders_url}")
    filters = page.get_by_test_id("order-filters")
    filters.get_by_label("状态").select_option("awaiting")
    filters.get_by_role("button", name="查看").click()
    row = page.get_by_test_id(f"order-{approve.pk}")
    expect(row.get_by_test_id("order-state")).to_have_text("已通知·待批准")
    shot(page, "02-orders-awaiting")
    row.get_by_role("button", name="批准停电").click()
    expect(page.locator("ul.messages li.success")).to_contain_text(str(approve.pk))
    expect(page.get_by_test_id(f"order-{approve.pk}")).to_have_count(0)  # no longer awaiting
    filters = page.get_by_test_id("order-filters")
    filters.get_by_label("户号").fill(approve.account.number)
    filters.get_by_label("状态").select_option("")
    filters.get_by_role("button", name="查看").click()
    expect(page.get_by_test_id(f"order-{approve.pk}").get_by_test_id("order-state")).to_have_text(
        "已批准·待执行"
    )
    expect(page.get_by_test_id(f"order-{approve.pk}")).to_contain_text("demo_marketing_manager")
    shot(page, "03-order-approved")
    approve.refresh_from_db()
    assert approve.status == "notified" and approve.approved_at is not None
    assert approve.approved_by.username == company.logins["marketing_manager"].username

    # Cancel the other one on the dunning page, with a reason.
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="催费与停复电").click()
    row = page.get_by_test_id("dunning-orders").locator("tbody tr").filter(has_text=cancel.account.number)
    expect(row.first).to_be_visible()
    row.first.get_by_label("取消原因").fill("客户已承诺本周缴清")
    row.first.get_by_role("button", name="取消停电").click()
    expect(page.get_by_test_id("dunning-orders")).to_contain_text("客户已承诺本周缴清")
    shot(page, "04-disconnection-cancelled")
    cancel.refresh_from_db()
    assert (cancel.status, cancel.cancel_reason) == ("cancelled", "客户已承诺本周缴清")
    approve.refresh_from_db()
    assert approve.status == "notified"  # the approved one is untouched
    assert_clean(browsing, page, console=False)
