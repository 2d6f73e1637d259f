"""The sandbox gateway end to end: its pay page, then a real signed callback over HTTP to WattDesk running in
the live server, retried past a failure; its statement file reconciles with what WattDesk posted."""

from __future__ import annotations

import csv
import threading
import time
import urllib.parse
import urllib.request
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from payments_helpers import issue_bill

from wattdesk.application.payments.channels import gateway
from wattdesk.core.gateway_signing import sign
from wattdesk.domain.gateway.models import PaymentOrder
from wattdesk.domain.payments.models import Payment
from wattdesk.sandbox.gateway_server import Gateway, make_server, send_callback

SECRET = "sandbox-test-secret"
TZ = ZoneInfo("Asia/Shanghai")


def _serve(server: ThreadingHTTPServer) -> str:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_send_callback_signs_the_body_and_retries_after_a_5xx() -> None:
    seen: list[tuple[bytes, str]] = []

    class Flaky(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((body, self.headers["X-Signature"]))
            self.send_response(503 if len(seen) == 1 else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    url = _serve(server)
    try:
        status = send_callback(
            url=url, secret=SECRET, body=b'{"a":1}', delays=(0.01, 0.01), log=lambda m: None
        )
    finally:
        server.shutdown()
    assert status == 200
    assert seen == [(b'{"a":1}', sign(secret=SECRET, body=b'{"a":1}'))] * 2


@pytest.mark.django_db(transaction=True)
def test_pay_in_the_sandbox_posts_once_and_reconciles(
    live_server: Any, account: Any, django_user_model: Any, settings: Any, tmp_path: Path
) -> None:
    settings.WATTDESK_GATEWAY_SECRET = SECRET
    admin = django_user_model.objects.create_superuser("gw_sbx", "s@example.com", "x-Pass-2026!")
    issue_bill(account, "2026-10", "88.00", date(2026, 11, 20))
    order = gateway.create_order(
        user=admin, account_number=account.number, amount="88.00", created_at=datetime.now(TZ)
    )
    gw = Gateway(callback_url=f"{live_server.url}/gateway/callback/", secret=SECRET,
                 statement_dir=tmp_path, delays=(0.05, 0.1, 0.2))  # fmt: skip
    server = make_server(host="127.0.0.1", port=0, gateway=gw)
    base = _serve(server)
    try:
        query = urllib.parse.urlencode({"order_no": order.order_no, "amount": "88.00", "return_url": ""})
        with urllib.request.urlopen(f"{base}/pay?{query}", timeout=10) as r:
            page = r.read().decode()
        assert order.order_no in page and "88.00" in page and "支付" in page
        form = urllib.parse.urlencode(
            {"order_no": order.order_no, "amount": "88.00", "action": "pay"}
        ).encode()
        with urllib.request.urlopen(f"{base}/pay", data=form, timeout=10) as r:
            assert r.status == 200
        for t in gw.threads:
            t.join(timeout=30)
        deadline = time.monotonic() + 10
        while not Payment.objects.filter(channel="mobile").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        order.refresh_from_db()
        payment = Payment.objects.get(channel="mobile")
        assert (order.status, payment.channel_txn_id, payment.amount) == (
            "paid",
            order.channel_txn_id,
            Decimal("88.00"),
        )
        day = order.paid_at.astimezone(TZ).date()  # type: ignore[union-attr]
        statement = gw.statement_path(day.isoformat())
        rows = list(csv.reader(statement.read_text(encoding="utf-8").splitlines()))
        assert rows[0] == ["txn_id", "order_no", "amount", "paid_at"]
        assert rows[1][:3] == [order.channel_txn_id, order.order_no, "88.00"]
        assert gateway.reconcile(statement_path=statement, day=day) == []
        with urllib.request.urlopen(f"{base}/statement/{day.isoformat()}.csv", timeout=10) as r:
            assert r.read().decode().splitlines()[1].startswith(order.channel_txn_id)
        bad = urllib.parse.urlencode({"order_no": "x y", "amount": "1"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/pay?{bad}", timeout=10)
        assert err.value.code == 400
    finally:
        server.shutdown()
    assert PaymentOrder.objects.filter(status="paid").count() == 1
