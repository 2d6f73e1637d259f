"""Per-account tier quotas (一户多人口): list an account's, grant one, end one. Each action is one call of
``application.customers.household_quota`` (capability billing.review, account lock, audit entry); a refusal
is a 422 with the reason, an account or grant outside the caller's scope a 404."""

from dataclasses import asdict
from typing import Any

from django.http import Http404
from django.utils import timezone
from ninja import Router, Status
from ninja.params.functions import Query

from wattdesk.application.customers import household_quota as quotas
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import TierQuotaGrant
from wattdesk.interfaces.api.deps import require
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, ErrorRead
from wattdesk.interfaces.api.schemas.tier_quotas import TierQuotaCreate, TierQuotaEnd, TierQuotaRead

router = Router(tags=["tier quotas"])
MAX_ID = 2**62
RESPONSES: dict[int, Any] = {404: ErrorRead, 422: ErrorRead}


def _account_in_scope(user: Any, number: str) -> None:
    if not accounts_for(user).filter(number=number).exists():
        raise Http404("no such account")


@router.get("", response=list[TierQuotaRead], summary="Tier quotas (一户多人口) of an account")
def list_quotas(
    request: Any,
    account: str = Query(..., pattern=KEY_PATTERN),
) -> list[dict[str, Any]]:
    user = require(request, roles.CUSTOMERS_VIEW)
    _account_in_scope(user, account)
    return [asdict(q) for q in quotas.quotas_of(account_number=account)]


@router.post(
    "",
    response={201: TierQuotaRead, **RESPONSES},
    summary="Grant a tier quota (一户多人口 阶梯电量基数) by the policy in force (audited)",
)
def grant(request: Any, payload: TierQuotaCreate) -> Status[dict[str, Any]]:
    user = require(request, roles.BILLING_REVIEW)
    _account_in_scope(user, payload.account)
    try:
        q = quotas.grant_quota(
            account_number=payload.account,
            persons=payload.persons,
            evidence=payload.evidence,
            applied_on=payload.applied_on,
            user=user,
            granted_at=timezone.now(),
            policy_code=payload.policy,
            kind=payload.kind,
            note=payload.note,
        )
    except quotas.QuotaNotFound:
        raise Http404("no such account") from None
    except quotas.QuotaInputError as exc:
        return Status(422, {"detail": str(exc)})
    return Status(201, asdict(q))


@router.post(
    "/{grant_id}/end",
    response={200: TierQuotaRead, **RESPONSES},
    summary="End a tier quota from a month on (audited)",
)
def end(request: Any, grant_id: int, payload: TierQuotaEnd) -> Status[dict[str, Any]]:
    user = require(request, roles.BILLING_REVIEW)
    if (
        not 0 < grant_id <= MAX_ID
        or not TierQuotaGrant.objects.filter(pk=grant_id, account__in=accounts_for(user)).exists()
    ):
        raise Http404("no such tier quota")
    try:
        q = quotas.end_quota(
            grant_id=grant_id,
            ends_from=payload.ends_from,
            reason=payload.reason,
            user=user,
            ended_at=timezone.now(),
        )
    except quotas.QuotaNotFound:
        raise Http404("no such tier quota") from None
    except quotas.QuotaInputError as exc:
        return Status(422, {"detail": str(exc)})
    return Status(200, asdict(q))
