"""Use case: load master data from an onboarding file (批量开户): customers, accounts, service points, meters
and the tariff each service point is on, one row per service point.

The file is CSV or Excel (.xlsx), header on row 1. Columns (``*`` = required):

=====================  ====================================================================================
customer_number*       customer number (户主编号); rows with the same number share one customer
customer_name*         name; must be the same on every row of that customer
customer_class*        residential | commercial | industrial | agricultural
kind                   individual | enterprise (default: individual for residential, else enterprise)
birth_year             individuals only
phone, protected       protected = 1/0, true/false, 是/否 (hospital, life support: never cut automatically)
account_number*        account (户号); rows with the same number share one account
opened_on*             YYYY-MM-DD
billing_day, prepaid   1-28 (default 1); prepaid = 1/0 (费控)
service_point_number*  service point (用电点), unique
address*, region*      region code; region / route / transformer area codes are created when new
route, transformer_area  reading route (抄表段) and transformer area (台区) codes
voltage_kv             0.22, 0.38, 10, 20, 35, 110, 220 (default 0.22)
capacity_kva, contract_kw, pf_standard, lat, lon
meter_serial*          unique; the meter is installed at the service point on opened_on
multiplier, digits     倍率 (default 1), register digits (default 6)
registers              kinds separated by ';' (default active_total), e.g. active_peak;active_valley;reactive
interval               1/0: an interval (AMI) meter
tariff_code*           a tariff in the catalog in force on tariff_from (default opened_on)
tariff_from            YYYY-MM-DD
=====================  ====================================================================================

Every row is validated first; any bad row rejects the whole file with ``row N, column: reason`` for each,
and nothing is written. Existing customers may get new accounts; account, service point and meter numbers
must be new (changes to existing master data go through the admin, which is audited).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from wattdesk.application.tabular import ImportRejected, RowError, column_index, parse_decimal, read_table
from wattdesk.core.text import unsafe_text_reason
from wattdesk.domain.audit import record_batch
from wattdesk.domain.customers.models import (
    VOLTAGE_KV_CHOICES,
    Account,
    Customer,
    CustomerClass,
    CustomerKind,
    ReadingRoute,
    Region,
    ServicePoint,
    TransformerArea,
)
from wattdesk.domain.metering.models import REGISTER_KINDS, Meter, MeterInstallation, MeterRegister
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

REQUIRED = (
    "customer_number",
    "customer_name",
    "customer_class",
    "account_number",
    "opened_on",
    "service_point_number",
    "address",
    "region",
    "meter_serial",
    "tariff_code",
)
_TRUE = {"1", "true", "yes", "y", "是"}
_FALSE = {"", "0", "false", "no", "n", "否"}
_VOLTAGES = {v for v, _ in VOLTAGE_KV_CHOICES}
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
BATCH = 2000


@dataclass(frozen=True)
class OnboardingResult:
    file_name: str
    customers: int
    accounts: int
    service_points: int
    meters: int

    @property
    def message(self) -> str:
        return (
            f"{self.file_name}: created {self.customers} customers, {self.accounts} accounts, "
            f"{self.service_points} service points, {self.meters} meters"
        )


@dataclass
class _Row:
    line: int
    v: dict[str, Any]


class _Checker:
    """Parses one row's cells, collecting every problem as a RowError."""

    def __init__(self, line: int, cells: dict[str, str], errors: list[RowError]) -> None:
        self.line, self.cells, self.errors = line, cells, errors

    def fail(self, column: str, reason: str) -> None:
        self.errors.append(RowError(self.line, column, reason))

    def text(self, column: str, *, required: bool = False, max_len: int = 300) -> str:
        value = self.cells.get(column, "").strip()
        if required and not value:
            self.fail(column, "required value is empty")
        elif len(value) > max_len:
            self.fail(column, f"longer than {max_len} characters")
        elif (unsafe := unsafe_text_reason(value)) is not None:
            self.fail(column, unsafe)  # names and addresses are printed on bills and work orders
        return value

    def code(self, column: str, *, required: bool = False) -> str:
        value = self.text(column, required=required, max_len=32)
        if value and not _CODE.match(value):
            self.fail(column, f"not a code (letters, digits, - _ .): {value!r}")
        return value

    def choice(self, column: str, allowed: Sequence[str], *, default: str | None = None) -> str | None:
        value = self.cells.get(column, "").strip().lower() or (default or "")
        if not value:
            self.fail(column, "required value is empty")
            return None
        if value not in allowed:
            self.fail(column, f"{value!r} is not one of {', '.join(allowed)}")
            return None
        return value

    def decimal(
        self, column: str, *, default: Decimal | None = None, minimum: Decimal = Decimal(0)
    ) -> Decimal | None:
        raw = self.cells.get(column, "").strip()
        if not raw:
            return default
        value = parse_decimal(raw)
        if value is None:
            self.fail(column, f"not a number: {raw!r}")
        elif value < minimum:
            self.fail(column, f"must be at least {minimum}: {raw!r}")
            return None
        return value

    def integer(self, column: str, *, default: int | None, lo: int, hi: int) -> int | None:
        raw = self.cells.get(column, "").strip()
        if not raw:
            return default
        if not raw.isdigit() or not lo <= int(raw) <= hi:
            self.fail(column, f"not a whole number from {lo} to {hi}: {raw!r}")
            return None
        return int(raw)

    def day(self, column: str, *, default: date | None = None) -> date | None:
        raw = self.cells.get(column, "").strip()
        if not raw:
            if default is None:
                self.fail(column, "required value is empty")
            return default
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.fail(column, f"not a date YYYY-MM-DD: {raw!r}")
            return None

    def flag(self, column: str) -> bool:
        raw = self.cells.get(column, "").strip().lower()
        if raw in _TRUE:
            return True
        if raw not in _FALSE:
            self.fail(column, f"not yes/no (1/0): {raw!r}")
        return False


