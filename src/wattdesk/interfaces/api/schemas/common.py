"""Shared pieces of the API schemas: patterns, the exact decimal string, error bodies.

Money, quantities and rates are JSON strings holding the exact stored decimal (``"1234.50"``), never floats;
dates and datetimes are ISO 8601. Each business area has its module next to this one (``XxxRead`` /
``XxxCreate``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema
from pydantic import PlainSerializer, WithJsonSchema

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
