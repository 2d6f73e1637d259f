"""定量定比 sub-use agreements for the API permission table: a service point of the company with a tariff, a
start after every bill of its account, one agreement already stored (to end) and the body of a new one."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Max

from wattdesk.application.tariffs import sub_uses
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.tariffs.models import TariffAssignment

REVIEWED_ON = date(2024, 1, 1)  # in the past on any date a test runs


def sub_use_parts() -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """(URL parts, body of POST /api/sub-uses, body of POST /api/sub-uses/{id}/end)."""
    a = TariffAssignment.objects.filter(effective_to__isnull=True).order_by("service_point_id").first()
    assert a is not None
    sp = ServicePoint.objects.get(pk=a.service_point_id)
    billed_to = Bill.objects.filter(account_id=sp.account_id).aggregate(end=Max("end"))["end"]
    start = max(billed_to or a.effective_from, a.effective_from)
    # the service point's own tariff as the sub-use's: a TOU one then has every period of the main tariff
    common = {"service_point": sp.number, "tariff_code": a.tariff_code, "mode": "fixed_kwh", "value": "1"}
    stored = sub_uses.create_sub_use_agreement(
        request=sub_uses.SubUseRequest(
            **common, label="permission end", effective_from=start, reviewed_on=REVIEWED_ON
        ),
        user=None,
        today=REVIEWED_ON,
    )
    body = {**common, "label": "permission create", "effective_from": start.isoformat()}
    body["reviewed_on"] = REVIEWED_ON.isoformat()
    end = {"effective_to": (start + timedelta(days=1)).isoformat(), "reason": "permission table"}
    return {"sub_use": str(stored.pk), "sub_use_sp": sp.number}, body, end
