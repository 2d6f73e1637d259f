"""API schemas of the transformer archive (变损: transformer models, customer transformers, the loss table)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ninja import Field, Schema

from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS, DecimalStr

Qty = Field(ge=0, max_digits=16, decimal_places=4)


class TransformerModelCreate(Schema):
    """A transformer model version (型号参数) from ``effective_from``; losses from the nameplate or test report."""

    code: str = Field(min_length=1, max_length=40, pattern=NO_CONTROL_CHARS, examples=["S11-M-315/10"])
    series: str = Field("", max_length=16, pattern=NO_CONTROL_CHARS)
    capacity_kva: Decimal = Field(gt=0, max_digits=16, decimal_places=4)
    p0_kw: Decimal = Qty
    pk_dyn11_kw: Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=4)
    pk_yyn0_kw: Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=4)
    i0_percent: Decimal = Qty
    uk_percent: Decimal = Qty
    effective_from: date
    source: str = Field("", max_length=200, pattern=NO_CONTROL_CHARS)


class TransformerModelRead(Schema):
    code: str
    series: str
    capacity_kva: DecimalStr
    p0_kw: DecimalStr
    pk_dyn11_kw: DecimalStr | None
    pk_yyn0_kw: DecimalStr | None
    i0_percent: DecimalStr
    uk_percent: DecimalStr
    effective_from: date
    effective_to: date | None
    source: str


class CustomerTransformerCreate(Schema):
    """A customer transformer (用户专变) at its service point(s), from ``effective_from``."""

    number: str = Field(min_length=1, max_length=40, pattern=NO_CONTROL_CHARS)
    model_code: str = Field(min_length=1, max_length=40, pattern=NO_CONTROL_CHARS)
    service_points: list[str] = Field(min_length=1, max_length=20)
    effective_from: date
    vector_group: str = Field("Dyn11", examples=["Dyn11", "Yyn0"])
    correction_k: Decimal = Field(Decimal(1), gt=0, max_digits=16, decimal_places=4)
    loss_method: str = Field("formula", examples=["none", "formula", "table", "simplified", "fixed"])
    fixed_kwh: Decimal = Field(Decimal(0), ge=0, max_digits=16, decimal_places=4)
    fixed_kvarh: Decimal = Field(Decimal(0), ge=0, max_digits=16, decimal_places=4)
    shift: str = Field("", max_length=16, pattern=NO_CONTROL_CHARS)


class CustomerTransformerVersionRead(Schema):
    model_code: str
    service_points: list[str]
    vector_group: str
    correction_k: DecimalStr
    loss_method: str
    fixed_kwh: DecimalStr
    fixed_kvarh: DecimalStr
    shift: str
    effective_from: date
    effective_to: date | None


class CustomerTransformerRead(Schema):
    number: str
    versions: list[CustomerTransformerVersionRead]


class TransformerEnd(Schema):
    end_on: date = Field(description="first day out of service (the sealing day 加封日, not charged)")


class LossTableRowCreate(Schema):
    capacity_kva: Decimal = Field(gt=0, max_digits=16, decimal_places=4)
    basis: str = Field(examples=["kwh", "load_ratio"])
    lower: Decimal = Qty
    upper: Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=4)
    loss_kwh: Decimal = Qty
    loss_kvarh: Decimal = Field(Decimal(0), ge=0, max_digits=16, decimal_places=4)
    shift: str = Field("", max_length=16, pattern=NO_CONTROL_CHARS)


class LossTableCreate(Schema):
    effective_from: date
    source: str = Field("", max_length=200, pattern=NO_CONTROL_CHARS)
    rows: list[LossTableRowCreate] = Field(min_length=1, max_length=5000)


class LossTableRead(Schema):
    effective_from: date
    rows: int
