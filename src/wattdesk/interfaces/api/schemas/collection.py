"""Schemas of the collection API (催费管理): worklist, visits, scorecards, aging, recovery rate.

Money is a JSON string holding the exact decimal (``"1234.50"``); rates are 4-place decimal strings
(``"0.9731"`` = 97.31 %).
"""

from __future__ import annotations

from datetime import date, datetime

from ninja import Field, Schema
from pydantic import ConfigDict

from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS, DecimalStr


class WorkItemRead(Schema):
    rank: int
    account_number: str
    customer_name: str
    phone: str
    address: str
    route: str
    amount_due: DecimalStr
    days_overdue: int
    distance_km: float | None
    score: float = Field(..., description="priority score (core.worklist): higher first")
    last_visit: str = Field(..., description="outcome of the latest visit, '' if none")


class WorklistRead(Schema):
    collector: str
    as_of: date
    items: list[WorkItemRead]


class VisitCreate(Schema):
    """A visit outcome; validated by ``application.collection.record_visit`` (422 with the reason)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    account: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL_CHARS, description="account number")
    outcome: str = Field(max_length=16, pattern=NO_CONTROL_CHARS, examples=["promised"],
                         description="paid | promised | not_home | refused | disputed")  # fmt: skip
    promised_on: date | None = Field(None, description="required when the outcome is promised")
    amount_collected: str = Field(
        "0",
        max_length=20,
        pattern=NO_CONTROL_CHARS,
        description="yuan, informational (the money is a payment)",
    )
    note: str = Field("", max_length=300, pattern=NO_CONTROL_CHARS)


class VisitRead(Schema):
    id: int
    collector: str
    account: str
    visited_at: datetime
    outcome: str
    promised_on: date | None
    amount_collected: DecimalStr
    note: str


class KpiRead(Schema):
    key: str
    label: str
    rank: int
    parent: str = Field(..., description="region of a route, region of a collector's first route")
    accounts: int
    billed: DecimalStr
    collected: DecimalStr
    recovery_rate: DecimalStr
    arrears_start: DecimalStr
    arrears_end: DecimalStr
    arrears_reduction: DecimalStr
    bills: int
    bills_on_time: int
    on_time_share: DecimalStr
    visits: int
    complaints: int


class ScorecardsRead(Schema):
    period: str
    by: str
    rows: list[KpiRead]
    total: KpiRead
    trend_periods: list[str]
    trend: dict[str, list[DecimalStr]] = Field(..., description="key -> recovery rate per trend period")


class AgingRowRead(Schema):
    key: str
    buckets: dict[str, DecimalStr] = Field(..., description="not_due, 0-30, 31-60, 61-90, 91-180, >180")
    total: DecimalStr


class AgingRead(Schema):
    as_of: date
    by: str
    rows: list[AgingRowRead]


class RecoveryRowRead(Schema):
    key: str
    billed: DecimalStr
    collected: DecimalStr
    rate: DecimalStr


class RecoveryRead(Schema):
    period: str
    by: str | None
    as_of: date | None
    rows: list[RecoveryRowRead] = Field(..., description="one row per group, then 'all'")
