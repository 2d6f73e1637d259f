"""Keyset paging of the bill list (and of ``interfaces.web.keyset`` itself): walking "next" from the first page
and "previous" from the last shows every bill exactly once, in (account number, bill id) order; the count is
capped; a malformed key opens the first page. Runs on SQLite and PostgreSQL (the sample company)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

import pytest
from django.test import Client

from sample_company import Company
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill
from wattdesk.interfaces.web import keyset
from wattdesk.interfaces.web.pages import bills as bills_page

NEXT = re.compile(r'href="\?([^"]*)" data-testid="bills-next"')
PREVIOUS = re.compile(r'href="\?([^"]*)" data-testid="bills-previous"')


def _walk(client: Client, first: str, link: re.Pattern[str]) -> list[list[int]]:
    """Follow ``link`` from ``first`` to the end; the bill ids shown on each page."""
    pages: list[list[int]] = []
    url = first
    while True:
        r = client.get(url)
        assert r.status_code == 200
        pages.append([b.pk for b in r.context["page"].rows])
        assert len(pages) < 100, "paging does not end"
        m = link.search(r.content.decode())
        if m is None:
            return pages
        url = "/bills/?" + unescape(m.group(1))


def test_next_and_previous_show_every_bill_once_in_order(
    company: Company, client_for: Callable[[str], Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bills_page, "PAGE_SIZE", 7)
    expected = list(
        Bill.objects.filter(period=company.period)
        .order_by("account__number", "pk")
        .values_list("pk", flat=True)
    )
    assert len(expected) > 3 * 7
    client = client_for(roles.BILLING_CLERK)
    forward = _walk(client, f"/bills/?period={company.period}", NEXT)
    assert [len(p) for p in forward[:-1]] == [7] * (len(forward) - 1)
    assert [pk for p in forward for pk in p] == expected  # no duplicate, no omission, stable order

    # From the last page back to the first: the same pages.
    last_key = keyset.Key(value=Bill.objects.get(pk=forward[-2][-1]).account.number, pk=forward[-2][-1])
    backward = _walk(client, f"/bills/?period={company.period}&after={last_key}", PREVIOUS)
    assert backward[0] == forward[-1]
    assert [pk for p in reversed(backward) for pk in p] == expected


def test_count_is_capped(
    company: Company, client_for: Callable[[str], Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    total = Bill.objects.filter(period=company.period).count()
    client = client_for(roles.BILLING_CLERK)
    r = client.get(f"/bills/?period={company.period}")
    assert (r.context["count"], r.context["count_capped"]) == (total, False)
    monkeypatch.setattr(bills_page, "COUNT_CAP", 10)
    r = client.get(f"/bills/?period={company.period}")
    assert (r.context["count"], r.context["count_capped"]) == (10, True)
    assert "超过 10 张账单" in r.content.decode()


@pytest.mark.parametrize("raw", ["", "nonsense", "A1.x", ".5", "A1.-3", "A1." + "9" * 40])
def test_malformed_key_opens_the_first_page(
    raw: str, company: Company, client_for: Callable[[str], Client]
) -> None:
    client = client_for(roles.BILLING_CLERK)
    first = [b.pk for b in client.get(f"/bills/?period={company.period}").context["page"].rows]
    for param in ("after", "before"):
        r = client.get(f"/bills/?period={company.period}&{param}={raw}")
        assert r.status_code == 200
        assert [b.pk for b in r.context["page"].rows] == first


def test_keyset_with_many_equal_column_values(company: Company) -> None:
    """A column with few distinct values (the customer class of the bill's account): the pk breaks the ties,
    so pages that start or end inside a run of equal values still show every row once."""
    qs = Bill.objects.select_related("account__customer")
    column = "account__customer__customer_class"
    expected = list(qs.order_by(column, "pk").values_list("pk", flat=True))
    assert len(set(qs.values_list(column, flat=True))) < len(expected) // 5

    seen: list[int] = []
    page = keyset.keyset_page(qs, column=column, size=5)
    pages = [page]
    while page.next_key is not None:
        page = keyset.keyset_page(qs, column=column, size=5, after=page.next_key)
        pages.append(page)
    for p in pages:
        seen.extend(b.pk for b in p.rows)
    assert seen == expected
    assert pages[0].previous_key is None and pages[-1].next_key is None

    back: list[int] = []
    page = pages[-1]
    back[:0] = [b.pk for b in page.rows]
    while page.previous_key is not None:
        page = keyset.keyset_page(qs, column=column, size=5, before=page.previous_key)
        back[:0] = [b.pk for b in page.rows]
    assert back == expected


def test_count_matches_stops_at_the_cap(company: Company) -> None:
    qs = Bill.objects.all()
    n = qs.count()
    assert keyset.count_matches(qs, cap=n) == (n, False)
    assert keyset.count_matches(qs, cap=n - 1) == (n - 1, True)
    assert keyset.count_matches(qs.none(), cap=5) == (0, False)
