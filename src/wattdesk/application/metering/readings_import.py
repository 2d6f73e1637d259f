"""Use case: import meter readings from a file (抄表数据导入).

Register readings: CSV or Excel (.xlsx) with columns meter_serial, register, read_on (YYYY-MM-DD), value.
Interval data: CSV or Parquet with columns meter_serial, timestamp, kwh[, kvarh].

1. The whole file is validated first. Every bad row is reported (row number 1-based with the header as
   row 1, column, reason); if any row is bad nothing is written and ImportRejected carries the full list.
2. A file already imported (same SHA-256 of its bytes) is a no-op that says so.
3. Otherwise, in ONE transaction: the batch, the readings (bulk), VEE for the affected registers, the
   reading exceptions and statuses — or, for interval data, one Parquet file for the batch plus one
   IntervalFile index row per meter.

The interface passes `as_of` (today) and `imported_at` (now): this module never reads the clock.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from django.conf import settings
from django.db import transaction

from wattdesk.application.tabular import (
    ImportRejected,
    RowError,
    column_index,
    decode_text,
    parse_decimal,
    read_csv_utf8,
    read_table,
)
from wattdesk.core.vee import DEFAULT_RULES, VeeRules
from wattdesk.domain.audit import record_batch
from wattdesk.domain.billing.queries import live_bills_covering
from wattdesk.domain.metering import operations, queries
from wattdesk.domain.metering.models import REGISTER_KINDS, ImportBatch, ImportKind, ReadingSource

REGISTER_COLUMNS = ("meter_serial", "register", "read_on", "value")
INTERVAL_COLUMNS = ("meter_serial", "timestamp", "kwh")
MAX_VALUE = Decimal("999999999999.9999")  # QuantityField: 16 digits, 4 places
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ImportResult:
    file_name: str
    kind: str
    batch_id: int
    already_imported: bool
    rows: int
    readings: int = 0
    held: int = 0
    superseded: int = 0
    corrected: int = 0  # held readings superseded by a correction of the same date
    interval_meters: int = 0
    findings_by_check: dict[str, int] = field(default_factory=dict)

    @property
    def message(self) -> str:
        if self.already_imported:
            return f"{self.file_name}: already imported as batch {self.batch_id} (same content); nothing done"
        if self.kind == ImportKind.INTERVAL:
            return (
                f"{self.file_name}: imported {self.rows} interval rows for {self.interval_meters} meters "
                f"(batch {self.batch_id})"
            )
        checks = ", ".join(f"{k} {v}" for k, v in sorted(self.findings_by_check.items())) or "none"
        corrected = f", {self.corrected} held readings corrected" if self.corrected else ""
        return (
            f"{self.file_name}: imported {self.readings} readings (batch {self.batch_id}); "
            f"{self.held} held as exceptions, {self.superseded} estimates superseded{corrected}; findings: {checks}"
        )


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def detect_kind(path: Path) -> str:
    """register or interval, from the extension (.parquet -> interval, .xlsx -> register) or the CSV header."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return ImportKind.INTERVAL
    if suffix == ".xlsx":
        return ImportKind.REGISTER
    with path.open("rb") as fh:
        first_line = fh.readline(1 << 16)  # b"\n" is never part of a GB18030 multi-byte character
    header = decode_text(first_line, name=path.name)
    return (
        ImportKind.INTERVAL
        if "timestamp" in header.split(",") or "timestamp\n" in header
        else ImportKind.REGISTER
    )


def import_readings(
    *,
    path: Path,
    as_of: date,
    imported_at: datetime,
    kind: str | None = None,
    rules: VeeRules = DEFAULT_RULES,
) -> ImportResult:
    kind = kind or detect_kind(path)
    if kind == ImportKind.REGISTER:
        return import_register_readings(path=path, as_of=as_of, imported_at=imported_at, rules=rules)
    if kind == ImportKind.INTERVAL:
        return import_interval_data(path=path, as_of=as_of, imported_at=imported_at)
    raise ValueError(f"unknown import kind {kind!r}")


