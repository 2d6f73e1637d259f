"""API schemas of customers, accounts and their ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Field, Schema

from wattdesk.interfaces.api.schemas.common import DecimalStr


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
