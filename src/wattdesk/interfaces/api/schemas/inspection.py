"""API schemas of inspection cases (用电检查: 窃电 / 违约用电)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS, DecimalStr

Positive = Field(None, gt=0, lt=10**9, max_digits=16, decimal_places=6)


class InspectionCaseCreate(Schema):
    account: str = Field(
        ..., min_length=1, max_length=32, pattern=NO_CONTROL_CHARS, description="account number"
    )
    behaviour: str = Field(
        ..., min_length=1, max_length=16, pattern=NO_CONTROL_CHARS, description="code, e.g. T1"
    )
    found_on: date
    inspector: str = Field(..., min_length=1, max_length=64, pattern=NO_CONTROL_CHARS)
    evidence: str = Field(..., min_length=1, max_length=2000)


class UsageIn(Schema):
    """One piece of equipment: ``capacity_kw`` (kVA = kW), or for a meter-capacity case the meter's
    ``phase_voltage`` (V), ``rated_current`` (A, 标定电流 or limiter), ``phases`` and ``ct_ratio``."""

    use: Literal["power", "lighting"]
    price: Decimal = Field(
        ..., gt=0, lt=10**9, max_digits=16, decimal_places=6, description="元/kWh, 目录电价"
    )
    capacity_kw: Decimal | None = Positive
    hours_per_day: Decimal | None = Field(None, gt=0, le=24, max_digits=8, decimal_places=4)
    phase_voltage: Decimal | None = Positive
    rated_current: Decimal | None = Positive
    phases: Literal[1, 3] | None = None
    ct_ratio: Decimal | None = Positive


class InspectionCompute(Schema):
    """The facts of the case; which ones matter depends on the behaviour's method (docs/billing-cases/
    theft-and-violations.md). Days and hours left out take the rule set's defaults."""

    usages: list[UsageIn] = Field(default_factory=list, max_length=20)
    days: int | None = Field(None, ge=1, le=100_000)
    base_price: Decimal | None = Positive
    residential: bool = False
    two_part: bool = False
    capacity_kw: Decimal | None = Positive
    basic_price: Decimal | None = Positive
    used_from: date | None = None
    events: int = Field(1, ge=1, le=100_000)


class InspectionApprove(Schema):
    note: str = Field("", max_length=300, pattern=NO_CONTROL_CHARS)


class InspectionReject(Schema):
    reason: str = Field(..., min_length=1, max_length=300, pattern=NO_CONTROL_CHARS)


class InspectionLineRead(Schema):
    seq: int
    kind: str
    label: str
    amount: DecimalStr
    formula: str
    ledger_entry_id: int | None


class InspectionCaseRead(Schema):
    id: int
    account: str
    behaviour: str
    behaviour_name: str
    found_on: date
    inspector: str
    evidence: str
    status: str
    rule_set: str | None
    energy_kwh: DecimalStr | None
    back_charge: DecimalStr | None
    penalty: DecimalStr | None
    total: DecimalStr | None
    opened_by: str | None
    computed_by: str | None
    approved_by: str | None
    posted_at: datetime | None
    reject_reason: str
    reversal_reason: str
    lines: list[InspectionLineRead]

    @staticmethod
    def resolve_account(obj: Any) -> str:
        return str(obj.account.number)

    @staticmethod
    def resolve_behaviour(obj: Any) -> str:
        return str(obj.behaviour.code)

    @staticmethod
    def resolve_behaviour_name(obj: Any) -> str:
        return str(obj.behaviour.name)

    @staticmethod
    def resolve_rule_set(obj: Any) -> str | None:
        return obj.rule_set.code if obj.rule_set_id else None

    @staticmethod
    def resolve_opened_by(obj: Any) -> str | None:
        return obj.opened_by.username if obj.opened_by_id else None

    @staticmethod
    def resolve_computed_by(obj: Any) -> str | None:
        return obj.computed_by.username if obj.computed_by_id else None

    @staticmethod
    def resolve_approved_by(obj: Any) -> str | None:
        return obj.approved_by.username if obj.approved_by_id else None

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.order_by("seq"))
