"""Billing runs through the one use case (application.billing.launch): the period's database guard, refusal of
a period without readings, heartbeat and stall detection, resume / restart with attempt fencing, one audit
entry, and the queued path through the real django-tasks database backend and a real ``wattdesk worker``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.db import IntegrityError, transaction
from django_tasks_db.models import DBTaskResult

from sample_company import build_company
from wattdesk.application.billing import launch
from wattdesk.application.billing.run import RunSuperseded
from wattdesk.domain.billing.models import Bill, BillingRun, BillingRunStatus, BillStatus
from wattdesk.interfaces import tasks
from wattdesk.interfaces.cli import main

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 5, 9, 0, tzinfo=TZ)
PERIOD = "2026-09"  # the sample company has readings for it and no bills yet


class Clock:
    """A clock the test moves: every call returns the current time and advances it by one second."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def run_audits(action: str = "billing.run") -> list[LogEntry]:
    return list(LogEntry.objects.filter(additional_data__batch=action).order_by("id"))


@pytest.fixture
def company(db: None, settings: Any) -> Any:
    return build_company(settings)


class TestLaunch:
    def test_a_period_without_any_reading_is_refused_unless_allowed(self, company: Any) -> None:
        with pytest.raises(launch.NoReadings, match="no meter readings for 2027-01"):
            launch.launch_run(period="2027-01", route=None, actor=None, now=T0)
        assert not BillingRun.objects.filter(period="2027-01").exists()
        run = launch.launch_run(period="2027-01", route=None, actor=None, now=T0, allow_empty=True)
        assert run.status == BillingRunStatus.PENDING and run.allow_empty
        result = launch.execute_run(run_id=run.pk, attempt=run.attempt, clock=Clock(T0))
        assert result.bills == 0 and set(result.skipped) == {"no_readings"}

    def test_a_period_with_readings_is_launched_pending_with_its_heartbeat(self, company: Any) -> None:
        run = launch.launch_run(period=PERIOD, route=None, actor=None, now=T0)
        assert (run.status, run.heartbeat_at, run.attempt, run.done, run.total) == ("pending", T0, 1, 0, 0)
        assert launch.run_status(run_id=run.pk, now=T0).state == "pending"

    def test_a_second_launch_of_the_period_while_one_is_live_is_refused(self, company: Any) -> None:
        first = launch.launch_run(period=PERIOD, route=None, actor=None, now=T0)
        with pytest.raises(
            launch.RunInProgress, match=f"billing run {first.pk} for {PERIOD} is already pending"
        ):
            launch.launch_run(period=PERIOD, route=None, actor=None, now=T0 + timedelta(seconds=5))
        assert BillingRun.objects.filter(period=PERIOD).count() == 1
        # another period is not blocked
        launch.launch_run(period="2026-08", route=None, actor=None, now=T0, allow_empty=True)

    def test_the_guard_is_the_databases_not_the_check_before_it(self, company: Any) -> None:
        """Two servers that both passed the check: the partial unique index refuses the second live run."""
        launch.launch_run(period=PERIOD, route=None, actor=None, now=T0)
        with pytest.raises(IntegrityError), transaction.atomic():
            BillingRun.objects.create(period=PERIOD, started_at=T0, status=BillingRunStatus.RUNNING)
        # finished and failed runs of the period do not count
        BillingRun.objects.create(period=PERIOD, started_at=T0, status=BillingRunStatus.FINISHED)
        BillingRun.objects.create(period=PERIOD, started_at=T0, status=BillingRunStatus.FAILED)

    def test_a_user_without_billing_run_may_not_launch_resume_or_restart(self, company: Any) -> None:
        from django.contrib.auth import get_user_model

        from wattdesk.domain.access import roles

        analyst = get_user_model().objects.get(username=company.logins[roles.ANALYST].username)
        with pytest.raises(launch.RunRefused, match=r"needs the billing\.run capability"):
            launch.launch_run(period=PERIOD, route=None, actor=analyst, now=T0)
        assert not BillingRun.objects.filter(period=PERIOD).exists()
        clerk = get_user_model().objects.get(username=company.logins[roles.BILLING_CLERK].username)
        run = launch.launch_run(period=PERIOD, route=None, actor=clerk, now=T0)
        assert run.started_by == clerk
        for take_over in (launch.resume_run, launch.restart_run):
            with pytest.raises(launch.RunRefused):
                take_over(run_id=run.pk, actor=analyst, now=T0 + timedelta(hours=1))

    def test_bad_period_and_unknown_route_are_input_errors(self, company: Any) -> None:
        with pytest.raises(launch.BillingInputError, match="YYYY-MM"):
            launch.launch_run(period="2026-13", route=None, actor=None, now=T0)
        with pytest.raises(launch.BillingInputError, match="unknown reading route"):
            launch.launch_run(period=PERIOD, route="NOPE", actor=None, now=T0)
        assert not BillingRun.objects.filter(period=PERIOD).exists()


