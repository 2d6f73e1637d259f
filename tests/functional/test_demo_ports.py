"""`wattdesk demo` checks its ports before it builds anything: a busy port is one line and exit 2 within
seconds, not minutes of building and then a traceback; no demo database is created."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATTDESK_DATABASE_URL", "WATTDESK_DEBUG")}
    env.update(WATTDESK_DATA_DIR=str(tmp_path), COLUMNS="200")
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "wattdesk", "demo", "--accounts", "50", "--months", "2", "--no-progress", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done, time.monotonic() - t0


def test_busy_port_is_refused_before_building(tmp_path: Path, busy_port: int) -> None:
    done, elapsed = _demo(tmp_path, "--port", str(busy_port))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"127.0.0.1:{busy_port}" in lines[0] and "--port" in lines[0], lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "demo").exists(), "nothing is built when the port is busy"
    assert elapsed < 60, elapsed  # seconds (interpreter start-up on a loaded machine), not a build


def test_busy_gateway_port_is_refused_before_building(tmp_path: Path, busy_port: int) -> None:
    done, _elapsed = _demo(tmp_path, "--port", str(_free_port()), "--gateway-port", str(busy_port))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f":{busy_port}" in lines[0] and "--gateway-port" in lines[0], done.stderr
    assert not (tmp_path / "demo").exists()


def test_no_serve_does_not_need_a_free_port(tmp_path: Path, busy_port: int) -> None:
    """--no-serve builds and prints the logins: the ports are not its business."""
    done, _elapsed = _demo(tmp_path, "--port", str(busy_port), "--no-serve")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "demo" / "wattdesk.db").is_file()
