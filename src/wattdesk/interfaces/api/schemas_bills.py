"""Request and response schemas of the bill review actions (``/api/bills/…``): approve, hold, cancel, issue."""

from __future__ import annotations

from datetime import date

from ninja import Field, Schema

from wattdesk.interfaces.api.schemas import NO_CONTROL_CHARS, PERIOD_PATTERN, DecimalStr


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
