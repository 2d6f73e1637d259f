"""The worker process ``wattdesk serve`` starts (``serve.start_worker``): a real ``wattdesk worker`` process on a
temporary SQLite database runs a task queued by another process, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattdesk.interfaces.commands.serve import start_worker, stop_worker

pytestmark = pytest.mark.slow


def _python(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_the_worker_serve_starts_runs_a_queued_task_and_stops_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTDESK_")}
    env.update(
        WATTDESK_DATABASE_URL=f"sqlite:///{db}",
        WATTDESK_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="wattdesk.settings",
    )
    _python(env, "-m", "django", "migrate", "--verbosity", "0")
    _python(
        env,
        "-c",
        "import django; django.setup(); from datetime import date; from wattdesk.interfaces import tasks; "
        "tasks.enqueue_nightly_pass(day=date(2026, 11, 27))",
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WATTDESK_TEST_EXPECT_VENDOR", raising=False)
    proc = start_worker()
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            con = sqlite3.connect(db, timeout=30)
            try:
                ((status,),) = con.execute("SELECT status FROM django_tasks_database_dbtaskresult").fetchall()
            finally:
                con.close()
            if status in ("SUCCESSFUL", "FAILED"):
                break
            time.sleep(0.2)
        assert status == "SUCCESSFUL"
    finally:
        stop_worker(proc)
    assert proc.returncode == 0  # SIGTERM between tasks: a graceful exit
