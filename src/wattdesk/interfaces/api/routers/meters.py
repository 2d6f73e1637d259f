"""GET /api/meters/{serial}: capability readings.view, meters installed in the caller's scope."""

from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Router
from ninja.params.functions import Path

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import meters_for, service_points_for
from wattdesk.interfaces.api.deps import require
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN
from wattdesk.interfaces.api.schemas.metering import MeterRead

KEY = Path(..., pattern=KEY_PATTERN)

router = Router(tags=["meters"])


@router.get("/{serial}", response=MeterRead, summary="One meter, its registers and installations")
def get_meter(request: Any, serial: str = KEY) -> dict[str, Any]:
    user = require(request, roles.READINGS_VIEW)
    meter = get_object_or_404(meters_for(user), serial=serial)
    installations = (
        meter.installations.filter(service_point__in=service_points_for(user))
        .select_related("service_point")
        .order_by("installed_on", "id")
    )
    return {
        "serial": meter.serial,
        "multiplier": meter.multiplier,
        "digits": meter.digits,
        "interval": meter.interval,
        "registers": sorted(meter.registers.values_list("kind", flat=True)),
        "installations": [
            {
                "service_point": i.service_point.number,
                "installed_on": i.installed_on,
                "removed_on": i.removed_on,
            }
            for i in installations
        ],
    }
