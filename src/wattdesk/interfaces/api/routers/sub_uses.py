"""定量定比 sub-use agreements: list a service point's (``tariffs.view``); create and end (``tariffs.edit`` or
``billing.review``), one call each of ``application.tariffs.sub_uses`` (validation, row lock, audit entry). A
refusal is a 422 naming the field; an unknown agreement a 404. See docs/billing-cases/sub-use.md.
"""

from typing import Any

from django.http import Http404
from django.utils import timezone
from ninja import Router, Status
from ninja.params.functions import Query

from wattdesk.application.tariffs import sub_uses
from wattdesk.domain.access import roles
from wattdesk.domain.tariffs.models import SubUseAgreement
from wattdesk.domain.tariffs.queries import sub_uses_of_service_point as sub_use_queries
from wattdesk.interfaces.api.deps import require
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, ErrorRead, ValidationErrorRead
from wattdesk.interfaces.api.schemas.sub_uses import SubUseCreate, SubUseEnd, SubUseRead

router = Router(tags=["tariffs"])

CAN_EDIT = (roles.TARIFFS_EDIT, roles.BILLING_REVIEW)
MAX_ID = 2**63 - 1


def _read(a: SubUseAgreement) -> dict[str, Any]:
    return {
        "id": a.pk,
        "service_point": a.service_point.number,
        "label": a.label,
        "tariff_code": a.tariff_code,
        "mode": a.mode,
        "value": a.value,
        "deduction": a.deduction,
        "priority": [k for k in a.priority.split(",") if k],
        "in_pf_calculation": a.in_pf_calculation,
        "in_pf_base": a.in_pf_base,
        "overflow": a.overflow,
        "effective_from": a.effective_from,
        "effective_to": a.effective_to,
        "reviewed_on": a.reviewed_on,
        "end_reason": a.end_reason,
    }


@router.get(
    "", response=list[SubUseRead], summary="The sub-use agreements of a service point (all, oldest first)"
)
def list_sub_uses(
    request: Any,
    service_point: str = Query(..., pattern=KEY_PATTERN, description="service point number"),
) -> list[dict[str, Any]]:
    require(request, roles.TARIFFS_VIEW)
    return [_read(a) for a in sub_use_queries(service_point_number=service_point)]


@router.post(
    "",
    response={201: SubUseRead, 422: ValidationErrorRead},
    summary="Create a 定量定比 sub-use agreement for a service point (audited)",
)
def create(request: Any, payload: SubUseCreate) -> Status[dict[str, Any]]:
    user = require(request, *CAN_EDIT)
    agreement = sub_uses.create_sub_use_agreement(
        request=sub_uses.SubUseRequest(**payload.dict()), user=user, today=timezone.localdate()
    )
    return Status(201, _read(agreement))


@router.post(
    "/{agreement_id}/end",
    response={200: SubUseRead, 404: ErrorRead, 422: ValidationErrorRead},
    summary="End a sub-use agreement on a date (audited)",
)
def end(request: Any, agreement_id: int, payload: SubUseEnd) -> Status[dict[str, Any]]:
    user = require(request, *CAN_EDIT)
    if not 0 < agreement_id <= MAX_ID:
        raise Http404("no such sub-use agreement")
    try:
        agreement = sub_uses.end_sub_use_agreement(
            agreement_id=agreement_id, effective_to=payload.effective_to, reason=payload.reason, user=user
        )
    except sub_uses.SubUseNotFound:
        raise Http404("no such sub-use agreement") from None
    return Status(200, _read(agreement))
