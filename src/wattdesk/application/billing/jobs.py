"""Billing runs launched from the web (后台核算任务): ``run_billing`` in a background thread, with progress.

    job = start_billing_job(period="2026-10", route=None, run_at=now, user="clerk1", clock=timezone.now)
    job_state(job_id=job.job_id)   # -> JobState(state="running", done=10000, total=120000, run_id=7, …)

The progress record is a small JSON file per job under ``WATTDESK_DATA_DIR/jobs/`` (written atomically), so
any web process on the host can answer the HTMX poll; once ``run_billing`` has created its ``BillingRun`` row
the record carries its id, and the run's final counters live on that row (``BillingRun.counts``).

One job per period at a time: a lock file ``jobs/period-YYYY-MM.lock`` is created with O_EXCL before the
thread starts and removed when it ends, so a second launch for the same period while one runs is refused
(``RunInProgress``) even for two requests at the same instant; a lock left by a process that died is taken
over when its job record has not moved for ``STALE_AFTER``. A ``BillingRun`` of the period still
``running`` (from the CLI, say) and started less than ``STALE_AFTER`` ago refuses the launch as well.
Single host: several application servers sharing one database would need a database lock instead.

Setting ``WATTDESK_BILLING_JOBS_SYNC = True`` runs the job in the calling thread (tests, debugging): the same
function the thread runs, so the test covers the real path.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from wattdesk.application.billing.run import BillingInputError, parse_period, run_billing
from wattdesk.domain import audit
from wattdesk.domain.billing.models import BillingRun, BillingRunStatus
from wattdesk.domain.customers.models import ReadingRoute

STALE_AFTER = timedelta(hours=2)
JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")

QUEUED = "queued"
RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
LIVE_STATES = (QUEUED, RUNNING)


class RunInProgress(BillingInputError):
    """A billing run for this period is already running; wait for it to finish."""


@dataclass(frozen=True)
class JobState:
    job_id: str
    period: str
    route: str | None
    user: str
    state: str  # queued | running | finished | failed
    done: int  # accounts processed so far
    total: int  # accounts to bill (known once the run has selected them)
    run_id: int | None
    error: str
    started_at: str  # ISO 8601
    updated_at: str

    @property
    def percent(self) -> int:
        if self.state == FINISHED:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


def jobs_dir() -> Path:
    d = Path(settings.WATTDESK_DATA_DIR) / "jobs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _state_path(job_id: str) -> Path:
    return jobs_dir() / f"{job_id}.json"


def _lock_path(period: str) -> Path:
    return jobs_dir() / f"period-{period}.lock"


def _write(state: JobState) -> None:
    path = _state_path(state.job_id)
    tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(asdict(state), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def job_state(*, job_id: str) -> JobState | None:
    """The job's progress record, or None for an unknown (or malformed) id."""
    if not JOB_ID_RE.match(job_id or ""):
        return None
    try:
        data = json.loads(_state_path(job_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return JobState(**data)


def _lock(period: str, job_id: str, now: datetime) -> None:
    path = _lock_path(period)
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            holder = path.read_text(encoding="utf-8").strip() if path.exists() else ""
            other = job_state(job_id=holder)
            if (
                other is not None
                and other.live
                and datetime.fromisoformat(other.updated_at) > now - STALE_AFTER
            ):
                raise RunInProgress(
                    f"a billing run for {period} is already running (started {other.started_at[:16]} "
                    f"by {other.user}); wait for it to finish"
                ) from None
            path.unlink(missing_ok=True)  # left by a job that ended without cleaning up, or died
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(job_id)
        return
    raise RunInProgress(f"a billing run for {period} is being started; try again")


def _unlock(period: str, job_id: str) -> None:
    path = _lock_path(period)
    try:
        if path.read_text(encoding="utf-8").strip() == job_id:
            path.unlink()
    except OSError:
        pass


def start_billing_job(
    *,
    period: str,
    route: str | None,
    run_at: datetime,
    user: str,
    clock: Callable[[], datetime],
    actor: Any = None,
) -> JobState:
    """Validate, take the period's lock and start ``run_billing`` in a background thread.

    Raises ``BillingInputError`` (bad period, unknown route) or ``RunInProgress``. ``run_at`` is the run's
    time (the interface reads the clock); ``clock`` stamps progress and the run's finish time. ``actor`` (a
    user) is named in the audit entry recorded when the run ends (``domain.audit.record_batch``).
    """
    parse_period(period)
    route = (route or "").strip() or None
    if route and not ReadingRoute.objects.filter(code=route).exists():
        raise BillingInputError(f"unknown reading route {route!r}")
    if BillingRun.objects.filter(
        period=period, status=BillingRunStatus.RUNNING, started_at__gt=run_at - STALE_AFTER
    ).exists():
        raise RunInProgress(f"a billing run for {period} is already running; wait for it to finish")
    job_id = uuid.uuid4().hex
    _lock(period, job_id, run_at)
    stamp = run_at.isoformat()
    state = JobState(job_id, period, route, user, QUEUED, 0, 0, None, "", stamp, stamp)
    try:
        _write(state)
    except BaseException:
        _unlock(period, job_id)
        raise
    if getattr(settings, "WATTDESK_BILLING_JOBS_SYNC", False):
        execute_job(state, run_at=run_at, clock=clock, actor=actor)
    else:
        threading.Thread(
            target=execute_job,
            kwargs={"state": state, "run_at": run_at, "clock": clock, "actor": actor, "own_connection": True},
            name=f"billing-job-{period}",
            daemon=True,
        ).start()
    return job_state(job_id=job_id) or state


def execute_job(
    state: JobState,
    *,
    run_at: datetime,
    clock: Callable[[], datetime],
    actor: Any = None,
    own_connection: bool = False,
) -> JobState:
    """Run the job to the end, recording progress; never raises (a failure is recorded on the job).

    This is what the background thread runs; with ``own_connection`` it closes the thread's database
    connection at the end.
    """
    current = replace(state, state=RUNNING, updated_at=clock().isoformat())
    _write(current)

    def progress(done: int, total: int) -> None:
        nonlocal current
        run_id = current.run_id
        if run_id is None:
            run_id = (
                BillingRun.objects.filter(period=state.period, started_at=run_at)
                .order_by("-id")
                .values_list("id", flat=True)
                .first()
            )
        current = replace(current, done=done, total=total, run_id=run_id, updated_at=clock().isoformat())
        _write(current)

    try:
        result = run_billing(
            period=state.period, run_at=run_at, route=state.route, progress=progress, clock=clock, workers=1
        )
        current = replace(
            current,
            state=FINISHED,
            done=result.accounts,
            total=result.accounts,
            run_id=result.run_id,
            updated_at=clock().isoformat(),
        )
        audit.record_batch(
            actor=actor,
            action="billing.run",
            object_repr=f"billing run {result.run_id} {result.period}"
            + (f" {result.route}" if result.route else ""),
            object_pk=result.run_id,
            changes={
                "status": ("running", result.status),
                "billed": result.billed,
                "held": result.held,
                "total": str(result.total),
            },
        )
    except Exception as exc:
        current = replace(current, state=FAILED, error=str(exc)[:500], updated_at=clock().isoformat())
    finally:
        try:
            _write(current)
        finally:
            _unlock(state.period, state.job_id)
            if own_connection:
                connection.close()
    return current
