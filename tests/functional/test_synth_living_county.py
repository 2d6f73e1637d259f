"""`wattdesk synth` builds the same living company as the demo: outlets and candidate sites (so `outlets plan`
works right after it), prepaid accounts, a paid bill history with debts (so the nightly pass has work), and
flags leave parts out. Separate `wattdesk` processes on temporary SQLite files, as an operator runs them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SMALL = (
    "--accounts",
    "80",
    "--months",
    "3",
    "--seed",
    "5",
    "--end-month",
    "2026-09",
    "--interval-share",
    "0",
)
THROUGH = "2026-11-20"


def env_for(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTDESK_")}
    env.update(WATTDESK_DATABASE_URL=f"sqlite:///{db}", WATTDESK_DATA_DIR=str(db.parent))
    return env


def wattdesk(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wattdesk.interfaces.cli", *args],
        env=env_for(db),
        capture_output=True,
        text=True,
        timeout=600,
    )


def count(db: Path, sql: str) -> Any:
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def living(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("living") / "county.db"
    made = wattdesk(db, "synth", *SMALL, "--through", THROUGH, "--no-progress")
    assert made.returncode == 0, made.stderr + made.stdout
    assert "prepaid accounts" in made.stdout and "payment outlets / candidate sites" in made.stdout
    return db


def test_synth_builds_outlets_prepaid_accounts_and_a_paid_bill_history(living: Path) -> None:
    assert count(living, "SELECT COUNT(*) FROM customers_customer") == 80
    assert count(living, "SELECT COUNT(*) FROM outlets_paymentoutlet") > 0
    assert count(living, "SELECT COUNT(*) FROM outlets_candidatesite") > 0
    assert count(living, "SELECT COUNT(*) FROM customers_account WHERE prepaid") >= 1
    assert count(living, "SELECT COUNT(*) FROM billing_bill WHERE status = 'issued'") > 0
    assert count(living, "SELECT COUNT(*) FROM payments_payment") > 0
    # the latest month is left for `wattdesk bill run`
    assert count(living, "SELECT COUNT(*) FROM billing_bill WHERE period = '2026-09'") == 0


def test_outlets_plan_succeeds_right_after_synth(living: Path) -> None:
    planned = wattdesk(living, "outlets", "plan", "--k", "2", "--radius-km", "3", "--json")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert len(plan["sites"]) == 2


def test_the_nightly_pass_has_work_to_do(living: Path) -> None:
    nightly = wattdesk(living, "collect", "nightly", "--date", THROUGH)
    assert nightly.returncode == 0, nightly.stderr
    out = nightly.stdout
    assert "fee control" in out
    dunning = count(living, "SELECT COUNT(*) FROM dunning_dunningaction")
    fee_states = count(living, "SELECT COUNT(*) FROM fee_control_feecontrolstate")
    late_fee_entries = count(living, "SELECT COUNT(*) FROM ledger_ledgerentry WHERE kind = 'late_fee'")
    assert fee_states >= 1, out
    assert dunning + late_fee_entries > 0, out


def test_flags_leave_parts_out(tmp_path: Path) -> None:
    db = tmp_path / "bare.db"
    made = wattdesk(
        db,
        "synth",
        *SMALL,
        "--no-outlets",
        "--no-prepaid",
        "--no-payments",
        "--through",
        THROUGH,
        "--no-progress",
    )
    assert made.returncode == 0, made.stderr
    assert count(db, "SELECT COUNT(*) FROM customers_customer") == 80
    assert count(db, "SELECT COUNT(*) FROM outlets_paymentoutlet") == 0
    assert count(db, "SELECT COUNT(*) FROM customers_account WHERE prepaid") == 0
    assert count(db, "SELECT COUNT(*) FROM billing_bill") == 0
    assert count(db, "SELECT COUNT(*) FROM payments_payment") == 0
    refused = wattdesk(db, "outlets", "plan", "--k", "2", "--radius-km", "3")
    assert refused.returncode == 2 and "candidate" in refused.stderr


def test_through_before_the_latest_month_is_refused(tmp_path: Path) -> None:
    made = wattdesk(tmp_path / "x.db", "synth", *SMALL, "--through", "2026-08-31", "--no-progress")
    assert made.returncode == 2
    assert made.stderr.strip().count("\n") == 0 and "--through 2026-08-31 is before" in made.stderr
