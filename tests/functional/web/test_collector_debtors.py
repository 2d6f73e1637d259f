"""走收 (the collector's phone screen): 收现金 needs a confirmation that the server checks; the list is paged with
a fixed number of queries; it lists exactly the accounts of the worklist (催费工单) — one definition of "this
collector's debtors"; a collector with no route assigned sees both empty and can take no cash."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from collector_support import confirm_form, issue_period_bills
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wattdesk.domain.access import roles
from wattdesk.domain.collection import queries as collection_queries
from wattdesk.domain.collection.models import CollectorAssignment
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.payments.models import Payment
from wattdesk.interfaces.web.pages import cashier as cashier_pages
from wattdesk.interfaces.web.templatetags.fmt import format_fixed

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def issued(company: Any) -> Any:
    issue_period_bills(company.period)
    return get_user_model().objects.get(username=company.logins[roles.COLLECTOR].username)


def _listed(body: str) -> list[str]:
    items = re.search(r'data-testid="worklist">(.*?)</ul>', body, re.S)
    assert items is not None
    return re.findall(r"<li><strong>([^<]+)</strong>", items.group(1))


def _all_pages(client: Any) -> list[str]:
    out: list[str] = []
    page = 1
    while True:
        response = client.get("/collector/", {"page": page})
        out += _listed(response.content.decode())
        if not response.context["page"].has_next():
            return out
        page += 1


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


class TestConfirmation:
    def test_one_tap_opens_the_confirmation_and_posts_nothing(self, issued: Any, client_for: Any) -> None:
        client = client_for(roles.COLLECTOR)
        body = client.get("/collector/").content.decode()
        number = _listed(body)[0]
        # the list's form asks for the confirmation screen (GET), it does not post a payment
        assert 'method="get" action="/collector/confirm/"' in body
        assert 'action="/collector/pay/"' not in body
        account = Account.objects.select_related("customer").get(number=number)
        owed = balance(account_id=account.pk)
        page = client.get("/collector/confirm/", {"account": number, "amount": str(owed)})
        text = page.content.decode()
        assert f'data-testid="confirm-account">{number}<' in text
        assert f'data-testid="confirm-name">{account.customer.name}<' in text
        assert f'data-testid="confirm-amount">{format_fixed(owed)}<' in text  # 1,234.56
        assert not Payment.objects.exists()

    def test_the_server_refuses_a_payment_without_the_confirmation(
        self, issued: Any, client_for: Any
    ) -> None:
        client = client_for(roles.COLLECTOR)
        number = _listed(client.get("/collector/").content.decode())[0]
        r = client.post("/collector/pay/", {"account": number, "amount": "5.00", "token": "t1"})
        assert r.status_code == 302 and r["Location"] == "/collector/"
        assert "请先确认户号、户名和金额，再收款。" in _messages(r)
        # a confirmation for another amount, another account or another form does not do either
        fields = confirm_form(client, number, "5.00")
        other = _listed(client.get("/collector/").content.decode())[1]
        for change in (
            {"amount": "50.00"},
            {"account": other},
            {"token": "another-form"},
            {"confirmation": "x"},
        ):
            assert client.post("/collector/pay/", {**fields, **change}).status_code == 302
        assert not Payment.objects.exists()
        # another collector cannot use it either
        user = get_user_model().objects.create_user(username="collector2", password="x")
        user.groups.add(*get_user_model().objects.get(username=issued.username).groups.all())
        for a in CollectorAssignment.objects.filter(user=issued):
            CollectorAssignment.objects.create(user=user, route=a.route, from_date=a.from_date)
        other_client = client_for(roles.COLLECTOR)
        other_client.force_login(user)
        assert other_client.post("/collector/pay/", fields).status_code == 302
        assert not Payment.objects.exists()
        # confirmed: posted once, even when the confirmed form is sent twice
        r = client.post("/collector/pay/", fields)
        assert r.status_code == 302 and "/collector/receipt/?no=ZS" in r["Location"]
        assert client.post("/collector/pay/", fields)["Location"] == r["Location"]
        p = Payment.objects.get()
        assert (p.account.number, p.amount, p.channel, p.user_id) == (
            number,
            Decimal("5.00"),
            "collector",
            issued.pk,
        )

    def test_a_bad_amount_is_refused_before_the_confirmation(self, issued: Any, client_for: Any) -> None:
        client = client_for(roles.COLLECTOR)
        number = _listed(client.get("/collector/").content.decode())[0]
        r = client.get("/collector/confirm/", {"account": number, "amount": "1e20"})
        # the amount's own error (whatever its wording), not the request to confirm
        assert r.status_code == 302 and r["Location"] == "/collector/"
        assert len(_messages(r)) == 1 and "请先确认" not in _messages(r)[0], _messages(r)
        assert not Payment.objects.exists()
        assert client.get("/collector/confirm/", {"account": "NOPE", "amount": "5"}).status_code == 404


class TestPaging:
    def test_the_admin_pages_through_every_debtor_with_a_fixed_number_of_queries(
        self, issued: Any, client_for: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        debtors = collection_queries.debtors(accounts=Account.objects.all())
        monkeypatch.setattr(cashier_pages, "COLLECTOR_PAGE_SIZE", 20)
        assert len(debtors) > 40, len(debtors)
        client = client_for(roles.ADMIN)
        first = client.get("/collector/")
        assert first.context["debtors"] == len(debtors)
        assert 'data-testid="debtor-pages"' in first.content.decode()
        listed = _all_pages(client)
        # every debtor once, largest debt first, as the one definition orders them
        assert listed == [d.account_number for d in debtors]
        counts = []
        for page in (1, 2):
            with CaptureQueriesContext(connection) as ctx:
                assert len(_listed(client.get("/collector/", {"page": page}).content.decode())) == 20
            counts.append(len(ctx))
        monkeypatch.setattr(cashier_pages, "COLLECTOR_PAGE_SIZE", 5)
        with CaptureQueriesContext(connection) as ctx:
            assert len(_listed(client.get("/collector/").content.decode())) == 5
        assert counts[0] == counts[1] == len(ctx), (counts, len(ctx))  # no query per row
        assert counts[0] < 30, counts

    def test_an_out_of_range_page_shows_the_last(self, issued: Any, client_for: Any) -> None:
        client = client_for(roles.ADMIN)
        last = client.get("/collector/", {"page": "999"}).context["page"]
        assert last.number == last.paginator.num_pages


class TestOneDefinition:
    def test_zoushou_lists_exactly_the_worklist(self, issued: Any, client_for: Any) -> None:
        client = client_for(roles.COLLECTOR)
        zoushou = _all_pages(client)
        today = timezone.localdate()
        worklist = client.get("/collection/worklist/", {"as_of": today.isoformat()}).context["rows"]
        assert zoushou and sorted(zoushou) == sorted(r.account_number for r in worklist)
        # the collector's debtors: the accounts of their assigned routes that owe
        routes = set(CollectorAssignment.objects.filter(user=issued).values_list("route_id", flat=True))
        for number in zoushou:
            account = Account.objects.get(number=number)
            assert balance(account_id=account.pk) > 0
            assert set(account.service_points.values_list("route_id", flat=True)) & routes

    def test_a_collector_without_a_route_sees_both_empty_and_takes_no_cash(
        self, issued: Any, client_for: Any
    ) -> None:
        client = client_for(roles.COLLECTOR)
        number = _listed(client.get("/collector/").content.decode())[0]
        fields = confirm_form(client, number, "5.00")
        yesterday = timezone.localdate() - timedelta(days=1)
        CollectorAssignment.objects.filter(user=issued).update(to_date=yesterday)
        body = client.get("/collector/").content.decode()
        assert _listed(body) == [] and 'data-testid="unassigned"' in body
        assert client.get("/collection/worklist/").context["rows"] == []
        assert client.post("/collector/pay/", fields).status_code == 404
        assert not Payment.objects.exists()
