"""Marketing manager / analyst: the dashboard with its charts drawn by ECharts from our own static files, no
console errors, and no request to any host but the server (no CDN)."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import MAIN_NAV, assert_chart_rendered, assert_clean, url_of
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("role", ["marketing_manager", "analyst"])
def test_dashboard_charts_render_offline(
    role: str, company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    dashboard_url = url_of("web:dashboard")
    page = page_for(role)
    if not page.url.endswith(dashboard_url):
        page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="经营看板").click()
    expect(page).to_have_url(f"{browsing.base_url}{dashboard_url}")
    expect(page.get_by_role("heading", name="经营看板")).to_be_visible()
    expect(page.get_by_test_id("kpi-bills")).not_to_have_text("0")
    charts = page.locator("[data-chart]")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 3
    for chart in charts.all():
        assert_chart_rendered(chart)
    page.wait_for_load_state("networkidle")
    shot(page, "01-dashboard")

    seen = browsing.seen(page)
    assert any("/static/vendor/echarts/" in u for u in seen.requests), seen.requests
    assert seen.foreign_requests(browsing.base_url) == []
    assert_clean(browsing, page)