# --- reading the files ------------------------------------------------------------------------------------


# --- register readings -----------------------------------------------------------------------------------


def check_meter_register(
    n: int,
    serial: str,
    kind: str,
    meters: Mapping[str, queries.MeterInfo],
    *,
    kinds: Collection[str],
    errors: list[RowError],
    refuse_kind: Callable[[str], RowError | None] | None = None,
    choices: Collection[str] | None = None,
) -> tuple[queries.MeterInfo | None, int | None]:
    """Row ``n``'s meter and register (the meter, the register id), each None when refused; every refusal is
    appended to ``errors``: a serial missing or unknown, a register kind not in ``kinds`` (or refused by
    ``refuse_kind``), a kind the meter does not have. ``choices``: the kinds an unknown one is told to pick from
    (default ``kinds``). Shared by the reading and the opening-value imports."""
    meter = meters.get(serial)
    if not serial:
        errors.append(RowError(n, "meter_serial", "required", "required"))
    elif meter is None:
        errors.append(
            RowError(n, "meter_serial", f"unknown meter {serial!r}", "unknown_meter", {"meter": serial})
        )
    if kind not in kinds:
        listed = ", ".join(sorted(kinds if choices is None else choices))
        errors.append(
            RowError(
                n,
                "register",
                f"unknown register {kind!r} (one of {listed})",
                "unknown_register",
                {"register": kind, "choices": listed},
            )
        )
        return meter, None
    refused = refuse_kind(kind) if refuse_kind is not None else None
    if refused is not None:
        errors.append(refused)
        return meter, None
    if meter is None:
        return None, None
    register_id = meter.registers.get(kind)
    if register_id is None:
        errors.append(
            RowError(
                n,
                "register",
                f"meter {serial} has no {kind!r} register",
                "no_such_register",
                {"meter": serial, "register": kind},
            )
        )
    return meter, register_id


