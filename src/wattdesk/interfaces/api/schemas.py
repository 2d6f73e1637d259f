"""Request and response schemas (``XxxRead`` / ``XxxCreate``).

Money, quantities and rates are JSON strings holding the exact stored decimal (``"1234.50"``), never floats;
dates and datetimes are ISO 8601.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import ConfigDict, PlainSerializer, WithJsonSchema

PERIOD_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"  # YYYY-MM, 1900-2999
NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]*$"
#: A business number or code in a URL (customer / account number, meter serial, tariff code).
KEY_PATTERN = r"^[^\x00-\x1f\x7f/]{1,64}$"


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


#: A decimal serialized as a JSON string, e.g. "1234.50" (exactly the stored value).
DecimalStr = Annotated[
    Decimal,
    PlainSerializer(_decimal_text, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "format": "decimal", "examples": ["1234.50"]}),
]


class ErrorRead(Schema):
    detail: str


class ItemErrorRead(Schema):
    index: int | None = Field(None, description="position of the item in the request list (0-based)")
    field: str
    reason: str


class ValidationErrorRead(Schema):
    detail: str
    errors: list[ItemErrorRead]


# --- customers, accounts ----------------------------------------------------------------------------------


class CustomerRead(Schema):
    number: str
    name: str
    kind: str
    customer_class: str
    protected: bool
    created_at: datetime
    accounts: list[str]

    @staticmethod
    def resolve_accounts(obj: Any) -> list[str]:
        return sorted(a.number for a in obj.accounts.all())


class ServicePointRead(Schema):
    number: str
    address: str
    region: str
    route: str | None
    transformer_area: str | None
    voltage_kv: DecimalStr
    capacity_kva: DecimalStr
    contract_kw: DecimalStr | None

    @staticmethod
    def resolve_region(obj: Any) -> str:
        return str(obj.region.code)

    @staticmethod
    def resolve_route(obj: Any) -> str | None:
        return obj.route.code if obj.route_id else None

    @staticmethod
    def resolve_transformer_area(obj: Any) -> str | None:
        return obj.transformer_area.code if obj.transformer_area_id else None


class AccountRead(Schema):
    number: str
    customer: str
    status: str
    opened_on: date
    closed_on: date | None
    billing_day: int
    prepaid: bool

    @staticmethod
    def resolve_customer(obj: Any) -> str:
        return str(obj.customer.number)


class AccountDetailRead(AccountRead):
    service_points: list[ServicePointRead]

    @staticmethod
    def resolve_service_points(obj: Any) -> list[Any]:
        return list(obj.service_points.all())


class LedgerEntryRead(Schema):
    id: int
    kind: str
    amount: DecimalStr = Field(description="+ increases what the customer owes")
    posted_at: datetime
    bill_id: int | None
    memo: str


class LedgerRead(Schema):
    account: str
    balance: DecimalStr = Field(description="what the customer owes (positive) or has in credit (negative)")
    entries: list[LedgerEntryRead]


# --- metering ----------------------------------------------------------------------------------------------


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


# --- tariffs -----------------------------------------------------------------------------------------------


class TariffRead(Schema):
    code: str
    version: str
    name: str
    effective_from: date
    effective_to: date | None


class TariffDocumentRead(TariffRead):
    document: dict[str, Any]


# --- billing -----------------------------------------------------------------------------------------------


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
