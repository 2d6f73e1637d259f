"""Use case: launch, execute, resume and restart a billing run (核算批次) — one path for every interface.

    run = launch_run(period="2026-10", route=None, actor=user, now=now)        # guard + audit, row pending
    execute_run(run_id=run.pk, attempt=run.attempt, clock=timezone.now)        # in-process or in a task
    status = run_status(run_id=run.pk, now=now)        # state pending|running|stalled|finished|failed, done/total
    run = resume_run(run_id=run.pk, actor=user, now=now)   # a stalled (or failed) run: same row, next attempt
    run = restart_run(run_id=run.pk, actor=user, now=now)  # abandon it, launch a new run of the period

The CLI (``wattdesk bill run``) launches and executes in its own process; the web page and the API launch
and enqueue ``execute_run`` as a task (``wattdesk.interfaces.tasks``), which a ``wattdesk worker`` runs.

The guard "one live run per period" is the database's: a partial unique index on the live (pending /
running) runs of a period (``billing_run_one_live_per_period``), so two launches on two application servers
sharing one database cannot both succeed. A run writes ONE audit entry when it finishes (action
``billing.run``, naming the user who launched it, the same payload from every interface: period, route, bills,
held, skipped, total); resume and restart write ``billing.run.resume`` / ``billing.run.restart``.

Heartbeat: while a run executes, its process stamps ``heartbeat_at`` after every batch and from a
background thread every ``WATTDESK_BILLING_HEARTBEAT_SECONDS``. A live run whose heartbeat is older than
``WATTDESK_BILLING_STALL_SECONDS`` has lost its process (killed, machine gone, never picked up by a
worker): it is shown as ``stalled``, never as running, and can be resumed (the run is idempotent per batch:
committed batches stay, accounts without a live bill are billed) or restarted. ``attempt`` fences a
process that was only slow: once the run is resumed elsewhere its heartbeat and its finish no longer
match the row's attempt and it stops (``RunSuperseded``).

A period without any meter reading is refused (``NoReadings``) unless ``allow_empty``: such a run would
only skip every account as ``no_readings``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from wattdesk.application.billing.run import (
    DEFAULT_BATCH_SIZE,
    BillingInputError,
    ProgressCallback,
    RunResult,
    RunSuperseded,
    parse_period,
    run_billing,
)
from wattdesk.core.period import add_months
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.billing.models import LIVE_RUN_STATUSES, BillingRun, BillingRunStatus
from wattdesk.domain.customers.models import ReadingRoute
from wattdesk.domain.metering.models import RegisterReading

STALLED = "stalled"

__all__ = [
    "STALLED",
    "NoReadings",
    "RunInProgress",
    "RunNotFound",
    "RunNotResumable",
    "RunRefused",
    "RunStatus",
    "RunSuperseded",
    "execute_run",
    "launch_run",
    "restart_run",
    "resume_run",
    "run_state",
    "run_status",
    "stall_after",
]


class RunInProgress(BillingInputError):
    """A run of this period is live (queued or running); wait for it, or resume / restart it if stalled."""

    def __init__(self, message: str, *, run_id: int) -> None:
        super().__init__(message)
        self.run_id = run_id


class NoReadings(BillingInputError):
    """The period has no meter reading at all: refused unless ``allow_empty``."""


class RunNotFound(BillingInputError):
    pass


class RunRefused(BillingInputError):
    """The acting user lacks the ``billing.run`` capability."""


class RunNotResumable(BillingInputError):
    """The run finished, or it is still alive (its heartbeat is recent)."""


@dataclass(frozen=True)
class RunStatus:
    run_id: int
    period: str
    route: str | None
    state: str  # pending | running | stalled | finished | failed
    done: int
    total: int
    attempt: int
    started_at: datetime
    heartbeat_at: datetime | None
    finished_at: datetime | None
    error: str
    counts: dict[str, Any]

    @property
    def percent(self) -> int:
        if self.state == BillingRunStatus.FINISHED:
            return 100
        return min(100, self.done * 100 // self.total) if self.total else 0

    @property
    def live(self) -> bool:
        """Still to finish and alive: an interface polls it."""
        return self.state in (BillingRunStatus.PENDING, BillingRunStatus.RUNNING)


def stall_after() -> timedelta:
    return timedelta(seconds=float(settings.WATTDESK_BILLING_STALL_SECONDS))


def run_state(run: BillingRun, *, now: datetime, threshold: timedelta | None = None) -> str:
    """The run's status as shown: a live run whose heartbeat is older than the threshold is ``stalled``."""
    if run.status in LIVE_RUN_STATUSES:
        beat = run.heartbeat_at or run.started_at
        if beat < now - (threshold if threshold is not None else stall_after()):
            return STALLED
    return str(run.status)


