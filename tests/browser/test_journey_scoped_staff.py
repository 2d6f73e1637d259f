"""Meter reader / collector: they see only their routes. An account on their routes is found; one outside them
is not found, and its 360° page is a 404 even by its URL."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import MAIN_NAV, assert_clean, url_of
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def accounts_in_and_out(username: str) -> tuple[str, str]:
    from django.contrib.auth import get_user_model

    from wattdesk.domain.access.queries import accounts_for
    from wattdesk.domain.customers.models import Account

    user = get_user_model().objects.get(username=username)
    mine = accounts_for(user)
    inside = mine.order_by("number").values_list("number", flat=True).first()
    outside = (
        Account.objects.exclude(pk__in=mine.values("pk"))
        .order_by("number")
        .values_list("number", flat=True)
        .first()
    )
    assert inside and outside, (inside, outside)
    return inside, outside


@pytest.mark.parametrize("role", ["meter_reader", "collector"])
def test_scoped_staff_see_only_their_routes(
    role: str, company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    search_url = url_of("web:customer_search")
    inside, outside = accounts_in_and_out(company.logins[role].username)

    page = page_for(role)
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="客户查询").click()
    expect(page).to_have_url(f"{browsing.base_url}{search_url}")

    box = page.get_by_test_id("search-box")
    box.fill(inside)
    results = page.get_by_test_id("search-results")
    expect(results.get_by_role("link", name=inside)).to_be_visible()
    shot(page, "01-own-route-found")

    box.fill(outside)
    expect(page.get_by_test_id("result-count")).to_contain_text("0")
    expect(page.get_by_test_id("search-results")).to_have_count(0)
    expect(page.get_by_role("link", name=outside)).to_have_count(0)
    shot(page, "02-outside-not-found")

    response = page.goto(f"/customers/{outside}/")
    assert response is not None and response.status == 404
    shot(page, "03-outside-by-url-404")
    inside_response = page.goto(f"/customers/{inside}/")
    assert inside_response is not None and inside_response.status == 200
    expect(page.get_by_test_id("account-number")).to_have_text(inside)
    browsing.seen(page).failed_responses.clear()  # the 404 above was the point
    browsing.seen(page).console_errors[:] = [e for e in browsing.seen(page).console_errors if "404" not in e]
    assert_clean(browsing, page, console=False)
