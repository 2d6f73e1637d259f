"""The portal's online payment (在线缴费): home links to it, the amount defaults to what the account owes, an
order is created for the customer's own account only and the browser goes to the gateway's pay page."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.domain.access import roles
from wattdesk.domain.customers.models import Account
from wattdesk.domain.gateway.models import PaymentOrder
from wattdesk.domain.ledger.queries import balance

ClientFor = Callable[[str], Client]


def _own_account(company: Any) -> Account:
    user = get_user_model().objects.get(username=company.logins[roles.CUSTOMER].username)
    account = user.customer_login.customer.accounts.order_by("number").first()
    assert account is not None
    return account


def test_home_links_to_online_payment(company: Any, client_for: ClientFor) -> None:
    html = client_for(roles.CUSTOMER).get("/portal/").content.decode()
    assert 'data-testid="placeholder-pay"' not in html
    assert 'href="/portal/pay/?account=' in html


def test_pay_defaults_to_the_balance_due_and_redirects_to_the_gateway(
    company: Any, client_for: ClientFor, settings: Any
) -> None:
    settings.WATTDESK_GATEWAY_PAY_URL = "http://gw.example:8700/pay"
    client = client_for(roles.CUSTOMER)
    account = _own_account(company)
    owed = balance(account_id=account.pk)
    page = client.get(f"/portal/pay/?account={account.number}").content.decode()
    expected = str(owed) if owed > 0 else ""  # the sample company's customer owes 43.09
    assert f'required value="{expected}" data-testid="pay-amount"' in page
    r = client.post("/portal/pay/", {"account": account.number, "amount": "66.60"})
    assert r.status_code == 302
    order = PaymentOrder.objects.get()
    assert (order.account_id, order.amount, order.status) == (account.pk, Decimal("66.60"), "created")
    target = urlsplit(r["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "http://gw.example:8700/pay"
    q = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert q["order_no"] == order.order_no and q["amount"] == "66.60"
    assert q["return_url"] == f"http://testserver/portal/pay/result/?order={order.order_no}"
    result = client.get(f"/portal/pay/result/?order={order.order_no}").content.decode()
    assert order.order_no in result and "处理中" in result


def test_bad_amount_is_400_and_a_foreign_account_404(company: Any, client_for: ClientFor) -> None:
    client = client_for(roles.CUSTOMER)
    account = _own_account(company)
    r = client.post("/portal/pay/", {"account": account.number, "amount": "1.234"})
    assert r.status_code == 400 and "金额最多两位小数" in r.content.decode()
    other = Account.objects.exclude(customer=account.customer).order_by("number").first()
    assert other is not None
    assert client.post("/portal/pay/", {"account": other.number, "amount": "1.00"}).status_code == 404
    assert not PaymentOrder.objects.exists()
    foreign = PaymentOrder.objects.create(order_no="WDX", account=other, amount=Decimal("1.00"),
                                          created_at="2026-11-27T10:00:00+08:00")  # fmt: skip
    assert client.get(f"/portal/pay/result/?order={foreign.order_no}").status_code == 404


def test_the_pay_form_may_be_redirected_to_the_gateway_under_the_csp(
    company: Any, client_for: ClientFor, settings: Any
) -> None:
    """Browsers apply form-action to the redirect after a form post: 'self' alone would block the payment."""
    settings.WATTDESK_GATEWAY_PAY_URL = "http://gw.example:8700/pay"
    page = client_for(roles.CUSTOMER).get(f"/portal/pay/?account={_own_account(company).number}")
    csp = dict(part.split(" ", 1) for part in page["Content-Security-Policy"].split("; "))
    assert csp["form-action"] == "'self' http://gw.example:8700"
    assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
