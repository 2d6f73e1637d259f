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


def test_a_collectors_handover_is_counted_into_the_cashiers_close(company: Any, client_for: Any) -> None:
    from django.contrib.auth import get_user_model

    from wattdesk.domain.access.queries import accounts_for
    from wattdesk.domain.counter.models import CashHandover

    PaymentOutlet.objects.create(code="YYT01", name="营业厅", kind="counter", lat=Decimal("30"),
                                 lon=Decimal("120"), region=Region.objects.order_by("code").first())  # fmt: skip
    collector = client_for("collector")
    user = get_user_model().objects.get(username=company.logins["collector"].username)
    number = accounts_for(user).order_by("number").values_list("number", flat=True).first()
    from collector_support import collect

    assert collect(collector, number, "40.00").status_code == 302
    assert 'name="outlet"' in collector.get("/collector/").content.decode()
    receiver = company.logins["billing_clerk"].username
    r = collector.post(
        "/collector/handover/", {"handed_over": "40.00", "receiver": receiver, "outlet": "YYT01"}
    )
    assert r.status_code == 302
    assert CashHandover.objects.get().outlet_code == "YYT01"
    cashier = client_for("billing_clerk")
    acc = Account.objects.filter(bills__isnull=False).order_by("number").first()
    cashier.post("/cashier/pay/", {"account": acc.number, "amount": "12.34", "method": "cash",
                                   "outlet": "YYT01", "token": "tok-1"})  # fmt: skip
    page = cashier.get("/cashier/?outlet=YYT01")
    assert page.context["expected_cash"] == Decimal("52.34")
    assert [h.handed_over for h in page.context["handovers"]] == [Decimal("40.00")]
    assert 'data-testid="handovers-received"' in page.content.decode()
    cashier.post("/cashier/close/", {"outlet": "YYT01", "declared_cash": "12.34"})
    assert not CashClose.objects.filter(status="balanced").exists()  # the collector's 40 is in the till too
    cashier.post("/cashier/close/", {"outlet": "YYT01", "declared_cash": "52.34"})
    close = CashClose.objects.get()
    assert (close.status, close.expected_cash, close.handover_cash) == (
        "balanced",
        Decimal("52.34"),
        Decimal("40.00"),
    )
    assert CashHandover.objects.get().cash_close == close


def test_a_shortfall_is_approved_by_a_manager_not_by_the_cashier(company: Any, client_for: Any) -> None:
    PaymentOutlet.objects.create(code="YYT01", name="营业厅", kind="counter", lat=Decimal("30"),
                                 lon=Decimal("120"), region=Region.objects.order_by("code").first())  # fmt: skip
    cashier = client_for("billing_clerk")
    acc = Account.objects.filter(bills__isnull=False).order_by("number").first()
    cashier.post("/cashier/pay/", {"account": acc.number, "amount": "20.00", "method": "cash",
                                   "outlet": "YYT01", "token": "tok-s"})  # fmt: skip
    # the close form has no approval field any more; a posted one is ignored
    page = cashier.get("/cashier/").content.decode()
    assert 'name="supervisor_note"' not in page
    cashier.post("/cashier/close/", {"outlet": "YYT01", "declared_cash": "18.00", "reason": "短款 2 元",
                                     "supervisor_note": "自批"})  # fmt: skip
    close = CashClose.objects.get()
    assert (close.status, close.supervisor_note) == ("pending", "")
    assert cashier.get("/cashier/closes/").status_code == 403
    assert cashier.post(f"/cashier/closes/{close.pk}/approve/", {"note": "ok"}).status_code == 403
    manager = client_for("marketing_manager")
    listing = manager.get("/cashier/closes/").content.decode()
    assert f'data-testid="close-{close.pk}"' in listing and "短款 2 元" in listing
    r = manager.post(f"/cashier/closes/{close.pk}/approve/", {"note": "已核实"})
    assert r.status_code == 302
    close.refresh_from_db()
    assert (close.status, close.supervisor_note) == ("approved", "已核实")
    assert close.approved_by is not None and close.approved_by != close.cashier
    assert "已核实" in manager.get("/cashier/closes/").content.decode()
