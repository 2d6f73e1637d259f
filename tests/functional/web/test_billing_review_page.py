"""The held-bill review page (复核): paged, filtered by route / hold reason / amount range, and batch approval
of the selected bills (all or nothing, each through the one approve use case, audited)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from wattdesk.application.billing import review
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import ServicePoint

pytestmark = pytest.mark.django_db
MANUAL = 25  # drafts put on hold by a reviewer, on top of the run's held bills


@pytest.fixture
def many_held(company: Any) -> list[Bill]:
    drafts = Bill.objects.filter(period=company.period, status=BillStatus.DRAFT).order_by("id")[:MANUAL]
    for bill in drafts:
        review.hold_bill(bill_id=bill.pk, user=None, held_at=timezone.now(), reason="抽查复核")
    held = list(Bill.objects.filter(period=company.period, status=BillStatus.HELD).order_by("-total", "id"))
    assert len(held) > review_page_size()
    return held


def review_page_size() -> int:
    from wattdesk.interfaces.web.pages.billing import REVIEW_PAGE_SIZE

    return REVIEW_PAGE_SIZE


def card_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-testid="held-bill" data-bill-id="(\d+)"', html)]


def approvals() -> list[LogEntry]:
    return list(LogEntry.objects.filter(additional_data__batch="bills.approve").order_by("id"))


class TestPaging:
    def test_pages_of_twenty_largest_first_and_the_count_of_all(
        self, company: Any, many_held: list[Bill], client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        first = client.get(f"/billing/review/?period={company.period}")
        assert first.status_code == 200
        html = first.content.decode()
        size = review_page_size()
        assert card_ids(html) == [b.pk for b in many_held[:size]]
        assert f"{len(many_held)} 张挂起账单符合条件" in html
        assert 'data-testid="review-pager"' in html and "page=2" in html
        second = client.get(f"/billing/review/?period={company.period}&page=2").content.decode()
        assert card_ids(second) == [b.pk for b in many_held[size : 2 * size]]
        beyond = client.get(f"/billing/review/?period={company.period}&page=999").content.decode()
        assert card_ids(beyond) == card_ids(
            client.get(f"/billing/review/?period={company.period}&page=2").content.decode()
        )


class TestFilters:
    def test_by_hold_reason(
        self, company: Any, many_held: list[Bill], client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        manual = {b.pk for b in many_held if b.hold_reason == "抽查复核"}
        assert len(manual) == MANUAL
        seen: set[int] = set()
        for page in (1, 2):
            html = client.get(f"/billing/review/?period={company.period}&reason=other&page={page}").content
            seen |= set(card_ids(html.decode()))
        assert seen == manual
        run_held = [b for b in many_held if b.pk not in manual]
        assert run_held, "the billing run held some bills"
        code = next(
            c for c, prefix in review.REASON_PREFIXES.items() if run_held[0].hold_reason.startswith(prefix)
        )
        html = client.get(f"/billing/review/?period={company.period}&reason={code}").content.decode()
        expected = [b.pk for b in many_held if b.hold_reason.startswith(review.REASON_PREFIXES[code])]
        assert card_ids(html) == expected[: review_page_size()]

    def test_by_amount_range_inclusive(
        self, company: Any, many_held: list[Bill], client_for: Callable[[str], Client]
    ) -> None:
        totals = sorted({b.total for b in many_held})
        low, high = totals[1], totals[-2]
        url = f"/billing/review/?period={company.period}&min={low}&max={high}"
        html = client_for(roles.BILLING_CLERK).get(url).content.decode()
        expected = [b.pk for b in many_held if low <= b.total <= high]
        assert card_ids(html) == expected[: review_page_size()]
        assert f"{len(expected)} 张挂起账单符合条件" in html

    def test_by_route(self, company: Any, many_held: list[Bill], client_for: Callable[[str], Client]) -> None:
        sp = ServicePoint.objects.filter(account_id=many_held[0].account_id).select_related("route").first()
        assert sp is not None and sp.route is not None
        on_route = set(ServicePoint.objects.filter(route=sp.route).values_list("account_id", flat=True))
        html = (
            client_for(roles.BILLING_CLERK)
            .get(f"/billing/review/?period={company.period}&route={sp.route.code}")
            .content.decode()
        )
        expected = [b.pk for b in many_held if b.account_id in on_route]
        assert expected and card_ids(html) == expected[: review_page_size()]
        assert f'<option value="{sp.route.code}" selected>' in html

    @pytest.mark.parametrize("bad", ["1e999999", "abc", "99999999999999999.99"])
    def test_a_bad_amount_is_a_message_not_an_error(
        self, bad: str, company: Any, many_held: list[Bill], client_for: Callable[[str], Client]
    ) -> None:
        r = client_for(roles.BILLING_CLERK).get(f"/billing/review/?period={company.period}&min={bad}")
        assert r.status_code == 200
        html = r.content.decode()
        assert "金额筛选条件无效" in html
        assert len(card_ids(html)) == review_page_size()  # the filter is ignored


class TestBatchApprove:
    def test_the_selected_bills_are_approved_each_audited(
        self, company: Any, many_held: list[Bill], client_for: Callable[[str], Client]
    ) -> None:
        chosen = [b.pk for b in many_held[:3]]
        client = client_for(roles.BILLING_CLERK)
        back = f"period={company.period}&reason=other"
        r = client.post(
            "/billing/review/approve/",
            {"period": company.period, "bill": chosen, "note": "批量复核", "back": back},
        )
        assert r.status_code == 302 and r["Location"] == f"/billing/review/?{back}"
        assert set(Bill.objects.filter(pk__in=chosen).values_list("status", flat=True)) == {BillStatus.DRAFT}
        entries = approvals()
        clerk = get_user_model().objects.get(username=company.logins[roles.BILLING_CLERK].username)
        assert sorted(int(e.object_pk) for e in entries) == sorted(chosen)
        assert {e.actor_id for e in entries} == {clerk.pk}
        assert all(e.changes["note"] == [None, "批量复核"] for e in entries)
        page = client.get(r["Location"]).content.decode()
        assert "已审核通过 3 张账单" in page
        assert not set(chosen) & set(card_ids(page))

    def test_all_or_nothing_when_one_cannot_be_approved(
        self, company: Any, many_held: list[Bill], client_for: Callable[[str], Client]
    ) -> None:
        first, second, third = (b.pk for b in many_held[:3])
        client = client_for(roles.BILLING_CLERK)
        client.post(f"/billing/review/{second}/approve/", {})
        assert len(approvals()) == 1
        r = client.post(
            "/billing/review/approve/", {"period": company.period, "bill": [first, second, third]}
        )
        assert r.status_code == 302
        statuses = dict(Bill.objects.filter(pk__in=[first, second, third]).values_list("pk", "status"))
        assert statuses == {first: BillStatus.HELD, second: BillStatus.DRAFT, third: BillStatus.HELD}
        assert len(approvals()) == 1  # nothing of the refused batch was written
        page = client.get(r["Location"]).content.decode()
        assert "未审核任何账单" in page and f"bill {second} is draft" in page

    def test_nothing_selected_unknown_bill_and_permission(
        self, company: Any, many_held: list[Bill], client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        r = client.post("/billing/review/approve/", {"period": company.period}, follow=True)
        assert "请先勾选要审核通过的账单" in r.content.decode()
        unknown = client.post(
            "/billing/review/approve/", {"period": company.period, "bill": [many_held[0].pk, 987654321]}
        )
        assert unknown.status_code == 404
        reader = client_for(roles.METER_READER).post(
            "/billing/review/approve/", {"period": company.period, "bill": [many_held[0].pk]}
        )
        assert reader.status_code == 403
        assert Bill.objects.get(pk=many_held[0].pk).status == BillStatus.HELD and approvals() == []

    def test_the_page_offers_a_checkbox_per_card_and_select_all(
        self, company: Any, many_held: list[Bill], client_for: Callable[[str], Client]
    ) -> None:
        html = (
            client_for(roles.BILLING_CLERK).get(f"/billing/review/?period={company.period}").content.decode()
        )
        assert 'id="batch-approve"' in html and 'data-select-all="bill"' in html
        boxes = re.findall(r'name="bill" value="(\d+)" form="batch-approve"', html)
        assert [int(b) for b in boxes] == card_ids(html)


def test_the_english_review_page_is_english(
    company: Any, many_held: list[Bill], client_for: Callable[[str], Client]
) -> None:
    client = client_for(roles.BILLING_CLERK)
    client.cookies["django_language"] = "en"
    html = client.get(f"/billing/review/?period={company.period}&min=abc").content.decode()
    for text in (
        "Approve the selected bills",
        "All reasons",
        "Amount filter not understood: abc",
        "held bill(s) match",
    ):
        assert text in html, text
    for text in ("批量审核通过所选账单", "全部原因", "金额筛选条件无效", "张挂起账单符合条件"):
        assert text not in html, text
