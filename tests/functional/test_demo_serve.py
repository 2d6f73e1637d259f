"""`wattdesk demo --no-serve` creates the logins and prints them; `wattdesk serve` serves pages and static
files with DEBUG off (WhiteNoise + waitress), and a demo login works over real HTTP."""

from __future__ import annotations

import http.cookiejar
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from wattdesk.domain.access import roles

PASSWORD = "Demo-pass-2026!"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATTDESK_DATABASE_URL", "WATTDESK_DEBUG")}
    env.update(WATTDESK_DATA_DIR=str(data_dir), WATTDESK_DEMO_PASSWORD=PASSWORD, COLUMNS="200")
    return env


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_demo_prints_logins_then_serve_serves_pages_and_static(tmp_path: Path) -> None:
    wattdesk = [sys.executable, "-m", "wattdesk"]
    demo = subprocess.run(
        [*wattdesk, "demo", "--no-serve", "--accounts", "60", "--months", "2", "--no-progress"],
        env=_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-2000:]
    out = demo.stdout
    assert "http://127.0.0.1:8000" in out
    for role in roles.ROLES:
        assert f"demo_{role}" in out
    assert f"password for every demo login: {PASSWORD} (from WATTDESK_DEMO_PASSWORD)" in out

    port = _free_port()
    server = subprocess.Popen(
        [*wattdesk, "serve", "--port", str(port), "--no-migrate", "--threads", "2"],
        env=_env(tmp_path / "demo"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = (
            time.monotonic() + 300
        )  # collectstatic compresses the static files first: minutes on a loaded CI
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health/", timeout=5) as r:
                    assert r.status == 200
                    break
            except (
                urllib.error.URLError,
                OSError,
            ):  # refused, reset, or accepted but not answered yet (a loaded CI)
                if time.monotonic() > deadline or server.poll() is not None:
                    server.kill()
                    pytest.fail("serve did not come up: " + (server.stdout.read() if server.stdout else ""))
                time.sleep(0.3)

        with urllib.request.urlopen(f"{base}/static/web/app.css", timeout=30) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/css")
            assert b".menu-toggle" in r.read()
        assert (tmp_path / "demo" / "static" / "web" / "app.css").is_file()  # collected into STATIC_ROOT

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
        with opener.open(f"{base}/login/", timeout=30) as r:
            assert r.status == 200
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        token = next(c.value for c in jar if c.name == "csrftoken")
        form = urllib.parse.urlencode(
            {"username": "demo_billing_clerk", "password": PASSWORD, "csrfmiddlewaretoken": token}
        ).encode()
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(f"{base}/login/", data=form, timeout=30)
        assert redirect.value.code == 302
        assert redirect.value.headers["Location"] == "/"
        assert any(c.name == "sessionid" for c in jar)
    finally:
        server.terminate()
        server.wait(timeout=10)
