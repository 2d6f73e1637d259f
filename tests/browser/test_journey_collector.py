"""Door-to-door collector (走收) on a phone (375 x 812, touch): the list of accounts that owe on their own routes
only, cash taken at the door with a receipt, a visit recorded (催费工单), the day's cash handed over (交款) to a
cashier; nothing wider than the screen, no request off the server."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import (
    MAIN_NAV,
    assert_clean,
    assert_no_horizontal_overflow,
    assert_tables_fit,
    url_of,
)
from playwright.sync_api import expect

from wattdesk.interfaces.web.templatetags.fmt import format_fixed

pytestmark = pytest.mark.browser

SH = ZoneInfo("Asia/Shanghai")
AS_OF = "2026-12-31"  # after the due date of the issued 2026-10 bills
RECEIVER = "demo_billing_clerk"  # holds payments.counter: a cashier who may receive the cash


def collector_on_own_routes(company: Any) -> tuple[Any, set[str], set[str]]:
    """The 2026-10 bills issued, demo_collector assigned (催费员 → 抄表段) to the routes of their scope.
    Returns the user, the account numbers in scope and those that owe outside it."""
    from django.contrib.auth import get_user_model

    from wattdesk.application.billing.review import issue_bills
    from wattdesk.domain.access.queries import accounts_for
    from wattdesk.domain.collection.models import CollectorAssignment
    from wattdesk.domain.collection.queries import debtors
    from wattdesk.domain.customers.models import Account

    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=SH),
        issued_on=date(2026, 11, 3),
    )
    user = get_user_model().objects.get(username=company.logins["collector"].username)
    routes = list(user.staff_scope.routes.all())
    assert routes
    for route in routes:
        CollectorAssignment.objects.create(user=user, route=route, from_date=date(2026, 1, 1))
    mine = set(accounts_for(user).values_list("number", flat=True))
    others = {d.account_number for d in debtors(accounts=Account.objects.exclude(number__in=mine))}
    assert mine and others, "the sample company owes on routes in and out of the collector's scope"
    return user, mine, others


def menu(page: Any, label: str) -> None:
    """The staff menu is folded behind ☰ on a phone."""
    page.get_by_role("button", name="菜单").tap()
    page.get_by_role("navigation", name=MAIN_NAV).get_by_role("link", name=label).tap()


def listed_accounts(page: Any) -> list[str]:
    return [
        s.inner_text() for s in page.get_by_test_id("worklist").locator("li > strong:first-of-type").all()
    ]


def test_collector_collects_records_a_visit_and_hands_over_on_a_phone(
    company: Any, page_for: Any, browsing: Any, shot: Any
) -> None:
    from django.contrib.auth import get_user_model

    from wattdesk.core.chinese_numerals import amount_in_words
    from wattdesk.domain.collection.models import Visit
    from wattdesk.domain.counter.models import CashHandover, Receipt
    from wattdesk.domain.customers.models import Account
    from wattdesk.domain.ledger.models import LedgerEntry
    from wattdesk.domain.ledger.queries import balance
    from wattdesk.domain.payments.models import Payment

    collector_url = url_of("web:collector")
    user, mine, others = collector_on_own_routes(company)

    page = page_for("collector", "phone")
    assert page.viewport_size == {"width": 375, "height": 812}
    assert page.evaluate("navigator.maxTouchPoints") > 0
    menu(page, "走收")
    expect(page).to_have_url(f"{browsing.base_url}{collector_url}")
    expect(page.get_by_role("heading", name="欠费户")).to_be_visible()

    # The worklist: accounts that owe, on the collector's own routes only.
    expect(page.get_by_test_id("worklist").locator("li > strong:first-of-type").first).to_be_visible()
    listed = listed_accounts(page)
    assert listed and set(listed) <= mine, set(listed) - mine
    assert not set(listed) & others
    expect(page.get_by_test_id("collected")).to_have_text("0.00")
    assert_no_horizontal_overflow(page)
    shot(page, "01-worklist")

    # Cash at the door: the whole debt of the first account on the list.
    first = page.get_by_test_id("worklist").locator("li").first
    number = first.locator("strong").first.inner_text()
    account = Account.objects.get(number=number)
    owed = Decimal(first.get_by_label("金额").input_value())
    assert owed > 0 and owed == balance(account_id=account.pk)
    first.get_by_role("button", name="收现金").tap()
    # One tap only opens the confirmation: account, name and amount, nothing posted yet.
    confirm = page.get_by_test_id("confirm")
    expect(confirm.get_by_test_id("confirm-account")).to_have_text(number)
    expect(confirm.get_by_test_id("confirm-name")).to_have_text(account.customer.name)
    expect(confirm.get_by_test_id("confirm-amount")).to_have_text(format_fixed(owed))
    assert not Receipt.objects.exists()
    assert_no_horizontal_overflow(page)
    shot(page, "02a-confirm")
    confirm.get_by_role("button", name="确认收款").tap()
    receipt = page.get_by_test_id("receipt")
    expect(receipt.get_by_role("heading", name="电费收据")).to_be_visible()
    expect(receipt).to_contain_text(number)
    expect(receipt).to_contain_text(f"ZS{user.pk}-")
    expect(receipt.get_by_test_id("amount-words")).to_have_text(amount_in_words(owed))
    expect(page.get_by_role("button", name="重打")).to_have_count(0)  # a collector's receipt is printed once
    assert_no_horizontal_overflow(page)
    shot(page, "02-receipt")
    stored = Receipt.objects.get()
    assert (stored.channel, stored.amount, stored.method, stored.user_id) == (
        "collector",
        owed,
        "cash",
        user.pk,
    )
    assert balance(account_id=account.pk) == Decimal("0.00")

    # Back on the list: the account is settled and gone, the day's takings count it.
    page.get_by_role("link", name="返回").tap()
    expect(page.get_by_test_id("collected")).to_have_text(format_fixed(owed))
    expect(
        page.get_by_test_id("worklist").locator("li > strong:first-of-type", has_text=number)
    ).to_have_count(0)
    expect(page.get_by_role("link", name=stored.receipt_no)).to_be_visible()
    assert_no_horizontal_overflow(page)
    assert_tables_fit(page)
    shot(page, "03-collected")

    # A visit to another account that owes: it promises to pay (催费工单).
    page.goto(f"{url_of('web:collection_worklist')}?as_of={AS_OF}")
    item = page.get_by_test_id("work-item").first
    expect(item).to_be_visible()
    visited = item.get_attribute("data-account") or ""
    assert visited in mine and visited != number
    item.get_by_text("记录走访").tap()
    form = item.get_by_test_id("visit-form")
    form.get_by_label("结果").select_option("promised")
    # A week after the visit (the page stamps it with the clock): a promise dated before it is refused, so a
    # fixed date would fail once the real date passed it.
    from django.utils import timezone

    promised_on = timezone.localdate() + timedelta(days=7)
    form.get_by_label("承诺缴费日").fill(promised_on.isoformat())
    form.get_by_label("备注").fill("下周一到营业厅缴")
    assert_no_horizontal_overflow(page)
    shot(page, "04-visit-form")
    form.get_by_role("button", name="保存").tap()
    expect(page.get_by_test_id("visit-saved")).to_contain_text(visited)
    assert_no_horizontal_overflow(page)
    shot(page, "05-visit-saved")
    visit = Visit.objects.get()
    assert (visit.account.number, visit.collector_id, visit.outcome, visit.promised_on, visit.note) == (
        visited,
        user.pk,
        "promised",
        promised_on,
        "下周一到营业厅缴",
    )

    # Hand the day's cash over to a cashier (交款): recorded once, then no more collecting today.
    menu(page, "走收")
    handover = page.get_by_test_id("handover")
    expect(handover.get_by_label("交款金额")).to_have_value(str(owed))
    handover.get_by_label("收款人（收费员用户名）").fill(RECEIVER)
    shot(page, "06-handover-form")
    handover.get_by_role("button", name="交款").tap()
    expect(page.locator("ul.messages li.success")).to_contain_text(RECEIVER)
    expect(page.get_by_test_id("handover")).to_contain_text("已交款")
    expect(page.get_by_role("button", name="收现金")).to_have_count(0)
    assert_no_horizontal_overflow(page)
    shot(page, "07-handed-over")
    done = CashHandover.objects.get()
    receiver = get_user_model().objects.get(username=RECEIVER)
    assert (done.collector_id, done.handed_over, done.expected, done.discrepancy, done.received_by_id) == (
        user.pk,
        owed,
        owed,
        Decimal("0.00"),
        receiver.pk,
    )

    # Exactly one payment reached the ledger, on that account.
    assert Payment.objects.count() == 1 and Payment.objects.get().account_id == account.pk
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert_clean(browsing, page, console=False)
