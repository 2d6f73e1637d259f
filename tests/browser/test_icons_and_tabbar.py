"""In Debian Chromium: the portal's fixed bottom tab bar never covers the end of a page (375 x 812 phone), and
the navigation icons are WattDesk's own SVGs that actually draw (no emoji, which render as empty boxes here)."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import PORTAL_NAV, assert_clean, url_of
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

#: the bottom of the last element of the page's content, the top of the fixed bar (CSS pixels, after scrolling)
_GEOMETRY = """() => {
  window.scrollTo(0, document.documentElement.scrollHeight);
  const content = document.querySelector('main.portal-content');
  const last = content.lastElementChild;
  const bar = document.querySelector('nav.tabbar');
  return {lastBottom: last.getBoundingClientRect().bottom, barTop: bar.getBoundingClientRect().top,
          viewport: window.innerHeight, barPosition: getComputedStyle(bar).position};
}"""


def _icons_drawn(page: Any, selector: str) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        f"{selector} svg.icon use",
        """uses => uses.map(u => {
            const box = u.getBBox();
            const svg = u.closest('svg').getBoundingClientRect();
            return {href: u.getAttribute('href'), w: box.width, h: box.height, sw: svg.width};
        })""",
    )


@pytest.mark.parametrize("screen", ["web:portal_history", "web:portal_tariff", "web:portal_home"])
def test_portal_last_element_is_above_the_bottom_bar(
    company: Any, page_for: Any, browsing: Any, shot: Any, screen: str
) -> None:
    page = page_for("customer", "phone")
    page.goto(url_of(screen))
    page.wait_for_load_state("networkidle")
    g = page.evaluate(_GEOMETRY)
    assert g["barPosition"] == "fixed"
    assert g["lastBottom"] <= g["barTop"], g  # the end of the page is reachable above the bar
    shot(page, screen.split(":")[1])
    # the tab bar's icons come from our own sprite and draw something (an emoji would be a text box)
    drawn = _icons_drawn(page, "nav.tabbar")
    assert len(drawn) >= 4
    assert all("/static/icons/sprite" in d["href"] and d["w"] > 0 and d["h"] > 0 for d in drawn), drawn
    tabs = page.get_by_role("navigation", name=PORTAL_NAV)
    assert not any(ord(ch) > 0x2FFF and not ("\u4e00" <= ch <= "\u9fff") for ch in tabs.inner_text())
    assert_clean(browsing, page)


def test_staff_sidebar_icons_are_svg_and_draw(company: Any, page_for: Any, browsing: Any) -> None:
    page = page_for("admin")
    page.goto(url_of("web:customer_search"))
    expect(page.locator("nav.sidebar")).to_be_visible()
    drawn = _icons_drawn(page, "nav.sidebar")
    assert len(drawn) >= 15
    assert all(d["w"] > 0 and d["h"] > 0 and 12 <= d["sw"] <= 32 for d in drawn), drawn
    text = page.locator("nav.sidebar").inner_text()
    emoji = [ch for ch in text if 0x1F000 <= ord(ch) <= 0x1FAFF or 0x2600 <= ord(ch) <= 0x27BF]
    assert emoji == []
    assert_clean(browsing, page)
