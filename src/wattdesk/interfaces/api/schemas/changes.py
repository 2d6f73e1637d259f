"""API schemas of service changes (变更用电)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS, DecimalStr


class ServiceChangeCreate(Schema):
    account: str = Field(max_length=32, pattern=NO_CONTROL_CHARS)
    service_point: str = Field(max_length=32, pattern=NO_CONTROL_CHARS)
    kind: str = Field(
        max_length=24,
        description="reclass | reduction | suspension | reduction_restore | suspension_restore | increase | "
        "temporary_exchange | contract_demand | meter_exchange | multiplier | point_added | point_retired | "
        "account_opened | account_closed",
    )
    effective_on: date = Field(description="the sealing / unsealing / change day")
    capacity_kva: Decimal | None = Field(None, description="capacity in use from the change on (kVA)")
    contract_kw: Decimal | None = None
    tariff_code: str = Field("", max_length=64, pattern=NO_CONTROL_CHARS)
    pf_standard: Decimal | None = None
    multiplier: Decimal | None = None
    meter_serial: str = Field("", max_length=32, pattern=NO_CONTROL_CHARS)
    planned_until: date | None = None
    restores: int | None = Field(
        None, description="id of the 减容 / 暂停 a restore ends (default: the latest)"
    )
    reason: str = Field("", max_length=200, pattern=NO_CONTROL_CHARS)


class ServiceChangeRead(Schema):
    id: int
    account: str
    service_point: str
    kind: str
    effective_on: date
    planned_until: date | None
    restores: int | None
    capacity_before: DecimalStr
    capacity_after: DecimalStr
    contract_kw_before: DecimalStr | None
    contract_kw_after: DecimalStr | None
    tariff_before: str
    tariff_after: str
    pf_standard_before: DecimalStr | None
    pf_standard_after: DecimalStr | None
    in_service_after: bool
    recorded_at: datetime

    @staticmethod
    def resolve_account(obj: Any) -> str:
        return str(obj.account.number)

    @staticmethod
    def resolve_service_point(obj: Any) -> str:
        return str(obj.service_point.number)

    @staticmethod
    def resolve_restores(obj: Any) -> int | None:
        return obj.restores_id  # type: ignore[no-any-return]
