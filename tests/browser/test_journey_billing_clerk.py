"""Billing clerk (核算员): find a customer and read their bills, import readings, run billing, review held bills,
print a bill."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_support import MAIN_NAV, assert_clean, url_of
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def menu(page: Any, label: str) -> None:
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name=label).click()


def test_clerk_finds_a_customer_opens_360_and_expands_a_bill(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    from wattdesk.domain.billing.models import Bill

    url_of("web:customer_search")
    bill = Bill.objects.filter(period=company.period).select_related("account").order_by("account__number")[0]
    number = bill.account.number

    page = page_for("billing_clerk")
    menu(page, "客户查询")
    page.get_by_test_id("search-box").fill(number)  # HTMX searches as you type
    results = page.get_by_test_id("search-results")
    expect(results.get_by_role("link", name=number)).to_be_visible()
    expect(page.get_by_test_id("result-count")).to_contain_text("1")
    shot(page, "01-search-by-account")

    results.get_by_role("link", name=number).click()
    expect(page.get_by_test_id("account-number")).to_have_text(number)
    bills = page.get_by_test_id("bills")
    expect(bills).to_contain_text(company.period)
    shot(page, "02-customer-360")

    bills.get_by_test_id("bill-expand").first.click()
    lines = page.get_by_test_id("bill-lines").first
    expect(lines).to_be_visible()
    expect(lines.locator("tbody tr").first).to_be_visible()
    assert lines.locator("tbody tr").count() >= 1
    shot(page, "03-bill-lines-expanded")
    assert_clean(browsing, page, console=False)


def test_clerk_uploads_readings_with_a_bad_row_and_sees_row_and_column(
    company: Any, page_for: Any, browsing: Any, shot: Any, tmp_path: Path
) -> None:
    from wattdesk.domain.metering.models import MeterRegister

    url_of("web:readings")
    good, other = MeterRegister.objects.select_related("meter").order_by("meter__serial", "kind")[:2]
    csv = tmp_path / "readings-2026-11.csv"
    csv.write_text(
        "meter_serial,register,read_on,value\n"
        f"{good.meter.serial},{good.kind},2026-11-25,99999\n"
        f"{other.meter.serial},{other.kind},2026-11-25,不是数字\n",
        encoding="utf-8",
    )

    page = page_for("billing_clerk")
    menu(page, "抄表数据")
    form = page.get_by_test_id("import-form")
    form.get_by_label("文件").set_input_files(str(csv))
    shot(page, "01-file-chosen")
    form.get_by_role("button", name="校验并导入").click()

    rejected = page.get_by_test_id("import-rejected")
    expect(rejected).to_contain_text("readings-2026-11.csv")
    expect(rejected).to_contain_text("未导入任何数据")
    error_rows = page.get_by_test_id("row-errors").locator("tbody tr")
    expect(error_rows).to_have_count(1)
    cells = error_rows.first.locator("td")
    expect(cells.nth(0)).to_have_text("3")  # row 1 is the header
    expect(cells.nth(1)).to_have_text("value")
    expect(cells.nth(2)).not_to_be_empty()
    shot(page, "02-row-column-error")
    seen = browsing.seen(page)
    # A rejected file is answered 422 (and the browser logs that status); nothing else may fail.
    assert seen.failed_responses == [f"422 {browsing.base_url}/readings/"], seen.failed_responses
    assert seen.page_errors == [] and seen.foreign_requests(browsing.base_url) == []


def test_clerk_launches_a_billing_run_and_watches_it_finish(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    from wattdesk.interfaces.cli import main

    url_of("web:billing_runs")
    page = page_for("billing_clerk")
    menu(page, "电费核算")
    form = page.get_by_test_id("launch-form")
    form.get_by_label("账期").fill("2026-09")
    shot(page, "01-launch-form")
    form.get_by_role("button", name="开始核算").click()

    progress = page.get_by_test_id("run-progress")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("data-state", "pending")  # queued for the task worker
    shot(page, "02-queued")
    run_page = page.url
    # The worker (`wattdesk worker`, started by `wattdesk serve`) runs it; here in the test's own thread, while
    # the browser shows a page that does not poll (SQLite's in-memory test database locks whole tables).
    menu(page, "电费核算")
    assert main(["worker", "--batch", "--interval", "0"]) == 0
    page.goto(run_page)
    expect(page.get_by_test_id("run-progress")).to_have_attribute("data-state", "finished", timeout=60_000)
    expect(page.get_by_test_id("run-state")).to_have_text("已完成")
    summary = page.get_by_test_id("run-summary")
    expect(summary).to_be_visible()
    billed = int(summary.get_by_test_id("sum-billed").inner_text())
    held = int(summary.get_by_test_id("sum-held").inner_text())
    assert billed + held > 0, (billed, held)
    shot(page, "03-finished-summary")

    menu(page, "电费核算")
    expect(page.get_by_test_id("runs").locator("tbody tr").filter(has_text="2026-09")).to_have_count(1)
    shot(page, "04-runs-list")
    assert_clean(browsing, page, console=False)


def test_clerk_reviews_held_bills_and_approves_one(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    from wattdesk.domain.billing.models import Bill

    url_of("web:billing_review")
    page = page_for("billing_clerk")
    menu(page, "异常账单审核")
    page.get_by_label("账期").fill(company.period)
    page.get_by_role("button", name="查询").click()
    held = page.get_by_test_id("held-bill")
    expect(held.first).to_be_visible()
    before = held.count()
    assert before >= 1
    shot(page, "01-held-bills")

    first = held.first
    bill_id = int(first.get_attribute("data-bill-id") or "0")
    expect(first).to_contain_text("挂起原因")
    first.get_by_role("button", name="审核通过").click()
    expect(page.locator(f'[data-testid="held-bill"][data-bill-id="{bill_id}"]')).to_have_count(0)
    expect(page.get_by_test_id("held-bill")).to_have_count(before - 1)
    shot(page, "02-approved-one")
    assert Bill.objects.get(pk=bill_id).status != "held"
    assert_clean(browsing, page, console=False)


def test_clerk_opens_a_bill_document_and_downloads_its_pdf(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    url_of("web:bills")
    page = page_for("billing_clerk")
    menu(page, "账单查询")
    bills = page.get_by_test_id("bills")
    expect(bills.locator("tbody tr").first).to_be_visible()
    shot(page, "01-bill-list")

    bills.locator("tbody tr").first.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/bills/\d+/$"))
    pdf_link = page.get_by_test_id("pdf-link")
    expect(pdf_link).to_be_visible()
    expect(page.get_by_text("大写")).not_to_have_count(0)
    shot(page, "02-bill-document")

    with page.expect_download() as info:
        pdf_link.click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
    body = Path(download.path()).read_bytes()
    assert body[:5] == b"%PDF-" and len(body) > 1000
    assert_clean(browsing, page, console=False)
