"""Tier quotas (一户多人口) for the API permission table: a residential account the user sees to grant one on
(applied today, so its first month is after the company's billed period on any date), and a quota granted
by a system job on another one, to end a month after it starts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from wattdesk.application.customers import household_quota
from wattdesk.core.period import add_months
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account

EVIDENCE = "户口簿 5人 (permission table)"


def quota_parts(user: Any, now: datetime) -> tuple[dict[str, str], dict[str, Any]]:
    """(URL parts, request body of POST /api/tier-quotas)."""
    residential = Account.objects.filter(customer__customer_class="residential").order_by("number")
    mine = list(accounts_for(user).filter(pk__in=residential.values("pk")).order_by("number")[:2])
    pair = mine if len(mine) == 2 else list(residential[:2])
    today = timezone.localdate(now)
    ended = household_quota.grant_quota(
        account_number=pair[1].number,
        persons=5,
        evidence=EVIDENCE,
        applied_on=today,
        user=None,
        granted_at=now,
    )
    first = add_months(today.replace(day=1), 1)
    parts = {"tier_quota": str(ended.grant_id), "quota_ends": f"{add_months(first, 1):%Y-%m}"}
    body = {"account": pair[0].number, "persons": 5, "applied_on": today.isoformat(), "evidence": EVIDENCE}
    return parts, body