def _validate_register_rows(
    *, file_name: str, header: Sequence[str], rows: Sequence[Sequence[str]], as_of: date
) -> tuple[list[operations.NewReading], list[RowError]]:
    col = column_index(file_name, header, REGISTER_COLUMNS)
    ci = [col[c] for c in REGISTER_COLUMNS]
    meters = queries.meters_by_serial(serials=(r[ci[0]] for r in rows if len(r) > ci[0]))
    register_ids = [rid for m in meters.values() for rid in m.registers.values()]
    latest = queries.existing_reading_dates(register_ids=register_ids)
    held = queries.held_readings(register_ids=register_ids)
    installs: dict[int, list[queries.Installation]] = {}
    for inst in queries.installations_for_meters(meter_ids=[m.id for m in meters.values()]):
        installs.setdefault(inst.meter_id, []).append(inst)
    kinds = set(REGISTER_KINDS)  # RegisterKind + the per-TOU-period demand registers
    errors: list[RowError] = []
    good: list[operations.NewReading] = []
    corrections: dict[int, tuple[int, date]] = {}  # index in good -> (service point, date) to check for bills
    correction_rows: dict[int, int] = {}  # index in good -> row number
    seen: dict[tuple[str, str, str], int] = {}
    for n, raw in enumerate(rows, start=2):
        cells = [raw[i] if i < len(raw) else "" for i in ci]
        serial, kind, read_on_s, value_s = cells
        row_errors: list[RowError] = []
        meter, register_id = check_meter_register(n, serial, kind, meters, kinds=kinds, errors=row_errors)
        read_on = None
        if not _DATE_RE.match(read_on_s):
            row_errors.append(
                RowError(
                    n,
                    "read_on",
                    f"bad date {read_on_s!r} (expected YYYY-MM-DD)",
                    "bad_date",
                    {"value": read_on_s},
                )
            )
        else:
            try:
                read_on = date.fromisoformat(read_on_s)
            except ValueError:
                row_errors.append(
                    RowError(
                        n,
                        "read_on",
                        f"bad date {read_on_s!r} (expected YYYY-MM-DD)",
                        "bad_date",
                        {"value": read_on_s},
                    )
                )
        if read_on is not None and read_on > as_of:
            row_errors.append(
                RowError(
                    n,
                    "read_on",
                    f"reading date {read_on} is in the future (as of {as_of})",
                    "future_date",
                    {"date": str(read_on), "as_of": str(as_of)},
                )
            )
            read_on = None
        value = parse_decimal(value_s)
        if value is None:
            row_errors.append(
                RowError(n, "value", f"not a number: {value_s!r}", "not_a_number", {"value": value_s})
            )
        elif value < 0:
            row_errors.append(
                RowError(
                    n, "value", f"negative register value {value_s}", "negative_value", {"value": value_s}
                )
            )
            value = None
        elif value > MAX_VALUE or value != value.quantize(Decimal("0.0001")):
            row_errors.append(
                RowError(
                    n,
                    "value",
                    f"{value_s} does not fit 12 digits and 4 decimals",
                    "value_too_large",
                    {"value": value_s},
                )
            )
            value = None
        key = (serial, kind, read_on_s)
        if key in seen:
            row_errors.append(
                RowError(
                    n,
                    "read_on",
                    f"duplicate row in file (same meter, register and date as row {seen[key]})",
                    "duplicate_row",
                    {"first_row": str(seen[key])},
                )
            )
        else:
            seen[key] = n
        if not row_errors and meter is not None and register_id is not None and read_on is not None:
            if not any(i.covers(read_on) for i in installs.get(meter.id, ())):
                row_errors.append(
                    RowError(
                        n,
                        "meter_serial",
                        f"meter {serial} is not installed at any service point on {read_on}",
                        "not_installed",
                        {"meter": serial, "date": str(read_on)},
                    )
                )
            prior = latest.get(register_id)
            if prior is not None:
                d, source = prior
                if read_on < d or (read_on == d and source == ReadingSource.ACTUAL):
                    row_errors.append(
                        RowError(
                            n,
                            "read_on",
                            f"not after the latest stored reading of this register ({d})",
                            "not_after_latest",
                            {"date": str(d)},
                        )
                    )
        if row_errors:
            errors.extend(row_errors)
        else:
            assert meter is not None and register_id is not None and read_on is not None and value is not None
            supersedes = held.get((register_id, read_on))
            if supersedes is not None:
                inst = next(i for i in installs[meter.id] if i.covers(read_on))
                corrections[len(good)] = (inst.service_point_id, read_on)
                correction_rows[len(good)] = n
            good.append(operations.NewReading(register_id, meter.id, read_on, value, supersedes=supersedes))
    if corrections:
        billed = live_bills_covering(service_point_days=corrections.values())
        for i, sp_day in corrections.items():
            bill = billed.get(sp_day)
            if bill is not None:
                errors.append(
                    RowError(
                        correction_rows[i],
                        "read_on",
                        f"corrects the held reading of {sp_day[1]}, but that date is already billed "
                        f"(bill {bill.pk}, {bill.period}, {bill.status}): cancel the bill first "
                        "(cancel-and-rebill), then import the correction",
                        "correction_billed",
                        {
                            "date": str(sp_day[1]),
                            "bill": str(bill.pk),
                            "period": str(bill.period),
                            "status": str(bill.status),
                        },
                    )
                )
        errors.sort(key=lambda e: e.row)
    return good, errors