def _parse_row(line: int, cells: dict[str, str], errors: list[RowError]) -> _Row:
    c = _Checker(line, cells, errors)
    cls = c.choice("customer_class", CustomerClass.values)
    default_kind = "individual" if cls in (None, "residential") else "enterprise"
    kind = c.choice("kind", CustomerKind.values, default=default_kind)
    birth_year = c.integer("birth_year", default=None, lo=1900, hi=2100)
    if birth_year is not None and kind != "individual":
        c.fail("birth_year", "only individuals have a birth year")
    voltage = c.decimal("voltage_kv", default=Decimal("0.22"))
    if voltage is not None and voltage not in _VOLTAGES:
        c.fail("voltage_kv", f"not a supply voltage level: {cells.get('voltage_kv')!r}")
    registers = [r.strip() for r in (cells.get("registers") or "active_total").split(";") if r.strip()]
    for r in registers:
        if r not in REGISTER_KINDS:
            c.fail("registers", f"unknown register kind {r!r}")
    if len(set(registers)) != len(registers):
        c.fail("registers", "a register kind is listed twice")
    opened_on = c.day("opened_on")
    pf = c.decimal("pf_standard")
    if pf is not None and pf not in (Decimal("0.80"), Decimal("0.85"), Decimal("0.90")):
        c.fail("pf_standard", "must be 0.80, 0.85 or 0.90")
    lat, lon = c.decimal("lat", minimum=Decimal(-90)), c.decimal("lon", minimum=Decimal(-180))
    if (lat is not None and lat > 90) or (lon is not None and lon > 180):
        c.fail("lat" if lat is not None and lat > 90 else "lon", "coordinate out of range")
    values = {
        "customer_number": c.code("customer_number", required=True),
        "customer_name": c.text("customer_name", required=True, max_len=200),
        "customer_class": cls,
        "kind": kind,
        "birth_year": birth_year,
        "phone": c.text("phone", max_len=32),
        "protected": c.flag("protected"),
        "account_number": c.code("account_number", required=True),
        "opened_on": opened_on,
        "billing_day": c.integer("billing_day", default=1, lo=1, hi=28),
        "prepaid": c.flag("prepaid"),
        "service_point_number": c.code("service_point_number", required=True),
        "address": c.text("address", required=True),
        "region": c.code("region", required=True),
        "route": c.code("route"),
        "transformer_area": c.code("transformer_area"),
        "voltage_kv": voltage,
        "capacity_kva": c.decimal("capacity_kva", default=Decimal(0)),
        "contract_kw": c.decimal("contract_kw"),
        "pf_standard": pf,
        "lat": lat,
        "lon": lon,
        "meter_serial": c.code("meter_serial", required=True),
        "multiplier": c.decimal("multiplier", default=Decimal(1), minimum=Decimal("0.0001")),
        "digits": c.integer("digits", default=6, lo=4, hi=10),
        "registers": registers,
        "interval": c.flag("interval"),
        "tariff_code": c.text("tariff_code", required=True, max_len=64),
        "tariff_from": c.day("tariff_from", default=opened_on) if opened_on else None,
    }
    return _Row(line, values)


