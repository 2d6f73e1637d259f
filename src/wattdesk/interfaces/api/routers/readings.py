"""Register readings: GET /api/readings (readings.view), POST /api/readings/bulk (readings.import).

The bulk endpoint is the readings import (``wattdesk.application.metering.readings_import``) with a JSON body: the items
become the rows of a readings file, validated whole by the import (and VEE'd by
``metering.operations.record_register_readings``); any bad item is a 422 listing every bad item and nothing is
stored. Meters outside the caller's scope are unknown meters.
"""

import csv
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import paginate
from ninja.params.functions import Body, Query

from wattdesk.application.metering.readings_import import REGISTER_COLUMNS, import_register_readings
from wattdesk.application.tabular import ImportRejected
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import meters_for
from wattdesk.domain.metering.models import RegisterReading
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.errors import ItemsRejected
from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS, PERIOD_PATTERN, ValidationErrorRead
from wattdesk.interfaces.api.schemas.metering import ReadingCreate, ReadingRead, ReadingsBulkRead

router = Router(tags=["readings"])

MAX_BULK_ITEMS = 10_000
FIRST_ROW = 2  # the import numbers rows from 1 with the header as row 1


@router.get(
    "",
    response=list[ReadingRead],
    by_alias=True,
    summary="Register readings of the meters in the caller's scope",
)
@paginate(Pages)
def list_readings(
    request: Any,
    meter: str | None = Query(None, max_length=40, pattern=NO_CONTROL_CHARS, description="meter serial"),
    period: str | None = Query(None, pattern=PERIOD_PATTERN, description="YYYY-MM (by read_on)"),
) -> QuerySet[RegisterReading]:
    user = require(request, roles.READINGS_VIEW)
    qs = RegisterReading.objects.filter(register__meter__in=meters_for(user).values("pk"))
    if meter:
        qs = qs.filter(register__meter__serial=meter)
    if period:
        year, month = int(period[:4]), int(period[5:7])
        start = date(year, month, 1)
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        qs = qs.filter(read_on__gte=start, read_on__lt=end)
    return qs.select_related("register__meter").order_by(
        "register__meter__serial", "register__kind", "read_on", "source"
    )


@router.post(
    "/bulk",
    response={201: ReadingsBulkRead, 422: ValidationErrorRead},
    summary="Store register readings (validated whole; all or nothing)",
)
def bulk_readings(
    request: Any,
    items: list[ReadingCreate] = Body(..., min_length=1, max_length=MAX_BULK_ITEMS),  # noqa: B008
) -> Status[dict[str, Any]]:
    user = require(request, roles.READINGS_IMPORT)
    visible = set(
        meters_for(user).filter(serial__in={i.meter_serial for i in items}).values_list("serial", flat=True)
    )
    outside = [
        (n, "meter_serial", f"unknown meter {i.meter_serial!r}")
        for n, i in enumerate(items)
        if i.meter_serial.strip() and i.meter_serial.strip() not in visible
    ]
    if outside:
        raise ItemsRejected(outside)
    now = timezone.now()
    with tempfile.TemporaryDirectory(prefix="wattdesk-api-") as tmp:
        path = Path(tmp) / f"api-{user.get_username()}-{now:%Y%m%dT%H%M%S}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
            writer.writerow(REGISTER_COLUMNS)
            for i in items:
                writer.writerow([i.meter_serial, i.register_kind, i.read_on, i.value])
        try:
            result = import_register_readings(path=path, as_of=timezone.localdate(now), imported_at=now)
        except ImportRejected as exc:
            raise ItemsRejected(
                [(e.row - FIRST_ROW if e.row >= FIRST_ROW else None, e.column, e.reason) for e in exc.errors]
            ) from None
    return Status(
        201,
        {
            "batch_id": result.batch_id,
            "already_imported": result.already_imported,
            "readings": result.readings,
            "held": result.held,
            "superseded": result.superseded,
            "corrected": result.corrected,
            "findings_by_check": dict(result.findings_by_check),
        },
    )
