"""Queued tasks (Django's tasks framework through the ``django-tasks`` backport, ``django-tasks-db`` backend).

A task is an interface like a page or a command: it reads the clock, makes one use-case call and returns a
small JSON summary; a ``wattdesk worker`` process runs it. Pages and API endpoints enqueue through the
``start_*`` helpers here, the CLI calls the same use cases in its own process.

    run = start_billing_run(period="2026-10", route=None, actor=user, now=now)   # launch + enqueue
    job = enqueue_outlet_plan(k=3, radius_km=3.0, relocate=0, objective="coverage")
    job_status(job_id=job.id)        # -> JobStatus(state="running", …, result=None)

Billing runs keep their state and progress on their ``BillingRun`` row (heartbeat, done / total); outlet
plans, the nightly pass, large reading imports and large audit exports keep theirs on the task result
(``django_tasks_db.DBTaskResult``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks.exceptions import TaskResultDoesNotExist

from wattdesk.application.billing import launch

# --- billing runs ------------------------------------------------------------------------------------------


@task()
def execute_billing_run(run_id: int, attempt: int) -> dict[str, Any]:
    """Execute a launched or resumed billing run (``launch.execute_run``) on its attempt."""
    result = launch.execute_run(run_id=run_id, attempt=attempt, clock=timezone.now)
    return {
        "run_id": result.run_id,
        "period": result.period,
        "status": result.status,
        "bills": result.bills,
        "held": result.held,
        "total": str(result.total),
    }


def _enqueue_run(run: Any) -> Any:
    execute_billing_run.enqueue(run_id=run.pk, attempt=run.attempt)
    return run


def start_billing_run(
    *, period: str, route: str | None, actor: Any, now: datetime, allow_empty: bool = False
) -> Any:
    """Launch a run (guard, audit; ``launch.launch_run``) and enqueue its execution. Returns the run."""
    return _enqueue_run(
        launch.launch_run(period=period, route=route, actor=actor, now=now, allow_empty=allow_empty)
    )


def resume_billing_run(*, run_id: int, actor: Any, now: datetime) -> Any:
    """Take over a stalled run (``launch.resume_run``) and enqueue its execution. Returns the run."""
    return _enqueue_run(launch.resume_run(run_id=run_id, actor=actor, now=now))


def restart_billing_run(*, run_id: int, actor: Any, now: datetime) -> Any:
    """Abandon a stalled run, launch a new one of its period (``launch.restart_run``) and enqueue it."""
    return _enqueue_run(launch.restart_run(run_id=run_id, actor=actor, now=now))


# --- outlet planning and the nightly pass --------------------------------------------------------------------


@task()
def plan_outlets(k: int, radius_km: float, relocate: int, objective: str) -> dict[str, Any]:
    """Solve an outlet plan (``outlets.planning.plan``, HiGHS MILP: seconds to tens of seconds)."""
    from wattdesk.application.outlets import planning

    return planning.plan(k=k, radius_km=radius_km, relocate=relocate, objective=objective).to_json()  # type: ignore[arg-type]


@task()
def nightly_pass(day: str) -> dict[str, Any]:
    """The nightly pass for a day (``collection.nightly.run_nightly``): late fees, dunning, fee control …"""
    from wattdesk.application.collection.nightly import run_nightly

    return run_nightly(day=date.fromisoformat(day), now=timezone.now()).to_json()


@task()
def import_readings_file(path: str, file_name: str, as_of: str, by: int) -> dict[str, Any]:
    """Import a stored reading file (``metering.readings_import.import_readings``), uploaded by user ``by``.

    A file with bad rows is a finished job whose result lists every row error (``rejected``): nothing was
    written, as in the synchronous import; any other input error is in ``error``.
    """
    from pathlib import Path

    from wattdesk.application.errors import InputError
    from wattdesk.application.metering.readings_import import import_readings
    from wattdesk.application.tabular import ImportRejected

    try:
        result = import_readings(path=Path(path), as_of=date.fromisoformat(as_of), imported_at=timezone.now())
    except ImportRejected as exc:
        rows = [
            {
                "row": e.row,
                "column": e.column,
                "reason": e.reason,  # English; code and params let a page say it in the user's language
                "code": e.code,
                "params": {str(k): str(v) for k, v in e.params.items()},
            }
            for e in exc.errors
        ]
        return {"file_name": exc.file_name, "rejected": rows}
    except (InputError, ValueError) as exc:
        return {"file_name": file_name, "rejected": [], "error": str(exc)}
    return {
        "file_name": result.file_name,
        "kind": str(result.kind),
        "batch_id": result.batch_id,
        "already_imported": result.already_imported,
        "rows": result.rows,
        "readings": result.readings,
        "held": result.held,
        "superseded": result.superseded,
        "corrected": result.corrected,
        "interval_meters": result.interval_meters,
        "findings_by_check": dict(result.findings_by_check),
        "message": result.message,
    }


@task()
def export_audit_csv(name: str, filters: dict[str, Any], language: str, by: int) -> dict[str, Any]:
    """Write a large audit-trail export (``audit_export.write_audit_csv``) for user ``by`` to download.

    ``filters``: content_type_id, username, date_from / date_to (ISO dates or None); ``language``: the
    requesting user's, for the action labels."""
    from django.utils import translation

    from wattdesk.application import audit_export

    path = audit_export.export_path(name)
    with translation.override(language):
        rows = audit_export.write_audit_csv(
            path,
            content_type_id=filters.get("content_type_id"),
            username=filters.get("username") or "",
            date_from=date.fromisoformat(filters["date_from"]) if filters.get("date_from") else None,
            date_to=date.fromisoformat(filters["date_to"]) if filters.get("date_to") else None,
        )
    return {"file": path.name, "rows": rows, "bytes": path.stat().st_size}


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    task: str
    state: str  # queued | running | finished | failed
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    kwargs: dict[str, Any]  # what the task was asked (e.g. k, radius_km for a plan)
    result: dict[str, Any] | None
    error: str

    @property
    def live(self) -> bool:
        return self.state in ("queued", "running")


