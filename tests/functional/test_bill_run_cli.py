"""`wattdesk bill run|status|resume|restart`: the one launch use case from the CLI — the refusal of a period
without readings (--allow-empty), the period's guard, stalled runs and their resumption, the acting user."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import BillingRun, BillingRunStatus
from wattdesk.interfaces.cli import main

PERIOD = "2026-09"  # readings, no bills yet


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_period_without_readings_exits_2_with_one_line_unless_allow_empty(
    company: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bill", "run", "--period", "2027-01", "--no-progress"]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith("wattdesk bill: error: no meter readings for 2027-01")
    assert not BillingRun.objects.filter(period="2027-01").exists()
    assert main(["bill", "run", "--period", "2027-01", "--no-progress", "--allow-empty"]) == 0
    out = capsys.readouterr().out
    assert "finished" in out and "skipped: no_readings" in out


def test_a_stalled_run_shows_stalled_refuses_a_launch_and_resumes(
    company: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    long_ago = timezone.now() - timedelta(hours=3)
    run = BillingRun.objects.create(
        period=PERIOD, started_at=long_ago, heartbeat_at=long_ago, status=BillingRunStatus.RUNNING
    )
    assert main(["bill", "status", str(run.pk)]) == 0
    out = capsys.readouterr().out
    assert f"billing run {run.pk} for {PERIOD}: stalled" in out and f"wattdesk bill resume {run.pk}" in out
    assert main(["bill", "run", "--period", PERIOD, "--no-progress"]) == 2
    assert f"billing run {run.pk} for {PERIOD} has stalled" in one_line(capsys.readouterr().err)
    assert main(["bill", "resume", str(run.pk), "--no-progress"]) == 0
    assert f"billing run {run.pk} for {PERIOD}: finished" in capsys.readouterr().out
    run.refresh_from_db()
    assert (run.status, run.attempt) == ("finished", 2)
    assert main(["bill", "resume", str(run.pk)]) == 2
    assert "has finished" in one_line(capsys.readouterr().err)
    assert main(["bill", "status", "999999"]) == 2
    assert "no billing run with id 999999" in one_line(capsys.readouterr().err)


def test_restart_runs_the_period_anew(company: Any, capsys: pytest.CaptureFixture[str]) -> None:
    long_ago = timezone.now() - timedelta(hours=3)
    run = BillingRun.objects.create(
        period=PERIOD, started_at=long_ago, heartbeat_at=long_ago, status=BillingRunStatus.PENDING
    )
    assert main(["bill", "restart", str(run.pk), "--no-progress"]) == 0
    new = BillingRun.objects.exclude(pk=run.pk).get(period=PERIOD)
    assert new.status == "finished" and BillingRun.objects.get(pk=run.pk).status == "failed"


def test_the_acting_user_needs_billing_run(company: Any, capsys: pytest.CaptureFixture[str]) -> None:
    analyst = company.logins[roles.ANALYST].username
    assert main(["bill", "run", "--period", PERIOD, "--no-progress", "--user", analyst]) == 2
    assert "needs the billing.run capability" in one_line(capsys.readouterr().err)
    clerk = company.logins[roles.BILLING_CLERK].username
    assert main(["bill", "run", "--period", PERIOD, "--no-progress", "--user", clerk]) == 0
    assert BillingRun.objects.get(period=PERIOD).started_by.username == clerk