def _check_consistency(rows: Sequence[_Row], errors: list[RowError]) -> None:
    """Within the file: one customer per number, one account per number, unique service points and meters."""
    customers: dict[str, _Row] = {}
    accounts: dict[str, _Row] = {}
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        v = row.v
        first = customers.setdefault(v["customer_number"], row)
        for col in ("customer_name", "customer_class", "kind", "birth_year"):
            if first is not row and first.v[col] != v[col]:
                errors.append(RowError(row.line, col, f"differs from row {first.line} of the same customer"))
        acc = accounts.setdefault(v["account_number"], row)
        if acc is not row:
            for col in ("customer_number", "opened_on", "billing_day", "prepaid"):
                if acc.v[col] != v[col]:
                    errors.append(RowError(row.line, col, f"differs from row {acc.line} of the same account"))
        for col in ("service_point_number", "meter_serial"):
            key = (col, v[col])
            if key in seen:
                errors.append(RowError(row.line, col, f"{v[col]!r} is also on row {seen[key]}"))
            else:
                seen[key] = row.line


def _check_database(rows: Sequence[_Row], errors: list[RowError]) -> dict[str, Customer]:
    """Against what is stored: new numbers, known tariffs; returns the existing customers used by the file."""

    def existing(model: Any, field: str, col: str) -> None:
        values = {r.v[col] for r in rows}
        found = set(model.objects.filter(**{f"{field}__in": values}).values_list(field, flat=True))
        for r in rows:
            if r.v[col] in found:
                errors.append(RowError(r.line, col, f"{r.v[col]!r} already exists"))

    existing(Account, "number", "account_number")
    existing(ServicePoint, "number", "service_point_number")
    existing(Meter, "serial", "meter_serial")
    known = Customer.objects.in_bulk({r.v["customer_number"] for r in rows}, field_name="number")
    for r in rows:
        cust = known.get(r.v["customer_number"])
        if cust is not None and cust.name != r.v["customer_name"]:
            errors.append(RowError(r.line, "customer_name", f"customer exists with the name {cust.name!r}"))
    versions: dict[str, list[tuple[date, date | None]]] = {}
    for code, start, end in TariffVersion.objects.filter(
        code__in={r.v["tariff_code"] for r in rows}
    ).values_list("code", "effective_from", "effective_to"):
        versions.setdefault(code, []).append((start, end))
    for r in rows:
        on = r.v["tariff_from"]
        spans = versions.get(r.v["tariff_code"])
        if not spans:
            errors.append(RowError(r.line, "tariff_code", f"no tariff {r.v['tariff_code']!r} in the catalog"))
        elif not any(s <= on and (e is None or on < e) for s, e in spans):
            errors.append(
                RowError(r.line, "tariff_from", f"tariff {r.v['tariff_code']} is not in force on {on}")
            )
    return known


def import_accounts(*, path: Path) -> OnboardingResult:
    """Validate the whole onboarding file, then create everything in one transaction."""
    header, raw_rows = read_table(path)
    col = column_index(path.name, header, REQUIRED)
    errors: list[RowError] = []
    rows = []
    for i, raw in enumerate(raw_rows):
        cells = {name: (raw[j] if j < len(raw) else "") for name, j in col.items()}
        rows.append(_parse_row(i + 2, cells, errors))
    if not rows:
        raise ImportRejected(path.name, [RowError(2, "-", "the file has no data rows")])
    if not errors:
        _check_consistency(rows, errors)
    if not errors:
        known = _check_database(rows, errors)
    if errors:
        raise ImportRejected(path.name, sorted(errors, key=lambda e: e.row))
    with transaction.atomic():
        result = _write(path.name, rows, known)
        # Master data is written in bulk (no model signals): one audit entry for the whole file.
        record_batch(
            actor=None,
            action="customers.onboard",
            object_repr=f"onboarding {path.name}",
            changes={
                "customers": result.customers,
                "accounts": result.accounts,
                "service_points": result.service_points,
                "meters": result.meters,
            },
        )
        return result


