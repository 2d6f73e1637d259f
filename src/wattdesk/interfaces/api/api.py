"""The NinjaAPI instance mounted at ``/api/``: auth, routers, exception handlers, OpenAPI at
``/api/openapi.json`` and Swagger UI at ``/api/docs`` served from django-ninja's own static files (no CDN).

Every error is a 4xx with a JSON body ``{"detail": reason}`` (422 adds ``errors: [{index, field, reason}]``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI
from ninja.errors import ValidationError

from wattdesk.application.billing.run import BillingInputError
from wattdesk.application.errors import InputError
from wattdesk.interfaces.api.auth import AUTH
from wattdesk.interfaces.api.errors import ItemsRejected
from wattdesk.interfaces.api.routers import (
    accounts,
    adjustments,
    billing_runs,
    bills,
    collection,
    collection_orders,
    customers,
    fee_control,
    inspection,
    jobs,
    meters,
    payments,
    readings,
    service_changes,
    sub_uses,
    tariffs,
    tier_quotas,
    transformers,
)


class WattDeskAPI(NinjaAPI):
    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        """Ninja's URL patterns, marked ``login_not_required``: the API authenticates every request itself
        (bearer token or session) and answers 401 in JSON instead of redirecting to the login page."""
        patterns, app_name, namespace = super().urls
        for p in patterns:
            if isinstance(p, URLPattern):
                login_not_required(p.callback)
        return patterns, app_name, namespace


api = WattDeskAPI(
    title="WattDesk API",
    version="1",
    description="WattDesk electricity marketing management (用电营销管理系统). See docs/api.md.",
    auth=AUTH,
    urls_namespace="api",
)

api.add_router("/customers", customers.router)
api.add_router("/accounts", accounts.router)
api.add_router("/meters", meters.router)
api.add_router("/readings", readings.router)
api.add_router("/tariffs", tariffs.router)
api.add_router("/sub-uses", sub_uses.router)
api.add_router("/service-changes", service_changes.router)
api.add_router("/bills", bills.router)
api.add_router("/billing-runs", billing_runs.router)
api.add_router("/collection", collection.router)
api.add_router("/waivers", collection_orders.waiver_router)
api.add_router("/disconnection-orders", collection_orders.order_router)
api.add_router("/payments", payments.router)
api.add_router("/fee-control", fee_control.router)
api.add_router("/outlets", jobs.outlets_router)
api.add_router("/nightly-passes", jobs.nightly_router)
api.add_router("/reading-imports", jobs.imports_router)
api.add_router("/audit-exports", jobs.exports_router)
api.add_router("/tier-quotas", tier_quotas.router)
api.add_router("/inspection-cases", inspection.router)
api.add_router("/transformers", transformers.router)
api.add_router("/adjustments", adjustments.router)
api.add_router("/reading-corrections", adjustments.corrections_router)


def _field_of(loc: Any) -> tuple[int | None, str]:
    """(item index, field) from a pydantic location such as ("body", "items", 3, "value")."""
    parts = [p for p in (loc or ()) if p not in ("body", "query", "path", "items", "payload")]
    index = next((p for p in parts if isinstance(p, int)), None)
    names = [str(p) for p in parts if not isinstance(p, int)]
    return index, ".".join(names) or "-"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for e in exc.errors:
        index, field = _field_of(e.get("loc"))
        errors.append({"index": index, "field": field, "reason": str(e.get("msg", "invalid"))})
    first = errors[0] if errors else {"field": "-", "reason": "invalid"}
    detail = f"invalid request: {first['field']}: {first['reason']}"
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


@api.exception_handler(ItemsRejected)
def on_items_rejected(request: HttpRequest, exc: ItemsRejected) -> HttpResponse:
    errors = [{"index": i, "field": f, "reason": r} for i, f, r in exc.errors]
    return api.create_response(request, {"detail": str(exc), "errors": errors}, status=422)


@api.exception_handler(InputError)
@api.exception_handler(BillingInputError)
def on_input_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=422)
