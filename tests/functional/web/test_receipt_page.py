"""The counter receipt (电费收据) as printed: company, the periods and late fees settled, the balance after; the
screen controls (print, reprint, back) in one block that the print stylesheet hides."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

from wattdesk.application.billing.review import issue_bills
from wattdesk.domain.counter.models import Receipt
from wattdesk.domain.customers.models import Account, Region
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.outlets.models import PaymentOutlet

SH = ZoneInfo("Asia/Shanghai")


class _Controls(HTMLParser):
    """Collects what sits inside the element with class ``no-print`` (the parser keeps a stack of open tags;
    a <form> inside a <p> would close the <p>, as browsers do, and fall outside it)."""

    VOID = frozenset({"input", "br", "img", "meta", "link", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.inside: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form" and self.stack and self.stack[-1][0] == "p":
            self.stack.pop()  # HTML: a <form> start tag closes an open <p>
        hidden = any(k == "class" and "no-print" in (v or "").split() for k, v in attrs)
        in_hidden = hidden or any(h for _t, h in self.stack)
        if tag in ("button", "a", "form") and in_hidden:
            self.inside.append(tag)
        if tag not in self.VOID:
            self.stack.append((tag, in_hidden))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break


def test_the_receipt_names_the_company_the_periods_settled_and_the_balance_after(
    company: Any, client_for: Any, settings: Any
) -> None:
    settings.WATTDESK_BILL_ISSUER = "城关县供电公司"
    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=SH),
        issued_on=date(2026, 11, 3),
    )
    PaymentOutlet.objects.create(code="YYT01", name="营业厅", kind="counter", lat=Decimal("30"),
                                 lon=Decimal("120"), region=Region.objects.order_by("code").first())  # fmt: skip
    acc = next(a for a in Account.objects.order_by("number") if balance(account_id=a.pk) > Decimal("20"))
    owed = balance(account_id=acc.pk)
    client = client_for("billing_clerk")
    r = client.post("/cashier/pay/", {"account": acc.number, "amount": "10.00", "method": "cash",
                                      "outlet": "YYT01", "token": "tok-1"})  # fmt: skip
    assert r.status_code == 302
    body = client.get(r["Location"]).content.decode()
    assert 'data-testid="receipt-company">城关县供电公司<' in body
    settled = re.search(r'data-testid="receipt-settled">(.*?)</table>', body, re.S)
    assert settled and f"<td>{company.period}</td>" in settled.group(1)
    assert re.search(r'<td class="num">10\.00</td>', settled.group(1))
    after = re.search(r'data-testid="receipt-balance-after">(.*?)</dd>', body, re.S)
    assert after and f"尚欠 {owed - Decimal('10.00')}" in after.group(1)
    # the reprint shows the same lines and the same balance after, even after a second payment
    client.post("/cashier/pay/", {"account": acc.number, "amount": "5.00", "method": "cash",
                                  "outlet": "YYT01", "token": "tok-2"})  # fmt: skip
    first = Receipt.objects.order_by("seq").first()
    again = client.post("/cashier/reprint/", {"no": first.receipt_no}).content.decode()
    assert re.search(r'data-testid="receipt-balance-after">(.*?)</dd>', again, re.S).group(1) == after.group(
        1
    )
    # print, reprint and back sit inside the block hidden on paper
    controls = _Controls()
    controls.feed(again)
    assert sorted(controls.inside) == ["a", "button", "button", "form"]


def test_a_prepayment_receipt_shows_the_credit(company: Any, client_for: Any) -> None:
    PaymentOutlet.objects.create(code="YYT01", name="营业厅", kind="counter", lat=Decimal("30"),
                                 lon=Decimal("120"), region=Region.objects.order_by("code").first())  # fmt: skip
    acc = next(a for a in Account.objects.filter(prepaid=False).order_by("number")
               if balance(account_id=a.pk) == 0)  # fmt: skip
    client = client_for("billing_clerk")
    r = client.post("/cashier/pay/", {"account": acc.number, "amount": "30.00", "method": "cash",
                                      "outlet": "YYT01", "token": "tok-1"})  # fmt: skip
    body = client.get(r["Location"]).content.decode()
    assert "无欠费销账，全额预存" in body
    assert re.search(r'data-testid="receipt-credit">30\.00 ', body)
    assert re.search(r'data-testid="receipt-balance-after">预存 30\.00 ', body)
