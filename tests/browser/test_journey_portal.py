"""Customer on an iPhone-size screen (375 x 812, touch): home with the current bill, the bill explained, the
usage chart, the bill history with a PDF download; nothing wider than the screen, no request off the server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import (
    PORTAL_NAV,
    assert_chart_rendered,
    assert_clean,
    assert_no_horizontal_overflow,
    url_of,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_customer_portal_on_a_phone(company: Any, page_for: Any, browsing: Any, shot: Any) -> None:
    home_url = url_of("web:portal_home")
    page = page_for("customer", "phone")
    expect(page).to_have_url(f"{browsing.base_url}{home_url}")
    assert page.viewport_size == {"width": 375, "height": 812}
    assert page.evaluate("navigator.maxTouchPoints") > 0

    # Home: the current bill.
    bill = page.get_by_test_id("current-bill")
    expect(bill.get_by_role("heading", name="本期账单")).to_be_visible()
    expect(bill.get_by_test_id("bill-total")).to_have_text(re.compile(r"^-?\d{1,3}(,\d{3})*\.\d{2}$"))
    expect(bill.get_by_test_id("bill-kwh")).to_contain_text("kWh")
    expect(page.get_by_test_id("balance")).to_be_visible()
    assert_no_horizontal_overflow(page)
    shot(page, "01-home-current-bill")
    total = bill.get_by_test_id("bill-total").inner_text()

    # The bill explained in plain words, with the readings used.
    bill.get_by_role("link", name="看懂账单").tap()
    expect(page.get_by_role("heading", name="电费怎么算")).to_be_visible()
    expect(page.get_by_test_id("bill-total")).to_have_text(total)
    expect(page.get_by_test_id("bill-line").first).to_be_visible()
    expect(page.get_by_text("以上各项合计")).to_contain_text(total)
    assert_no_horizontal_overflow(page)
    shot(page, "02-bill-explained")

    tabs = page.get_by_role("navigation", name=PORTAL_NAV)

    # Usage: the monthly chart drawn by ECharts (from our own static files).
    tabs.get_by_role("link", name="用电").tap()
    expect(page.get_by_role("heading", name="用电分析")).to_be_visible()
    assert_chart_rendered(page.locator("#chart-monthly"))
    for chart in page.locator("[data-chart]").all():
        assert_chart_rendered(chart)
    assert_no_horizontal_overflow(page)
    shot(page, "03-usage-chart")
    hourly = page.get_by_test_id("hourly")
    if hourly.count():  # interval-metered customer: pick another day, HTMX swaps the hourly chart in
        day = page.get_by_label("选择日期")
        day.fill("2026-10-15")
        expect(page.get_by_test_id("hourly")).to_have_attribute("data-day", "2026-10-15")
        assert_chart_rendered(page.get_by_test_id("hourly").locator("[data-chart]"))
        assert_no_horizontal_overflow(page)
        shot(page, "03b-usage-hourly-other-day")

    # Bill history, and the PDF of the current bill.
    tabs.get_by_role("link", name="账单").tap()
    expect(page.get_by_role("heading", name="历史账单")).to_be_visible()
    history = page.get_by_test_id("history-bill")
    expect(history.first).to_be_visible()
    expect(history.first.get_by_test_id("history-total")).to_contain_text(total)
    assert_no_horizontal_overflow(page)
    shot(page, "04-bill-history")
    with page.expect_download() as info:
        history.first.get_by_role("link", name="下载 PDF").tap()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"

    assert_clean(browsing, page)
