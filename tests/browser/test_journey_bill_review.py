"""Billing clerk (核算员) on the held-bill review page (复核): filter, page, select all on the page and approve the
selection in one all-or-nothing batch."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import MAIN_NAV, assert_clean, url_of
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_clerk_filters_pages_and_batch_approves_the_page(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    from auditlog.models import LogEntry
    from django.utils import timezone

    from wattdesk.application.billing import review
    from wattdesk.domain.billing.models import Bill, BillStatus

    url_of("web:bills_approve")
    drafts = Bill.objects.filter(period=company.period, status=BillStatus.DRAFT).order_by("id")[:25]
    for bill in drafts:  # more held bills than one page holds
        review.hold_bill(bill_id=bill.pk, user=None, held_at=timezone.now(), reason="抽查复核")
    manual = Bill.objects.filter(period=company.period, status=BillStatus.HELD, hold_reason="抽查复核")
    assert manual.count() == 25

    page = page_for("billing_clerk")
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="异常账单审核").click()
    page.get_by_label("账期").fill(company.period)
    page.get_by_label("挂起原因").select_option("other")
    page.get_by_role("button", name="查询").click()
    cards = page.get_by_test_id("held-bill")
    expect(cards).to_have_count(20)
    expect(page.get_by_test_id("held-count")).to_contain_text("25 张挂起账单符合条件")
    expect(page.get_by_test_id("review-pager")).to_contain_text("第 1 / 2 页")
    shot(page, "01-filtered-first-page")

    on_page = [int(cards.nth(i).get_attribute("data-bill-id") or "0") for i in range(20)]
    page.get_by_label("全选本页").check()
    for i in range(20):
        expect(cards.nth(i).get_by_role("checkbox")).to_be_checked()
    page.get_by_test_id("batch-approve").get_by_placeholder("备注（可选）").fill("批量复核")
    page.get_by_role("button", name="批量审核通过所选账单").click()
    expect(page.get_by_text("已审核通过 20 张账单")).to_be_visible()
    # still filtered: the five left of the twenty-five are on one page now
    expect(cards).to_have_count(5)
    expect(page.get_by_label("挂起原因")).to_have_value("other")
    shot(page, "02-approved-the-page")

    assert set(Bill.objects.filter(pk__in=on_page).values_list("status", flat=True)) == {BillStatus.DRAFT}
    entries = LogEntry.objects.filter(additional_data__batch="bills.approve")
    assert sorted(int(e.object_pk) for e in entries) == sorted(on_page)
    assert_clean(browsing, page, console=False)
