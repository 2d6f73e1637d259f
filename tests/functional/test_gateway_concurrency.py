"""The bar of issue 4: the same signed gateway callback sent 50 times from 50 parallel processes to the
running server (`wattdesk serve`, a real WSGI server in its own process) posts exactly one payment.

The server uses a file SQLite database in tmp_path, or — when the suite runs on PostgreSQL — the PostgreSQL
test database itself (the test is transactional, so what it sees is committed). Seeding and counting run in a
helper process (gateway_child.py) against the same database.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from wattdesk.core.gateway_signing import sign

pytestmark = pytest.mark.slow

SECRET = "concurrency-test-secret"
CALLERS = 50
CHILD = str(Path(__file__).with_name("gateway_child.py"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url(tmp_path: Path) -> tuple[str, bool]:
    """(URL for the server, whether the server must migrate it)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        s = connection.settings_dict
        auth = quote(str(s.get("USER") or ""), safe="")
        if s.get("PASSWORD"):
            auth += ":" + quote(str(s["PASSWORD"]), safe="")
        host = f"{s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}"
        return f"postgresql://{auth}@{host}/{s['NAME']}", False
    return f"sqlite:///{tmp_path / 'gateway.db'}", True


def _post(barrier: Any, results: Any, url: str, body: bytes, signature: str) -> None:
    barrier.wait(timeout=120)
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "X-Signature": signature}
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            results.put((r.status, r.read().decode()))
    except urllib.error.HTTPError as exc:
        results.put((exc.code, exc.read().decode()))
    except Exception as exc:
        results.put((-1, repr(exc)))


def test_fifty_parallel_identical_callbacks_post_exactly_once(transactional_db: None, tmp_path: Path) -> None:
    url, migrate = _database_url(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("WATTDESK_DEBUG", "DJANGO_SETTINGS_MODULE")}
    env.update(
        WATTDESK_DATABASE_URL=url,
        WATTDESK_DATA_DIR=str(tmp_path / "data"),
        WATTDESK_GATEWAY_SECRET=SECRET,
        PYTHONUNBUFFERED="1",
    )
    port = _free_port()
    cmd = [sys.executable, "-m", "wattdesk", "serve", "--port", str(port), "--threads", "8"]
    server = subprocess.Popen(
        cmd + ([] if migrate else ["--no-migrate"]), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # migrate + collectstatic first; slow on a loaded 2-core machine
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health/", timeout=10) as r:
                    if r.status == 200:
                        break
            except OSError:  # URLError, refused, reset, timed out: not up yet
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("serve did not come up: " + (server.stdout.read() if server.stdout else ""))
            time.sleep(0.3)

        def child(*args: str) -> str:
            r = subprocess.run(
                [sys.executable, CHILD, *args], env=env, capture_output=True, text=True, timeout=120
            )
            assert r.returncode == 0, r.stderr[-2000:]
            return r.stdout.strip()

        order_no = child("seed")
        now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
        body = json.dumps({
            "order_no": order_no, "txn_id": "SBXCONCURRENT01", "amount": "120.50", "status": "paid",
            "paid_at": now.isoformat(), "timestamp": int(now.timestamp()), "nonce": "concurrency-nonce-1",
        }).encode()  # fmt: skip
        signature = sign(secret=SECRET, body=body)

        ctx = multiprocessing.get_context("fork")
        barrier, results = ctx.Barrier(CALLERS), ctx.Queue()
        procs = [
            ctx.Process(target=_post, args=(barrier, results, f"{base}/gateway/callback/", body, signature))
            for _ in range(CALLERS)
        ]
        started = time.monotonic()
        for p in procs:
            p.start()
        answers = [results.get(timeout=180) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        elapsed = time.monotonic() - started

        statuses = sorted(status for status, _ in answers)
        assert statuses == [200] * CALLERS, answers
        outcomes = sorted(json.loads(text)["outcome"] for _, text in answers)
        assert outcomes == ["duplicate"] * (CALLERS - 1) + ["posted"]
        assert {json.loads(t)["detail"] for _, t in answers} == {"posted", "already processed"}

        counts = json.loads(child("count", "SBXCONCURRENT01", order_no))
        assert counts == {
            "payments": 1,
            "ledger_payments": 1,
            "account_payments": 1,
            "order_status": "paid",
            "order_txn": "SBXCONCURRENT01",
            "outcomes": {"posted": 1, "duplicate": CALLERS - 1},
        }
        print(f"{CALLERS} parallel callbacks answered in {elapsed:.2f} s")
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=60)
    # SIGTERM stops serve's task worker too: an orphan would take tasks queued on this database later
    (pid,) = re.findall(r"task\s+worker\s+pid\s+(\d+)", out)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)
