"""Service changes (变更用电): record one (capability changes.record), list an account's (billing.view)."""

from typing import Any

from django.http import Http404
from django.utils import timezone
from ninja import Router, Status
from ninja.params.functions import Query

from wattdesk.application.changes.record import ChangeRequest, record_change
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.changes.models import ServiceChange
from wattdesk.interfaces.api.deps import require
from wattdesk.interfaces.api.schemas.changes import ServiceChangeCreate, ServiceChangeRead

router = Router(tags=["service changes"])


@router.post(
    "", response={201: ServiceChangeRead}, summary="Record a mid-period change (改类, 减容, 暂停 ...)"
)
def create_change(request: Any, payload: ServiceChangeCreate) -> Status[Any]:
    user = require(request, roles.SERVICE_CHANGES)
    if not accounts_for(user).filter(number=payload.account).exists():
        raise Http404(f"no account {payload.account!r}")
    change = record_change(
        request=ChangeRequest(**payload.dict()),
        actor=user,
        now=timezone.now(),
    )
    return Status(201, ServiceChange.objects.select_related("account", "service_point").get(pk=change.pk))


@router.get("", response=list[ServiceChangeRead], summary="The recorded changes of an account")
def list_changes(request: Any, account: str = Query(..., max_length=32)) -> list[ServiceChange]:
    user = require(request, roles.BILLING_VIEW)
    return list(
        ServiceChange.objects.filter(account__number=account, account__in=accounts_for(user))
        .select_related("account", "service_point")
        .order_by("effective_on", "id")
    )
