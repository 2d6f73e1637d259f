"""API schemas of 定量定比 sub-use agreements (docs/billing-cases/sub-use.md)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from ninja import Field, Schema

from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, NO_CONTROL_CHARS, DecimalStr


class SubUseCreate(Schema):
    service_point: str = Field(pattern=KEY_PATTERN, description="service point number", examples=["SP-0001"])
    label: str = Field(min_length=1, max_length=40, pattern=NO_CONTROL_CHARS, examples=["照明"])
    tariff_code: str = Field(pattern=KEY_PATTERN, description="the sub-use's own tariff")
    mode: Literal["fixed_kwh", "fixed_ratio"] = Field(description="定量 (kWh per month) or 定比 (percent)")
    value: str = Field(
        max_length=40, description="kWh per month (定量) or percent of the meter (定比)", examples=["3000"]
    )
    effective_from: date
    reviewed_on: date = Field(description="latest 核定 (review) of the quantity or share")
    deduction: Literal["flat_first", "pro_rata", "priority_list"] = "flat_first"
    priority: list[str] = Field(
        default_factory=list, max_length=8, description="period keys, priority_list only"
    )
    in_pf_calculation: bool = True
    in_pf_base: bool = False
    overflow: Literal["cap", "error"] = "cap"


class SubUseEnd(Schema):
    effective_to: date = Field(description="first day no longer under the agreement")
    reason: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL_CHARS, examples=["分表计量已装"])


class SubUseRead(Schema):
    id: int
    service_point: str
    label: str
    tariff_code: str
    mode: str
    value: DecimalStr
    deduction: str
    priority: list[str]
    in_pf_calculation: bool
    in_pf_base: bool
    overflow: str
    effective_from: date
    effective_to: date | None
    reviewed_on: date
    end_reason: str