def run_status(*, run_id: int, now: datetime) -> RunStatus:
    run = BillingRun.objects.select_related("route").filter(pk=run_id).first()
    if run is None:
        raise RunNotFound(f"no billing run with id {run_id}")
    return status_of(run, now=now)


def status_of(run: BillingRun, *, now: datetime) -> RunStatus:
    return RunStatus(
        run_id=run.pk,
        period=run.period,
        route=_route_code(run),
        state=run_state(run, now=now),
        done=run.done,
        total=run.total,
        attempt=run.attempt,
        started_at=run.started_at,
        heartbeat_at=run.heartbeat_at,
        finished_at=run.finished_at,
        error=run.error,
        counts=dict(run.counts or {}),
    )


def _route_code(run: BillingRun) -> str | None:
    return run.route.code if run.route is not None else None


# --- launch ------------------------------------------------------------------------------------------------


def _route_id(route: str | None) -> int | None:
    if not route:
        return None
    route_id = ReadingRoute.objects.filter(code=route).values_list("id", flat=True).first()
    if route_id is None:
        raise BillingInputError(f"unknown reading route {route!r}")
    return int(route_id)


def has_readings(*, period: str, route_id: int | None = None) -> bool:
    """Is any meter reading dated in the period's widest window (billing days 1-28) on the route / anywhere?"""
    asked = parse_period(period)
    start = asked.start
    qs = RegisterReading.objects.filter(
        read_on__gte=start, read_on__lt=add_months(date(asked.year, asked.month, 28), 1)
    )
    if route_id is not None:
        qs = qs.filter(register__meter__installations__service_point__route_id=route_id)
    return qs.exists()


def _refuse_live(period: str, *, now: datetime) -> None:
    live = (
        BillingRun.objects.filter(period=period, status__in=LIVE_RUN_STATUSES).order_by("-started_at").first()
    )
    if live is None:
        return
    if run_state(live, now=now) == STALLED:
        raise RunInProgress(
            f"billing run {live.pk} for {period} has stalled (no heartbeat since "
            f"{(live.heartbeat_at or live.started_at):%Y-%m-%d %H:%M:%S %Z}): resume or restart it",
            run_id=live.pk,
        )
    raise RunInProgress(
        f"billing run {live.pk} for {period} is already {live.status}; wait for it to finish", run_id=live.pk
    )


def _repr(run: BillingRun, route: str | None) -> str:
    return f"billing run {run.pk} {run.period}" + (f" {route}" if route else "")


def _user(actor: Any) -> Any:
    """The acting user (None for the CLI without ``--user``), checked for ``billing.run``."""
    user = actor if getattr(actor, "pk", None) is not None else None
    if user is not None and not has_capability(user, roles.BILLING_RUN):
        raise RunRefused(
            f"user {user.get_username()!r} may not run billing: it needs the billing.run capability"
        )
    return user


