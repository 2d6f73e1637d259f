"""Customer pays the open bill online (在线缴费) on a phone (375 x 812, touch): the portal creates the order and
sends the browser to the payment gateway — the sandbox gateway, started here as its own process
(`wattdesk sandbox gateway`) — which takes the payment, sends its signed callback asynchronously to the live
server and returns the browser to the result page: paid, nothing left owing, exactly one payment in the ledger."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_support import PORTAL_NAV, assert_no_horizontal_overflow, assert_tables_fit, url_of
from playwright.sync_api import expect

from wattdesk.interfaces.web.templatetags.fmt import format_fixed

pytestmark = pytest.mark.browser

SH = ZoneInfo("Asia/Shanghai")
SECRET = "browser-journey-gateway-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sandbox_gateway(live_server: Any, settings: Any, tmp_path: Path) -> Iterator[str]:
    """`wattdesk sandbox gateway` in its own process, calling back to the live server with a shared secret;
    the portal sends customers to its pay page. Yields its base URL."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings.WATTDESK_GATEWAY_SECRET = SECRET
    settings.WATTDESK_GATEWAY_PAY_URL = f"{base}/pay"
    cmd = [sys.executable, "-m", "wattdesk", "sandbox", "gateway", "--port", str(port),
           "--callback-url", f"{live_server.url}/gateway/callback/", "--secret", SECRET,
           "--statement-dir", str(tmp_path / "statements")]  # fmt: skip
    log = (tmp_path / "gateway.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:  # not listening yet
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("sandbox gateway did not start: " + (tmp_path / "gateway.log").read_text())
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def own_account(company: Any) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=company.logins["customer"].username)
    account = user.customer_login.customer.accounts.order_by("number").first()
    assert account is not None
    return account


def test_customer_pays_the_open_bill_through_the_sandbox_gateway(
    company: Any, sandbox_gateway: str, page_for: Any, browsing: Any, shot: Any
) -> None:
    from wattdesk.application.billing.review import issue_bills
    from wattdesk.domain.gateway.models import PaymentOrder
    from wattdesk.domain.ledger.models import LedgerEntry
    from wattdesk.domain.ledger.queries import balance
    from wattdesk.domain.payments.models import Payment

    pay_url = url_of("web:portal_pay")
    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=SH),
        issued_on=date(2026, 11, 3),
    )
    account = own_account(company)
    owed = balance(account_id=account.pk)
    assert owed > 0, "the sample company's customer has an open bill"

    # Home: what is owed, and the way to pay it.
    page = page_for("customer", "phone")
    assert page.viewport_size == {"width": 375, "height": 812}
    expect(page.get_by_test_id("balance")).to_have_text(format_fixed(owed))
    page.get_by_test_id("online-pay-link").get_by_role("link", name="去缴费").tap()
    expect(page).to_have_url(re.compile(rf"{re.escape(pay_url)}\?account={account.number}$"))
    expect(page.get_by_role("heading", name="在线缴费")).to_be_visible()
    expect(page.get_by_test_id("pay-amount")).to_have_value(str(owed))
    expect(page.get_by_test_id("pay-account")).to_contain_text(f"{account.number} · 应缴 {owed}")
    assert_no_horizontal_overflow(page)
    shot(page, "01-pay-form")

    # To the gateway's own pay page (another host: the sandbox process).
    page.get_by_test_id("pay-submit").tap()
    expect(page).to_have_url(re.compile(rf"^{re.escape(sandbox_gateway)}/pay\?"))
    order = PaymentOrder.objects.get()
    assert (order.account_id, order.amount, order.status) == (account.pk, owed, "created")
    expect(page.locator("#order-no")).to_have_text(order.order_no)
    expect(page.locator("#amount")).to_have_text(str(owed))
    shot(page, "02-gateway-pay-page")
    page.get_by_role("button", name="支付").tap()

    # Back at the portal: the result page; the callback arrives on its own, the customer refreshes until then.
    expect(page).to_have_url(re.compile(rf"/portal/pay/result/\?order={order.order_no}&txn_id=SBX"))
    result = page.get_by_test_id("pay-result")
    expect(result.get_by_test_id("order-no")).to_have_text(order.order_no)
    expect(result.get_by_test_id("order-amount")).to_have_text(format_fixed(owed))
    status = result.get_by_test_id("order-status")
    expect(status).to_have_text(re.compile("^(处理中|已到账)$"))
    for _ in range(50):
        if status.inner_text() == "已到账":
            break
        page.wait_for_timeout(300)
        page.get_by_role("link", name="刷新", exact=True).tap()
    expect(status).to_have_text("已到账")
    assert_no_horizontal_overflow(page)
    assert_tables_fit(page)
    shot(page, "03-result-paid")

    # Nothing left owing: on the pay form and on the home page.
    page.get_by_role("link", name="在线缴费").tap()
    expect(page.get_by_test_id("pay-account")).to_contain_text(f"{account.number} · 应缴 0.00")
    expect(page.get_by_test_id("pay-amount")).to_have_value("")
    page.get_by_role("navigation", name=PORTAL_NAV).get_by_role("link", name="首页").tap()
    expect(page.get_by_test_id("balance")).to_have_text("0.00")
    assert_no_horizontal_overflow(page)
    shot(page, "04-home-nothing-owed")

    # The database: the order paid by the sandbox's transaction, exactly one payment, the ledger settled.
    order.refresh_from_db()
    assert order.status == "paid" and order.channel_txn_id.startswith("SBX")
    payment = Payment.objects.get()
    assert (payment.account_id, payment.amount, payment.channel_txn_id) == (
        account.pk,
        owed,
        order.channel_txn_id,
    )
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert balance(account_id=account.pk) == Decimal("0.00")

    # The page's own requests stayed on the server, but for the gateway it was sent to.
    seen = browsing.seen(page)
    assert seen.page_errors == [] and seen.failed_responses == [], (seen.page_errors, seen.failed_responses)
    assert [e for e in seen.console_errors if "Content Security" not in e] == [], seen.console_errors
    elsewhere = [u for u in seen.foreign_requests(browsing.base_url) if not u.startswith(sandbox_gateway)]
    assert elsewhere == [], elsewhere
