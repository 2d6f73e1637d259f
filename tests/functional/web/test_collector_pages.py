"""The collector's phone screen: roles, scope, a cash collection, the 375 px layout."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from collector_support import collect
from django.contrib.auth import get_user_model

from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account
from wattdesk.domain.payments.models import Payment


def test_a_meter_reader_gets_403(company: Any, client_for: Any) -> None:
    assert client_for("meter_reader").get("/collector/").status_code == 403


def test_the_collector_sees_only_their_routes_and_collects(company: Any, client_for: Any) -> None:
    user = get_user_model().objects.get(username=company.logins["collector"].username)
    mine = set(accounts_for(user).values_list("number", flat=True))
    client = client_for("collector")
    body = client.get("/collector/").content.decode()
    assert 'class="table-wrap"' in body and 'data-testid="worklist"' in body
    listed = {n for n in Account.objects.values_list("number", flat=True) if f"<strong>{n}</strong>" in body}
    assert listed and listed <= mine
    outside = Account.objects.exclude(number__in=mine).order_by("number").first()
    assert (
        client.post("/collector/pay/", {"account": outside.number, "amount": "5", "token": "x"}).status_code
        == 404
    )
    number = sorted(listed)[0]
    r = collect(client, number, "5.00")  # 收现金, then 确认收款
    assert r.status_code == 302
    p = Payment.objects.get()
    assert (p.channel, p.amount, p.user_id) == ("collector", Decimal("5.00"), user.pk)
    assert client.get(r["Location"]).status_code == 200
