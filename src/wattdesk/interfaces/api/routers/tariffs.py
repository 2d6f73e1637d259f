"""Tariff catalog (电价目录): capability tariffs.view."""

from datetime import date
from typing import Any

from django.http import Http404
from django.utils import timezone
from ninja import Router
from ninja.pagination import paginate
from ninja.params.functions import Path, Query

from wattdesk.application.tariffs.catalog import catalog
from wattdesk.domain.access import roles
from wattdesk.domain.tariffs.models import TariffVersion
from wattdesk.domain.tariffs.queries import version_in_force
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN
from wattdesk.interfaces.api.schemas.tariffs import TariffDocumentRead, TariffRead

KEY = Path(..., pattern=KEY_PATTERN)

router = Router(tags=["tariffs"])


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
