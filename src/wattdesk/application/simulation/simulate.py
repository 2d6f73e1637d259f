"""Tariff-change simulation (电价调整测算): the use cases behind `wattdesk simulate` and the simulation page.

    run = start_simulation(tariff_from="ZJ-RES-TIER-TOU", tariff_to="proposed.yaml", months=12,
                           up_to=None, engine="local", actor=user, now=now)       # record + audit entry
    execute_simulation(run_id=run.pk, clock=timezone.now)                          # inline or as a task

``execute_simulation`` exports the determinants of the issued bills of the window (``export``), rates them
under both tariffs with the chosen engine (``engine.run_local`` / ``engine.run_spark``: the same pure
rating function), stores the per-account Parquet file in the data directory and the summary on the run.
A tariff is a code of the database (``CODE``: the version in force the day after the window; ``CODE@VERSION``:
that version) or a WattDesk tariff file (YAML/JSON) / URDB record, as ``wattdesk quote`` reads it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.db import transaction

from wattdesk.application.billing.quote import load_tariff
from wattdesk.application.errors import InputError
from wattdesk.application.simulation import engine as engines
from wattdesk.application.simulation.export import export_determinants, latest_issued_period
from wattdesk.application.tabular import export_cell
from wattdesk.application.tariffs.reference_data import load_pf_table
from wattdesk.core.period import Period, PeriodError
from wattdesk.core.tariff import Tariff, TariffError, parse_tariff
from wattdesk.core.urdb import is_urdb_record, tariff_from_urdb
from wattdesk.domain import audit
from wattdesk.domain.simulation.models import SimulationEngine, SimulationRun, SimulationStatus
from wattdesk.domain.tariffs.models import TariffVersion

MAX_MONTHS = 36
EXCEL_ACCOUNT_ROWS = 1_000_000


class SimulationInputError(InputError):
    """A simulation cannot start: an unknown tariff, a bad period, nothing issued."""


def _data_dir() -> Path:
    return Path(settings.WATTDESK_DATA_DIR)


def resolve_tariff(spec: str, *, on: Period) -> Tariff:
    """A tariff from a file path, ``CODE@VERSION`` or ``CODE`` (the version in force at ``on``'s start)."""
    spec = spec.strip()
    if not spec:
        raise SimulationInputError("empty tariff")
    path = Path(spec)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        if not path.is_file():
            raise SimulationInputError(f"{spec}: no such tariff file")
        return load_tariff(path=path).tariff
    code, _, version = spec.partition("@")
    versions = TariffVersion.objects.filter(code=code)
    if version:
        row = versions.filter(version=version).first()
        if row is None:
            raise SimulationInputError(f"tariff {code} has no version {version}")
    else:
        start = on.start
        row = (
            versions.filter(effective_from__lte=start)
            .exclude(effective_to__lte=start)
            .order_by("-effective_from")
            .first()
        )
        if row is None:
            raise SimulationInputError(f"tariff {code}: no version in force on {start} (or no such tariff)")
    doc = row.document
    try:
        return (
            tariff_from_urdb(record=doc)
            if is_urdb_record(doc)
            else parse_tariff(doc=doc, pf_table=load_pf_table())
        )
    except TariffError as exc:
        raise SimulationInputError(f"tariff {code} {row.version}: {exc}") from None


def _window(up_to: str | None, months: int) -> str:
    if not 1 <= months <= MAX_MONTHS:
        raise SimulationInputError(f"months must be 1..{MAX_MONTHS}, got {months}")
    if up_to is None:
        latest = latest_issued_period()
        if latest is None:
            raise SimulationInputError("no issued bills to simulate on")
        return latest
    try:
        return str(Period.parse(up_to))
    except PeriodError as exc:
        raise SimulationInputError(f"up-to period: {exc}") from None


def start_simulation(
    *,
    tariff_from: str,
    tariff_to: str,
    months: int,
    up_to: str | None,
    engine: str,
    actor: Any,
    now: datetime,
) -> SimulationRun:
    """Check the request (both tariffs resolve, the window has a period), record the run and its audit entry."""
    if engine not in SimulationEngine.values:
        raise SimulationInputError(f"engine must be one of {', '.join(SimulationEngine.values)}")
    period = _window(up_to, months)
    on = Period.parse(period).next()
    resolve_tariff(tariff_from, on=on)
    resolve_tariff(tariff_to, on=on)
    with transaction.atomic():
        run = SimulationRun.objects.create(
            tariff_from=tariff_from.strip(),
            tariff_to=tariff_to.strip(),
            months=months,
            up_to_period=period,
            engine=engine,
            started_at=now,
            started_by=actor if getattr(actor, "pk", None) is not None else None,
        )
        audit.record_batch(
            actor=actor,
            action="simulation.start",
            object_repr=f"tariff simulation {run.pk} {run.tariff_from} -> {run.tariff_to}",
            object_pk=run.pk,
            changes={
                "tariff_from": run.tariff_from,
                "tariff_to": run.tariff_to,
                "months": months,
                "up_to_period": period,
                "engine": engine,
            },
        )
    return run


def result_dir(run: SimulationRun) -> Path:
    return _data_dir() / "simulations" / str(run.pk)


def execute_simulation(
    *,
    run_id: int,
    clock: Callable[[], datetime],
    spark_master: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimulationRun:
    """Export, rate on the run's engine, summarize; the run ends ``done`` or ``failed`` (with the error)."""
    run = SimulationRun.objects.get(pk=run_id)
    SimulationRun.objects.filter(pk=run_id).update(status=SimulationStatus.RUNNING)
    base = result_dir(run)
    try:
        on = Period.parse(run.up_to_period).next()
        t_from = resolve_tariff(run.tariff_from, on=on)
        t_to = resolve_tariff(run.tariff_to, on=on)
        t0 = time.perf_counter()
        exported = export_determinants(
            up_to=run.up_to_period,
            months=run.months,
            out=base / "determinants",
            tariff_code=t_from.code,
            progress=progress,
        )
        out = base / "accounts.parquet"
        t1 = time.perf_counter()
        if run.engine == SimulationEngine.SPARK:
            engines.run_spark(
                determinants=exported.path, out=out, tariff_from=t_from, tariff_to=t_to, master=spark_master
            )
        else:
            engines.run_local(determinants=exported.path, out=out, tariff_from=t_from, tariff_to=t_to)
        t2 = time.perf_counter()
        summary = engines.summarize(out).to_json()
        summary["periods"] = list(exported.periods)
        summary["rows"] = exported.rows
        # where the time went (export from the database, rating on the engine, summary): for docs/scale.md
        summary["seconds"] = {
            "export": round(t1 - t0, 3),
            "rate": round(t2 - t1, 3),
            "summary": round(time.perf_counter() - t2, 3),
        }
    except Exception as exc:
        SimulationRun.objects.filter(pk=run_id).update(
            status=SimulationStatus.FAILED, error=str(exc)[:2000], finished_at=clock()
        )
        raise
    SimulationRun.objects.filter(pk=run_id).update(
        status=SimulationStatus.DONE,
        finished_at=clock(),
        accounts=summary["accounts"],
        summary=summary,
        result_path=str(out.relative_to(_data_dir())),
    )
    return SimulationRun.objects.get(pk=run_id)


def yuan(fen: int) -> str:
    """Fen as a yuan amount text (exact: integer arithmetic)."""
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(int(fen)), 100)
    return f"{sign}{q}.{r:02d}"


def excel(run: SimulationRun) -> bytes:
    """The run's summary and its per-account results as an Excel workbook (amounts in yuan, exact)."""
    from decimal import Decimal

    from openpyxl import Workbook

    def money(fen: int) -> Decimal:
        return Decimal(int(fen)).scaleb(-2)

    s = run.summary
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("汇总 Summary")
    ws.append(["current tariff", run.tariff_from])
    ws.append(["proposed tariff", run.tariff_to])
    ws.append(["periods", ", ".join(s.get("periods", []))])
    ws.append(["accounts", s.get("accounts", 0)])
    ws.append(["revenue current (yuan)", money(s.get("bill_from_fen", 0))])
    ws.append(["revenue proposed (yuan)", money(s.get("bill_to_fen", 0))])
    ws.append(["change (yuan)", money(s.get("bill_to_fen", 0) - s.get("bill_from_fen", 0))])
    for title, key, label in (
        ("按用户类别 By class", "by_class", "customer_class"),
        ("按地区 By region", "by_region", "region"),
    ):
        sheet = wb.create_sheet(title)
        sheet.append([label, "accounts", "current (yuan)", "proposed (yuan)", "change (yuan)"])
        for r in s.get(key, []):
            sheet.append(
                [
                    export_cell(r[label]),
                    r["accounts"],
                    money(r["bill_from_fen"]),
                    money(r["bill_to_fen"]),
                    money(r["change_fen"]),
                ]
            )
    sheet = wb.create_sheet("按阶梯 By tier")
    sheet.append(["tier", "current energy (yuan)", "proposed energy (yuan)", "change (yuan)"])
    for r in s.get("by_tier", []):
        sheet.append([r["tier"], money(r["from_fen"]), money(r["to_fen"]), money(r["change_fen"])])
    sheet = wb.create_sheet("分布 Distribution")
    sheet.append(["change band (yuan)", "accounts"])
    for r in s.get("distribution", []):
        sheet.append([r["band"], r["accounts"]])
    sheet = wb.create_sheet("户明细 Accounts")
    sheet.append(
        [
            "account",
            "customer_class",
            "region",
            "months",
            "current (yuan)",
            "proposed (yuan)",
            "change (yuan)",
        ]
    )
    path = _data_dir() / run.result_path if run.result_path else None
    if path is not None and path.is_file():
        df = engines.read_accounts(
            path,
            columns=["account_number", "customer_class", "region", "months", "bill_from_fen", "bill_to_fen"],
        )
        if df.height > EXCEL_ACCOUNT_ROWS:
            # a worksheet holds 1,048,576 rows: the largest changes first, the rest stay in the Parquet file
            df = df.sort((pl.col("bill_to_fen") - pl.col("bill_from_fen")).abs(), descending=True).head(
                EXCEL_ACCOUNT_ROWS
            )
            sheet.append(
                [f"largest {EXCEL_ACCOUNT_ROWS} changes of {run.accounts} accounts; all in {run.result_path}"]
            )
        for number, cls, region, months, f, t in df.iter_rows():
            sheet.append(
                [
                    export_cell(number),
                    export_cell(cls),
                    export_cell(region),
                    months,
                    money(f),
                    money(t),
                    money(t - f),
                ]
            )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
