"""Reads of the metering domain. Bulk, fetch-then-calculate: every function here issues a fixed, small number
of SQL queries (id lists are chunked to stay under database parameter limits), never one per row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from django.conf import settings
from django.db.models import Count, F, Max, Q, Sum

from wattdesk.domain.metering.models import (
    BILLABLE_STATUSES,
    ImportBatch,
    IntervalFile,
    Meter,
    MeterInstallation,
    MeterRegister,
    ReadingException,
    ReadingSource,
    ReadingStatus,
    RegisterKind,
    RegisterReading,
)

CHUNK = 10_000  # ids per IN (...) list: below SQLite's and PostgreSQL's bind-parameter limits

T = TypeVar("T")


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    buf: list[T] = []
    for x in items:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


# --- lookups used by imports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterInfo:
    id: int
    serial: str
    multiplier: Decimal
    digits: int
    interval: bool
    max_kw_physical: Decimal | None
    registers: Mapping[str, int]  # kind -> register id


def meters_by_serial(*, serials: Iterable[str]) -> dict[str, MeterInfo]:
    """Meters (with their register ids by kind) for the given serials; unknown serials are absent."""
    wanted = sorted(set(serials))
    rows: list[tuple[Any, ...]] = []
    for part in chunked(wanted):
        rows.extend(
            Meter.objects.filter(serial__in=part).values_list(
                "id", "serial", "multiplier", "digits", "interval", "max_kw_physical"
            )
        )
    regs: dict[int, dict[str, int]] = defaultdict(dict)
    for part in chunked([r[0] for r in rows]):
        for reg_id, meter_id, kind in MeterRegister.objects.filter(meter_id__in=part).values_list(
            "id", "meter_id", "kind"
        ):
            regs[meter_id][kind] = reg_id
    return {
        serial: MeterInfo(mid, serial, mult, digits, interval, mkw, dict(regs.get(mid, {})))
        for mid, serial, mult, digits, interval, mkw in rows
    }


def batch_by_sha256(*, sha256: str) -> ImportBatch | None:
    return ImportBatch.objects.filter(sha256=sha256).first()


@dataclass(frozen=True)
class StoredReading:
    id: int
    register_id: int
    read_on: date
    value: Decimal
    source: str
    status: str
    consumption: Decimal | None


def stored_readings(*, register_ids: Iterable[int], since: date) -> dict[int, list[StoredReading]]:
    """Billable readings (valid/estimated) of the registers on or after `since`, oldest first, plus for each
    register that has none in that window the latest billable reading before it (the chain's anchor)."""
    ids = sorted(set(register_ids))
    out: dict[int, list[StoredReading]] = defaultdict(list)
    fields = ("id", "register_id", "read_on", "value", "source", "status", "consumption")
    for part in chunked(ids):
        qs = RegisterReading.objects.filter(
            register_id__in=part, status__in=BILLABLE_STATUSES, read_on__gte=since
        ).order_by("register_id", "read_on", "source")
        for row in qs.values_list(*fields):
            out[row[1]].append(StoredReading(*row))
    missing = [i for i in ids if i not in out]
    for part in chunked(missing):
        latest = list(
            RegisterReading.objects.filter(
                register_id__in=part, status__in=BILLABLE_STATUSES, read_on__lt=since
            )
            .values("register_id")
            .annotate(d=Max("read_on"))
            .values_list("register_id", "d")
            .order_by()
        )
        for sub in _q_chunks(latest):
            qs = RegisterReading.objects.filter(sub, status__in=BILLABLE_STATUSES).order_by(
                "register_id", "source"
            )
            for row in qs.values_list(*fields):
                out[row[1]].append(StoredReading(*row))
    return dict(out)


def _q_chunks(pairs: Sequence[tuple[int, date]], size: int = 400) -> Iterator[Q]:
    for i in range(0, len(pairs), size):
        q = Q()
        for reg_id, d in pairs[i : i + size]:
            q |= Q(register_id=reg_id, read_on=d)
        yield q


def held_readings(*, register_ids: Iterable[int]) -> dict[tuple[int, date], int]:
    """Held actual readings (status exception: excluded from billing until reviewed) by (register, date) ->
    reading id: an import on that date corrects them."""
    out: dict[tuple[int, date], int] = {}
    for part in chunked(sorted(set(register_ids))):
        for pk, reg_id, d in RegisterReading.objects.filter(
            register_id__in=part, status=ReadingStatus.EXCEPTION, source=ReadingSource.ACTUAL
        ).values_list("pk", "register_id", "read_on"):
            out[(reg_id, d)] = pk
    return out


def existing_reading_dates(*, register_ids: Iterable[int]) -> dict[int, tuple[date, str]]:
    """Latest billable reading date and its source, per register (for import validation)."""
    out: dict[int, tuple[date, str]] = {}
    for part in chunked(sorted(set(register_ids))):
        rows = (
            RegisterReading.objects.filter(register_id__in=part, status__in=BILLABLE_STATUSES)
            .values("register_id", "source")
            .annotate(d=Max("read_on"))
            .values_list("register_id", "source", "d")
        )
        for reg_id, source, d in rows:
            cur = out.get(reg_id)
            # on a tie prefer "actual": an actual reading on that date blocks a new one, an estimate does not
            if cur is None or d > cur[0] or (d == cur[0] and source == ReadingSource.ACTUAL):
                out[reg_id] = (d, source)
    return out


@dataclass(frozen=True)
class Installation:
    meter_id: int
    service_point_id: int
    installed_on: date
    removed_on: date | None
    initial_values: Mapping[str, Any]
    final_values: Mapping[str, Any]
    capacity_kva: Decimal | None

    def covers(self, d: date) -> bool:
        return self.installed_on <= d and (self.removed_on is None or d <= self.removed_on)


def installations_for_meters(*, meter_ids: Iterable[int]) -> list[Installation]:
    """All installations of the meters and of every meter ever installed at the same service points."""
    fields = (
        "meter_id",
        "service_point_id",
        "installed_on",
        "removed_on",
        "initial_values",
        "final_values",
        "service_point__capacity_kva",
    )
    sp_ids: set[int] = set()
    for part in chunked(sorted(set(meter_ids))):
        sp_ids.update(
            MeterInstallation.objects.filter(meter_id__in=part).values_list("service_point_id", flat=True)
        )
    out: list[Installation] = []
    for part in chunked(sorted(sp_ids)):
        qs = MeterInstallation.objects.filter(service_point_id__in=part).order_by(
            "service_point_id", "installed_on"
        )
        out.extend(Installation(*row) for row in qs.values_list(*fields))
    return out


@dataclass(frozen=True)
class RegisterInfo:
    id: int
    meter_id: int
    kind: str
    multiplier: Decimal
    digits: int
    max_kw_physical: Decimal | None


def registers_of_meters(*, meter_ids: Iterable[int]) -> dict[int, RegisterInfo]:
    out: dict[int, RegisterInfo] = {}
    for part in chunked(sorted(set(meter_ids))):
        qs = MeterRegister.objects.filter(meter_id__in=part).values_list(
            "id", "meter_id", "kind", "meter__multiplier", "meter__digits", "meter__max_kw_physical"
        )
        for row in qs:
            out[row[0]] = RegisterInfo(*row)
    return out


# --- billing ---------------------------------------------------------------------------------------------

ACTIVE_KINDS = (
    RegisterKind.ACTIVE_TOTAL,
    RegisterKind.ACTIVE_PEAK,
    RegisterKind.ACTIVE_FLAT,
    RegisterKind.ACTIVE_VALLEY,
    RegisterKind.ACTIVE_CRITICAL,
    RegisterKind.ACTIVE_DEEP_VALLEY,
)
TOU_KINDS = ACTIVE_KINDS[1:]


@dataclass(frozen=True)
class ServicePointUsage:
    """Validated usage of one service point for a billing period [start, end).

    kwh_by_kind: active energy kWh per register kind (active_total and/or the TOU kinds) — the sum of the
    consumption of every billable reading dated in the period (true-ups and meter exchanges included).
    kvarh: reactive energy; max_kw: the highest maximum demand reading (kW, multiplier applied).
    estimated: some of it comes from an estimated reading. exceptions: readings in the period held in
    status "exception" (bill should be held until they are resolved).
    """

    service_point_id: int
    account_id: int
    kwh_by_kind: Mapping[str, Decimal] = field(default_factory=dict)
    kvarh: Decimal | None = None
    max_kw: Decimal | None = None
    estimated: bool = False
    readings: int = 0
    exceptions: int = 0

    @property
    def kwh(self) -> Decimal:
        """Total active kWh: the active_total register when read, else the sum of the TOU registers."""
        if RegisterKind.ACTIVE_TOTAL in self.kwh_by_kind:
            return self.kwh_by_kind[RegisterKind.ACTIVE_TOTAL]
        return sum((self.kwh_by_kind[k] for k in TOU_KINDS if k in self.kwh_by_kind), Decimal(0))


def _installed_at_read_date(prefix: str) -> Q:
    """Join condition: the meter's installation that covers the reading's date (one join, inclusive dates)."""
    inst = f"{prefix}installations__"
    return Q(**{f"{inst}installed_on__lte": F("read_on")}) & (
        Q(**{f"{inst}removed_on__isnull": True}) | Q(**{f"{inst}removed_on__gte": F("read_on")})
    )


def consumption_by_account(
    *, period_start: date, period_end: date, account_ids: Iterable[int] | None = None
) -> dict[int, ServicePointUsage]:
    """Validated consumption per service point for readings dated in [period_start, period_end).

    Two SQL queries (aggregate of billable readings; count of exception readings), grouped by service point
    (through the meter installation covering each reading date), account and register kind.
    Returns {service_point_id: ServicePointUsage}.
    """
    sp = "register__meter__installations__service_point_id"
    acct = "register__meter__installations__service_point__account_id"
    # One filter() call: conditions on the multi-valued installations relation in separate filter() calls
    # would each get their own join, so the account filter (and the grouped service point) would not be tied
    # to the installation that covers the reading date — double counting across meter exchanges.
    extra = {f"{acct}__in": list(account_ids)} if account_ids is not None else {}
    base = RegisterReading.objects.filter(
        _installed_at_read_date("register__meter__"),
        read_on__gte=period_start,
        read_on__lt=period_end,
        **extra,
    )
    rows = (
        base.filter(status__in=BILLABLE_STATUSES, consumption__isnull=False)
        .values(sp, acct, "register__kind")
        .annotate(
            total=Sum("consumption"),
            peak=Max("consumption"),
            n=Count("id"),
            n_est=Count("id", filter=Q(source=ReadingSource.ESTIMATED)),
        )
        .order_by()
    )
    acc: dict[int, dict[str, Any]] = {}
    for r in rows:
        d = acc.setdefault(
            r[sp],
            {"account_id": r[acct], "kwh": {}, "kvarh": None, "max_kw": None, "est": False, "n": 0, "exc": 0},
        )
        kind = r["register__kind"]
        if kind == RegisterKind.MAX_DEMAND:
            d["max_kw"] = r["peak"]
        elif kind == RegisterKind.REACTIVE:
            d["kvarh"] = r["total"]
        else:
            d["kwh"][kind] = r["total"]
        d["est"] = d["est"] or r["n_est"] > 0
        d["n"] += r["n"]
    exc_rows = base.filter(status=ReadingStatus.EXCEPTION).values(sp, acct).annotate(n=Count("id")).order_by()
    for r in exc_rows:
        d = acc.setdefault(
            r[sp],
            {"account_id": r[acct], "kwh": {}, "kvarh": None, "max_kw": None, "est": False, "n": 0, "exc": 0},
        )
        d["exc"] = r["n"]
    return {
        sp_id: ServicePointUsage(
            service_point_id=sp_id,
            account_id=d["account_id"],
            kwh_by_kind=d["kwh"],
            kvarh=d["kvarh"],
            max_kw=d["max_kw"],
            estimated=d["est"],
            readings=d["n"],
            exceptions=d["exc"],
        )
        for sp_id, d in acc.items()
    }


# --- exceptions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    period: str
    meter_serial: str
    register_kind: str | None
    read_on: date | None
    check_code: str
    severity: str
    reason: str
    resolved: bool


def reading_exceptions(*, period: str | None = None, include_resolved: bool = False) -> list[ExceptionRow]:
    qs = ReadingException.objects.all()
    if period is not None:
        qs = qs.filter(period=period)
    if not include_resolved:
        qs = qs.filter(resolved=False)
    rows = qs.order_by("period", "meter__serial", "id").values_list(
        "id",
        "period",
        "meter__serial",
        "register__kind",
        "reading__read_on",
        "check_code",
        "severity",
        "reason",
        "resolved",
    )
    return [ExceptionRow(*r) for r in rows]


# --- interval data ---------------------------------------------------------------------------------------


def interval_dir() -> Path:
    return Path(settings.WATTDESK_INTERVAL_DIR)


def interval_files(
    *, start: datetime, end: datetime, meter_ids: Iterable[int] | None = None
) -> list[tuple[int, Path]]:
    """(meter_id, absolute Parquet path) of every interval file overlapping [start, end)."""
    qs = IntervalFile.objects.filter(start__lt=end, end__gte=start)
    if meter_ids is not None:
        qs = qs.filter(meter_id__in=list(meter_ids))
    base = interval_dir()
    return [(m, base / p) for m, p in qs.order_by("meter_id", "start").values_list("meter_id", "path")]


def load_intervals(*, start: datetime, end: datetime, meter_ids: Iterable[int] | None = None) -> pl.DataFrame:
    """Interval data of [start, end) (naive local wall-clock timestamps, as imported) as one polars frame
    with columns meter_id, timestamp, kwh, kvarh (kvarh null when not metered), sorted by meter and time.

    Reads only the batch files that overlap the period (one file per import batch, predicate pushdown)."""
    files = interval_files(start=start, end=end, meter_ids=meter_ids)
    schema: dict[str, pl.DataType] = {
        "meter_id": pl.Int64(),
        "timestamp": pl.Datetime("us"),
        "kwh": pl.Float64(),
        "kvarh": pl.Float64(),
    }
    if not files:
        return pl.DataFrame(schema=schema)
    paths = sorted({str(p) for _, p in files})
    wanted = sorted({m for m, _ in files})
    lo = start.replace(tzinfo=None)
    hi = end.replace(tzinfo=None)
    frame = (
        pl.scan_parquet(paths, missing_columns="insert")
        .filter(pl.col("meter_id").is_in(wanted) & (pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi))
        .select("meter_id", "timestamp", "kwh", "kvarh")
        .sort("meter_id", "timestamp")
        .collect()
    )
    return frame
