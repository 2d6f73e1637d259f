"""Tariff catalog (电价目录): capability tariffs.view. Bulk tariff-assignment changes (批量调整电价):
POST /api/tariffs/changes, capability tariffs.edit, the use case ``application.tariffs.reassign``: the items are
the rows of a tariff-changes file, validated whole (any bad item: 422 listing every one, nothing written)."""

from datetime import date
from typing import Any

from django.http import Http404
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import paginate
from ninja.params.functions import Body, Path, Query

from wattdesk.application.tabular import ImportRejected
from wattdesk.application.tariffs.catalog import catalog
from wattdesk.application.tariffs.reassign import reassign_rows
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.tariffs.models import TariffVersion
from wattdesk.domain.tariffs.queries import version_in_force
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.errors import ItemsRejected
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, ValidationErrorRead
from wattdesk.interfaces.api.schemas.tariff_changes import TariffChangeCreate, TariffChangesRead
from wattdesk.interfaces.api.schemas.tariffs import TariffDocumentRead, TariffRead

KEY = Path(..., pattern=KEY_PATTERN)

router = Router(tags=["tariffs"])

MAX_CHANGES = 10_000
FIRST_ROW = 2  # the use case numbers rows as a file's, header = row 1


# before "/{code}": Django would match "changes" as a tariff code (GET only) and answer 405
@router.post(
    "/changes",
    response={201: TariffChangesRead, 422: ValidationErrorRead},
    summary="Move accounts onto another tariff from a date (validated whole; all or nothing)",
)
def change_tariffs(
    request: Any,
    items: list[TariffChangeCreate] = Body(..., min_length=1, max_length=MAX_CHANGES),  # noqa: B008
) -> Status[dict[str, Any]]:
    user = require(request, roles.TARIFFS_EDIT)
    numbers = {i.account_number.strip() for i in items}
    visible = set(accounts_for(user).filter(number__in=numbers).values_list("number", flat=True))
    outside = [
        (n, "account_number", f"unknown account {i.account_number!r}")
        for n, i in enumerate(items)
        if i.account_number.strip() and i.account_number.strip() not in visible
    ]
    if outside:
        raise ItemsRejected(outside)
    header = ["account_number", "tariff_code", "effective_from", "service_point_number"]
    rows = [[i.account_number, i.tariff_code, i.effective_from, i.service_point_number] for i in items]
    try:
        result = reassign_rows(name=f"API ({user.get_username()})", header=header, rows=rows, actor=user)
    except ImportRejected as exc:
        raise ItemsRejected(
            [(e.row - FIRST_ROW if e.row >= FIRST_ROW else None, e.column, e.reason) for e in exc.errors]
        ) from None
    return Status(201, {"changed": result.changed, "unchanged": result.unchanged})


@router.get("", response=list[TariffRead], summary="Tariff versions (all, or those in force on a date)")
@paginate(Pages)
def list_tariffs(
    request: Any,
    on: date | None = Query(None, description="only versions in force on this date"),  # noqa: B008
) -> list[TariffVersion]:
    require(request, roles.TARIFFS_VIEW)
    return catalog(on=on)


@router.get("/{code}", response=TariffDocumentRead, summary="The tariff document of the version in force")
def get_tariff(
    request: Any,
    code: str = KEY,
    on: date | None = Query(None, description="default: today"),  # noqa: B008
) -> TariffVersion:
    require(request, roles.TARIFFS_VIEW)
    version = version_in_force(code=code, on=on or timezone.localdate())
    if version is None:
        raise Http404(f"no version of tariff {code!r} in force on {on or 'today'}")
    return version
