"""Transformer archive for 变损 (高供低计): register models, customer transformers and the loss table.

Writes need ``metering.archive`` (billing clerk, admin), reads ``readings.view``. Each write is one use case of
``application.metering.transformers`` (transaction, lock, audit entry); bad input is a 422 with the reason.
"""

from typing import Any

from django.http import Http404
from ninja import Router, Status
from ninja.params.functions import Path, Query

from wattdesk.application.metering import transformers as uc
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import service_points_for
from wattdesk.domain.metering.models import CustomerTransformer, TransformerModel
from wattdesk.interfaces.api.deps import require
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, ErrorRead
from wattdesk.interfaces.api.schemas.transformers import (
    CustomerTransformerCreate,
    CustomerTransformerRead,
    LossTableCreate,
    LossTableRead,
    TransformerEnd,
    TransformerModelCreate,
    TransformerModelRead,
)

KEY = Path(..., pattern=KEY_PATTERN)

router = Router(tags=["transformers"])


@router.get("/models", response=list[TransformerModelRead], summary="Transformer model versions")
def list_models(
    request: Any,
    code: str | None = Query(None, max_length=40, description="only this model code"),
) -> list[TransformerModel]:
    require(request, roles.READINGS_VIEW)
    qs = TransformerModel.objects.order_by("code", "effective_from")
    return list(qs.filter(code=code) if code else qs[:500])


@router.post(
    "/models",
    response={201: TransformerModelRead, 422: ErrorRead},
    summary="Register a transformer model version (nameplate losses) from a date",
)
def create_model(request: Any, body: TransformerModelCreate) -> Status[TransformerModel]:
    user = require(request, roles.METERING_ARCHIVE)
    model = uc.register_model(actor=user, data=uc.ModelInput(**body.dict()))
    return Status(201, model)


@router.post(
    "/loss-table",
    response={201: LossTableRead, 422: ErrorRead},
    summary="Store the loss table (变损查对表) in force from a date (all rows or none)",
)
def create_loss_table(request: Any, body: LossTableCreate) -> Status[dict[str, Any]]:
    user = require(request, roles.METERING_ARCHIVE)
    n = uc.load_loss_table(
        actor=user,
        rows=[uc.TableRowInput(**r.dict()) for r in body.rows],
        effective_from=body.effective_from,
        source=body.source,
    )
    return Status(201, {"effective_from": body.effective_from, "rows": n})


def _read(number: str, user: Any) -> dict[str, Any]:
    versions = list(
        CustomerTransformer.objects.filter(number=number, service_points__in=service_points_for(user))
        .distinct()
        .prefetch_related("service_points")
        .order_by("effective_from")
    )
    if not versions:
        raise Http404(f"no transformer {number!r}")
    return {
        "number": number,
        "versions": [
            {
                "model_code": v.model_code,
                "service_points": sorted(sp.number for sp in v.service_points.all()),
                "vector_group": v.vector_group,
                "correction_k": v.correction_k,
                "loss_method": v.loss_method,
                "fixed_kwh": v.fixed_kwh,
                "fixed_kvarh": v.fixed_kvarh,
                "shift": v.shift,
                "effective_from": v.effective_from,
                "effective_to": v.effective_to,
            }
            for v in versions
        ],
    }


@router.post(
    "",
    response={201: CustomerTransformerRead, 422: ErrorRead},
    summary="Install a customer transformer at its service point(s) (高供低计), or a new setting version",
)
def create_transformer(request: Any, body: CustomerTransformerCreate) -> Status[dict[str, Any]]:
    user = require(request, roles.METERING_ARCHIVE)
    tr = uc.install_transformer(actor=user, data=uc.TransformerInput(**body.dict()))
    return Status(201, _read(tr.number, user))


@router.get("/{number}", response=CustomerTransformerRead, summary="A customer transformer and its versions")
def get_transformer(request: Any, number: str = KEY) -> dict[str, Any]:
    user = require(request, roles.READINGS_VIEW)
    return _read(number, user)


@router.post(
    "/{number}/end",
    response={200: CustomerTransformerRead, 422: ErrorRead},
    summary="Take a customer transformer out of service (removed, or sealed for 暂停) from a date",
)
def end_transformer(request: Any, body: TransformerEnd, number: str = KEY) -> dict[str, Any]:
    user = require(request, roles.METERING_ARCHIVE)
    tr = uc.end_transformer(actor=user, number=number, end_on=body.end_on)
    return _read(tr.number, user)
