"""Inspection cases in each state an endpoint needs, opened and computed by a clerk of their own (so the role
under test may approve them), on an account the user sees."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from wattdesk.application.inspection import cases
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account

AT = datetime(2024, 3, 2, 1, 0, tzinfo=UTC)
FACTS = {"usages": [{"capacity_kw": "2", "use": "power", "price": "0.40"}]}


def inspection_parts(user: Any) -> dict[str, int]:
    inspector, created = get_user_model().objects.get_or_create(username="perm_inspector")
    if created:
        inspector.groups.add(Group.objects.get_or_create(name=roles.BILLING_CLERK)[0])
    account = accounts_for(user).order_by("number").first() or Account.objects.order_by("number").first()
    assert account is not None

    def new(state: str) -> int:
        case = cases.open_case(user=inspector, account_number=account.number, behaviour_code="T1",
                               found_on=date(2024, 3, 1), inspector="王检查", evidence="permission table",
                               opened_at=AT)  # fmt: skip
        if state in ("computed", "approved", "posted"):
            cases.compute_case(case_id=case.pk, user=inspector, facts=FACTS, computed_at=AT)
        if state in ("approved", "posted"):
            admin = get_user_model().objects.filter(groups__name=roles.ADMIN).order_by("pk").first()
            cases.approve_case(case_id=case.pk, user=admin, approved_at=AT)
        if state == "posted":
            cases.post_case(case_id=case.pk, user=inspector, posted_at=AT)
        return case.pk

    return {
        "inspection_case": new("open"),
        "inspection_compute": new("open"),
        "inspection_approve": new("computed"),
        "inspection_post": new("approved"),
        "inspection_reject": new("open"),
        "inspection_reverse": new("posted"),
    }
