"""Objects the waiver and disconnection-order endpoints act on, inside one user's scope (API tests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.dunning.models import DisconnectionOrder
from wattdesk.domain.ledger.operations import post_entry
from wattdesk.domain.payments.models import WaiverRequest

SH = ZoneInfo("Asia/Shanghai")
LATE_FEE_AT = datetime(2026, 11, 20, 23, 59, tzinfo=SH)


def other_clerk(username: str = "waiver_requester") -> Any:
    """A second billing clerk: the requester of waivers someone else decides (four-eyes)."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.groups.add(Group.objects.get_or_create(name=roles.BILLING_CLERK)[0])
    return user


def with_late_fee(bill: Bill, amount: str = "3.50") -> Bill:
    post_entry(
        account_id=bill.account_id,
        kind="late_fee",
        amount=Decimal(amount),
        posted_at=LATE_FEE_AT,
        bill_id=bill.pk,
        memo=f"{bill.period} 违约金",
    )
    return bill


def order_parts(user: Any, now: datetime) -> dict[str, str]:
    """URL parts {waiver_new_bill} {waiver_approve} {waiver_reject} {order_approve} {order_execute}
    {order_cancel}: objects in the user's scope ready for each step ("0" where the scope is too small)."""
    candidates = (
        accounts_for(user)
        .filter(bills__isnull=False, customer__protected=False)
        .select_related("customer")
        .distinct()
        .order_by("number")[:50]
    )
    accounts = [a for a in candidates if not (a.customer.payment_profile or {}).get("vulnerable")][:3]
    out = dict.fromkeys(
        (
            "waiver_new_bill",
            "waiver_approve",
            "waiver_reject",
            "order_approve",
            "order_execute",
            "order_cancel",
        ),
        "0",
    )
    if len(accounts) < 3:
        return out
    bills = [Bill.objects.filter(account=a).order_by("-period", "-version").first() for a in accounts]
    requester = other_clerk()
    b0, b1, b2 = (with_late_fee(b) for b in bills if b is not None)
    out["waiver_new_bill"] = str(b0.pk)
    for key, bill in (("waiver_approve", b1), ("waiver_reject", b2)):
        req = WaiverRequest.objects.create(
            bill=bill, amount=Decimal("3.50"), reason="test", requested_by=requester, requested_at=now
        )
        out[key] = str(req.pk)
    a0, a1, a2 = accounts
    approve = DisconnectionOrder.objects.create(
        account=a0, kind="disconnect", status="notified", amount=Decimal("10.00"),
        planned_at=now - timedelta(days=1), created_at=now - timedelta(days=8),
    )  # fmt: skip
    restore = DisconnectionOrder.objects.create(
        account=a1, kind="restore", status="planned", planned_at=now, created_at=now
    )
    cancel = DisconnectionOrder.objects.create(
        account=a2, kind="disconnect", status="notified", amount=Decimal("10.00"),
        planned_at=now + timedelta(days=3), created_at=now - timedelta(days=4),
    )  # fmt: skip
    out["order_approve"], out["order_execute"], out["order_cancel"] = (
        str(approve.pk),
        str(restore.pk),
        str(cancel.pk),
    )
    return out
