"""退补单 and held-reading corrections in each state an endpoint of the permission table needs.

The 退补 need an issued bill in the role's scope: the sample company's 2026-09 is billed (the run), its held
bills approved and the period issued (the review use cases) — 2026-10, whose drafts and held bills the review
endpoints need, is left alone. Held readings are imported below the latest value of three meters (the last
ones by serial, away from ``valid_reading``'s meter); the corrections are requested by a clerk of their own so
the role under test may approve them.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Max

from wattdesk.application.billing import adjustment, reading_correction, review
from wattdesk.application.billing.run import run_billing
from wattdesk.application.metering.readings_import import import_readings
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import bills_for
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.metering.models import ReadingSource, RegisterReading

AT = datetime(2026, 10, 20, 1, 0, tzinfo=UTC)
PERIOD = "2026-09"


def _clerk() -> Any:
    clerk, created = get_user_model().objects.get_or_create(username="perm_corrector")
    if created:
        clerk.groups.add(Group.objects.get_or_create(name=roles.BILLING_CLERK)[0])
    return clerk


def _issued_bill(user: Any) -> Bill:
    """An issued bill the user sees (2026-10 once the sample company issues it), else 2026-09 billed and issued."""
    issued = Bill.objects.filter(status=BillStatus.ISSUED, kwh__gt=0).order_by("id")
    if not bills_for(user).filter(pk__in=issued.values("pk")).exists():
        run_billing(period=PERIOD, run_at=AT, workers=1)
        held = list(Bill.objects.filter(period=PERIOD, status=BillStatus.HELD).values_list("pk", flat=True))
        if held:
            review.approve_bills(bill_ids=held, user=None, approved_at=AT)
        review.issue_bills(
            period=PERIOD, user=None, issued_at=AT, issued_on=AT.date(), include_held_approved=True
        )
    return _issued_bills(user, 1)[0]


def _issued_bills(user: Any, n: int) -> list[Bill]:
    """``n`` distinct issued bills, those the user sees first (one live 退补 per bill and error type)."""
    issued = Bill.objects.filter(status=BillStatus.ISSUED, kwh__gt=0).order_by("id")
    seen = list(bills_for(user).filter(pk__in=issued.values("pk")).order_by("id")[:n])
    others = list(issued.exclude(pk__in=[b.pk for b in seen])[: n - len(seen)])
    bills = seen + others
    assert len(bills) == n, bills
    return bills


def _after_bills(reading: RegisterReading) -> date:
    """The day after the reading, or the end of its account's latest bill when later (no bill covers it)."""
    inst = reading.register.meter.installations.select_related("service_point").first()
    ends = (
        Bill.objects.filter(account_id=inst.service_point.account_id).aggregate(m=Max("end"))["m"]
        if inst
        else None
    )
    return max(reading.read_on + timedelta(days=1), ends or reading.read_on)


def _held_readings(n: int) -> list[int]:
    latest = list(
        RegisterReading.objects.filter(
            register__meter__interval=False,
            register__meter__installations__removed_on__isnull=True,
            register__kind="active_total",
            source=ReadingSource.ACTUAL,
            status="valid",
        )
        .select_related("register__meter")
        .order_by("-register__meter__serial", "-read_on")
    )
    seen: dict[str, RegisterReading] = {}
    for r in latest:
        seen.setdefault(r.register.meter.serial, r)
        if len(seen) == n:
            break
    days = {s: _after_bills(r) for s, r in seen.items()}
    rows = "".join(f"{s},active_total,{days[s]},{r.value - Decimal(500)}\n" for s, r in seen.items())
    path = Path(tempfile.mkdtemp()) / "held.csv"
    path.write_text("meter_serial,register,read_on,value\n" + rows)
    as_of = max(days.values())
    import_readings(path=path, as_of=as_of, imported_at=AT)
    return [
        RegisterReading.objects.get(register=r.register, read_on=days[s], status="exception").pk
        for s, r in seen.items()
    ]


