"""A sandbox payment gateway (模拟支付平台): its own small web service, standard library only.

    wattdesk sandbox gateway --port 8700 --callback-url http://127.0.0.1:8000/gateway/callback/

* ``GET  /pay?order_no=&amount=&return_url=`` shows the order and a "支付" (pay) and a "取消" button;
* ``POST /pay`` (the form) records the transaction, appends it to the day's statement file and sends the signed
  callback (docs/payments-gateway.md) *asynchronously* from a thread, retrying with back-off on a network
  error or a 5xx; then redirects the browser to the return URL;
* ``GET  /statement/YYYY-MM-DD.csv`` serves a day's statement (对账单: txn_id,order_no,amount,paid_at), which
  is also written to ``--statement-dir``;
* ``GET  /health`` answers ok.
"""

from __future__ import annotations

import csv
import html
import json
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from wattdesk.core.gateway_signing import SIGNATURE_HEADER, sign

TZ = ZoneInfo("Asia/Shanghai")
STATEMENT_HEADER = ("txn_id", "order_no", "amount", "paid_at")
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def callback_body(
    *, order_no: str, txn_id: str, amount: str, paid_at: datetime, status: str = "paid"
) -> bytes:
    """The JSON body of a callback, with a fresh timestamp and nonce."""
    payload = {
        "order_no": order_no,
        "txn_id": txn_id,
        "amount": amount,
        "status": status,
        "paid_at": paid_at.isoformat(timespec="seconds"),
        "timestamp": int(time.time()),
        "nonce": secrets.token_hex(16),
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def send_callback(
    *,
    url: str,
    secret: str,
    body: bytes,
    delays: tuple[float, ...] = RETRY_DELAYS,
    log: Callable[[str], None] = print,
) -> int | None:
    """POST the signed body; retry (same body) on a network error or a 5xx. Returns the final HTTP status."""
    status: int | None = None
    for attempt, delay in enumerate((0.0, *delays), start=1):
        time.sleep(delay)
        req = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret=secret, body=body)},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status = int(resp.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            log(f"callback attempt {attempt}: {exc}")
            status = None
            continue
        log(f"callback attempt {attempt}: HTTP {status}")
        if status < 500:
            return status
    return status


class Gateway:
    """The sandbox's state: where statements go, where callbacks go, the shared secret."""

    def __init__(
        self, *, callback_url: str, secret: str, statement_dir: Path, delays: tuple[float, ...] = RETRY_DELAYS
    ) -> None:
        self.callback_url = callback_url
        self.secret = secret
        self.statement_dir = Path(statement_dir)
        self.statement_dir.mkdir(parents=True, exist_ok=True)
        self.delays = delays
        self._lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def statement_path(self, day: str) -> Path:
        return self.statement_dir / f"statement-{day}.csv"

    def pay(self, *, order_no: str, amount: str, paid_at: datetime | None = None) -> str:
        """Record a payment, append it to the day's statement, send the callback in a thread; the txn id."""
        paid_at = (paid_at or datetime.now(TZ)).astimezone(TZ).replace(microsecond=0)
        txn_id = "SBX" + paid_at.strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()
        path = self.statement_path(paid_at.date().isoformat())
        with self._lock:
            new = not path.exists()
            with path.open("a", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                if new:
                    writer.writerow(STATEMENT_HEADER)
                writer.writerow((txn_id, order_no, amount, paid_at.isoformat()))
        body = callback_body(order_no=order_no, txn_id=txn_id, amount=amount, paid_at=paid_at)
        t = threading.Thread(
            target=send_callback,
            kwargs={"url": self.callback_url, "secret": self.secret, "body": body, "delays": self.delays,
                    "log": lambda m: print(f"[sandbox gateway] {order_no} {m}", file=sys.stderr)},
            daemon=True,
        )  # fmt: skip
        t.start()
        self.threads.append(t)
        return txn_id


def _page(title: str, inner: str) -> bytes:
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title></head><body style='font-family:sans-serif;max-width:24rem;margin:2rem auto'>"
        f"<h1>{html.escape(title)}</h1>{inner}</body></html>"
    ).encode()


def make_handler(gw: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "WattDeskSandboxGateway/1"

        def _send(
            self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8", **headers: str
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/health":
                self._send(200, b"ok", "text/plain")
                return
            m = re.fullmatch(r"/statement/(\d{4}-\d{2}-\d{2})\.csv", parts.path)
            if m:
                path = gw.statement_path(m.group(1))
                body = path.read_bytes() if path.exists() else (",".join(STATEMENT_HEADER) + "\r\n").encode()
                self._send(200, body, "text/csv; charset=utf-8")
                return
            if parts.path == "/pay":
                order_no, amount, back = q.get("order_no", ""), q.get("amount", ""), q.get("return_url", "")
                error = _check(order_no, amount)
                if error:
                    self._send(400, _page("支付失败", f"<p>{html.escape(error)}</p>"))
                    return
                fields = "".join(
                    f"<input type='hidden' name='{k}' value='{html.escape(v, quote=True)}'>"
                    for k, v in (("order_no", order_no), ("amount", amount), ("return_url", back))
                )
                inner = (
                    f"<p>订单号 <strong id='order-no'>{html.escape(order_no)}</strong></p>"
                    f"<p>金额 <strong id='amount'>{html.escape(amount)}</strong> 元</p>"
                    f"<form method='post' action='/pay'>{fields}"
                    "<button type='submit' name='action' value='pay' id='pay'>支付</button> "
                    "<button type='submit' name='action' value='cancel' id='cancel'>取消</button></form>"
                    "<p style='color:#888'>这是本地模拟支付平台，不会真实扣款。</p>"
                )
                self._send(200, _page("模拟支付平台", inner))
                return
            self._send(404, _page("Not found", ""))

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/pay":
                self._send(404, _page("Not found", ""))
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8")).items()}
            order_no, amount, back = (
                form.get("order_no", ""),
                form.get("amount", ""),
                form.get("return_url", ""),
            )
            error = _check(order_no, amount)
            if error:
                self._send(400, _page("支付失败", f"<p>{html.escape(error)}</p>"))
                return
            txn = "" if form.get("action") == "cancel" else gw.pay(order_no=order_no, amount=amount)
            if back.startswith(("http://", "https://")):
                sep = "&" if "?" in back else "?"
                self._send(303, b"", Location=back + sep + urlencode({"txn_id": txn}))
            else:
                self._send(200, _page("支付完成" if txn else "已取消", f"<p>{html.escape(txn)}</p>"))

        def log_message(self, format: str, *args: object) -> None:
            print(f"[sandbox gateway] {self.address_string()} {format % args}", file=sys.stderr)

    return Handler


def _check(order_no: str, amount: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", order_no):
        return "order_no is missing or malformed"
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return "amount is not a number"
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        return "amount must be > 0 with at most two decimals"
    return ""


def make_server(*, host: str, port: int, gateway: Gateway) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(gateway))
    server.daemon_threads = True
    return server
