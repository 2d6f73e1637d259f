"""Customer search and the 360° page: the four search keys, scoping (404 outside the territory), bill lines."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.application.customers.customer_360 import mask_phone
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.billing.models import Bill, BillLine
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.metering.models import MeterInstallation, RegisterReading


def _found(client: Client, q: str) -> list[str]:
    response = client.get("/customers/", {"q": q})
    assert response.status_code == 200
    result = response.context["result"]
    numbers = [r.account_number for r in result.rows]
    assert result.count == len(numbers) or result.num_pages > 1
    return numbers


def _reader() -> Any:
    return get_user_model().objects.get(username=f"demo_{roles.METER_READER}")


class TestSearch:
    def test_finds_by_name_account_number_meter_serial_and_address(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for("cs_agent")
        inst = MeterInstallation.objects.select_related("service_point__account__customer", "meter").first()
        assert inst is not None
        sp = inst.service_point
        account = sp.account
        assert account.number in _found(client, account.customer.name)
        assert account.number in _found(client, account.customer.name[1:])  # contains, not just prefix
        assert _found(client, account.number) == [account.number]
        assert account.number in _found(client, inst.meter.serial)
        assert account.number in _found(client, sp.address)
        assert _found(client, "不存在的客户名称xyz") == []
        # The rows link to the 360° page.
        html = client.get("/customers/", {"q": account.number}).content.decode()
        assert f'href="/customers/{account.number}/"' in html

    def test_live_search_returns_a_partial(self, company: Any, client_for: Callable[[str], Client]) -> None:
        client = client_for("billing_clerk")
        page = client.get("/customers/").content.decode()
        assert (
            'hx-trigger="input changed delay:300ms, search"' in page and 'hx-target="#search-results"' in page
        )
        account = Account.objects.order_by("number").first()
        assert account is not None
        partial = client.get("/customers/", {"q": account.number}, HTTP_HX_REQUEST="true")
        body = partial.content.decode()
        assert "<html" not in body and f"/customers/{account.number}/" in body

    def test_paginates_by_fifty(self, company: Any, client_for: Callable[[str], Client]) -> None:
        # Every account number shares the first character: a one-character prefix matches them all.
        first = Account.objects.order_by("number").first()
        assert first is not None
        prefix = first.number[0]
        total = Account.objects.filter(number__startswith=prefix).count()
        assert total > 50
        client = client_for("billing_clerk")
        p1 = client.get("/customers/", {"q": prefix}).context["result"]
        p2 = client.get("/customers/", {"q": prefix, "page": "2"}).context["result"]
        assert len(p1.rows) == 50 and p1.count >= total and p1.has_next
        assert not set(r.account_number for r in p1.rows) & set(r.account_number for r in p2.rows)

    def test_meter_reader_finds_only_accounts_on_their_routes(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        mine = accounts_for(_reader())
        outside = Account.objects.exclude(pk__in=mine).select_related("customer").first()
        inside = mine.first()
        assert outside is not None and inside is not None
        client = client_for("meter_reader")
        assert _found(client, outside.number) == []
        assert outside.number not in _found(client, outside.customer.name)
        assert _found(client, inside.number) == [inside.number]


class TestCustomer360:
    def test_shows_the_account_and_expands_bill_lines(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        line = (
            BillLine.objects.filter(bill__period=company.period, amount__gt=0)
            .select_related("bill__account__customer")
            .order_by("bill_id", "seq")
            .first()
        )
        assert line is not None
        bill = line.bill
        account = bill.account
        client = client_for("cs_agent")
        response = client.get(f"/customers/{account.number}/")
        assert response.status_code == 200
        html = response.content.decode()
        assert account.customer.name in html
        lines_url = f"/customers/{account.number}/bills/{bill.pk}/lines/"
        assert f'hx-get="{lines_url}"' in html
        assert str(bill.total) in html
        view = response.context["c"]
        assert view.balance == balance(account_id=account.pk)
        assert [b.id for b in view.bills] == list(
            Bill.objects.filter(account=account).order_by("-period", "-version").values_list("id", flat=True)
        )
        if view.ledger:
            assert view.ledger[-1].balance == view.balance
        assert view.service_points and view.service_points[0].installations
        assert "即将上线" in html
        # The consumption chart: monthly sums of billable active-total readings of the account's meters.
        assert view.readings and view.consumption.months
        totals = dict(view.consumption.series)["active_total"]
        month = view.consumption.months[-1]
        expected = sum(
            (
                r.consumption
                for r in RegisterReading.objects.filter(
                    register__kind="active_total",
                    register__meter__installations__service_point__account=account,
                    status__in=["valid", "estimated"],
                    consumption__isnull=False,
                )
                if r.read_on.strftime("%Y-%m") == month
            ),
            Decimal(0),
        )
        assert totals[-1] == expected
        assert 'data-testid="chart-consumption"' in html
        if account.customer.phone:
            assert account.customer.phone not in html and mask_phone(account.customer.phone) in html

        partial = client.get(lines_url, HTTP_HX_REQUEST="true")
        assert partial.status_code == 200
        body = partial.content.decode()
        assert "<html" not in body
        assert f">{line.amount}<" in body and line.description in body
        assert len(partial.context["lines"]) == BillLine.objects.filter(bill=bill).count()

    def test_out_of_scope_account_is_404(self, company: Any, client_for: Callable[[str], Client]) -> None:
        mine = accounts_for(_reader())
        outside = Account.objects.exclude(pk__in=mine).first()
        inside = mine.first()
        assert outside is not None and inside is not None
        reader = client_for("meter_reader")
        assert reader.get(f"/customers/{inside.number}/").status_code == 200
        assert reader.get(f"/customers/{outside.number}/").status_code == 404
        assert reader.get("/customers/NO-SUCH-ACCOUNT/").status_code == 404
        # A bill of an account outside the scope cannot be expanded either, even under an allowed number.
        other_bill = Bill.objects.filter(account=outside).first()
        assert other_bill is not None
        assert reader.get(f"/customers/{inside.number}/bills/{other_bill.pk}/lines/").status_code == 404
        assert reader.get(f"/customers/{outside.number}/bills/{other_bill.pk}/lines/").status_code == 404
        # Staff without a territory see it; a customer has no back-office access at all.
        assert client_for("cs_agent").get(f"/customers/{outside.number}/").status_code == 200
        assert client_for("customer").get(f"/customers/{outside.number}/").status_code == 403


class TestQueryCounts:
    def test_search_and_360_use_a_fixed_number_of_queries(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = client_for("cs_agent")
        first = Account.objects.order_by("number").first()
        assert first is not None
        counts = []
        for account in Account.objects.order_by("-number")[:3]:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(f"/customers/{account.number}/").status_code == 200
            counts.append(len(ctx))
        assert len(set(counts)) == 1 and counts[0] < 30, counts
        with CaptureQueriesContext(connection) as ctx:
            page = client.get("/customers/", {"q": first.number[0]}).context["result"]
        assert len(page.rows) == 50 and len(ctx) < 15, len(ctx)
