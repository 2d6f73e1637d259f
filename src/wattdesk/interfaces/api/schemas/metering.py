"""API schemas of meters and readings."""

from __future__ import annotations

from datetime import date
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS, DecimalStr


class InstallationRead(Schema):
    service_point: str
    installed_on: date
    removed_on: date | None


class MeterRead(Schema):
    serial: str
    multiplier: DecimalStr
    digits: int
    interval: bool
    registers: list[str]
    installations: list[InstallationRead]


class ReadingRead(Schema):
    # "register" in JSON; the attribute has another name because a schema class is an ABC (ABCMeta.register)
    meter_serial: str
    register_kind: str = Field(serialization_alias="register")
    read_on: date
    value: DecimalStr
    source: str
    status: str
    advance: DecimalStr | None
    consumption: DecimalStr | None

    @staticmethod
    def resolve_meter_serial(obj: Any) -> str:
        return str(obj.register.meter.serial)

    @staticmethod
    def resolve_register_kind(obj: Any) -> str:
        return str(obj.register.kind)


class ReadingCreate(Schema):
    """One register reading; validated exactly like a row of an imported readings file."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    meter_serial: str = Field(max_length=40, pattern=NO_CONTROL_CHARS)
    register_kind: str = Field(
        alias="register", max_length=24, pattern=NO_CONTROL_CHARS, examples=["active_total"]
    )
    read_on: str = Field(max_length=10, pattern=NO_CONTROL_CHARS, json_schema_extra={"format": "date"})
    value: str = Field(
        max_length=40, pattern=NO_CONTROL_CHARS, description="register value, a decimal as a string"
    )


class ReadingsBulkRead(Schema):
    batch_id: int
    already_imported: bool
    readings: int
    held: int
    superseded: int
    corrected: int = Field(0, description="held readings (status exception) superseded by a correction")
    findings_by_check: dict[str, int]
