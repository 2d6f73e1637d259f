"""Anyone: the login page in Chinese, a wrong password, landing on the first menu page, logging out."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import MAIN_NAV, assert_clean, login
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_login_page_in_chinese_and_wrong_password(company: Any, browsing: Any, shot: Any) -> None:
    page = browsing.new_page()
    page.goto("/")
    expect(page).to_have_url(f"{browsing.base_url}/login/?next=/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_title("登录 · WattDesk")
    expect(page.get_by_text("用电营销管理系统")).to_be_visible()
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(page.get_by_label("密码")).to_be_visible()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    shot(page, "01-login")

    username = company.logins["billing_clerk"].username
    login(page, username, password="wrong-password")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码不正确。")
    expect(page.get_by_label("用户名")).to_have_value(username)
    expect(page).to_have_url(f"{browsing.base_url}/login/")
    shot(page, "02-wrong-password")
    assert_clean(browsing, page)


def test_clerk_lands_on_first_menu_page_and_logs_out(company: Any, browsing: Any, shot: Any) -> None:
    page = browsing.new_page()
    username = company.logins["billing_clerk"].username
    login(page, username)
    page.wait_for_url(lambda url: "/login/" not in url)
    expect(page.get_by_role("heading", name="403")).to_have_count(0)  # home leads to a menu page
    expect(page.get_by_test_id("current-user")).to_have_text(username)
    menu = page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link")
    expect(menu.first).to_have_class("active")
    first_href = menu.first.get_attribute("href")
    assert first_href and page.url.endswith(first_href), (page.url, first_href)
    shot(page, "01-first-menu-page")

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login/")
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    shot(page, "02-logged-out")
    # Logged out for real: the first page now asks to log in again.
    page.goto(first_href)
    expect(page).to_have_url(f"{browsing.base_url}/login/?next={first_href}")
    # Console errors of the menu page itself are the dashboard journey's to judge (test_journey_dashboard.py).
    seen = browsing.seen(page)
    assert seen.page_errors == [] and seen.failed_responses == [], (seen.page_errors, seen.failed_responses)