def launch_run(
    *, period: str, route: str | None, actor: Any, now: datetime, allow_empty: bool = False
) -> BillingRun:
    """Create the run of a period (status pending) under the one-live-run guard; ``actor`` launched it.

    The run's audit entry (``billing.run``, naming ``actor``) is written when it finishes (``execute_run``).

    Raises ``BillingInputError`` (bad period, unknown route), ``NoReadings``, ``RunInProgress``.
    """
    parse_period(period)
    started_by = _user(actor)
    route = (route or "").strip() or None
    route_id = _route_id(route)
    if not allow_empty and not has_readings(period=period, route_id=route_id):
        scope = f" on route {route}" if route else ""
        raise NoReadings(
            f"no meter readings for {period}{scope}: import or estimate the readings first "
            "(or allow an empty run explicitly)"
        )
    try:
        with transaction.atomic():
            _refuse_live(period, now=now)
            run = BillingRun.objects.create(
                period=period,
                route_id=route_id,
                started_at=now,
                heartbeat_at=now,
                status=BillingRunStatus.PENDING,
                allow_empty=allow_empty,
                started_by=started_by,
            )
    except IntegrityError:
        # another server created the period's live run between our check and our insert
        _refuse_live(period, now=now)
        raise  # pragma: no cover - the unique index names only the live run
    return run


# --- execute -----------------------------------------------------------------------------------------------


class _Heartbeat:
    """Stamps the run's heartbeat every ``interval`` seconds from a thread with its own connection."""

    def __init__(self, run_id: int, attempt: int, clock: Callable[[], datetime], interval: float) -> None:
        self.run_id, self.attempt, self.clock, self.interval = run_id, attempt, clock, interval
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"billing-heartbeat-{run_id}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            while not self.stop_event.wait(self.interval):
                if not _beat(self.run_id, self.attempt, heartbeat_at=self.clock()):
                    return  # taken over by another attempt; the run itself stops at its next batch
        finally:
            connection.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join()


def _beat(run_id: int, attempt: int, **fields: Any) -> bool:
    return bool(
        BillingRun.objects.filter(pk=run_id, attempt=attempt, status=BillingRunStatus.RUNNING).update(
            **fields
        )
    )


def _own_connections_possible() -> bool:
    if connection.in_atomic_block:
        return False
    return not (connection.vendor == "sqlite" and getattr(connection, "is_in_memory_db", lambda: False)())


