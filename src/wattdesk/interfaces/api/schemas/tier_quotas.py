"""Schemas of /api/tier-quotas (一户多人口 阶梯电量基数): grant, end, read."""

from __future__ import annotations

from datetime import date

from ninja import Field, Schema

from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, NO_CONTROL_CHARS, PERIOD_PATTERN, DecimalStr


class TierQuotaCreate(Schema):
    account: str = Field(pattern=KEY_PATTERN, description="account number (户号)")
    persons: int = Field(ge=1, le=99, description="persons of the household (户口簿 / 居住证, same address)")
    applied_on: date = Field(description="date of the application; the policy decides the first month")
    evidence: str = Field(
        min_length=1, max_length=300, pattern=NO_CONTROL_CHARS, examples=["户口簿 320102…, 7人"]
    )
    policy: str = Field("default", min_length=1, max_length=32, pattern=NO_CONTROL_CHARS)
    kind: str = Field("large_household", min_length=1, max_length=32, pattern=NO_CONTROL_CHARS)
    note: str = Field("", max_length=300, pattern=NO_CONTROL_CHARS)


class TierQuotaEnd(Schema):
    ends_from: str = Field(pattern=PERIOD_PATTERN, description="first month (YYYY-MM) without the quota")
    reason: str = Field(min_length=1, max_length=300, pattern=NO_CONTROL_CHARS, examples=["户籍迁出"])


class TierQuotaRead(Schema):
    grant_id: int
    account: str
    kind: str
    persons: int
    policy: str
    applied_on: date
    valid_from: str = Field(description="first month (YYYY-MM)")
    valid_to: str | None = Field(description="first month without the quota (YYYY-MM); null = open")
    uplift_kwh: DecimalStr
    unit: str = Field(description="per_month | per_year")
    tiers: str = Field(description="tier1 | all")
    evidence: str
    note: str
    ended: bool
    end_reason: str
