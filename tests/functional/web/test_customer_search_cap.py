"""Customer search at its cap (MAX_RESULTS): the page says that it shows the first N and asks to narrow the
query, instead of "found N+1"; a scoped user's matches are not crowded out by accounts outside the scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.application.customers import customer_360
from wattdesk.domain.access import roles
from wattdesk.domain.access.operations import set_scope
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account, ReadingRoute, Region, ServicePoint


def _prefix() -> tuple[str, int]:
    """A one-character account-number prefix that every account shares, and how many accounts that is."""
    first = Account.objects.order_by("number").first()
    assert first is not None
    prefix = first.number[0]
    return prefix, Account.objects.filter(number__startswith=prefix).count()


def test_a_search_that_reaches_the_cap_says_so(
    company: Any, client_for: Callable[[str], Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, total = _prefix()
    monkeypatch.setattr(customer_360, "MAX_RESULTS", 60)
    assert total > 61
    response = client_for(roles.BILLING_CLERK).get("/customers/", {"q": prefix})
    result = response.context["result"]
    assert (result.capped, result.count, result.num_pages) == (True, 60, 2)
    body = response.content.decode()
    assert "显示前 60 个账户，请缩小条件" in body
    assert "找到" not in body
    page2 = client_for(roles.BILLING_CLERK).get("/customers/", {"q": prefix, "page": "2"}).context["result"]
    assert len(page2.rows) == 10
    # the first 60 by account number
    shown = [r.account_number for r in result.rows] + [r.account_number for r in page2.rows]
    assert shown == list(Account.objects.order_by("number").values_list("number", flat=True)[:60])


def test_below_the_cap_the_count_is_exact(
    company: Any, client_for: Callable[[str], Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, total = _prefix()
    monkeypatch.setattr(customer_360, "MAX_RESULTS", total)  # exactly at the cap is not over it
    response = client_for(roles.BILLING_CLERK).get("/customers/", {"q": prefix})
    assert (response.context["result"].capped, response.context["result"].count) == (False, total)
    assert f"找到 {total} 个账户" in response.content.decode()


def test_the_english_page_says_it_is_a_cap(
    company: Any, client_for: Callable[[str], Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, _total = _prefix()
    monkeypatch.setattr(customer_360, "MAX_RESULTS", 60)
    client = client_for(roles.BILLING_CLERK)
    body = client.get("/customers/", {"q": prefix}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Showing the first 60 accounts: narrow the search" in body


def test_a_scoped_user_finds_their_accounts_whatever_the_cap(
    company: Any, client_for: Callable[[str], Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = get_user_model().objects.get(username=f"demo_{roles.METER_READER}")
    # the reader's routes: the last region's, whose service points come after the others' in number order
    last_region = Region.objects.order_by("-code").first()
    set_scope(user=reader, routes=ReadingRoute.objects.filter(region=last_region))
    mine = set(accounts_for(reader).values_list("number", flat=True))
    # a word every address shares: the county's name is in each of them
    address = ServicePoint.objects.order_by("pk").values_list("address", flat=True).first()
    word = address[:2]
    everyone = ServicePoint.objects.filter(address__icontains=word).values("account_id").distinct().count()
    inside = len(
        mine
        & set(
            Account.objects.filter(service_points__address__icontains=word).values_list("number", flat=True)
        )
    )
    assert everyone > 2 * inside > 0
    # a cap below the company's matches but above the reader's: before scoping each lookup, the first
    # matches of the whole company filled the cap and most of the reader's own accounts were not found
    monkeypatch.setattr(customer_360, "MAX_RESULTS", inside)
    result = client_for(roles.METER_READER).get("/customers/", {"q": word}).context["result"]
    assert result.count == inside and not result.capped
