"""API schemas of bills and billing runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Field, Schema

from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS, PERIOD_PATTERN, DecimalStr


class BillRead(Schema):
    id: int
    account: str
    period: str
    version: int
    status: str
    start: date
    end: date = Field(description="exclusive")
    kwh: DecimalStr
    total: DecimalStr
    due_on: date | None
    issued_at: datetime | None

    @staticmethod
    def resolve_account(obj: Any) -> str:
        return str(obj.account.number)


class BillLineRead(Schema):
    seq: int
    code: str
    description: str
    quantity: DecimalStr
    unit: str
    rate: DecimalStr
    amount: DecimalStr
    rule: str


class BillDetailRead(BillRead):
    hold_reason: str
    lines: list[BillLineRead]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.order_by("seq"))


class BillingRunRead(Schema):
    id: int
    period: str
    route: str | None
    status: str = Field(description="stored status: pending, running, finished, failed")
    state: str = Field(
        description="pending, running, stalled (live, but its process stopped: no heartbeat), finished, failed"
    )
    done: int = Field(description="accounts done so far")
    total: int = Field(description="accounts to bill (known once the run has selected them)")
    percent: int
    attempt: int = Field(description="1, then + 1 each time the run is resumed")
    allow_empty: bool
    started_at: datetime
    heartbeat_at: datetime | None
    finished_at: datetime | None
    error: str
    counts: dict[str, Any]

    @staticmethod
    def resolve_route(obj: Any) -> str | None:
        return obj.route.code if obj.route_id else None

    @staticmethod
    def resolve_state(obj: Any) -> str:
        from django.utils import timezone

        from wattdesk.application.billing.launch import run_state

        return run_state(obj, now=timezone.now())

    @staticmethod
    def resolve_percent(obj: Any) -> int:
        from django.utils import timezone

        from wattdesk.application.billing.launch import status_of

        return status_of(obj, now=timezone.now()).percent


class BillingRunCreate(Schema):
    period: str = Field(pattern=PERIOD_PATTERN, examples=["2026-10"])
    route: str | None = Field(None, max_length=32, pattern=NO_CONTROL_CHARS, description="reading route code")
    allow_empty: bool = Field(False, description="run even if the period has no meter reading at all")


# --- bill review actions (/api/bills/…): approve, hold, cancel, issue ----------------------------------


class BillApprove(Schema):
    note: str = Field(
        "", max_length=300, pattern=NO_CONTROL_CHARS, description="the reviewer's note (audited)"
    )


class BillHold(Schema):
    reason: str = Field(min_length=1, max_length=300, pattern=NO_CONTROL_CHARS, examples=["表码待核实"])


class BillCancel(Schema):
    reason: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL_CHARS, examples=["读数录入错误"])


class BillIssue(Schema):
    period: str = Field(pattern=PERIOD_PATTERN, description="YYYY-MM")
    route: str = Field(
        "", max_length=32, pattern=NO_CONTROL_CHARS, description="reading route code; all if empty"
    )
    include_held_approved: bool = Field(False, description="also issue bills held and then approved")
    due_days: int | None = Field(
        None, ge=0, le=366, description="days from issue to due date (policy default)"
    )


class BillActionRead(Schema):
    bill_id: int
    account: str
    period: str
    total: DecimalStr
    status: str = Field(description="the bill's status after the action")


class BillCancelledRead(BillActionRead):
    version: int
    reversal_entry_id: int | None
    reversal_amount: DecimalStr = Field(description="the reversal of the bill's ledger charge (negative)")


class BillIssueRead(Schema):
    period: str
    issued: int
    total: DecimalStr
    due_on: date
    still_held: int