def import_register_readings(
    *, path: Path, as_of: date, imported_at: datetime, rules: VeeRules = DEFAULT_RULES
) -> ImportResult:
    digest = sha256_of(path)
    existing = queries.batch_by_sha256(sha256=digest)
    if existing is not None:
        return ImportResult(path.name, existing.kind, existing.id, True, existing.rows)
    header, rows = read_table(path)
    good, errors = _validate_register_rows(file_name=path.name, header=header, rows=rows, as_of=as_of)
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
        outcome = operations.record_register_readings(batch=batch, readings=good, rules=rules)
        if outcome.held:
            batch.status = "with_exceptions"
            batch.save(update_fields=["status"])
        # Readings are written in bulk (no model signals): one audit entry for the whole file.
        record_batch(
            actor=None,
            action="readings.import",
            object_repr=f"register readings {path.name}",
            object_pk=batch.id,
            changes={
                "readings": outcome.readings,
                "held": outcome.held,
                "corrected": outcome.corrected,
                "sha256": digest,
            },
        )
    return ImportResult(
        path.name,
        ImportKind.REGISTER,
        batch.id,
        False,
        len(rows),
        readings=outcome.readings,
        held=outcome.held,
        superseded=outcome.superseded,
        corrected=outcome.corrected,
        findings_by_check=dict(outcome.findings_by_check),
    )


# --- interval data ---------------------------------------------------------------------------------------

_TS_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")
_KWH = pl.Decimal(16, 4)


def _read_interval_frame(path: Path) -> pl.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            df = pl.read_parquet(path)
        else:
            df = pl.read_csv(io.BytesIO(read_csv_utf8(path)), infer_schema=False)
    except ImportRejected:
        raise
    except Exception as exc:
        raise ImportRejected(
            path.name, [RowError(1, "-", f"not a readable file ({exc})", "unreadable")]
        ) from exc
    df = df.rename({c: c.strip().lower() for c in df.columns})
    column_index(path.name, df.columns, INTERVAL_COLUMNS)
    return df


