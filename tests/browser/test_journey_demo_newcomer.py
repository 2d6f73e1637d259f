"""A newcomer runs the demo and pays a bill online in it: `wattdesk demo` (small: 300 accounts, 3 months) is
started as its own process into a temp data directory on free ports, exactly as `make demo` starts it; it builds
the company, prints the logins and the sandbox gateway, and serves. In Chromium the demo customer logs in,
pays what is owed through the sandbox payment gateway the demo started (with the secret it generated), and
sees it arrive; then a staff user finds the payment on the customer's ledger (客户查询). Stopping the demo
(SIGTERM) stops the gateway too.

No pytest-django database here: the demo builds and serves its own SQLite database in its own process."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARTIFACTS, CHROMIUM_FLAGS, PHONE, TIMEOUT_MS, chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "Newcomer-demo-2026!"
BUILD_TIMEOUT_S = 900  # a loaded CI machine; the build itself takes well under a minute at this size


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Demo:
    base_url: str
    gateway_url: str
    gateway_port: int
    log: Path
    proc: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port, gateway_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTDESK_")}
    env.update(WATTDESK_DATA_DIR=str(tmp_path / "data"), WATTDESK_DEMO_PASSWORD=PASSWORD, COLUMNS="200")
    log = tmp_path / "demo.log"
    cmd = [sys.executable, "-m", "wattdesk", "demo", "--accounts", "300", "--months", "3", "--no-progress",
           "--port", str(port), "--gateway-port", str(gateway_port)]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    d = Demo(base, "", gateway_port, log, proc)
    try:
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:  # still building, or collecting static files
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"wattdesk demo did not come up (exit {proc.poll()}):\n{d.output()[-4000:]}")
            time.sleep(0.5)
        found = re.search(r"online payments: sandbox gateway at (http://\S+/pay)", d.output())
        assert found, d.output()[-3000:]
        d.gateway_url = found.group(1)
        assert d.gateway_url == f"http://127.0.0.1:{gateway_port}/pay"
        yield d
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def chromium() -> Iterator[Any]:
    exe = chromium_path()
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        pytest.fail(f"Chromium not found at {exe}: browser tests never skip", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


def _page(browser: Any, base_url: str, **options: Any) -> Any:
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def _login(page: Any, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def _shot(page: Any, name: str) -> None:
    folder = ARTIFACTS / "test_newcomer_runs_the_demo_and_pays_a_bill_online"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_newcomer_runs_the_demo_and_pays_a_bill_online(demo: Demo, chromium: Any) -> None:
    from playwright.sync_api import expect

    out = demo.output()
    assert f"password for every demo login: {PASSWORD}" in out
    assert "demo_customer" in out and "demo_admin" in out
    failed: list[str] = []

    # The customer, on a phone: what is owed, then 去缴费.
    page = _page(chromium, demo.base_url, **PHONE)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    _login(page, "demo_customer")
    page.goto("/portal/")
    owed = Decimal(page.get_by_test_id("balance").inner_text().replace(",", ""))
    assert owed > 0, "the demo customer's latest bill is open"
    page.get_by_test_id("online-pay-link").get_by_role("link").tap()
    expect(page.get_by_test_id("pay-amount")).to_have_value(re.compile(r"^[\d,]+\.\d\d$"))
    account = re.search(r"account=(\d+)", page.url)
    assert account, page.url
    account_number = account.group(1)
    _shot(page, "01-pay-form")

    # The sandbox gateway's pay page: the process the demo started, on the port it printed.
    page.get_by_test_id("pay-submit").tap()
    expect(page).to_have_url(re.compile(rf"^{re.escape(demo.gateway_url)}\?"))
    expect(page.locator("#amount")).to_have_text(f"{owed:.2f}")
    order_no = page.locator("#order-no").inner_text()
    _shot(page, "02-gateway")
    page.get_by_role("button", name="支付").tap()

    # Back in the portal: the signed callback reached the served app (the shared, generated secret).
    expect(page).to_have_url(re.compile(rf"/portal/pay/result/\?order={re.escape(order_no)}&txn_id=SBX"))
    txn_id = re.search(r"txn_id=(SBX[\w-]+)", page.url)
    assert txn_id, page.url
    status = page.get_by_test_id("pay-result").get_by_test_id("order-status")
    for _ in range(100):
        if status.inner_text() == "已到账":
            break
        page.wait_for_timeout(300)
        page.get_by_role("link", name="刷新", exact=True).tap()
    expect(status).to_have_text("已到账")
    _shot(page, "03-paid")
    page.goto("/portal/")
    expect(page.get_by_test_id("balance")).to_have_text("0.00")

    # The staff side: the payment is on the customer's ledger, with the gateway's transaction id.
    staff = _page(chromium, demo.base_url, viewport={"width": 1366, "height": 900})
    staff.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    _login(staff, "demo_admin")
    staff.goto(f"/customers/{account_number}/")
    ledger = staff.get_by_test_id("ledger")
    row = ledger.locator("tbody tr", has_text=txn_id.group(1))
    expect(row).to_have_count(1)
    assert f"-{owed:.2f}" in row.inner_text().replace(",", ""), row.inner_text()
    _shot(staff, "04-staff-ledger")
    assert failed == [], failed

    # Stopping the demo (as `kill PID` or Ctrl+C does) stops the gateway it started.
    assert _listening(demo.gateway_port)
    demo.proc.send_signal(signal.SIGTERM)
    demo.proc.wait(timeout=60)
    deadline = time.monotonic() + 20
    while _listening(demo.gateway_port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _listening(demo.gateway_port), "the sandbox gateway outlived the demo"
