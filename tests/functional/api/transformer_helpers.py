"""Transformer archive (变损) for the API permission table: a model and a customer transformer on a service point
the user sees (to read and to end), and the bodies that register a new model, transformer and loss table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from wattdesk.application.metering import transformers as uc
from wattdesk.domain.access.queries import service_points_for
from wattdesk.domain.customers.models import ServicePoint

MODEL = "S11-PERM-315/10"


def transformer_parts(user: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """(URL parts, request bodies by OpenAPI path)."""
    uc.register_model(
        actor=None,
        data=uc.ModelInput(
            code=MODEL,
            capacity_kva=Decimal(315),
            p0_kw=Decimal("0.48"),
            pk_dyn11_kw=Decimal("3.65"),
            i0_percent=Decimal(1),
            uk_percent=Decimal(4),
            effective_from=date(2020, 1, 1),
        ),
    )
    seen = (
        service_points_for(user).order_by("number").first() or ServicePoint.objects.order_by("number").first()
    )
    assert seen is not None
    other = ServicePoint.objects.exclude(account_id=seen.account_id).order_by("number").first()
    assert other is not None
    uc.install_transformer(
        actor=None,
        data=uc.TransformerInput(
            number="TR-PERM", model_code=MODEL, service_points=[seen.number], effective_from=date(2020, 1, 1)
        ),
    )
    bodies: dict[str, Any] = {
        "/api/transformers/models": {
            "code": "S11-PERM-NEW",
            "capacity_kva": "200",
            "p0_kw": "0.34",
            "pk_dyn11_kw": "2.6",
            "i0_percent": "1.1",
            "uk_percent": "4",
            "effective_from": "2020-01-01",
        },
        "/api/transformers": {
            "number": "TR-PERM-NEW",
            "model_code": MODEL,
            "service_points": [other.number],
            "effective_from": "2020-01-01",
        },
        "/api/transformers/{number}/end": {"end_on": "2026-12-01"},
        "/api/transformers/loss-table": {
            "effective_from": "2020-01-01",
            "rows": [{"capacity_kva": "315", "basis": "kwh", "lower": "0", "loss_kwh": "900"}],
        },
    }
    return {"transformer": "TR-PERM"}, bodies