def _parse_timestamp(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        return col.dt.replace_time_zone(None) if dtype.time_zone else col
    text = col.cast(pl.String).str.strip_chars()
    return pl.coalesce([text.str.strptime(pl.Datetime("us"), f, strict=False) for f in _TS_FORMATS])


def _validate_interval(path: Path, df: pl.DataFrame, as_of: date) -> tuple[pl.DataFrame, dict[str, int]]:
    has_kvarh = "kvarh" in df.columns
    meters = queries.meters_by_serial(
        serials=df.get_column("meter_serial").cast(pl.String).drop_nulls().unique()
    )
    serial_to_id = pl.DataFrame(
        {"meter_serial": list(meters), "meter_id": [m.id for m in meters.values()]},
        schema={"meter_serial": pl.String, "meter_id": pl.Int64},
    )
    work = df.with_row_index("row", offset=2).with_columns(
        pl.col("meter_serial").cast(pl.String).str.strip_chars(),
        _parse_timestamp(pl.col("timestamp"), df.schema["timestamp"]).alias("ts"),
        pl.col("kwh").cast(pl.String).str.strip_chars().cast(_KWH, strict=False).alias("kwh_d"),
        (
            pl.col("kvarh").cast(pl.String).str.strip_chars().cast(_KWH, strict=False)
            if has_kvarh
            else pl.lit(None, _KWH)
        ).alias("kvarh_d"),
    )
    work = work.join(serial_to_id, on="meter_serial", how="left")
    work = work.with_columns(
        pl.len().over("meter_serial", "ts").alias("dup_n"),
        pl.col("row").min().over("meter_serial", "ts").alias("first_row"),
    )
    checks: list[tuple[str, pl.Expr, pl.Expr]] = [
        (
            "meter_serial",
            pl.col("meter_id").is_null(),
            pl.format("unknown meter '{}'", pl.col("meter_serial")),
        ),
        (
            "timestamp",
            pl.col("ts").is_null(),
            pl.format(
                "bad timestamp '{}' (expected YYYY-MM-DD HH:MM[:SS])", pl.col("timestamp").cast(pl.String)
            ),
        ),
        (
            "timestamp",
            pl.col("ts").is_not_null() & (pl.col("ts").dt.date() > as_of),
            pl.format(
                "interval {} is in the future (as of {})",
                pl.col("ts").cast(pl.String),
                pl.lit(as_of.isoformat()),
            ),
        ),
        ("kwh", pl.col("kwh_d").is_null(), pl.format("not a number: '{}'", pl.col("kwh").cast(pl.String))),
        ("kwh", pl.col("kwh_d") < 0, pl.format("negative energy {}", pl.col("kwh").cast(pl.String))),
        (
            "timestamp",
            pl.col("ts").is_not_null() & (pl.col("dup_n") > 1) & (pl.col("row") > pl.col("first_row")),
            pl.format("duplicate row in file (same meter and timestamp as row {})", pl.col("first_row")),
        ),
    ]
    if has_kvarh:
        checks.append(
            (
                "kvarh",
                pl.col("kvarh").is_not_null()
                & (pl.col("kvarh").cast(pl.String).str.strip_chars() != "")
                & pl.col("kvarh_d").is_null(),
                pl.format("not a number: '{}'", pl.col("kvarh").cast(pl.String)),
            )
        )
    frames = [
        work.filter(cond.fill_null(False)).select(
            pl.col("row"), pl.lit(column).alias("column"), msg.alias("reason")
        )
        for column, cond, msg in checks
    ]
    bad = pl.concat(frames).sort("row", maintain_order=True)
    if bad.height:
        raise ImportRejected(path.name, [RowError(int(r), c, m) for r, c, m in bad.iter_rows()])
    clean = work.select(
        pl.col("meter_id"),
        pl.col("meter_serial"),
        pl.col("ts").alias("timestamp"),
        pl.col("kwh_d").alias("kwh"),
        pl.col("kvarh_d").alias("kvarh"),
    ).sort("meter_id", "timestamp")
    return clean, {s: m.id for s, m in meters.items()}


def import_interval_data(*, path: Path, as_of: date, imported_at: datetime) -> ImportResult:
    """Interval data: one Parquet file per batch (sorted by meter and time, naive local wall-clock
    timestamps) at <WATTDESK_INTERVAL_DIR>/batch-<id>.parquet, one IntervalFile row per meter."""
    digest = sha256_of(path)
    existing = queries.batch_by_sha256(sha256=digest)
    if existing is not None:
        return ImportResult(path.name, existing.kind, existing.id, True, existing.rows)
    df = _read_interval_frame(path)
    clean, _ = _validate_interval(path, df, as_of)
    tz = ZoneInfo(settings.TIME_ZONE)
    per_meter = (
        clean.group_by("meter_id")
        .agg(
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
            pl.len().alias("rows"),
            pl.col("kwh").sum().alias("kwh"),
            pl.col("kvarh").sum().alias("kvarh"),
            pl.col("kvarh").is_not_null().any().alias("has_kvarh"),
        )
        .sort("meter_id")
    )
    base = Path(settings.WATTDESK_INTERVAL_DIR)
    base.mkdir(parents=True, exist_ok=True)
    written: Path | None = None
    try:
        with transaction.atomic():
            batch = ImportBatch.objects.create(
                file_name=path.name[:255],
                sha256=digest,
                kind=ImportKind.INTERVAL,
                rows=clean.height,
                created_at=imported_at,
            )
            rel = f"batch-{batch.id:08d}.parquet"
            written = base / rel
            clean.write_parquet(written, row_group_size=100_000, statistics=True)
            files = [
                {
                    "meter_id": mid,
                    "start": start.replace(tzinfo=tz),
                    "end": end.replace(tzinfo=tz),
                    "path": rel,
                    "rows": n,
                    "kwh": kwh,
                    "kvarh": kvarh if has_kvarh else None,
                }
                for mid, start, end, n, kwh, kvarh, has_kvarh in per_meter.iter_rows()
            ]
            operations.record_interval_files(batch=batch, files=files)
            record_batch(
                actor=None,
                action="readings.import",
                object_repr=f"interval data {path.name}",
                object_pk=batch.id,
                changes={"rows": clean.height, "meters": per_meter.height},
            )
    except BaseException:
        if written is not None and written.exists():
            written.unlink()
        raise
    return ImportResult(
        path.name, ImportKind.INTERVAL, batch.id, False, clean.height, interval_meters=per_meter.height
    )
