"""Use case: generate a synthetic county into the database (one transaction).

Fetch nothing, calculate everything in numpy (population, load shapes, readings), then write with bulk
statements and explicit ids. Register readings go through the metering domain's VEE
(``domain.metering.operations.record_register_readings``), one import batch per reading date, exactly as a
monthly collection file would: advances, consumption, statuses and ReadingException rows are VEE's, not
the generator's. Interval data is written as one Parquet file in the import layout
(``<WATTDESK_INTERVAL_DIR>/batch-<id>.parquet``) with one IntervalFile row per meter.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection, transaction

from wattdesk.core.period import period_text
from wattdesk.domain import bulk as w
from wattdesk.domain.customers.models import (
    Account,
    Customer,
    ReadingRoute,
    Region,
    ServicePoint,
    TransformerArea,
)
from wattdesk.domain.metering import operations as metering_ops
from wattdesk.domain.metering.models import (
    ImportBatch,
    IntervalFile,
    Meter,
    MeterInstallation,
    MeterRegister,
    RegisterReading,
)
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion
from wattdesk.synthetic import generator as gen
from wattdesk.synthetic.catalog import TariffEntry, day_type_function, load_catalog
from wattdesk.synthetic.population import (
    CHANNELS,
    CLASSES,
    COM,
    IND,
    PUNCTUALITY,
    TOWNSHIPS,
    Population,
    draw_population,
)

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]

WEATHER_SALT = 0x3A7  # the weather of a seed is the same whatever the county size


class SynthError(Exception):
    """The county cannot be generated as asked (bad parameters, database not empty)."""


@dataclass(frozen=True)
class CountySummary:
    accounts: int
    months: int
    seed: int
    end_month: date
    periods: tuple[str, ...]
    reading_dates: tuple[date, ...]
    by_class: dict[str, int]
    tariffs: dict[str, str]  # population key -> tariff code
    meters: int
    registers: int
    readings: int
    interval_meters: int
    interval_rows: int
    interval_path: str | None
    anomalies: tuple[gen.Anomaly, ...]
    exchanges: int
    vee_findings: dict[str, int]
    readings_held: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def anomaly_counts(self) -> dict[str, int]:
        return dict(Counter(a.kind for a in self.anomalies))


def generate_county(
    *,
    accounts: int,
    months: int,
    seed: int,
    end_month: date,
    interval_share: float = 0.05,
    vee_months: int = 1,
    progress: Progress | None = None,
) -> CountySummary:
    """Generate `accounts` accounts with `months` billing months ending with `end_month` (a date in it).

    Deterministic for a seed (same rows, same values). The database must hold no customers yet.
    The readings closing the latest `vee_months` months go through VEE (and carry the injected reading
    errors); older readings are written as validated history.
    """
    if accounts < 1:
        raise SynthError("accounts must be at least 1")
    if not 1 <= months <= 60:
        raise SynthError("months must be between 1 and 60")
    if not 0.0 <= interval_share <= 1.0:
        raise SynthError("interval share must be between 0 and 1")
    if not 1 <= vee_months <= months:
        raise SynthError("vee months must be between 1 and months")
    vee_dates = vee_months
    end_month = date(end_month.year, end_month.month, 1)
    report = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    if Customer.objects.exists():
        raise SynthError("the database already has customers: synth needs an empty database")

    catalog = load_catalog()
    rng = np.random.default_rng([seed, 0xC0])
    pop = draw_population(n=accounts, rng=rng, reference_year=end_month.year)
    dates = gen.month_starts(end_month, months)
    cls = pop.customer_class
    reactive = (cls == IND) | (cls == COM) | ~np.isnan(pop.pf_standard)
    demand = cls == IND
    interval = _interval_accounts(pop, interval_share, np.random.default_rng([seed, 0x1F]))
    report("population", 1, 1)
    timings["population"] = time.perf_counter() - t0

    t = time.perf_counter()
    readings = gen.generate_readings(
        pop=pop,
        dates=dates,
        tou_tables={k: e.tou for k, e in catalog.items()},
        day_type_of=day_type_function(catalog),
        reactive=reactive,
        demand=demand,
        interval=interval,
        seed=seed,
        weather_seed=seed ^ WEATHER_SALT,
        error_dates=vee_dates,
    )
    report("load profiles", 1, 1)
    timings["generate"] = time.perf_counter() - t

    tz = ZoneInfo(settings.TIME_ZONE)
    written_file: Path | None = None
    try:
        with transaction.atomic():
            t = time.perf_counter()
            ids = _write_master_data(pop=pop, catalog=catalog, readings=readings, dates=dates, tz=tz)
            timings["master data"] = time.perf_counter() - t
            report("master data", 1, 1)

            n_readings, findings, held = _write_readings(
                pop=pop,
                readings=readings,
                ids=ids,
                seed=seed,
                vee_dates=vee_dates,
                tz=tz,
                report=report,
                timings=timings,
            )

            t = time.perf_counter()
            interval_rows, written_file = _write_intervals(
                pop=pop,
                readings=readings,
                ids=ids,
                axis_start=dates[0],
                axis_end=dates[-1],
                interval=interval,
                reactive=reactive,
                seed=seed,
                tz=tz,
                report=report,
            )
            timings["interval data"] = time.perf_counter() - t
            analyze_after_bulk_load()
    except BaseException:
        if written_file is not None and written_file.exists():
            written_file.unlink()
        raise
    timings["total"] = time.perf_counter() - t0
    return CountySummary(
        accounts=accounts,
        months=months,
        seed=seed,
        end_month=end_month,
        periods=tuple(period_text(d) for d in dates[:-1]),
        reading_dates=tuple(readings.read_dates),
        by_class=pop.class_counts(),
        tariffs={k: e.code for k, e in catalog.items()},
        meters=ids.n_meters,
        registers=ids.n_registers,
        readings=n_readings,
        interval_meters=int(interval.sum()),
        interval_rows=interval_rows,
        interval_path=None if written_file is None else str(written_file),
        anomalies=tuple(readings.anomalies),
        exchanges=len(readings.exchanges),
        vee_findings=findings,
        readings_held=held,
        timings=timings,
    )


def _interval_accounts(pop: Population, share: float, rng: np.random.Generator) -> np.ndarray:
    """All large industry (专变 customers have load-management terminals), then random others up to `share`."""
    want = round(share * pop.n)
    out = np.zeros(pop.n, dtype=bool)
    if want == 0:
        return out
    ind = np.flatnonzero(pop.customer_class == IND)
    out[ind[:want]] = True
    rest = want - int(out.sum())
    if rest > 0:
        pool = np.flatnonzero(~out)
        out[rng.choice(pool, size=min(rest, pool.size), replace=False)] = True
    return out


@dataclass
class _Ids:
    account: np.ndarray  # account pk per population index
    service_point: np.ndarray
    meter: np.ndarray  # primary meter pk per account
    new_meter: dict[int, int]  # account -> replacement meter pk
    registers: list[tuple[int, ...]]  # per account: register pks of the primary meter (kinds order)
    new_registers: dict[int, tuple[int, ...]]
    n_meters: int
    n_registers: int
    serials: dict[int, str]  # meter pk -> serial


def _local(d: date, hour: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, dtime(hour, 0), tzinfo=tz)


def _write_master_data(
    *,
    pop: Population,
    catalog: dict[str, TariffEntry],
    readings: gen.Readings,
    dates: list[date],
    tz: ZoneInfo,
) -> _Ids:
    n = pop.n
    window_start = dates[0]
    # --- regions, routes, transformer areas ------------------------------------------------------------
    r0 = w.reserve_block(Region, len(TOWNSHIPS)).start
    region_ids = [r0 + i for i in range(len(TOWNSHIPS))]
    w.insert_rows(
        Region,
        ["id", "code", "name"],
        [(region_ids[i], t[0], f"{t[1]}供电所") for i, t in enumerate(TOWNSHIPS)],
    )
    rt0 = w.reserve_block(ReadingRoute, len(pop.route_region)).start
    route_rows = []
    per_region: Counter[int] = Counter()
    for i, reg in enumerate(pop.route_region.tolist()):
        per_region[reg] += 1
        code = f"{TOWNSHIPS[reg][0]}-R{per_region[reg]:03d}"
        route_rows.append((rt0 + i, code, f"{TOWNSHIPS[reg][1]}抄表段{per_region[reg]:03d}", region_ids[reg]))
    w.insert_rows(ReadingRoute, ["id", "code", "name", "region"], route_rows)
    ta0 = w.reserve_block(TransformerArea, len(pop.area_region)).start
    area_rows = []
    per_region = Counter()
    for i, reg in enumerate(pop.area_region.tolist()):
        per_region[reg] += 1
        code = f"{TOWNSHIPS[reg][0]}-T{per_region[reg]:04d}"
        area_rows.append(
            (
                ta0 + i,
                code,
                f"{TOWNSHIPS[reg][1]}{per_region[reg]:03d}号公变",
                region_ids[reg],
                w.dec(float(pop.area_kva[i])),
            )
        )
    w.insert_rows(TransformerArea, ["id", "code", "name", "region", "capacity_kva"], area_rows)

    # --- customers, accounts, service points -------------------------------------------------------------
    c0, a0, s0 = (w.reserve_block(model, n).start for model in (Customer, Account, ServicePoint))
    opened = [_opened_on(int(pop.opened_year[i]), i, window_start) for i in range(n)]
    cust_rows = []
    acct_rows = []
    sp_rows = []
    for i in range(n):
        klass = CLASSES[int(pop.customer_class[i])]
        profile = {
            "punctuality": PUNCTUALITY[int(pop.punctuality[i])],
            "channel": CHANNELS[int(pop.channel[i])],
            "risk": float(pop.risk[i]),
        }
        by = int(pop.birth_year[i])
        cust_rows.append(
            (
                c0 + i,
                f"C{i + 1:09d}",
                pop.names[i],
                "individual" if klass == "residential" else "enterprise",
                by if by else None,
                klass,
                pop.phones[i],
                "",
                w.flag(bool(pop.protected[i])),
                w.js(profile),
                w.moment(_local(opened[i], 9, tz)),
            )
        )
        acct_rows.append(
            (
                a0 + i,
                f"{3300000001 + i}",
                c0 + i,
                "active",
                w.day(opened[i]),
                1,
                w.flag(False),
                pop.addresses[i],
            )
        )
        area = int(pop.transformer_area[i])
        sp_rows.append(
            (
                s0 + i,
                f"SP{i + 1:09d}",
                a0 + i,
                pop.addresses[i],
                region_ids[int(pop.region[i])],
                rt0 + int(pop.route[i]),
                None if area < 0 else ta0 + area,
                pop.voltage_kv[i],
                w.dec(float(pop.capacity_kva[i])),
                w.dec(float(pop.contract_kw[i])),
                w.dec(float(pop.pf_standard[i])),
                w.dec(float(pop.lat[i]), 6),
                w.dec(float(pop.lon[i]), 6),
            )
        )
    w.insert_rows(
        Customer,
        [
            "id",
            "number",
            "name",
            "kind",
            "birth_year",
            "customer_class",
            "phone",
            "id_number",
            "protected",
            "payment_profile",
            "created_at",
        ],
        cust_rows,
    )
    w.insert_rows(
        Account,
        ["id", "number", "customer", "status", "opened_on", "billing_day", "prepaid", "billing_address"],
        acct_rows,
    )
    w.insert_rows(
        ServicePoint,
        [
            "id",
            "number",
            "account",
            "address",
            "region",
            "route",
            "transformer_area",
            "voltage_kv",
            "capacity_kva",
            "contract_kw",
            "pf_standard",
            "lat",
            "lon",
        ],
        sp_rows,
    )

    # --- tariffs -------------------------------------------------------------------------------------------
    have = set(TariffVersion.objects.values_list("code", "effective_from"))
    tv_rows: list[tuple[Any, ...]] = []
    for entry in {e.code: e for e in catalog.values()}.values():
        t = entry.tariff
        if (t.code, t.effective_from) in have:
            continue
        tv_rows.append(
            (
                len(tv_rows),
                t.code,
                "1",
                w.day(t.effective_from),
                w.day(t.effective_to),
                t.name[:200],
                w.js(entry.document),
            )
        )
    tv0 = w.reserve_block(TariffVersion, len(tv_rows)).start
    w.insert_rows(
        TariffVersion,
        ["id", "code", "version", "effective_from", "effective_to", "name", "document"],
        [(tv0 + k, *row) for k, *row in tv_rows],
    )
    ta_0 = w.reserve_block(TariffAssignment, n).start
    w.insert_rows(
        TariffAssignment,
        ["id", "service_point", "tariff_code", "effective_from", "effective_to"],
        [(ta_0 + i, s0 + i, catalog[pop.tariff_key[i]].code, w.day(opened[i]), None) for i in range(n)],
    )

    # --- meters, registers, installations --------------------------------------------------------------------
    exchanged = {ex.account: ex for ex in readings.exchanges}
    n_regs = sum(len(readings.kinds[i]) for i in range(n)) + sum(len(readings.kinds[a]) for a in exchanged)
    m0 = w.reserve_block(Meter, n + len(exchanged)).start
    g0 = w.reserve_block(MeterRegister, n_regs).start
    i0 = w.reserve_block(MeterInstallation, n + len(exchanged)).start
    meter_ids = np.arange(m0, m0 + n, dtype=np.int64)
    new_meter = {a: m0 + n + j for j, a in enumerate(sorted(exchanged))}
    serials: dict[int, str] = {}
    meter_rows = []
    interval_flags = np.zeros(n, dtype=bool)
    for i in range(n):
        serials[int(meter_ids[i])] = f"33{int(pop.region[i]) + 1:02d}{i + 1:010d}"
    for a, mid in new_meter.items():
        serials[mid] = f"33{int(pop.region[a]) + 1:02d}{n + a + 1:010d}"

    def max_kw(a: int) -> str | None:
        # the meter's physical limit, on the primary side (kW): what its CT and rated current allow
        cap = float(pop.capacity_kva[a])
        return (
            w.dec(max(cap * 1.5, 10.0))
            if CLASSES[int(pop.customer_class[a])] != "residential"
            else w.dec(13.2)
        )

    return_ids_reg: list[tuple[int, ...]] = []
    reg_rows: list[tuple[Any, ...]] = []
    next_reg = g0
    for i in range(n):
        kinds = readings.kinds[i]
        ids_i = tuple(range(next_reg, next_reg + len(kinds)))
        next_reg += len(kinds)
        return_ids_reg.append(ids_i)
        reg_rows.extend((rid, int(meter_ids[i]), kd) for rid, kd in zip(ids_i, kinds, strict=True))
    new_regs: dict[int, tuple[int, ...]] = {}
    for a, mid in new_meter.items():
        kinds = readings.kinds[a]
        ids_a = tuple(range(next_reg, next_reg + len(kinds)))
        next_reg += len(kinds)
        new_regs[a] = ids_a
        reg_rows.extend((rid, mid, kd) for rid, kd in zip(ids_a, kinds, strict=True))
    del interval_flags
    for i in range(n):
        meter_rows.append(
            (
                int(meter_ids[i]),
                serials[int(meter_ids[i])],
                w.dec(float(pop.multiplier[i])),
                gen.DIGITS,
                False,
                max_kw(i),
            )
        )
    for a, mid in new_meter.items():
        meter_rows.append((mid, serials[mid], w.dec(float(pop.multiplier[a])), gen.DIGITS, False, max_kw(a)))
    w.insert_rows(Meter, ["id", "serial", "multiplier", "digits", "interval", "max_kw_physical"], meter_rows)
    w.insert_rows(MeterRegister, ["id", "meter", "kind"], reg_rows)

    inst_rows: list[tuple[Any, ...]] = []
    for i in range(n):
        installed = max(opened[i], date(2012, 1, 1) + timedelta(days=int(i * 7919 % 2900)))
        installed = min(installed, window_start - timedelta(days=1))
        ex = exchanged.get(i)
        inst_rows.append(
            (
                i0 + len(inst_rows),
                int(meter_ids[i]),
                s0 + i,
                w.day(installed),
                w.day(ex.on) if ex else None,
                w.js({}),
                w.js({k: f"{v:.2f}" for k, v in ex.final_values.items()}) if ex else w.js({}),
            )
        )
    for a, mid in new_meter.items():
        ex = exchanged[a]
        inst_rows.append(
            (
                i0 + len(inst_rows),
                mid,
                s0 + a,
                w.day(ex.on),
                None,
                w.js({k: f"{v:.2f}" for k, v in ex.initial_values.items()}),
                w.js({}),
            )
        )
    w.insert_rows(
        MeterInstallation,
        ["id", "meter", "service_point", "installed_on", "removed_on", "initial_values", "final_values"],
        inst_rows,
    )
    return _Ids(
        account=np.arange(a0, a0 + n),
        service_point=np.arange(s0, s0 + n),
        meter=meter_ids,
        new_meter=new_meter,
        registers=return_ids_reg,
        new_registers=new_regs,
        n_meters=len(meter_rows),
        n_registers=len(reg_rows),
        serials=serials,
    )


def _opened_on(year: int, i: int, window_start: date) -> date:
    d = date(year, 1, 1) + timedelta(days=(i * 2654435761) % 365)
    return min(d, window_start - timedelta(days=40))


def _write_readings(
    *,
    pop: Population,
    readings: gen.Readings,
    ids: _Ids,
    seed: int,
    vee_dates: int,
    tz: ZoneInfo,
    report: Progress,
    timings: dict[str, float],
) -> tuple[int, dict[str, int], int]:
    """One import batch per reading date.

    The latest `vee_dates` dates are recorded through the metering domain's VEE
    (``record_register_readings``): advances, statuses and ReadingException rows are VEE's. Earlier dates
    are history that was validated and reviewed long ago: written in bulk, status valid, with the advance
    and consumption VEE computes for clean data (rollover corrected, meter exchange through the old meter's
    final and the new meter's initial values). The generator injects reading errors only into VEE dates.
    """
    dates = readings.read_dates
    first_vee = max(0, len(dates) - vee_dates)
    total = 0
    findings: Counter[str] = Counter()
    held = 0
    b0 = w.reserve_block(ImportBatch, len(dates)).start
    batch_rows = []
    for j, d in enumerate(dates):
        digest = hashlib.sha256(
            f"wattdesk-synth:{seed}:{pop.n}:{len(dates)}:{d}:register".encode()
        ).hexdigest()
        batch_rows.append(
            (
                b0 + j,
                f"synth-{d.isoformat()}.csv",
                digest,
                "register",
                0,
                w.moment(_local(d, 8, tz)),
                "imported",
            )
        )
    w.insert_rows(
        ImportBatch, ["id", "file_name", "sha256", "kind", "rows", "created_at", "status"], batch_rows
    )
    rows_per_batch: dict[int, int] = {}

    t = time.perf_counter()
    # --- history: bulk ------------------------------------------------------------------------------------
    if first_vee > 0:
        rows = list(_history_rows(pop=pop, readings=readings, ids=ids, upto=first_vee, batch0=b0))
        r0 = w.reserve_block(RegisterReading, len(rows)).start
        for row in rows:
            bid = cast(int, row[5])
            rows_per_batch[bid] = rows_per_batch.get(bid, 0) + 1
        w.insert_rows(
            RegisterReading,
            ["id", "register", "read_on", "value", "source", "status", "import_batch", "advance",
             "consumption", "estimated_from"],
            ((r0 + k, *row) for k, row in enumerate(rows)),
        )  # fmt: skip
        total += len(rows)
        report("readings + VEE", first_vee, len(dates))

    analyze_after_bulk_load()
    timings["history readings"] = time.perf_counter() - t
    t = time.perf_counter()
    # --- latest dates: through VEE ------------------------------------------------------------------------------
    for j in range(first_vee, len(dates)):
        d = dates[j]
        batch_readings: list[metering_ops.NewReading] = []
        for a in range(pop.n):
            vals = readings.values[a][j]
            on_new = 0 <= readings.new_meter_from[a] <= j
            regs = ids.new_registers[a] if on_new else ids.registers[a]
            meter = ids.new_meter[a] if on_new else int(ids.meter[a])
            for r, rid in enumerate(regs):
                v = vals[r]
                if v != v:  # NaN: no reading
                    continue
                batch_readings.append(metering_ops.NewReading(rid, meter, d, Decimal(f"{v:.4f}")))
        batch = ImportBatch.objects.get(id=b0 + j)
        outcome = metering_ops.record_register_readings(batch=batch, readings=batch_readings)
        rows_per_batch[batch.id] = outcome.readings
        if outcome.held:
            ImportBatch.objects.filter(id=batch.id).update(status="with_exceptions")
        total += outcome.readings
        held += outcome.held
        findings.update(outcome.findings_by_check)
        report("readings + VEE", j + 1, len(dates))
    for batch_id, n_rows in rows_per_batch.items():
        ImportBatch.objects.filter(id=batch_id).update(rows=n_rows)
    timings["VEE (metering)"] = time.perf_counter() - t
    return total, dict(findings), held


#: Tables a county load fills in bulk; their planner statistics must be refreshed before they are queried.
BULK_TABLES = (
    "customers_customer",
    "customers_account",
    "customers_servicepoint",
    "metering_meter",
    "metering_meterregister",
    "metering_meterinstallation",
    "metering_registerreading",
    "tariffs_tariffassignment",
)


def analyze_after_bulk_load() -> None:
    """PostgreSQL: refresh planner statistics of the bulk-loaded tables (ANALYZE counts the rows the current
    transaction inserted). Without it the planner keeps its estimate from before the load (often an empty
    table) and picks nested-loop plans that take minutes on tens of thousands of rows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE " + ", ".join(BULK_TABLES))


def _history_rows(
    *, pop: Population, readings: gen.Readings, ids: _Ids, upto: int, batch0: int
) -> Iterator[tuple[object, ...]]:
    """Rows (register, read_on, value, source, status, batch, advance, consumption, estimated_from) of the
    reading dates before `upto`, ordered by date. Quantities are floats rounded to 4 places: SQLite stores
    a decimal column as a number anyway and PostgreSQL parses the shortest repr exactly."""
    dates = readings.read_dates
    fs = gen.FULL_SCALE
    day_text = [w.day(d) for d in dates]
    exchanged = {ex.account: ex for ex in readings.exchanges}
    per_date: list[list[tuple[object, ...]]] = [[] for _ in range(upto)]
    for a in range(pop.n):
        vals = readings.values[a][:upto]
        mult = float(pop.multiplier[a])
        switch = int(readings.new_meter_from[a])
        ex = exchanged.get(a)
        old_regs, new_regs = ids.registers[a], ids.new_registers.get(a)
        for r, kind in enumerate(readings.kinds[a]):
            v = vals[:, r]
            if kind == "max_demand":
                adv = np.full(upto, np.nan)
                cons = v * mult
            else:
                adv = np.concatenate([[np.nan], np.diff(v)])
                adv = np.where(adv < 0, adv + fs, adv)  # rollover
                if ex is not None and 0 < switch < upto:
                    new_adv = v[switch] - ex.initial_values[kind]
                    old_adv = ex.final_values[kind] - v[switch - 1]
                    adv[switch] = new_adv + fs if new_adv < 0 else new_adv
                    old_adv = old_adv + fs if old_adv < 0 else old_adv
                    cons = adv * mult
                    cons[switch] = (old_adv + adv[switch]) * mult
                else:
                    cons = adv * mult
            vl = np.round(v, 4).tolist()
            al = np.round(adv, 4).tolist()
            cl = np.round(cons, 4).tolist()
            for j in range(upto):
                x = vl[j]
                if x != x:
                    continue
                rid = new_regs[r] if new_regs is not None and 0 <= switch <= j else old_regs[r]
                aj, cj = al[j], cl[j]
                per_date[j].append(
                    (rid, day_text[j], x, "actual", "valid", batch0 + j, None if aj != aj else aj,
                     None if cj != cj else cj, "")
                )  # fmt: skip
    for rows in per_date:
        yield from rows


def _decimal_array(values: np.ndarray, scale: int = 4) -> pa.Array:
    """float64 -> pyarrow decimal128(16, scale), exact to the rounding at `scale` places; NaN -> null."""
    mask = np.isnan(values)
    ints = np.round(np.where(mask, 0.0, values) * 10**scale).astype(np.int64)
    parts = np.empty((ints.size, 2), dtype=np.int64)
    parts[:, 0] = ints
    parts[:, 1] = np.where(ints < 0, -1, 0)
    buf = pa.py_buffer(parts.tobytes())
    validity = None
    if mask.any():
        validity = pa.array(~mask).buffers()[1]
    return pa.Array.from_buffers(
        pa.decimal128(16, scale), ints.size, [validity, buf], null_count=int(mask.sum())
    )


def _write_intervals(
    *,
    pop: Population,
    readings: gen.Readings,
    ids: _Ids,
    axis_start: date,
    axis_end: date,
    interval: np.ndarray,
    reactive: np.ndarray,
    seed: int,
    tz: ZoneInfo,
    report: Progress,
) -> tuple[int, Path | None]:
    accounts = np.flatnonzero(interval)
    if accounts.size == 0:
        return 0, None
    # Rebuild the hourly data chunk by chunk (per-account seeds: the same numbers the demand registers saw).
    assert readings.hourly is not None
    axis = readings.hourly.axis
    chunks = readings.hourly.chunks(accounts)
    digest = hashlib.sha256(
        f"wattdesk-synth:{seed}:{pop.n}:{axis_start}:{axis_end}:interval".encode()
    ).hexdigest()
    batch = ImportBatch(
        file_name=f"synth-intervals-{axis_start.isoformat()}-{axis_end.isoformat()}.parquet",
        sha256=digest,
        kind="interval",
        rows=int(accounts.size * axis.size),
        created_at=_local(axis_end, 8, tz),
    )
    batch.save(force_insert=True)
    base = Path(settings.WATTDESK_INTERVAL_DIR)
    base.mkdir(parents=True, exist_ok=True)
    rel = f"batch-{batch.id:08d}.parquet"
    path = base / rel
    ts = axis.hours.astype("datetime64[us]")
    schema = pa.schema(
        [
            ("meter_id", pa.int64()),
            ("meter_serial", pa.string()),
            ("timestamp", pa.timestamp("us")),
            ("kwh", pa.decimal128(16, 4)),
            ("kvarh", pa.decimal128(16, 4)),
        ]
    )
    files = []
    rows = 0
    first_ts = datetime.combine(axis_start, dtime(0, 0), tzinfo=tz)
    last_ts = datetime.combine(axis_end, dtime(0, 0), tzinfo=tz) - timedelta(hours=1)
    with pq.ParquetWriter(path, schema) as out:
        done = 0
        for chunk in chunks:
            kwh = np.round(chunk.kwh, 4)
            kvarh = None if chunk.kvarh is None else np.round(chunk.kvarh, 4)
            mids = ids.meter[chunk.accounts]
            n_h = axis.size
            table = pa.table(
                {
                    "meter_id": pa.array(np.repeat(mids, n_h)),
                    "meter_serial": pa.array(np.repeat(np.array([ids.serials[int(m)] for m in mids]), n_h)),
                    "timestamp": pa.array(np.tile(ts, mids.size)),
                    "kwh": _decimal_array(kwh.reshape(-1)),
                    "kvarh": _decimal_array(
                        np.full(kwh.size, np.nan) if kvarh is None else kvarh.reshape(-1)
                    ),
                },
                schema=schema,
            )
            out.write_table(table, row_group_size=100_000)
            for j, a in enumerate(chunk.accounts):
                has_kvarh = bool(reactive[a])
                files.append(
                    (
                        int(ids.meter[a]),
                        w.moment(first_ts),
                        w.moment(last_ts),
                        rel,
                        n_h,
                        w.dec(float(kwh[j].sum())),
                        w.dec(float(np.nansum(kvarh[j]))) if has_kvarh and kvarh is not None else None,
                        batch.id,
                    )
                )
            rows += table.num_rows
            done += chunk.accounts.size
            report("interval data", done, int(accounts.size))
    f0 = w.reserve_block(IntervalFile, len(files)).start
    w.insert_rows(
        IntervalFile,
        ["id", "meter", "start", "end", "path", "rows", "kwh", "kvarh", "batch"],
        [(f0 + k, *row) for k, row in enumerate(files)],
    )
    Meter.objects.filter(id__in=[int(ids.meter[a]) for a in accounts]).update(interval=True)
    return rows, path
