"""Back office: reading import (抄表数据导入) with its validation report, and open reading exceptions (抄表异常).

The upload is saved under ``WATTDESK_DATA_DIR/uploads`` with a generated name (a random prefix and the
sanitised original name, so the batch keeps a recognisable file name; written to a temporary name and
renamed, so a stored file is always whole) and handed to ``application.metering.readings_import.import_readings``;
a rejected file lists every bad row and nothing is stored. A file larger than ``WATTDESK_QUEUE_IMPORT_BYTES``
(default 1 MiB) is imported by a queued task (``interfaces.tasks.import_readings_file``, run by a
``wattdesk worker``): the POST redirects to ``/readings/?job=ID``, which polls the job with HTMX every second
while it is queued or running and then shows its result (readings imported, or every row error). Only the
user who uploaded the file sees its job.
Exceptions are those of ``domain.metering.queries.reading_exceptions`` on the meters the user may see
(``meters_for``): a meter reader sees only their routes.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from wattdesk.application.errors import InputError
from wattdesk.application.metering.readings_import import import_readings
from wattdesk.application.tabular import ImportRejected
from wattdesk.core.period import Period
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability, meters_for
from wattdesk.domain.metering.queries import (
    ExceptionRow,
    chunked,
    latest_reading_period,
    reading_exceptions,
)
from wattdesk.interfaces import tasks
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=30,
        label=_("抄表数据"),
        url_name="web:readings",
        capability=roles.READINGS_VIEW,
        icon="gauge",
    )
)

ALLOWED_SUFFIXES = (".csv", ".xlsx", ".parquet")
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DEFAULT_QUEUE_IMPORT_BYTES = 1024 * 1024
MAX_EXCEPTIONS_SHOWN = 500


def max_upload_bytes() -> int:
    return int(getattr(settings, "WATTDESK_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def queue_import_bytes() -> int:
    """Files larger than this are imported by a queued task, smaller ones inside the request."""
    return int(getattr(settings, "WATTDESK_QUEUE_IMPORT_BYTES", DEFAULT_QUEUE_IMPORT_BYTES))


def uploads_dir() -> Path:
    d = Path(settings.WATTDESK_DATA_DIR) / "uploads"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _save_upload(f: UploadedFile[Any]) -> Path:
    original = Path(f.name or "upload")
    suffix = original.suffix.lower()
    stem = get_valid_filename(original.stem)[:60] if original.stem else "upload"
    path = uploads_dir() / f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}-{stem}{suffix}"
    part = path.with_name(f".{path.name}.part")
    try:
        with part.open("xb") as out:
            for chunk in f.chunks():
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, path)  # atomic: a worker never reads a half-written file
    finally:
        part.unlink(missing_ok=True)
    return path


def _import_job(request: HttpRequest, job_id: str) -> tasks.JobStatus:
    """The queued import ``job_id`` of the requesting user (404 for another user's, or another task)."""
    job = tasks.job_status(job_id=job_id, task_name="import_readings_file")
    if job is None or job.kwargs.get("by") != request.user.pk:
        raise Http404("no such import")
    return job


def _job_context(job: tasks.JobStatus) -> dict[str, object]:
    context: dict[str, object] = {"job": job}
    if job.state == "failed":
        context["upload_error"] = _g("导入失败：%(err)s") % {"err": job.error}
    elif job.result is not None:
        if job.result.get("error"):
            context["upload_error"] = job.result["error"]
        elif "rejected" in job.result:
            context["rejected"] = {"file_name": job.result["file_name"], "errors": job.result["rejected"]}
        else:
            context["result"] = job.result
    return context


def _default_period() -> str:
    """The period of the latest reading (exceptions are filed under their reading's period); the previous
    calendar month only when there is no reading at all."""
    return latest_reading_period() or str(Period.of(timezone.localdate()).previous())


def _scoped_exceptions(request: HttpRequest, period: str) -> list[ExceptionRow]:
    rows = reading_exceptions(period=period)
    allowed: set[str] = set()
    for part in chunked(sorted({r.meter_serial for r in rows}), 2000):
        allowed.update(meters_for(request.user).filter(serial__in=part).values_list("serial", flat=True))
    return [r for r in rows if r.meter_serial in allowed]


@capability_required(roles.READINGS_VIEW)
@require_http_methods(["GET", "POST"])
def readings(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period", "").strip() or _default_period()
    period_error = "" if Period.is_valid(period) else _g("账期格式应为 YYYY-MM")
    context: dict[str, object] = {
        "period": period,
        "period_error": period_error,
        "can_import": has_capability(request.user, roles.READINGS_IMPORT),
        "can_review": has_capability(request.user, roles.BILLING_REVIEW),  # held-reading decisions
        "max_upload_mb": max_upload_bytes() // (1024 * 1024),
        "allowed_suffixes": ", ".join(ALLOWED_SUFFIXES),
    }
    status = 200
    if request.method == "GET" and request.GET.get("job"):
        if not context["can_import"]:
            raise Http404("no such import")
        context.update(_job_context(_import_job(request, request.GET["job"])))
    if request.method == "POST":
        if not context["can_import"]:
            from wattdesk.interfaces.web.access import forbidden

            return forbidden(request)
        f = request.FILES.get("file")
        if f is None:
            context["upload_error"] = _g("请选择要导入的文件")
            status = 400
        elif Path(f.name or "").suffix.lower() not in ALLOWED_SUFFIXES:
            context["upload_error"] = _g("只接受 %(types)s 文件") % {"types": ", ".join(ALLOWED_SUFFIXES)}
            status = 400
        elif f.size is None or f.size > max_upload_bytes():
            context["upload_error"] = _g("文件超过 %(mb)s MB 上限") % {"mb": context["max_upload_mb"]}
            status = 400
        elif f.size > queue_import_bytes():
            path = _save_upload(f)
            queued = tasks.enqueue_readings_import(
                path=str(path),
                file_name=f.name or path.name,
                as_of=timezone.localdate(),
                by=int(request.user.pk or 0),
            )
            return redirect(reverse("web:readings") + f"?job={queued.id}")
        else:
            path = _save_upload(f)
            try:
                result = import_readings(path=path, as_of=timezone.localdate(), imported_at=timezone.now())
            except ImportRejected as exc:
                context["rejected"] = exc
                status = 422
            except (InputError, ValueError) as exc:
                context["upload_error"] = str(exc)
                status = 400
            else:
                context["result"] = result
                messages.success(request, result.message)
    rows = _scoped_exceptions(request, period) if not period_error else []
    context["exceptions"] = rows[:MAX_EXCEPTIONS_SHOWN]
    context["exceptions_count"] = len(rows)
    if request.htmx and request.method == "GET":  # type: ignore[attr-defined]
        return render(request, "web/readings/_exceptions.html", context)
    return render(request, "web/readings/index.html", context, status=status)


@capability_required(roles.READINGS_IMPORT)
def readings_job(request: HttpRequest, job_id: str) -> HttpResponse:
    """The HTMX poll of a queued import: its state while live, then a redirect to the page with its result."""
    job = _import_job(request, job_id)
    if not job.live:
        return HttpResponseClientRedirect(reverse("web:readings") + f"?job={job.job_id}")
    return render(request, "web/readings/_job.html", {"job": job})


urlpatterns = [
    path("readings/", readings, name="readings"),
    path("readings/jobs/<str:job_id>/", readings_job, name="readings_job"),
]
