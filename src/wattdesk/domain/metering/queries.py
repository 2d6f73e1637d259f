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
from django.db import connection
from django.db.models import Max, Q

from wattdesk.core.period import Period
from wattdesk.domain import sql
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.metering.models import (
    BILLABLE_STATUSES,
    TOU_DEMAND_KINDS,
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
    max_kw_by_kind: Mapping[str, Decimal] = field(default_factory=dict)  # max_demand_<TOU period> registers
    estimated: bool = False
    readings: int = 0
    exceptions: int = 0

    @property
    def kwh(self) -> Decimal:
        """Total active kWh: the active_total register when read, else the sum of the TOU registers."""
        if RegisterKind.ACTIVE_TOTAL in self.kwh_by_kind:
            return self.kwh_by_kind[RegisterKind.ACTIVE_TOTAL]
        return sum((self.kwh_by_kind[k] for k in TOU_KINDS if k in self.kwh_by_kind), Decimal(0))


def consumption_by_account(
    *,
    period_start: date,
    period_end: date,
    account_ids: Iterable[int] | None = None,
    account_range: tuple[int, int] | None = None,
) -> dict[int, ServicePointUsage]:
    """Validated consumption per service point for readings dated in [period_start, period_end): the one
    consumption query (the billing run, the portal, the customer pages and the tests all read usage here).

    Billable readings (valid / estimated) with a consumption, attributed to the service point through the
    meter installation covering the reading date (inclusive dates, so a meter exchange is not double
    counted); consumption summed per register kind, maximum demand = the largest reading; readings in status
    ``exception`` counted. Accounts: ``account_range`` (lo, hi inclusive: a billing batch), or
    ``account_ids``, or every account. Two grouped SQL queries (per chunk of ``account_ids``).
    Returns {service_point_id: ServicePointUsage}.
    """
    if account_range is not None:
        scopes: list[tuple[str, list[Any]]] = [("sp.{account} BETWEEN %s AND %s", list(account_range))]
    elif account_ids is not None:
        ids = sorted(set(account_ids))
        scopes = [(f"sp.{{account}} IN ({', '.join(['%s'] * len(part))})", part) for part in chunked(ids)]
    else:
        scopes = [("1 = 1", [])]
    acc: dict[int, dict[str, Any]] = {}

    def entry(sp_id: int, account_id: int) -> dict[str, Any]:
        return acc.setdefault(
            sp_id,
            {
                "account_id": account_id,
                "kwh": {},
                "kvarh": None,
                "max_kw": None,
                "max_kw_by_kind": {},
                "est": False,
                "n": 0,
                "exc": 0,
            },
        )

    billable = [str(s) for s in BILLABLE_STATUSES]
    with connection.cursor() as cur:
        for scope, scope_params in scopes:
            query, params = _usage_sql(
                select=sql.qty_sum("{c}") + ", MAX({c}), COUNT(*), SUM(CASE WHEN {s} = %s THEN 1 ELSE 0 END)",
                select_params=[str(ReadingSource.ESTIMATED)],
                reading_filter="rr.{status} IN (%s, %s) AND rr.{consumption} IS NOT NULL",
                filter_params=billable,
                by_kind=True,
                scope=(scope, scope_params),
                start=period_start,
                end=period_end,
            )
            cur.execute(query, params)
            for sp_id, account_id, kind, total, peak, n, n_est in cur.fetchall():
                d = entry(sp_id, account_id)
                if kind == RegisterKind.MAX_DEMAND:
                    d["max_kw"] = sql.read_qty(peak)
                elif kind in TOU_DEMAND_KINDS:
                    d["max_kw_by_kind"][kind] = sql.read_qty(peak)
                elif kind == RegisterKind.REACTIVE:
                    d["kvarh"] = sql.read_qty_units(total)
                else:
                    d["kwh"][kind] = sql.read_qty_units(total)
                d["est"] = d["est"] or n_est > 0
                d["n"] += n
            query, params = _usage_sql(
                select="COUNT(*)",
                select_params=[],
                reading_filter="rr.{status} = %s",
                filter_params=[str(ReadingStatus.EXCEPTION)],
                by_kind=False,
                scope=(scope, scope_params),
                start=period_start,
                end=period_end,
            )
            cur.execute(query, params)
            for sp_id, account_id, n in cur.fetchall():
                entry(sp_id, account_id)["exc"] = n
    return {
        sp_id: ServicePointUsage(
            service_point_id=sp_id,
            account_id=d["account_id"],
            kwh_by_kind=d["kwh"],
            kvarh=d["kvarh"],
            max_kw=d["max_kw"],
            max_kw_by_kind=d["max_kw_by_kind"],
            estimated=d["est"],
            readings=d["n"],
            exceptions=d["exc"],
        )
        for sp_id, d in acc.items()
    }


def _usage_sql(
    *,
    select: str,
    select_params: list[Any],
    reading_filter: str,
    filter_params: list[Any],
    by_kind: bool,
    scope: tuple[str, list[Any]],
    start: date,
    end: date,
) -> tuple[str, list[Any]]:
    """SQL over the readings of the scope's registers, grouped by service point (and register kind).

    Each reading is attributed through the installation covering its date. SQLite plans the plain join as
    index lookups from the service points; PostgreSQL, at a million accounts, hash-joins whole tables
    (installations, readings) for every batch, i.e. O(accounts) per batch. There the installations and the
    readings are reached per service point / register with LATERAL subqueries on their indexes
    (``OFFSET 0`` keeps the planner from flattening them back into those hash joins).
    ``select`` names the reading's consumption ``{c}`` and source ``{s}``; ``scope`` is a condition on the
    service point ``sp`` (``{account}`` is its account column) with its parameters.
    """
    rr, reg, inst, sp = RegisterReading, MeterRegister, MeterInstallation, ServicePoint
    names = {"status": sql.col(rr, "status"), "consumption": sql.col(rr, "consumption")}
    rfilter = reading_filter.format(**names)
    where_scope = scope[0].format(account=sql.col(sp, "account"))
    read_on = f"rr.{sql.col(rr, 'read_on')}"
    d0, d1 = connection.ops.adapt_datefield_value(start), connection.ops.adapt_datefield_value(end)
    covers = (
        f"{read_on} >= i.{sql.col(inst, 'installed_on')} "
        f"AND (i.{sql.col(inst, 'removed_on')} IS NULL OR {read_on} <= i.{sql.col(inst, 'removed_on')})"
    )
    group = f"sp.id, sp.{sql.col(sp, 'account')}" + (f", r.{sql.col(reg, 'kind')}" if by_kind else "")
    pg = connection.vendor == "postgresql"
    cols = (
        {"c": "x.c", "s": "x.s"}
        if pg
        else {"c": f"rr.{sql.col(rr, 'consumption')}", "s": f"rr.{sql.col(rr, 'source')}"}
    )
    head = f"SELECT {group}, {select.format(**cols)} "
    if pg:
        inst_cols = ", ".join(f"i.{sql.col(inst, f)}" for f in ("meter", "installed_on", "removed_on"))
        query = (
            head + f"FROM {sql.table(sp)} sp CROSS JOIN LATERAL (SELECT {inst_cols} FROM {sql.table(inst)} i "
            f"WHERE i.{sql.col(inst, 'service_point')} = sp.id OFFSET 0) i "
            f"JOIN {sql.table(reg)} r ON r.{sql.col(reg, 'meter')} = i.{sql.col(inst, 'meter')} "
            f"CROSS JOIN LATERAL (SELECT rr.{sql.col(rr, 'consumption')} AS c, rr.{sql.col(rr, 'source')} AS s "
            f"FROM {sql.table(rr)} rr WHERE rr.{sql.col(rr, 'register')} = r.id AND {read_on} >= %s "
            f"AND {read_on} < %s AND {covers} AND {rfilter} OFFSET 0) x "
            f"WHERE {where_scope} GROUP BY {group}"
        )
        return query, [*select_params, d0, d1, *filter_params, *scope[1]]
    query = (
        head
        + f"FROM {sql.table(sp)} sp JOIN {sql.table(inst)} i ON i.{sql.col(inst, 'service_point')} = sp.id "
        f"JOIN {sql.table(reg)} r ON r.{sql.col(reg, 'meter')} = i.{sql.col(inst, 'meter')} "
        f"JOIN {sql.table(rr)} rr ON rr.{sql.col(rr, 'register')} = r.id AND {covers} "
        f"WHERE {where_scope} AND {read_on} >= %s AND {read_on} < %s AND {rfilter} GROUP BY {group}"
    )
    return query, [*select_params, *scope[1], d0, d1, *filter_params]


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


def latest_reading_period() -> str | None:
    """The period (``YYYY-MM``) of the latest reading date on record, or None when there is no reading. Reading
    exceptions are filed under the period their reading's date falls in, so the readings page opens here."""
    latest = RegisterReading.objects.aggregate(latest=Max("read_on"))["latest"]
    return None if latest is None else str(Period.of(latest))


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
