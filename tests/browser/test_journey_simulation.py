"""Analyst (分析员): a tariff-change simulation (电价调整测算) from the menu to its report and Excel export."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from browser_support import MAIN_NAV, assert_clean, url_of
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_analyst_runs_a_simulation_and_opens_its_report(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    from wattdesk.domain.tariffs.models import TariffVersion
    from wattdesk.interfaces.cli import main

    # the proposal: ZJ-RES-TIER version 2 from 2027, every energy price +0.1 yuan/kWh
    v1 = TariffVersion.objects.get(code="ZJ-RES-TIER", version="1")
    doc = json.loads(json.dumps(v1.document))
    for period in doc["energy"]["periods"]:
        for tier in period["tiers"]:
            tier["rate"] = str(round(float(tier["rate"]) + 0.1, 4))
    TariffVersion.objects.create(
        code="ZJ-RES-TIER", version="2", effective_from=date(2027, 1, 1), name=v1.name, document=doc
    )

    url_of("web:simulations")
    page = page_for("analyst")
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="电价调整测算").click()
    form = page.get_by_test_id("simulation-form")
    form.get_by_label("现行电价").fill("ZJ-RES-TIER@1")
    form.get_by_label("调整后电价").fill("ZJ-RES-TIER@2")
    form.get_by_label("月数").fill("12")
    shot(page, "01-form")
    form.get_by_role("button", name="开始测算").click()

    expect(page.get_by_test_id("simulation-job")).to_be_visible()
    report = page.url
    # The worker runs it (here in the test's thread, while the browser shows a page that does not poll:
    # SQLite's in-memory test database locks whole tables).
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="电价调整测算").click()
    assert main(["worker", "--batch", "--interval", "0"]) == 0
    page.goto(report)
    expect(page.get_by_test_id("simulation-state")).to_have_attribute("data-state", "done", timeout=60_000)
    change = page.get_by_test_id("sum-change").inner_text()
    assert float(change) > 0, change
    expect(page.get_by_test_id("by-class").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("chart-class").locator("canvas")).to_have_count(1)
    expect(page.get_by_test_id("chart-distribution").locator("canvas")).to_have_count(1)
    expect(page.get_by_test_id("top-increase").locator("tbody tr").first).to_be_visible()
    shot(page, "02-report")
    with page.expect_download() as dl:
        page.get_by_test_id("simulation-excel").click()
    assert dl.value.suggested_filename.endswith(".xlsx")
    page.get_by_role("link", name="测算记录").click()
    expect(page.get_by_test_id("simulations").locator("tbody tr")).to_have_count(1)
    assert_clean(browsing, page, console=False)
