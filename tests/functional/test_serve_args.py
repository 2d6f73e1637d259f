"""`wattdesk serve` refuses bad input with exit code 2 and one line, before migrating or collecting anything:
worker and thread counts out of range, and a port another program listens on (granian itself listens with
SO_REUSEPORT, so without the check a second server would silently share the port)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATTDESK_DATABASE_URL", "WATTDESK_DEBUG")}
    env["WATTDESK_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "wattdesk", "serve", "--no-worker", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers must be 1-64, got 0"),
        (["--workers", "65"], "--workers must be 1-64, got 65"),
        (["--threads", "0"], "--threads must be 1-64, got 0"),
    ],
)
def test_out_of_range_counts_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    r = _serve(tmp_path, *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_port_in_use_exits_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):  # as granian listens: a plain bind would still be refused
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = _serve(tmp_path, "--port", str(port), "--no-migrate")
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
