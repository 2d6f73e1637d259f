"""Use case: the audit-trail CSV export (审计日志导出), one row per change, formulas neutralised.

    rows = audit_rows(content_type_id=None, username="", date_from=d1, date_to=d2)   # lines after HEADER
    n = write_audit_csv(path, content_type_id=None, username="", date_from=d1, date_to=d2)

The audit page streams a small export inside the request (``audit_rows`` through ``tabular.ExportWriter``);
a large one (more entries than ``WATTDESK_QUEUE_EXPORT_ROWS``) is written by a queued task with
``write_audit_csv`` into a file under ``WATTDESK_DATA_DIR/exports`` (a temporary name renamed when whole),
which the user who asked for it downloads when the job has finished.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from wattdesk.application.tabular import ExportWriter
from wattdesk.domain import audit

HEADER = (
    "timestamp",
    "actor",
    "remote_addr",
    "action",
    "model",
    "object_pk",
    "object",
    "field",
    "before",
    "after",
)
BOM = "\ufeff"  # so Excel opens the Chinese text as UTF-8
_NAME = re.compile(r"[0-9a-f]{32}", re.ASCII)


def export_path(name: str) -> Path:
    """The file of a queued export named ``name`` (a uuid4 hex the interface chose) under the data dir."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"bad export name {name!r}")
    return Path(settings.WATTDESK_DATA_DIR) / "exports" / f"audit-{name}.csv"


def count(*, content_type_id: int | None, username: str, date_from: date | None, date_to: date | None) -> int:
    """How many audit entries the filters select (an entry gives one row per change)."""
    return audit.entries(
        content_type_id=content_type_id, username=username, date_from=date_from, date_to=date_to
    ).count()


def audit_rows(
    *, content_type_id: int | None, username: str, date_from: date | None, date_to: date | None
) -> Iterator[list[Any]]:
    """The export's rows (without the header), newest entry first, times in the company's time zone."""
    qs = audit.entries(
        content_type_id=content_type_id, username=username, date_from=date_from, date_to=date_to
    )
    for entry in qs.iterator(chunk_size=2000):
        who = entry.actor.get_username() if entry.actor else (entry.actor_email or "")
        base = [
            timezone.localtime(entry.timestamp).isoformat(),
            who,
            entry.remote_addr or "",
            audit.action_label(entry),
            f"{entry.content_type.app_label}.{entry.content_type.model}",
            entry.object_pk,
            entry.object_repr,
        ]
        for c in audit.change_rows(entry) or [audit.ChangeRow("", "", "")]:
            yield [*base, c.field, c.before, c.after]


def write_audit_csv(
    path: Path,
    *,
    content_type_id: int | None,
    username: str,
    date_from: date | None,
    date_to: date | None,
) -> int:
    """Write the export to ``path`` atomically (a temporary file in the same folder, renamed when whole).

    Returns the number of rows written (without the header)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    rows = 0
    try:
        with part.open("x", encoding="utf-8", newline="") as out:
            out.write(BOM)
            writer = ExportWriter(out)
            writer.writerow(HEADER)
            for row in audit_rows(
                content_type_id=content_type_id, username=username, date_from=date_from, date_to=date_to
            ):
                writer.writerow(row)
                rows += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return rows
