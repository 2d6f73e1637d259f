"""Administrator: a change made in the back office shows up on the audit page, with who and before -> after."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import MAIN_NAV, url_of
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_admin_changes_a_region_and_the_audit_page_lists_it(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    from wattdesk.domain.customers.models import Region

    region = Region.objects.order_by("code").first()
    assert region is not None
    old_name, new_name = region.name, region.name + "（浏览器测试）"
    audit_url = url_of("web:audit")

    page = page_for("admin")
    shot(page, "01-home")
    # The change: rename a region through the Django admin (master data).
    page.goto(f"/admin/customers/region/{region.pk}/change/")
    name = page.locator("input[name=name]")
    expect(name).to_have_value(old_name)
    name.fill(new_name)
    shot(page, "02-admin-edit-region")
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/customers/region/")
    shot(page, "03-admin-saved")

    # The audit page, reached from the menu, lists it.
    page.goto("/")
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="审计日志").click()
    expect(page).to_have_url(f"{browsing.base_url}{audit_url}")
    page.get_by_label("操作人").fill(company.logins["admin"].username)
    page.get_by_role("button", name="筛选").click()
    row = page.get_by_test_id("audit-row").filter(has_text=new_name).first
    expect(row).to_be_visible()
    expect(row).to_contain_text(company.logins["admin"].username)
    expect(row).to_contain_text(old_name)
    expect(row).to_contain_text("127.0.0.1")
    shot(page, "04-audit-lists-change")
    assert browsing.seen(page).page_errors == []  # the Django admin's own pages are not held to assert_clean
