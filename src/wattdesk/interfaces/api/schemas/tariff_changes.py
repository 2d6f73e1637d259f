"""Bulk tariff-assignment changes (批量调整电价): POST /api/tariffs/changes."""

from ninja import Field, Schema

from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS


class TariffChangeCreate(Schema):
    """One change; validated exactly like a row of a tariff-changes file (``application.tariffs.reassign``)."""

    account_number: str = Field(max_length=32, pattern=NO_CONTROL_CHARS)
    tariff_code: str = Field(max_length=64, pattern=NO_CONTROL_CHARS)
    effective_from: str = Field(max_length=10, pattern=NO_CONTROL_CHARS, json_schema_extra={"format": "date"})
    service_point_number: str = Field(
        "", max_length=32, pattern=NO_CONTROL_CHARS, description="only this service point (default: all)"
    )


class TariffChangesRead(Schema):
    changed: int = Field(description="service points moved onto a new tariff")
    unchanged: int = Field(description="items for service points already on that tariff on that date")