_STATES = {
    TaskResultStatus.READY: "queued",
    TaskResultStatus.RUNNING: "running",
    TaskResultStatus.SUCCESSFUL: "finished",
    TaskResultStatus.FAILED: "failed",
}
_TASKS = {t.module_path: t for t in (plan_outlets, nightly_pass, import_readings_file, export_audit_csv)}


def job_status(*, job_id: str, task_name: str | None = None) -> JobStatus | None:
    """A queued outlet plan, nightly pass or reading import by its id (None for an unknown or malformed id / other task)."""
    try:
        uuid.UUID(job_id)
        result = plan_outlets.get_backend().get_result(job_id)
    except (ValueError, TaskResultDoesNotExist):
        return None
    path = result.task.module_path
    if path not in _TASKS or (task_name is not None and _TASKS[path].name != task_name):
        return None
    error = ""
    if result.status == TaskResultStatus.FAILED and result.errors:
        last = result.errors[-1].traceback.strip().splitlines()
        error = last[-1] if last else "failed"
    value = result.return_value if result.status == TaskResultStatus.SUCCESSFUL else None
    return JobStatus(
        job_id=str(result.id),
        task=_TASKS[path].name,
        state=_STATES[result.status],
        enqueued_at=result.enqueued_at,
        started_at=result.started_at,
        finished_at=result.finished_at,
        kwargs=dict(result.kwargs),
        result=value,
        error=error,
    )


def enqueue_outlet_plan(*, k: int, radius_km: float, relocate: int, objective: str) -> Any:
    return plan_outlets.enqueue(k=k, radius_km=radius_km, relocate=relocate, objective=objective)


def enqueue_nightly_pass(*, day: date) -> Any:
    return nightly_pass.enqueue(day=day.isoformat())


def enqueue_audit_export(*, filters: dict[str, Any], language: str, by: int) -> Any:
    """Queue a large audit export into a file only user ``by`` may download (``export_audit_csv``)."""
    clean = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in filters.items()}
    return export_audit_csv.enqueue(name=uuid.uuid4().hex, filters=clean, language=language, by=by)


def enqueue_readings_import(*, path: str, file_name: str, as_of: date, by: int) -> Any:
    """Queue the import of a reading file already stored (atomically) under ``WATTDESK_DATA_DIR``."""
    return import_readings_file.enqueue(path=path, file_name=file_name, as_of=as_of.isoformat(), by=by)


# --- tariff-change simulations (电价调整测算) ----------------------------------------------------------------


@task()
def execute_simulation(run_id: int) -> dict[str, Any]:
    """Export, rate and summarize a started simulation (``simulation.simulate.execute_simulation``)."""
    from wattdesk.application.simulation import simulate

    run = simulate.execute_simulation(run_id=run_id, clock=timezone.now)
    return {"run_id": run.pk, "status": run.status, "accounts": run.accounts}


def start_simulation(
    *,
    tariff_from: str,
    tariff_to: str,
    months: int,
    up_to: str | None,
    engine: str,
    actor: Any,
    now: datetime,
) -> Any:
    """Record a simulation (checks, audit; ``simulate.start_simulation``) and enqueue its execution."""
    from wattdesk.application.simulation import simulate

    run = simulate.start_simulation(
        tariff_from=tariff_from,
        tariff_to=tariff_to,
        months=months,
        up_to=up_to,
        engine=engine,
        actor=actor,
        now=now,
    )
    execute_simulation.enqueue(run_id=run.pk)
    return run
