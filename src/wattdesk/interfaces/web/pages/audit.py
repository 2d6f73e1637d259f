"""Back office: the audit trail (审计日志): who changed what, when, from where, before -> after; CSV export.

The export (``application.audit_export``) of at most ``WATTDESK_QUEUE_EXPORT_ROWS`` entries (default 20,000)
streams inside the request; a larger one is written by a queued task (``interfaces.tasks.export_audit_csv``,
run by a ``wattdesk worker``) into a file: the request redirects to ``/audit/exports/ID/``, which polls the
job with HTMX and then offers the file. Only the user who asked for it may download it, and only while they
still hold ``audit.view``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from wattdesk.application import audit_export as use_case
from wattdesk.application.tabular import ExportWriter
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.interfaces import tasks
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=90,
        label=_("审计日志"),
        url_name="web:audit",
        capability=roles.AUDIT_VIEW,
        icon="shield-check",
    )
)

PAGE_SIZE = 50
DEFAULT_QUEUE_EXPORT_ROWS = 20_000
MODEL_ID_RE = re.compile(r"[0-9]{1,9}", re.ASCII)
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class Filters:
    content_type_id: int | None
    username: str
    date_from: date | None
    date_to: date | None
    errors: tuple[str, ...]

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "content_type_id": self.content_type_id,
            "username": self.username,
            "date_from": self.date_from,
            "date_to": self.date_to,
        }


def _filters(request: HttpRequest) -> Filters:
    errors: list[str] = []
    raw_model = request.GET.get("model", "").strip()
    content_type_id = None
    if raw_model:
        # only a content type the filter offers: a huge number used to reach the database (500, and an
        # export that dropped the connection mid-stream); "²".isdigit() is true but int() refuses it
        offered = {pk for pk, _label in audit.content_type_choices()}
        if MODEL_ID_RE.fullmatch(raw_model) and int(raw_model) in offered:
            content_type_id = int(raw_model)
        else:
            errors.append(str(_("对象类型无效")))

    def day(name: str) -> date | None:
        raw = request.GET.get(name, "").strip()
        if not raw:
            return None
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            value = None
        if value is None or not FIRST_DAY <= value <= LAST_DAY:  # 9999-12-31 + 1 day overflows
            errors.append(str(_("日期格式应为 YYYY-MM-DD")) + f": {raw[:20]}")
            return None
        return value

    return Filters(
        content_type_id=content_type_id,
        username=request.GET.get("user", "").strip()[:150],
        date_from=day("from"),
        date_to=day("to"),
        errors=tuple(errors),
    )


def _row(entry: Any) -> dict[str, Any]:
    return {
        "entry": entry,
        "when": timezone.localtime(entry.timestamp),
        "who": entry.actor.get_username() if entry.actor else (entry.actor_email or ""),
        "where": entry.remote_addr or "",
        "model": f"{entry.content_type.app_label}.{entry.content_type.model}",
        "action": audit.action_label(entry),
        "changes": audit.change_rows(entry),
    }


@capability_required(roles.AUDIT_VIEW)
def audit_list(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    page = Paginator(audit.entries(**filters.as_kwargs()), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/audit/list.html",
        {
            "rows": [_row(e) for e in page.object_list],
            "page": page,
            "filters": filters,
            "models": audit.content_type_choices(),
            "query": query.urlencode(),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def queue_export_rows() -> int:
    """Exports of more entries than this are written by a queued task, smaller ones streamed."""
    return int(getattr(settings, "WATTDESK_QUEUE_EXPORT_ROWS", DEFAULT_QUEUE_EXPORT_ROWS))


@capability_required(roles.AUDIT_VIEW)
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered entries as CSV (UTF-8 with BOM so Excel opens the Chinese text), one row per change."""
    filters = _filters(request)
    if filters.errors:  # decided before the first byte is streamed: a 400 with the reasons, not a cut stream
        return HttpResponse("\n".join(filters.errors), status=400, content_type="text/plain; charset=utf-8")
    if use_case.count(**filters.as_kwargs()) > queue_export_rows():
        queued = tasks.enqueue_audit_export(
            filters=filters.as_kwargs(), language=translation.get_language(), by=int(request.user.pk or 0)
        )
        return redirect(reverse("web:audit_export_job", args=[queued.id]))
    writer = ExportWriter(_Echo())

    def rows() -> Any:
        yield use_case.BOM
        yield writer.writerow(use_case.HEADER)
        for row in use_case.audit_rows(**filters.as_kwargs()):
            yield writer.writerow(row)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="wattdesk-audit.csv"'
    return response


def _export_job(request: HttpRequest, job_id: str) -> tasks.JobStatus:
    """The queued export ``job_id`` of the requesting user (404 for anyone else's, or another task)."""
    job = tasks.job_status(job_id=job_id, task_name="export_audit_csv")
    if job is None or job.kwargs.get("by") != request.user.pk:
        raise Http404("no such export")
    return job


@capability_required(roles.AUDIT_VIEW)
def audit_export_job(request: HttpRequest, job_id: str) -> HttpResponse:
    """A queued export: its state (polled with HTMX every second while live), then the download link."""
    job = _export_job(request, job_id)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/audit/_export_job.html", {"job": job})
    return render(request, "web/audit/export_job.html", {"job": job})


@capability_required(roles.AUDIT_VIEW)
def audit_export_download(request: HttpRequest, job_id: str) -> FileResponse:
    """The finished export's file, to the user who asked for it (``audit.view`` checked again now)."""
    job = _export_job(request, job_id)
    if job.state != "finished":
        raise Http404("the export is not ready")
    path = use_case.export_path(str(job.kwargs["name"]))
    if not path.exists():
        raise Http404("the export file is gone")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename="wattdesk-audit.csv",
        content_type="text/csv; charset=utf-8",
    )
