"""Two journeys of issue 9 part 6, on the hand-checkable company of tests/correction_case.py (AGR-FLAT:
2000 kWh → 2000 × 0.4650 = 930.00 + 2000 × 0.0062 = 12.40 = 942.40 元):

(a) a clerk corrects a held reading from the readings page; the account is re-billed at once; the clerk issues
    the bill from the review page;
(b) a clerk back-bills a meter found 5 % slow from the issued bill's page, a second clerk approves, the clerk
    issues the 退补单 and the customer sees it in the portal as its own document linked to the bill.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from browser_support import MAIN_NAV, assert_clean, login, url_of
from playwright.sync_api import expect

from correction_case import CorrectionCase, build_case

pytestmark = pytest.mark.browser


@pytest.fixture
def company(transactional_db: None, settings: Any, tmp_path: Path) -> CorrectionCase:
    """Overrides the browser conftest's company: January and February issued (register 1000 → 3000 → 5000)."""
    settings.WATTDESK_READING_CORRECTION_APPROVAL_YUAN = "100000"
    case = build_case(settings, tmp_path)
    for period in ("2026-01", "2026-02"):
        case.bill_month(period, D(2000))
    return case


def test_clerk_corrects_a_held_reading_and_issues_the_rebilled_bill(
    company: CorrectionCase, page_for: Any, browsing: Any, shot: Any
) -> None:
    from wattdesk.application.billing.run import run_billing
    from wattdesk.domain.billing.models import Bill

    company.import_reading(date(2026, 3, 25), D(4500))  # read below February's 5000: held
    run_billing(period="2026-03", run_at=datetime(2026, 4, 2, 1, tzinfo=UTC), workers=1)
    assert not Bill.objects.filter(period="2026-03").exists()

    page = page_for("billing_clerk")
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="抄表数据").click()
    page.goto(url_of("web:readings") + "?period=2026-03")
    page.get_by_test_id("handle-exception").first.click()
    expect(page.get_by_test_id("reading-status")).to_contain_text("待核")
    shot(page, "01-held-reading")
    page.get_by_role("radio", name="更正表码").check()
    page.get_by_label("更正示数（仅更正表码）").fill("7000")
    page.get_by_label("原因（必填）").fill("抄表员误读，现场复核示数 7000")
    page.get_by_role("button", name="提交").click()
    result = page.get_by_test_id("correction-result")
    expect(result).to_contain_text("已重新核算")
    shot(page, "02-corrected-and-rebilled")
    page.get_by_test_id("rebilled-bill").click()
    expect(page.locator("body")).to_contain_text("942.40")
    shot(page, "03-rebilled-bill")

    page.goto(url_of("web:billing_review") + "?period=2026-03")
    form = page.get_by_test_id("issue-form")
    form.get_by_role("checkbox").check()
    form.get_by_role("button", name="发行").click()
    expect(page.get_by_text("已发行 1 张账单")).to_be_visible()
    shot(page, "04-issued")
    bill = Bill.objects.get(period="2026-03")
    assert (bill.status, bill.kwh, bill.total) == ("issued", D(2000), D("942.40"))
    assert_clean(browsing, page)


def test_clerk_back_bills_a_5_percent_slow_meter_and_the_customer_sees_the_adjustment(
    company: CorrectionCase, page_for: Any, browsing: Any, shot: Any
) -> None:
    # 5 % slow since the check on 2026-01-01, two bills of 2000 kWh: per bill (2000 / 0.95 − 2000) × ½ = 52.6316
    # kWh → energy 954.47 − 930.00 = 24.47, fund 12.73 − 12.40 = 0.33; two bills: 105.2632 kWh, 49.60 元
    from wattdesk.domain.billing.models import BillAdjustment
    from wattdesk.domain.ledger.models import LedgerEntry

    feb = company.bills["2026-02"]
    clerk = page_for("billing_clerk")
    clerk.goto(url_of("web:bill_detail", feb))
    clerk.get_by_test_id("new-adjustment").click()
    clerk.get_by_label("差错类型").select_option("meter_error")
    clerk.get_by_label("error_percent").fill("-5")
    clerk.get_by_label("since").fill("2026-01-01")
    clerk.get_by_label("原因代码").fill("校验")
    clerk.get_by_label("原因（必填）").fill("周期校验：电能表慢 5%")
    shot(clerk, "01-adjustment-form")
    clerk.get_by_role("button", name="计算并保存草稿").click()
    expect(clerk.get_by_test_id("adjustment-amount")).to_have_text("49.60")
    expect(clerk.get_by_test_id("adjustment-kwh")).to_contain_text("105.26")
    expect(clerk.get_by_test_id("adjustment-line")).to_have_count(4)
    shot(clerk, "02-draft")
    adjustment = BillAdjustment.objects.get()

    second = browsing.new_page()
    login(second, "second_clerk")
    second.wait_for_url(lambda url: "/login/" not in url)
    second.goto(url_of("web:adjustment_detail", adjustment.pk))
    second.get_by_test_id("approve-adjustment").click()
    expect(second.get_by_test_id("adjustment-status")).to_contain_text("已审批")

    clerk.reload()
    clerk.get_by_test_id("issue-adjustment").click()
    expect(clerk.get_by_test_id("adjustment-status")).to_contain_text("已发行")
    shot(clerk, "03-issued")
    assert LedgerEntry.objects.get(kind="adjustment", bill_id=feb).amount == D("49.60")

    customer = page_for("customer", "phone")
    customer.goto(url_of("web:portal_history"))
    customer.get_by_test_id("adjustment-row").first.get_by_role("link").click()
    doc = customer.get_by_test_id("adjustment-doc")
    expect(doc).to_contain_text("电能表误差超差")
    expect(customer.get_by_test_id("adjustment-amount")).to_have_text("49.60")
    expect(customer.get_by_test_id("original-bill")).to_contain_text("2026-02")
    shot(customer, "04-portal-adjustment")
    for p in (clerk, second, customer):
        assert_clean(browsing, p)
