"""The cashier screen: roles, a payment through the page, receipt + reprint counted, the close."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from wattdesk.domain.counter.models import CashClose, Receipt
from wattdesk.domain.customers.models import Account, Region
from wattdesk.domain.outlets.models import PaymentOutlet
from wattdesk.domain.payments.models import Payment


def test_a_meter_reader_gets_403(company: Any, client_for: Any) -> None:
    assert client_for("meter_reader").get("/cashier/").status_code == 403
    assert client_for("meter_reader").post("/cashier/pay/").status_code == 403


def test_pay_print_reprint_and_close(company: Any, client_for: Any) -> None:
    PaymentOutlet.objects.create(code="YYT01", name="营业厅", kind="counter", lat=Decimal("30"),
                                 lon=Decimal("120"), region=Region.objects.order_by("code").first())  # fmt: skip
    client = client_for("billing_clerk")
    acc = Account.objects.filter(bills__isnull=False).order_by("number").first()
    page = client.get(f"/cashier/?account={acc.number}")
    assert page.status_code == 200 and 'data-testid="amount-due"' in page.content.decode()
    r = client.post("/cashier/pay/", {"account": acc.number, "amount": "12.34", "method": "cash",
                                      "outlet": "YYT01", "token": "tok-1"})  # fmt: skip
    assert r.status_code == 302 and "/cashier/receipt/?no=YYT01-" in r["Location"]
    receipt = Receipt.objects.get()
    assert (receipt.amount, Payment.objects.get().channel_txn_id) == (Decimal("12.34"), receipt.receipt_no)
    body = client.get(r["Location"]).content.decode()
    assert "data-print" in body and receipt.receipt_no in body and "12.34" in body
    # print layout (80 mm receipt) lives in the shared stylesheet: the CSP allows no inline styles
    from django.contrib.staticfiles import finders

    css = Path(finders.find("web/app.css")).read_text(encoding="utf-8")
    assert ".receipt { border:none; max-width:none; width:80mm; }" in css
    again = client.post("/cashier/reprint/", {"no": receipt.receipt_no}).content.decode()
    assert 'data-testid="reprint-mark"' in again and "重打 #1" in again
    receipt.refresh_from_db()
    assert receipt.reprints == 1
    client.post("/cashier/close/", {"outlet": "YYT01", "declared_cash": "12.34"})
    assert CashClose.objects.get().status == "balanced"
    r = client.post("/cashier/pay/", {"account": acc.number, "amount": "1.00", "method": "cash",
                                      "outlet": "YYT01", "token": "tok-2"})  # fmt: skip
    assert Payment.objects.count() == 1
    assert "日结" in client.get(r["Location"]).content.decode()
