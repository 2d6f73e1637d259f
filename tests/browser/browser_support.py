"""Plain helpers of the browser journeys (imported by conftest.py and the test modules)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sample_company import END_MONTH, PASSWORD, PERIOD  # noqa: F401  (re-exported for the journeys)

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DESKTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 900}}
#: iPhone-size: the portal is designed at 375 px.
PHONE: dict[str, Any] = {
    "viewport": {"width": 375, "height": 812},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    ),
}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}

TIMEOUT_MS = 15_000


def chromium_path() -> str:
    return os.environ.get("WATTDESK_CHROMIUM", "").strip() or "/usr/bin/chromium"


def login(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def url_of(name: str, *args: Any) -> str:
    """The URL of a named route (every page of the journeys exists: a missing one fails the journey)."""
    from django.urls import reverse

    return reverse(name, args=args)


def assert_no_horizontal_overflow(page: Any) -> None:
    """Nothing on the page is wider than the viewport (no sideways scrolling on a phone)."""
    width = page.viewport_size["width"]
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url}: page is {scroll_width}px wide on a {width}px screen"


def assert_tables_fit(page: Any) -> None:
    """No table on the page hides columns behind its own sideways scroll (``.table-wrap``), e.g. on a phone."""
    widths = page.eval_on_selector_all(".table-wrap", "els => els.map(e => [e.scrollWidth, e.clientWidth])")
    assert all(scroll <= client for scroll, client in widths), f"{page.url}: [scroll, client] {widths}"


def assert_chart_rendered(chart: Any) -> None:
    """An ECharts chart was drawn inside ``chart``: a canvas (or svg) with a real size."""
    from playwright.sync_api import expect

    drawn = chart.locator("canvas, svg").first
    expect(drawn).to_be_attached()
    box = drawn.bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] > 50, box


def assert_clean(browsing: Any, page: Any, *, console: bool = True) -> None:
    """The page raised no uncaught script error, logged no console error (``console=False``: other than
    Content-Security-Policy reports, judged by the dashboard and portal journeys), got no 4xx/5xx, and asked no
    host but the live server (no CDN: utilities run on intranets)."""
    seen = browsing.seen(page)
    assert seen.page_errors == [], seen.page_errors
    errors = (
        seen.console_errors if console else [e for e in seen.console_errors if "Content Security" not in e]
    )
    assert errors == [], errors
    assert seen.failed_responses == [], seen.failed_responses
    assert seen.foreign_requests(browsing.base_url) == [], seen.foreign_requests(browsing.base_url)


# Accessible names of the two menus as a Chinese user's screen reader hears them (the UI default language).
MAIN_NAV = "主导航"
PORTAL_NAV = "网上营业厅导航"
