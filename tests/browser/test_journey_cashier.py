"""Cashier at a payment outlet (营业厅收费): find an account that owes, take cash, see and reprint the receipt,
try a bad amount, close the day (日结) — a wrong count is refused with the difference, the right one closes —
and nothing more is taken after the close. The ledger moves exactly once."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from browser_support import MAIN_NAV, assert_clean, url_of
from playwright.sync_api import expect

from wattdesk.interfaces.web.templatetags.fmt import format_fixed

pytestmark = pytest.mark.browser

OUTLET = "YYT01"
PAID = Decimal("20.50")
PAID_IN_WORDS = "贰拾元零伍角整"  # 人民币大写 of 20.50, written by hand


def owing_account(minimum: Decimal) -> Any:
    """The first account (by number) whose open bill items come to at least ``minimum``."""
    from wattdesk.domain.counter import queries
    from wattdesk.domain.customers.models import Account

    for account in Account.objects.filter(bills__isnull=False, prepaid=False).distinct().order_by("number"):
        if queries.due(account_id=account.pk).due >= minimum:
            return account
    raise AssertionError(f"no account of the sample company owes {minimum}")


def make_outlet() -> None:
    from wattdesk.domain.customers.models import Region
    from wattdesk.domain.outlets.models import PaymentOutlet

    PaymentOutlet.objects.create(code=OUTLET, name="城关营业厅", kind="counter", lat=Decimal("30.0"),
                                 lon=Decimal("120.0"), region=Region.objects.order_by("code").first())  # fmt: skip


def find(page: Any, number: str) -> None:
    form = page.get_by_test_id("cashier-find")
    form.get_by_label("户号").fill(number)
    form.get_by_role("button", name="查询").click()
    expect(page.get_by_test_id("amount-due").get_by_role("heading")).to_contain_text(number)


def test_cashier_takes_cash_reprints_and_closes_the_day(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    from wattdesk.domain.counter.models import CashClose, Receipt
    from wattdesk.domain.ledger.models import LedgerEntry
    from wattdesk.domain.ledger.queries import balance
    from wattdesk.domain.payments.models import Payment

    cashier_url = url_of("web:cashier")
    make_outlet()
    account = owing_account(PAID)
    number = account.number
    balance_before = balance(account_id=account.pk)
    payments_before = LedgerEntry.objects.filter(account=account, kind="payment").count()

    page = page_for("billing_clerk")  # the clerk's role holds payments.counter
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name="营业厅收费").click()
    expect(page).to_have_url(f"{browsing.base_url}{cashier_url}")
    expect(page.get_by_role("heading", name="营业厅收费", exact=True)).to_be_visible()

    # Find the account: what it owes, bill by bill.
    find(page, number)
    due_card = page.get_by_test_id("amount-due")
    expect(due_card.locator("tbody tr").first).to_contain_text(company.period)
    due = Decimal(due_card.get_by_test_id("due").inner_text().replace(",", ""))  # shown as 1,234.56
    assert due >= PAID
    shot(page, "01-amount-due")

    # A bad amount (three decimals): a clear error, nothing posted.
    due_card.get_by_label("实收金额").fill("20.505")
    due_card.get_by_label("方式").select_option("cash")
    due_card.get_by_role("button", name="收费并打印收据").click()
    expect(page.locator("ul.messages li.error")).to_contain_text("金额最多两位小数")
    expect(page.get_by_test_id("amount-due").get_by_test_id("due")).to_have_text(format_fixed(due))
    assert not Payment.objects.exists() and not Receipt.objects.exists()
    shot(page, "02-bad-amount-refused")

    # Cash in: the receipt with its number, the amount and the amount in Chinese capitals.
    due_card = page.get_by_test_id("amount-due")
    due_card.get_by_label("实收金额").fill(str(PAID))
    due_card.get_by_label("方式").select_option("cash")
    due_card.get_by_role("button", name="收费并打印收据").click()
    receipt = page.get_by_test_id("receipt")
    expect(receipt.get_by_role("heading", name="电费收据")).to_be_visible()
    expect(receipt).to_contain_text(re.compile(rf"{OUTLET}-\d{{8}}-0001"))
    expect(receipt).to_contain_text(number)
    expect(receipt).to_contain_text(str(PAID))
    expect(receipt.get_by_test_id("amount-words")).to_have_text(PAID_IN_WORDS)
    expect(page.get_by_role("button", name="打印")).to_be_visible()
    expect(page.get_by_test_id("reprint-mark")).to_have_count(0)
    shot(page, "03-receipt")
    stored = Receipt.objects.get()
    assert (stored.account_id, stored.amount, stored.method, stored.reprints) == (account.pk, PAID, "cash", 0)
    assert re.fullmatch(rf"{OUTLET}-\d{{8}}-0001", stored.receipt_no)

    # Reprint: marked on the paper and counted.
    page.get_by_role("button", name="重打").click()
    expect(page.get_by_test_id("reprint-mark")).to_have_text("重打 #1")
    expect(page.get_by_test_id("receipt")).to_contain_text(stored.receipt_no)
    shot(page, "04-reprint")
    # On paper: the receipt alone — company, the periods settled, the balance after — none of the screen's
    # controls (a <form> inside a <p class="no-print"> used to close the <p>, so 重打 and 返回 were printed).
    expect(page.get_by_test_id("receipt-company")).not_to_be_empty()
    expect(page.get_by_test_id("receipt-settled")).to_be_visible()
    expect(page.get_by_test_id("receipt-balance-after")).to_contain_text(format_fixed(due - PAID))
    page.emulate_media(media="print")
    expect(page.get_by_test_id("receipt")).to_be_visible()
    for control in (page.get_by_role("button", name="打印"), page.get_by_role("button", name="重打"),
                    page.get_by_role("link", name="返回")):  # fmt: skip
        expect(control).to_be_hidden()
    shot(page, "04b-print")
    page.emulate_media(media="screen")
    stored.refresh_from_db()
    assert stored.reprints == 1
    assert Payment.objects.count() == 1  # a reprint takes no money

    # Back at the counter: the day's list shows the receipt and the account owes less.
    page.get_by_role("link", name="返回").click()
    find(page, number)
    expect(page.get_by_test_id("amount-due").get_by_test_id("due")).to_have_text(format_fixed(due - PAID))
    expect(page.get_by_role("link", name=stored.receipt_no)).to_be_visible()

    # Close the day with a wrong count: refused, the difference shown, nothing recorded, the day stays open.
    close = page.get_by_test_id("cash-close")
    expect(close).to_contain_text(str(PAID))
    close.get_by_label("清点现金").fill("10.00")
    close.get_by_role("button", name="日结").click()
    expect(page.locator("ul.messages li.error")).to_contain_text("-10.50")
    expect(page.get_by_test_id("cash-close").get_by_role("button", name="日结")).to_be_visible()
    assert not CashClose.objects.filter(status__in=["balanced", "approved"]).exists()
    shot(page, "05-close-refused")

    # The right count closes the day.
    page.get_by_test_id("cash-close").get_by_label("清点现金").fill(str(PAID))
    page.get_by_test_id("cash-close").get_by_role("button", name="日结").click()
    expect(page.locator("ul.messages li.success")).to_contain_text("日结完成")
    expect(page.get_by_test_id("cash-close").get_by_role("button", name="日结")).to_have_count(0)
    shot(page, "06-day-closed")
    closed = CashClose.objects.get()
    assert (closed.status, closed.outlet_code, closed.declared_cash, closed.discrepancy) == (
        "balanced",
        OUTLET,
        PAID,
        Decimal("0.00"),
    )
    assert closed.expected_cash == PAID and closed.receipts == 1

    # After the close: no pay form, and a payment forced past the screen is refused by the server.
    find(page, number)
    due_card = page.get_by_test_id("amount-due")
    expect(due_card).to_contain_text("今日已日结，不能再收费。")
    expect(due_card.get_by_role("button", name="收费并打印收据")).to_have_count(0)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forced = page.request.post(
        "/cashier/pay/",
        form={
            "account": number,
            "amount": "1.00",
            "method": "cash",
            "outlet": OUTLET,
            "token": "after-close",
        },
        headers={"X-CSRFToken": csrf, "Referer": f"{browsing.base_url}{cashier_url}"},
    )
    assert forced.ok and "no more payments for this cashier today" in forced.text(), forced.status
    shot(page, "07-after-close")

    # The ledger moved exactly once, by exactly the amount taken.
    assert Payment.objects.count() == 1 and Receipt.objects.count() == 1
    payment = Payment.objects.get()
    assert (payment.account_id, payment.amount, payment.channel_txn_id) == (
        account.pk,
        PAID,
        stored.receipt_no,
    )
    assert LedgerEntry.objects.filter(account=account, kind="payment").count() == payments_before + 1
    assert balance(account_id=account.pk) == balance_before - PAID
    assert_clean(browsing, page, console=False)
