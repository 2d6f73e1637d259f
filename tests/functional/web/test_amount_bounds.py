"""Amounts typed into the money pages (cashier, collector, cash close, hand-over, visit, portal pay) go through
the one bounded parser: an exponent, NaN, infinity or more digits than the database column holds is a clear
error naming the field, never a 500 (the test client re-raises a server error, so a 500 fails the test)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import NoReverseMatch, reverse

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.counter.models import CashClose, CashHandover
from wattdesk.domain.customers.models import Account, Region
from wattdesk.domain.gateway.models import PaymentOrder
from wattdesk.domain.outlets.models import PaymentOutlet
from wattdesk.domain.payments.models import Payment

ClientFor = Callable[[str], Client]

#: Each was a 500 before: 1e20 and 1e999999 pass Decimal() (the latter fails in quantize), 99999999999999.99
#: has 14 digits before the point where the MoneyField column holds 12.
BAD = ["1e20", "99999999999999.99", "1e999999", "NaN", "Infinity", "1_000"]


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _outlet() -> None:
    PaymentOutlet.objects.create(code="YYT01", name="营业厅", kind="counter", lat=Decimal("30"),
                                 lon=Decimal("120"), region=Region.objects.order_by("code").first())  # fmt: skip


def _collector_account(company: Any) -> str:
    user = get_user_model().objects.get(username=company.logins[roles.COLLECTOR].username)
    number = accounts_for(user).order_by("number").values_list("number", flat=True).first()
    assert number is not None
    return number


@pytest.mark.parametrize("amount", BAD)
def test_cashier_pay_refuses_the_amount_with_a_message(
    company: Any, client_for: ClientFor, amount: str
) -> None:
    _outlet()
    client = client_for(roles.BILLING_CLERK)
    acc = Account.objects.filter(bills__isnull=False).order_by("number").first()
    r = client.post("/cashier/pay/", {"account": acc.number, "amount": amount, "method": "cash",
                                      "outlet": "YYT01", "token": f"t-{amount}"})  # fmt: skip
    assert r.status_code == 302 and "/cashier/?account=" in r["Location"]
    assert any(m.startswith("金额") for m in _messages(r)), _messages(r)  # in the page's language
    assert not Payment.objects.exists()


@pytest.mark.parametrize("amount", BAD)
def test_cash_close_refuses_the_declared_cash(company: Any, client_for: ClientFor, amount: str) -> None:
    _outlet()
    client = client_for(roles.BILLING_CLERK)
    r = client.post("/cashier/close/", {"outlet": "YYT01", "declared_cash": amount})
    assert r.status_code in (302, 400)
    assert any(m.startswith("申报现金") for m in _messages(r)), _messages(r)
    assert not CashClose.objects.exists()


@pytest.mark.parametrize("amount", BAD)
def test_collector_pay_and_handover_refuse_the_amount(
    company: Any, client_for: ClientFor, amount: str
) -> None:
    _outlet()
    client = client_for(roles.COLLECTOR)
    listing = client.get("/collector/").content.decode()
    listed = sorted(
        n for n in Account.objects.values_list("number", flat=True) if f"<strong>{n}</strong>" in listing
    )
    assert listed
    try:  # 收现金 asks for a confirmation first (the amount is read there)
        confirm = reverse("web:collector_confirm")
    except NoReverseMatch:
        confirm = ""
    if confirm:
        r = client.get(confirm, {"account": listed[0], "amount": amount})
        assert r.status_code in (302, 400)
        assert any(m.startswith("金额") for m in _messages(r)), _messages(r)
    r = client.post("/collector/pay/", {"account": listed[0], "amount": amount, "token": f"c-{amount}"})
    assert r.status_code in (302, 400)
    assert not Payment.objects.exists()
    receiver = company.logins[roles.BILLING_CLERK].username
    r = client.post("/collector/handover/", {"handed_over": amount, "receiver": receiver, "outlet": "YYT01"})
    assert r.status_code in (302, 400)
    assert any(m.startswith("交款金额") for m in _messages(r)), _messages(r)
    assert not CashHandover.objects.exists()


@pytest.mark.parametrize("amount", BAD)
def test_a_visit_refuses_the_amount_collected(company: Any, client_for: ClientFor, amount: str) -> None:
    client = client_for(roles.COLLECTOR)
    r = client.post("/collection/worklist/", {"account": _collector_account(company), "outcome": "paid",
                                              "amount_collected": amount})  # fmt: skip
    assert r.status_code == 400
    assert "收款金额" in r.content.decode() and "amount collected" not in r.content.decode()


@pytest.mark.parametrize("amount", BAD)
def test_portal_pay_is_400_with_the_reason(company: Any, client_for: ClientFor, amount: str) -> None:
    client = client_for(roles.CUSTOMER)
    user = get_user_model().objects.get(username=company.logins[roles.CUSTOMER].username)
    account = user.customer_login.customer.accounts.order_by("number").first()
    r = client.post("/portal/pay/", {"account": account.number, "amount": amount})
    assert r.status_code == 400
    assert "金额" in r.content.decode() and "is not an amount" not in r.content.decode()
    assert not PaymentOrder.objects.exists()
