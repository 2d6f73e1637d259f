"""Use case: take over opening register values from a legacy billing system (期初示数迁移).

A county moving onto WattDesk brings, per meter register, the value its old system billed last and the date of
that bill (the last 抄表日). Without it the first reading after migration would be measured from the meter's
installation value (0 for a meter onboarded by ``accounts import``) and bill the whole register. With it, the
opening value is stored as the register's first reading (dated the last bill date, no consumption: it bills
nothing, docs/billing.md "Which readings"), and the next imported reading bills only its advance.

The file is CSV or Excel (.xlsx), header on row 1, columns:

==================  ===========================================================================================
meter_serial        a meter known to WattDesk (onboarded first)
register            one of its cumulative registers: active_total, active_peak ... , reactive (not max_demand)
last_bill_date      YYYY-MM-DD, not in the future; the meter must be installed at a service point on that date
value               the register value billed last, register units (before the multiplier), >= 0, 4 decimals
==================  ===========================================================================================

Every row is validated first; any bad row rejects the whole file (``row N, column: reason`` for each) and
nothing is written. A register that already has a reading is refused: the opening must be the first value of
its chain (a correction of real readings is a reading correction, not a migration). The same file content
imported twice is a no-op. One transaction, one audit entry (``readings.opening``) naming the acting user.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from django.db import transaction

from wattdesk.application.errors import InputError
from wattdesk.application.metering.readings_import import MAX_VALUE, check_meter_register, sha256_of
from wattdesk.application.tabular import ImportRejected, RowError, column_index, parse_decimal, read_table
from wattdesk.domain.audit import record_batch
from wattdesk.domain.metering import operations, queries
from wattdesk.domain.metering.models import CUMULATIVE_KINDS, REGISTER_KINDS, ImportBatch, ImportKind

COLUMNS = ("meter_serial", "register", "last_bill_date", "value")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class OpeningResult:
    file_name: str
    batch_id: int
    already_imported: bool
    registers: int

    @property
    def message(self) -> str:
        if self.already_imported:
            return f"{self.file_name}: already imported as batch {self.batch_id} (same content); nothing done"
        return (
            f"{self.file_name}: opening values of {self.registers} registers stored (batch {self.batch_id})"
        )


def _parse_date(n: int, column: str, text: str, as_of: date, errors: list[RowError]) -> date | None:
    d = None
    if _DATE_RE.match(text):
        try:
            d = date.fromisoformat(text)
        except ValueError:
            d = None
    if d is None:
        errors.append(
            RowError(n, column, f"bad date {text!r} (expected YYYY-MM-DD)", "bad_date", {"value": text})
        )
        return None
    if d > as_of:
        errors.append(
            RowError(
                n,
                column,
                f"date {d} is in the future (as of {as_of})",
                "future_date",
                {"date": str(d), "as_of": str(as_of)},
            )
        )
        return None
    return d


def _parse_value(n: int, text: str, errors: list[RowError]) -> Decimal | None:
    value = parse_decimal(text)
    if value is None:
        errors.append(RowError(n, "value", f"not a number: {text!r}", "not_a_number", {"value": text}))
        return None
    if value < 0:
        errors.append(
            RowError(n, "value", f"negative register value {text}", "negative_value", {"value": text})
        )
        return None
    if value > MAX_VALUE or value != value.quantize(_STEP):
        errors.append(
            RowError(
                n,
                "value",
                f"{text} does not fit 12 digits and 4 decimals",
                "value_too_large",
                {"value": text},
            )
        )
        return None
    return value


def _not_cumulative(n: int, kind: str) -> RowError | None:
    """A known register that has no opening value (demand, not a cumulative count)."""
    if kind in CUMULATIVE_KINDS:
        return None
    return RowError(
        n,
        "register",
        f"{kind!r} is not a cumulative register: it has no opening value",
        "not_cumulative",
        {"register": kind},
    )


def validate_opening_rows(
    *, file_name: str, header: Sequence[str], rows: Sequence[Sequence[str]], as_of: date
) -> tuple[list[operations.NewReading], list[RowError]]:
    """The readings to store and every row error (row 1 = header)."""
    col = column_index(file_name, header, COLUMNS)
    ci = [col[c] for c in COLUMNS]
    if not rows:
        return [], [RowError(2, "-", "the file has no data rows", "no_rows")]
    meters = queries.meters_by_serial(serials=(r[ci[0]] for r in rows if len(r) > ci[0]))
    register_ids = [rid for m in meters.values() for rid in m.registers.values()]
    latest = queries.existing_reading_dates(register_ids=register_ids)
    held_dates: dict[int, date] = {}
    for (rid, d), _pk in queries.held_readings(register_ids=register_ids).items():
        held_dates[rid] = max(d, held_dates.get(rid, d))
    installs: dict[int, list[queries.Installation]] = {}
    for inst in queries.installations_for_meters(meter_ids=[m.id for m in meters.values()]):
        installs.setdefault(inst.meter_id, []).append(inst)
    kinds = set(REGISTER_KINDS)
    errors: list[RowError] = []
    good: list[operations.NewReading] = []
    seen: dict[tuple[str, str], int] = {}
    for n, raw in enumerate(rows, start=2):
        serial, kind, date_s, value_s = (raw[i].strip() if i < len(raw) else "" for i in ci)
        row_errors: list[RowError] = []
        meter, register_id = check_meter_register(
            n, serial, kind, meters, kinds=kinds, errors=row_errors, refuse_kind=partial(_not_cumulative, n),
            choices=CUMULATIVE_KINDS,
        )  # fmt: skip
        last_bill = _parse_date(n, "last_bill_date", date_s, as_of, row_errors)
        value = _parse_value(n, value_s, row_errors)
        key = (serial, kind)
        if key in seen:
            row_errors.append(
                RowError(
                    n,
                    "register",
                    f"duplicate row in file (same meter and register as row {seen[key]})",
                    "duplicate_row",
                    {"first_row": str(seen[key])},
                )
            )
        else:
            seen[key] = n
        if not row_errors and meter is not None and register_id is not None and last_bill is not None:
            if not any(i.covers(last_bill) for i in installs.get(meter.id, ())):
                row_errors.append(
                    RowError(
                        n,
                        "last_bill_date",
                        f"meter {serial} is not installed at any service point on {last_bill}",
                        "not_installed",
                        {"meter": serial, "date": str(last_bill)},
                    )
                )
            existing = [d for d in (latest.get(register_id, (None,))[0], held_dates.get(register_id)) if d]
            if existing:
                row_errors.append(
                    RowError(
                        n,
                        "register",
                        f"register {kind} of meter {serial} already has readings (latest {max(existing)}): "
                        "an opening value must be its first reading",
                        "already_read",
                        {"meter": serial, "register": kind, "date": str(max(existing))},
                    )
                )
        if row_errors:
            errors.extend(row_errors)
        else:
            assert (
                meter is not None and register_id is not None and last_bill is not None and value is not None
            )
            good.append(operations.NewReading(register_id, meter.id, last_bill, value))
    return good, errors


def import_opening_values(
    *, path: Path, as_of: date, imported_at: datetime, actor: Any = None
) -> OpeningResult:
    """Validate the whole file, then store every opening value in one transaction with one audit entry."""
    digest = sha256_of(path)
    existing = queries.batch_by_sha256(sha256=digest)
    if existing is not None:
        return OpeningResult(path.name, existing.id, True, existing.rows)
    header, rows = read_table(path)
    good, errors = validate_opening_rows(file_name=path.name, header=header, rows=rows, as_of=as_of)
    if errors:
        raise ImportRejected(path.name, errors)
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            file_name=path.name[:255],
            sha256=digest,
            kind=ImportKind.REGISTER,
            rows=len(rows),
            created_at=imported_at,
        )
        try:
            stored = operations.record_opening_readings(batch=batch, readings=good)
        except operations.MeteringError as exc:
            raise InputError(f"{path.name}: {exc}; nothing imported, import the file again") from None
        record_batch(
            actor=actor,
            action="readings.opening",
            object_repr=f"opening register values {path.name}",
            object_pk=batch.id,
            changes={
                "registers": stored,
                "last_bill_dates": f"{min(r.read_on for r in good)}..{max(r.read_on for r in good)}",
                "sha256": digest,
            },
        )
    return OpeningResult(path.name, batch.id, False, stored)