def adjustment_parts(user: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """URL parts and request bodies of the /api/adjustments and /api/reading-corrections endpoints."""
    _issued_bill(user)
    *made, posted = _issued_bills(user, 5)  # four made here, the fifth for the POST body
    bills = iter(made)
    clerk = _clerk()

    def new(state: str) -> int:
        bill = next(bills)
        inputs = {"correct_kwh": str(bill.kwh + 1)}
        r = adjustment.create_adjustment(
            bill_id=bill.pk, error_type="wrong_reading", reason_code="perm", reason="permission table",
            inputs=inputs, user=clerk, created_at=AT, today=AT.date(),
        )  # fmt: skip
        if state in ("approved", "issued"):
            adjustment.approve_adjustment(adjustment_id=r.adjustment_id, user=None, approved_at=AT)
        if state == "issued":
            adjustment.issue_adjustment(
                adjustment_id=r.adjustment_id, user=None, issued_at=AT, issued_on=AT.date()
            )
        return r.adjustment_id

    decide_on, approve_on, reject_on = _held_readings(3)

    def pending(reading_id: int) -> int:
        r = reading_correction.decide(
            reading_id=reading_id, action="correct", reason="permission table", user=clerk, decided_at=AT,
            new_value=str(RegisterReading.objects.get(pk=reading_id).value + Decimal(900000)),
        )  # fmt: skip
        assert r.status == "pending", r
        return r.correction_id

    urls = {
        "adjustment_issued": new("issued"),
        "adjustment_approve": new("draft"),
        "adjustment_issue": new("approved"),
        "adjustment_cancel": new("draft"),
        "correction_approve": pending(approve_on),
        "correction_reject": pending(reject_on),
    }
    bodies = {
        "/api/adjustments": {
            "bill_id": posted.pk, "error_type": "wrong_reading", "reason_code": "perm",
            "reason": "permission table", "inputs": {"correct_kwh": str(posted.kwh + 1)},
        },
        "/api/adjustments/{adjustment_id}/approve": {},
        "/api/adjustments/{adjustment_id}/issue": {},
        "/api/adjustments/{adjustment_id}/cancel": {"reason": "permission table"},
        "/api/reading-corrections": {"reading_id": decide_on, "action": "field_check", "reason": "permission table"},
        "/api/reading-corrections/{correction_id}/approve": {},
        "/api/reading-corrections/{correction_id}/reject": {"reason": "permission table"},
    }  # fmt: skip
    return urls, bodies


ENDPOINT_ROWS = (
    ("GET", "/api/adjustments", (roles.BILLING_VIEW, roles.PORTAL_USE), "/api/adjustments"),
    ("POST", "/api/adjustments", (roles.BILLING_REVIEW,), "/api/adjustments"),
    (
        "GET",
        "/api/adjustments/{adjustment_id}",
        (roles.BILLING_VIEW, roles.PORTAL_USE),
        "/api/adjustments/{adjustment_issued}",
    ),
    (
        "POST",
        "/api/adjustments/{adjustment_id}/approve",
        (roles.BILLING_REVIEW,),
        "/api/adjustments/{adjustment_approve}/approve",
    ),
    (
        "POST",
        "/api/adjustments/{adjustment_id}/issue",
        (roles.BILLING_REVIEW,),
        "/api/adjustments/{adjustment_issue}/issue",
    ),
    (
        "POST",
        "/api/adjustments/{adjustment_id}/cancel",
        (roles.BILLING_REVIEW,),
        "/api/adjustments/{adjustment_cancel}/cancel",
    ),
    ("POST", "/api/reading-corrections", (roles.BILLING_REVIEW,), "/api/reading-corrections"),
    (
        "POST",
        "/api/reading-corrections/{correction_id}/approve",
        (roles.BILLING_REVIEW,),
        "/api/reading-corrections/{correction_approve}/approve",
    ),
    (
        "POST",
        "/api/reading-corrections/{correction_id}/reject",
        (roles.BILLING_REVIEW,),
        "/api/reading-corrections/{correction_reject}/reject",
    ),
)