def execute_run(
    *,
    run_id: int,
    attempt: int,
    clock: Callable[[], datetime],
    progress: ProgressCallback | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
) -> RunResult:
    """Execute a launched (or resumed) run to its end, stamping its heartbeat and progress.

    Claims the row (pending -> running) only on ``attempt``; raises ``RunSuperseded`` if the run is on
    another attempt or not pending (already claimed by another process, or over). A failure is recorded on the run (status failed, ``error``) and raised.
    """
    now = clock()
    claimed = BillingRun.objects.filter(pk=run_id, attempt=attempt, status=BillingRunStatus.PENDING).update(
        status=BillingRunStatus.RUNNING, heartbeat_at=now
    )
    if not claimed:
        raise RunSuperseded(f"billing run {run_id} is not waiting to run on attempt {attempt}")
    run = BillingRun.objects.select_related("route").get(pk=run_id)

    def on_progress(done: int, total: int) -> None:
        if not _beat(run_id, attempt, heartbeat_at=clock(), done=done, total=total):
            raise RunSuperseded(f"billing run {run_id} was taken over by another attempt")
        if progress is not None:
            progress(done, total)

    interval = float(settings.WATTDESK_BILLING_HEARTBEAT_SECONDS)
    heartbeat = _Heartbeat(run_id, attempt, clock, interval) if _own_connections_possible() else None
    try:
        result = run_billing(
            period=run.period,
            route=_route_code(run),
            run_at=run.started_at,  # a resumed run posts its charges at the run's time, as one run would
            clock=clock,
            progress=on_progress,
            run=run,
            workers=workers,
            batch_size=batch_size or DEFAULT_BATCH_SIZE,
        )
    except RunSuperseded:
        raise
    except Exception as exc:
        BillingRun.objects.filter(pk=run_id, attempt=attempt).update(
            status=BillingRunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    finally:
        if heartbeat is not None:
            heartbeat.stop()
    audit.record_batch(
        actor=run.started_by,
        action="billing.run",
        object_repr=_repr(run, result.route),
        object_pk=run.pk,
        changes=run_audit_payload(result, allow_empty=run.allow_empty),
    )
    return result


def run_audit_payload(result: RunResult, *, allow_empty: bool) -> dict[str, Any]:
    """The one audit entry of a billing run, written when it finishes (the same from every interface)."""
    return {
        "period": result.period,
        "route": result.route or "",
        "allow_empty": allow_empty,
        "status": (BillingRunStatus.PENDING.value, result.status),
        "bills": result.bills,
        "held": result.held,
        "skipped": sum(result.skipped.values()),
        "total": str(result.total),
    }


# --- resume / restart --------------------------------------------------------------------------------------


def _takeable(run: BillingRun, *, now: datetime) -> str:
    state = run_state(run, now=now)
    if state == BillingRunStatus.FINISHED:
        raise RunNotResumable(f"billing run {run.pk} has finished; launch a new run of {run.period} instead")
    if state in (BillingRunStatus.PENDING, BillingRunStatus.RUNNING):
        beat = run.heartbeat_at or run.started_at
        raise RunNotResumable(
            f"billing run {run.pk} is still {state} (heartbeat {int((now - beat).total_seconds())} s ago); "
            f"it counts as stalled after {int(stall_after().total_seconds())} s without one"
        )
    return state  # stalled or failed


def _lock_takeable(run_id: int, *, now: datetime) -> tuple[BillingRun, str]:
    """Lock the run row (inside the caller's transaction) and check it may be taken over: (run, its state)."""
    run = BillingRun.objects.select_for_update(of=("self",)).select_related("route").filter(pk=run_id).first()
    if run is None:
        raise RunNotFound(f"no billing run with id {run_id}")
    return run, _takeable(run, now=now)


def resume_run(*, run_id: int, actor: Any, now: datetime) -> BillingRun:
    """Take over a stalled (or failed) run: same row, next attempt, status pending; execute it next."""
    _user(actor)
    with transaction.atomic():
        run, state = _lock_takeable(run_id, now=now)
        try:
            with transaction.atomic():
                taken = BillingRun.objects.filter(pk=run.pk, attempt=run.attempt, status=run.status).update(
                    status=BillingRunStatus.PENDING,
                    attempt=F("attempt") + 1,
                    heartbeat_at=now,
                    finished_at=None,
                    error="",
                )
        except IntegrityError:  # a failed run, while another run of its period is live
            _refuse_live(run.period, now=now)
            raise  # pragma: no cover
        if not taken:  # pragma: no cover - the row lock makes this unreachable
            raise RunNotResumable(f"billing run {run.pk} changed while resuming it")
        route = _route_code(run)
        audit.record_batch(
            actor=actor,
            action="billing.run.resume",
            object_repr=_repr(run, route),
            object_pk=run.pk,
            changes={
                "period": run.period,
                "route": route or "",
                "attempt": (run.attempt, run.attempt + 1),
                "status": (state, BillingRunStatus.PENDING.value),
            },
        )
    run.refresh_from_db()
    return run


def restart_run(*, run_id: int, actor: Any, now: datetime) -> BillingRun:
    """Abandon a stalled (or failed) run (status failed) and launch a new run of its period and route.

    Bills the abandoned run committed stay (each batch is whole); the new run bills the accounts without one.
    """
    _user(actor)
    with transaction.atomic():
        run, state = _lock_takeable(run_id, now=now)
        BillingRun.objects.filter(pk=run.pk, attempt=run.attempt).update(
            status=BillingRunStatus.FAILED,
            attempt=F("attempt") + 1,  # fences the lost process, should it come back
            finished_at=now,
            error=run.error or "abandoned: its process stopped (no heartbeat); restarted",
        )
        route = _route_code(run)
        audit.record_batch(
            actor=actor,
            action="billing.run.restart",
            object_repr=_repr(run, route),
            object_pk=run.pk,
            changes={"period": run.period, "route": route or "", "status": (state, "failed")},
        )
        return launch_run(period=run.period, route=route, actor=actor, now=now, allow_empty=run.allow_empty)
