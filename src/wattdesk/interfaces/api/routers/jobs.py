"""Queued long work: outlet-planning solves (网点规划, outlets.plan) and the nightly pass (dunning.manage).

A reading file uploaded on the readings page above ``WATTDESK_QUEUE_IMPORT_BYTES`` is imported by a queued
task too: ``GET /api/reading-imports/{id}`` gives its state and result (readings imported, or every row error
under ``result.rejected``) to the user who uploaded it (404 to anyone else). A large audit export is written
by a queued task: ``GET /api/audit-exports/{id}`` gives its state and, once finished, its row count; the file
is downloaded on the page (``/audit/exports/{id}/file``), by the user who asked for it only.

POST enqueues the task for a ``wattdesk worker`` and answers 202 with the job; ``GET …/{id}`` gives its
state (queued, running, finished, failed), its times, and once finished its result (the plan, or the pass's
counters). The CLI runs the same use cases in its own process (``wattdesk outlets plan``,
``wattdesk collect nightly``).
"""

from datetime import date, datetime
from typing import Any, Literal

from django.http import Http404
from ninja import Field, Router, Schema, Status

from wattdesk.application.outlets.planning import MAX_K
from wattdesk.domain.access import roles
from wattdesk.interfaces import tasks
from wattdesk.interfaces.api.deps import require

outlets_router = Router(tags=["outlet planning"])
imports_router = Router(tags=["readings"])
exports_router = Router(tags=["audit"])
nightly_router = Router(tags=["nightly pass"])


class JobRead(Schema):
    id: str
    task: str
    state: str = Field(description="queued, running, finished, failed")
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    request: dict[str, Any] = Field(description="what was asked")
    result: dict[str, Any] | None = Field(description="once finished")
    error: str = Field(description="the last line of the error, once failed")


class PlanCreate(Schema):
    k: int = Field(ge=0, le=MAX_K, description="new outlets to open")
    radius_km: float = Field(gt=0, le=100, description="coverage radius")
    relocate: int = Field(0, ge=0, le=20, description="existing outlets that may move")
    objective: Literal["coverage", "median"] = "coverage"


class NightlyCreate(Schema):
    day: date = Field(description="the day of the pass (idempotent per day)")


def _read(job: tasks.JobStatus) -> dict[str, Any]:
    return {
        "id": job.job_id,
        "task": job.task,
        "state": job.state,
        "enqueued_at": job.enqueued_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "request": job.kwargs,
        "result": job.result,
        "error": job.error,
    }


def _get(job_id: str, task_name: str) -> dict[str, Any]:
    job = tasks.job_status(job_id=job_id, task_name=task_name)
    if job is None:
        raise Http404("no such job")
    return _read(job)


@outlets_router.post("/plans", response={202: JobRead}, summary="Queue an outlet-planning solve")
def create_plan(request: Any, payload: PlanCreate) -> Status[dict[str, Any]]:
    require(request, roles.OUTLETS_PLAN)
    queued = tasks.enqueue_outlet_plan(
        k=payload.k, radius_km=payload.radius_km, relocate=payload.relocate, objective=payload.objective
    )
    return Status(202, _get(str(queued.id), "plan_outlets"))


@outlets_router.get("/plans/{job_id}", response=JobRead, summary="A queued outlet plan: state and result")
def get_plan(request: Any, job_id: str) -> dict[str, Any]:
    require(request, roles.OUTLETS_PLAN)
    return _get(job_id, "plan_outlets")


@nightly_router.post("", response={202: JobRead}, summary="Queue the nightly pass for a day")
def create_nightly(request: Any, payload: NightlyCreate) -> Status[dict[str, Any]]:
    require(request, roles.DUNNING_MANAGE)
    queued = tasks.enqueue_nightly_pass(day=payload.day)
    return Status(202, _get(str(queued.id), "nightly_pass"))


@nightly_router.get("/{job_id}", response=JobRead, summary="A queued nightly pass: state and counters")
def get_nightly(request: Any, job_id: str) -> dict[str, Any]:
    require(request, roles.DUNNING_MANAGE)
    return _get(job_id, "nightly_pass")


@imports_router.get(
    "/{job_id}",
    response=JobRead,
    summary="A queued reading-file import: state and result (its uploader only)",
)
def get_reading_import(request: Any, job_id: str) -> dict[str, Any]:
    user = require(request, roles.READINGS_IMPORT)
    job = tasks.job_status(job_id=job_id, task_name="import_readings_file")
    if job is None or job.kwargs.get("by") != user.pk:
        raise Http404("no such job")
    return _read(job)


@exports_router.get(
    "/{job_id}", response=JobRead, summary="A queued audit export: state and row count (its requester only)"
)
def get_audit_export(request: Any, job_id: str) -> dict[str, Any]:
    user = require(request, roles.AUDIT_VIEW)
    job = tasks.job_status(job_id=job_id, task_name="export_audit_csv")
    if job is None or job.kwargs.get("by") != user.pk:
        raise Http404("no such job")
    return _read(job)
