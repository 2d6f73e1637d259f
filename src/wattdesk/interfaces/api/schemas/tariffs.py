"""API schemas of the tariff catalog."""

from __future__ import annotations

from datetime import date
from typing import Any

from ninja import Schema


class TariffRead(Schema):
    code: str
    version: str
    name: str
    effective_from: date
    effective_to: date | None


class TariffDocumentRead(TariffRead):
    document: dict[str, Any]