class TestExecute:
    def test_execute_stamps_progress_and_heartbeat_and_writes_one_audit_entry(self, company: Any) -> None:
        run = launch.launch_run(period=PERIOD, route=None, actor=None, now=T0)
        seen: list[tuple[int, int, datetime | None]] = []

        def progress(done: int, total: int) -> None:
            row = BillingRun.objects.get(pk=run.pk)
            seen.append((row.done, row.total, row.heartbeat_at))

        clock = Clock(T0)
        result = launch.execute_run(run_id=run.pk, attempt=1, clock=clock, progress=progress, batch_size=40)
        assert result.bills > 0
        assert len(seen) == 1 + result.batches  # the start, then one per batch
        assert [d for d, _t, _h in seen] == sorted(d for d, _t, _h in seen)
        assert seen[-1][:2] == (result.accounts, result.accounts)
        beats = [h for _d, _t, h in seen]
        assert all(b is not None and b > T0 for b in beats) and beats == sorted(beats)
        row = BillingRun.objects.get(pk=run.pk)
        assert row.status == BillingRunStatus.FINISHED and row.done == row.total == result.accounts
        (entry,) = run_audits()
        assert entry.changes == {
            "period": [None, PERIOD],
            "route": [None, ""],
            "allow_empty": [None, False],
            "status": ["pending", "finished"],
            "bills": [None, result.bills],
            "held": [None, result.held],
            "skipped": [None, sum(result.skipped.values())],
            "total": [None, str(result.total)],
        }
        assert entry.object_pk == str(run.pk)

    def test_a_run_is_executed_once_a_second_claim_is_refused(self, company: Any) -> None:
        run = launch.launch_run(period=PERIOD, route=None, actor=None, now=T0)
        launch.execute_run(run_id=run.pk, attempt=1, clock=Clock(T0))
        with pytest.raises(RunSuperseded):
            launch.execute_run(run_id=run.pk, attempt=1, clock=Clock(T0))
        assert len(run_audits()) == 1

    def test_a_failure_is_recorded_on_the_run_and_it_can_be_resumed(
        self, company: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from wattdesk.application.billing import run as uc

        run = launch.launch_run(period=PERIOD, route=None, actor=None, now=T0)
        real = uc._write_batch
        calls = {"n": 0}

        def flaky(ctx: Any, batch: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("disk full")
            real(ctx, batch)

        monkeypatch.setattr(uc, "_write_batch", flaky)
        with pytest.raises(OSError, match="disk full"):
            launch.execute_run(run_id=run.pk, attempt=1, clock=Clock(T0), batch_size=30)
        row = BillingRun.objects.get(pk=run.pk)
        assert row.status == BillingRunStatus.FAILED and row.error == "OSError: disk full"
        assert launch.run_status(run_id=run.pk, now=T0).state == "failed"
        written = Bill.objects.filter(run=run).count()
        assert 0 < written < row.total
        monkeypatch.setattr(uc, "_write_batch", real)
        resumed = launch.resume_run(run_id=run.pk, actor=None, now=T0 + timedelta(minutes=1))
        result = launch.execute_run(run_id=run.pk, attempt=resumed.attempt, clock=Clock(T0), batch_size=30)
        assert result.bills == Bill.objects.filter(run=run).count() > written
        assert BillingRun.objects.get(pk=run.pk).counts["billed"] + result.held == result.bills

    def test_a_bill_cancelled_between_attempts_is_counted_once(
        self, company: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from wattdesk.application.billing import run as uc

        run = launch.launch_run(period=PERIOD, route=None, actor=None, now=T0)
        real = uc._write_batch
        calls = {"n": 0}

        def flaky(ctx: Any, batch: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("disk full")
            real(ctx, batch)

        monkeypatch.setattr(uc, "_write_batch", flaky)
        with pytest.raises(OSError):
            launch.execute_run(run_id=run.pk, attempt=1, clock=Clock(T0), batch_size=30)
        monkeypatch.setattr(uc, "_write_batch", real)
        first = Bill.objects.filter(run=run).order_by("id").first()
        assert first is not None
        assert main(["bill", "cancel", "--bill", str(first.pk), "--reason", "misread"]) == 0
        resumed = launch.resume_run(run_id=run.pk, actor=None, now=T0 + timedelta(minutes=1))
        launch.execute_run(run_id=run.pk, attempt=resumed.attempt, clock=Clock(T0), batch_size=30)
        live = list(Bill.objects.filter(run=run).exclude(status=BillStatus.CANCELLED))
        counts = BillingRun.objects.get(pk=run.pk).counts
        assert counts["billed"] + counts["held"] == len(live)
        assert Decimal(counts["total"]) == sum(b.total for b in live)
        assert Bill.objects.get(replaces=first).run_id == run.pk  # billed again by the resumed attempt


class TestStallAndResume:
    def _running(self, period: str = PERIOD) -> BillingRun:
        """A run whose process claimed it and died: running, heartbeat at T0."""
        run = launch.launch_run(period=period, route=None, actor=None, now=T0)
        BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.RUNNING, heartbeat_at=T0)
        return BillingRun.objects.get(pk=run.pk)

    def test_a_live_run_without_a_recent_heartbeat_is_stalled_never_running(
        self, company: Any, settings: Any
    ) -> None:
        settings.WATTDESK_BILLING_STALL_SECONDS = 120
        run = self._running()
        assert launch.run_status(run_id=run.pk, now=T0 + timedelta(seconds=119)).state == "running"
        assert launch.run_status(run_id=run.pk, now=T0 + timedelta(seconds=121)).state == "stalled"
        # a queued run that no worker picked up stalls too
        BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.PENDING)
        assert launch.run_status(run_id=run.pk, now=T0 + timedelta(seconds=121)).state == "stalled"

    def test_a_launch_of_the_period_names_the_stalled_run(self, company: Any) -> None:
        run = self._running()
        with pytest.raises(launch.RunInProgress, match=r"has stalled .* resume or restart it") as exc:
            launch.launch_run(period=PERIOD, route=None, actor=None, now=T0 + timedelta(hours=1))
        assert exc.value.run_id == run.pk

    def test_resume_is_refused_while_the_heartbeat_is_recent_or_after_the_finish(self, company: Any) -> None:
        run = self._running()
        with pytest.raises(launch.RunNotResumable, match="still running"):
            launch.resume_run(run_id=run.pk, actor=None, now=T0 + timedelta(seconds=30))
        with pytest.raises(launch.RunNotFound):
            launch.resume_run(run_id=run.pk + 999, actor=None, now=T0)
        BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.FINISHED)
        with pytest.raises(launch.RunNotResumable, match="has finished"):
            launch.resume_run(run_id=run.pk, actor=None, now=T0 + timedelta(hours=1))

    def test_resume_takes_over_the_same_run_and_fences_the_lost_process(self, company: Any) -> None:
        run = self._running()
        later = T0 + timedelta(hours=1)
        resumed = launch.resume_run(run_id=run.pk, actor=None, now=later)
        assert (resumed.pk, resumed.attempt, resumed.status, resumed.heartbeat_at) == (
            run.pk,
            2,
            "pending",
            later,
        )
        (entry,) = run_audits("billing.run.resume")
        assert entry.changes["attempt"] == [1, 2] and entry.changes["status"] == ["stalled", "pending"]
        # the lost process (attempt 1) can neither claim it nor beat its heartbeat any more
        with pytest.raises(RunSuperseded):
            launch.execute_run(run_id=run.pk, attempt=1, clock=Clock(later))
        result = launch.execute_run(run_id=run.pk, attempt=2, clock=Clock(later))
        assert result.run_id == run.pk and result.bills > 0
        assert Bill.objects.filter(run=run).count() == result.bills

    def test_restart_abandons_the_stalled_run_and_launches_a_new_one(self, company: Any) -> None:
        run = self._running()
        new = launch.restart_run(run_id=run.pk, actor=None, now=T0 + timedelta(hours=1))
        assert new.pk != run.pk and new.status == "pending" and new.period == PERIOD
        old = BillingRun.objects.get(pk=run.pk)
        assert old.status == "failed" and "restarted" in old.error and old.attempt == 2
        assert [e.changes["status"] for e in run_audits("billing.run.restart")] == [["stalled", "failed"]]
        launch.execute_run(run_id=new.pk, attempt=new.attempt, clock=Clock(T0 + timedelta(hours=1)))
        assert BillingRun.objects.get(pk=new.pk).status == "finished"


class TestQueue:
    """The web page and the API enqueue; a real worker (django-tasks-db) runs the task."""

    @pytest.fixture
    def company(self, transactional_db: None, settings: Any) -> Iterator[Any]:
        # the worker commits and checks its connection like a real one: a transactional test
        yield build_company(settings)

    def test_a_queued_run_is_executed_by_the_worker(self, company: Any) -> None:
        run = tasks.start_billing_run(period=PERIOD, route=None, actor=None, now=T0)
        (queued,) = DBTaskResult.objects.all()
        assert (
            queued.status == "READY" and queued.task_path == "wattdesk.interfaces.tasks.execute_billing_run"
        )
        assert queued.args_kwargs["kwargs"] == {"run_id": run.pk, "attempt": 1}
        assert BillingRun.objects.get(pk=run.pk).status == "pending"

        assert main(["worker", "--batch", "--interval", "0"]) == 0

        done = DBTaskResult.objects.get(pk=queued.pk)
        assert done.status == "SUCCESSFUL", done.traceback
        row = BillingRun.objects.get(pk=run.pk)
        assert row.status == "finished" and row.done == row.total > 0
        assert done.return_value["run_id"] == run.pk
        assert done.return_value["bills"] == Bill.objects.filter(run=run).count() > 0
        assert Decimal(done.return_value["total"]) == Decimal(row.counts["total"])
        assert len(run_audits()) == 1
        assert Bill.objects.filter(period=PERIOD, status=BillStatus.CANCELLED).count() == 0

    def test_a_resumed_run_is_queued_on_its_new_attempt(self, company: Any) -> None:
        run = launch.launch_run(period=PERIOD, route=None, actor=None, now=T0)
        BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.RUNNING)
        tasks.resume_billing_run(run_id=run.pk, actor=None, now=T0 + timedelta(hours=1))
        assert main(["worker", "--batch", "--interval", "0"]) == 0
        (result,) = DBTaskResult.objects.all()
        assert result.status == "SUCCESSFUL" and result.args_kwargs["kwargs"]["attempt"] == 2
        assert BillingRun.objects.get(pk=run.pk).status == "finished"


class TestWorkerCommand:
    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["--interval", "-1"], "--interval must be 0-3600"),
            (["--interval", "nan"], "--interval must be 0-3600"),
            (["--max-tasks", "0"], "--max-tasks must be at least 1"),
            (["--queue", "a b"], "--queue must be"),
            (["--queue", "other"], "unknown queue 'other'"),
            (["--worker-id", "x" * 65], "--worker-id must be"),
        ],
    )
    def test_bad_input_exits_2_with_one_line(
        self, argv: list[str], message: str, db: None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["worker", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err and err.startswith("wattdesk worker: error:")