def _codes(model: Any, codes: set[str], **extra: Any) -> dict[str, Any]:
    have = model.objects.in_bulk(codes, field_name="code")
    model.objects.bulk_create(
        [model(code=c, name=c, **extra) for c in sorted(codes - set(have))], batch_size=BATCH
    )
    return dict(model.objects.in_bulk(codes, field_name="code"))


def _write(file_name: str, rows: Sequence[_Row], known: dict[str, Customer]) -> OnboardingResult:
    regions = _codes(Region, {r.v["region"] for r in rows})
    first_region: dict[str, str] = {}
    for r in rows:
        first_region.setdefault(r.v["route"], r.v["region"])
        first_region.setdefault("ta:" + r.v["transformer_area"], r.v["region"])
    routes: dict[str, Any] = {}
    areas: dict[str, Any] = {}
    for code in {r.v["route"] for r in rows if r.v["route"]}:
        routes.update(_codes(ReadingRoute, {code}, region=regions[first_region[code]]))
    for code in {r.v["transformer_area"] for r in rows if r.v["transformer_area"]}:
        areas.update(_codes(TransformerArea, {code}, region=regions[first_region["ta:" + code]]))

    new_customers: dict[str, Customer] = {}
    for r in rows:
        v = r.v
        if v["customer_number"] not in known and v["customer_number"] not in new_customers:
            new_customers[v["customer_number"]] = Customer(
                number=v["customer_number"],
                name=v["customer_name"],
                kind=v["kind"],
                birth_year=v["birth_year"],
                customer_class=v["customer_class"],
                phone=v["phone"],
                protected=v["protected"],
            )
    Customer.objects.bulk_create(new_customers.values(), batch_size=BATCH)
    customers = Customer.objects.in_bulk({r.v["customer_number"] for r in rows}, field_name="number")

    accounts: dict[str, Account] = {}
    for r in rows:
        v = r.v
        accounts.setdefault(
            v["account_number"],
            Account(
                number=v["account_number"],
                customer=customers[v["customer_number"]],
                opened_on=v["opened_on"],
                billing_day=v["billing_day"],
                prepaid=v["prepaid"],
            ),
        )
    Account.objects.bulk_create(accounts.values(), batch_size=BATCH)
    accounts = Account.objects.in_bulk(set(accounts), field_name="number")

    points = [
        ServicePoint(
            number=r.v["service_point_number"],
            account=accounts[r.v["account_number"]],
            address=r.v["address"],
            region=regions[r.v["region"]],
            route=routes.get(r.v["route"]),
            transformer_area=areas.get(r.v["transformer_area"]),
            voltage_kv=r.v["voltage_kv"],
            capacity_kva=r.v["capacity_kva"],
            contract_kw=r.v["contract_kw"],
            pf_standard=r.v["pf_standard"],
            lat=r.v["lat"],
            lon=r.v["lon"],
        )
        for r in rows
    ]
    ServicePoint.objects.bulk_create(points, batch_size=BATCH)
    sp = ServicePoint.objects.in_bulk([r.v["service_point_number"] for r in rows], field_name="number")
    meters = [
        Meter(
            serial=r.v["meter_serial"],
            multiplier=r.v["multiplier"],
            digits=r.v["digits"],
            interval=r.v["interval"],
        )
        for r in rows
    ]
    Meter.objects.bulk_create(meters, batch_size=BATCH)
    by_serial = Meter.objects.in_bulk([r.v["meter_serial"] for r in rows], field_name="serial")
    MeterRegister.objects.bulk_create(
        [MeterRegister(meter=by_serial[r.v["meter_serial"]], kind=k) for r in rows for k in r.v["registers"]],
        batch_size=BATCH,
    )
    MeterInstallation.objects.bulk_create(
        [
            MeterInstallation(
                meter=by_serial[r.v["meter_serial"]],
                service_point=sp[r.v["service_point_number"]],
                installed_on=r.v["opened_on"],
                initial_values={k: "0" for k in r.v["registers"]},
            )
            for r in rows
        ],
        batch_size=BATCH,
    )
    TariffAssignment.objects.bulk_create(
        [
            TariffAssignment(
                service_point=sp[r.v["service_point_number"]],
                tariff_code=r.v["tariff_code"],
                effective_from=r.v["tariff_from"],
            )
            for r in rows
        ],
        batch_size=BATCH,
    )
    return OnboardingResult(
        file_name=file_name,
        customers=len(new_customers),
        accounts=len(accounts),
        service_points=len(points),
        meters=len(meters),
    )
