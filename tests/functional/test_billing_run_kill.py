"""A billing run whose process is killed (SIGKILL) mid-run: the run is detected as stalled (never stays
running), a new launch of the period is refused, ``wattdesk bill resume`` finishes it, and the final bills,
lines and ledger charges equal those of an uninterrupted run of the same company.

Everything runs as separate ``wattdesk`` processes on temporary SQLite files, as an operator would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

PERIOD = "2026-10"
CHILD = Path(__file__).with_name("billing_run_child.py")


def env_for(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTDESK_")}
    env.update(
        WATTDESK_DATABASE_URL=f"sqlite:///{db}",
        WATTDESK_DATA_DIR=str(db.parent),
        WATTDESK_BILLING_HEARTBEAT_SECONDS="0.2",
        **extra,
    )
    return env


def wattdesk(db: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wattdesk.interfaces.cli", *args],
        env=env_for(db, **extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def copy_db(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")
    return dst


def outcome(db: Path) -> dict[str, Any]:
    """What a run leaves: bills, their lines and the ledger charges, by account number (ids aside)."""
    bills = query(
        db,
        'SELECT a.number, b.period, b.version, b.status, b.start, b."end", CAST(b.kwh AS TEXT), '
        "CAST(b.total AS TEXT), b.hold_reason FROM billing_bill b JOIN customers_account a ON a.id = b.account_id "
        "ORDER BY a.number",
    )
    lines = query(
        db,
        "SELECT a.number, l.seq, l.code, CAST(l.quantity AS TEXT), CAST(l.amount AS TEXT) FROM billing_billline l "
        "JOIN billing_bill b ON b.id = l.bill_id JOIN customers_account a ON a.id = b.account_id "
        "ORDER BY a.number, l.seq",
    )
    charges = query(
        db,
        "SELECT a.number, e.kind, CAST(e.amount AS TEXT), e.memo FROM ledger_ledgerentry e "
        "JOIN customers_account a ON a.id = e.account_id WHERE e.bill_id IS NOT NULL ORDER BY a.number",
    )
    return {"bills": bills, "lines": lines, "charges": charges}


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("county") / "county.db"
    made = wattdesk(
        db,
        "synth",
        "--accounts",
        "400",
        "--months",
        "2",
        "--seed",
        "3",
        "--end-month",
        PERIOD,
        "--no-payments",  # readings only: no bill history, so the one billing run is the one under test
        "--no-outlets",
        "--no-prepaid",
        "--no-progress",
    )
    assert made.returncode == 0, made.stderr
    return db


def test_a_killed_run_is_stalled_then_resumed_to_the_bills_of_an_uninterrupted_run(
    county: Path, tmp_path: Path
) -> None:
    clean = copy_db(county, tmp_path / "clean" / "w.db")
    done = wattdesk(clean, "bill", "run", "--period", PERIOD, "--batch-size", "40", "--no-progress")
    assert done.returncode == 0, done.stderr
    expected = outcome(clean)
    assert len(expected["bills"]) > 200

    killed = copy_db(county, tmp_path / "killed" / "w.db")
    child = subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            "bill",
            "run",
            "--period",
            PERIOD,
            "--batch-size",
            "40",
            "--no-progress",
        ],
        env=env_for(killed, HANG_AFTER="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.05)
            rows = query(killed, "SELECT status, done FROM billing_billingrun")
            if (
                rows and rows[0][0] == "running" and rows[0][1] >= 40
            ):  # a batch committed; it hangs at the 2nd
                time.sleep(0.5)
                break
            if child.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {child.stderr.read()!r}")  # type: ignore[union-attr]
        else:
            pytest.fail("the run never got going")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    ((run_id, status, done_before, total),) = query(
        killed, "SELECT id, status, done, total FROM billing_billingrun"
    )
    written = query(killed, "SELECT COUNT(*) FROM billing_bill")[0][0]
    assert status == "running"  # what the dead process left behind …
    assert 0 < written < len(expected["bills"]) and done_before < total

    time.sleep(1.2)
    st = wattdesk(killed, "bill", "status", str(run_id), WATTDESK_BILLING_STALL_SECONDS="1")
    assert st.returncode == 0, st.stderr
    assert f"billing run {run_id} for {PERIOD}: stalled" in st.stdout  # … is shown as stalled, not running
    assert f"wattdesk bill resume {run_id}" in st.stdout
    again = wattdesk(killed, "bill", "run", "--period", PERIOD, WATTDESK_BILLING_STALL_SECONDS="1")
    assert again.returncode == 2
    assert (
        f"billing run {run_id} for {PERIOD} has stalled" in again.stderr
        and "resume or restart" in again.stderr
    )

    resumed = wattdesk(
        killed,
        "bill",
        "resume",
        str(run_id),
        "--batch-size",
        "40",
        "--no-progress",
        WATTDESK_BILLING_STALL_SECONDS="1",
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"billing run {run_id} for {PERIOD}: finished" in resumed.stdout

    assert outcome(killed) == expected
    ((status, attempt, done_after, total_after, counts),) = query(
        killed, "SELECT status, attempt, done, total, counts FROM billing_billingrun"
    )
    assert (status, attempt) == ("finished", 2) and done_after == total_after == total
    ((clean_counts,),) = query(clean, "SELECT counts FROM billing_billingrun")
    got, want = json.loads(counts), json.loads(clean_counts)
    for key in ("accounts", "already_billed", "billed", "held", "estimated", "skipped", "kwh", "total"):
        assert got[key] == want[key], key
    # a run writes nothing to the ledger (charges are posted when the bills are issued), killed or not
    assert query(killed, "SELECT COUNT(*) FROM ledger_ledgerentry") == [(0,)]
    # one audit entry for the run, one for its resumption
    audits = query(
        killed,
        "SELECT json_extract(additional_data, '$.batch') FROM auditlog_logentry "
        "WHERE json_extract(additional_data, '$.batch') LIKE 'billing.run%' ORDER BY id",
    )
    assert audits == [("billing.run.resume",), ("billing.run",)]
