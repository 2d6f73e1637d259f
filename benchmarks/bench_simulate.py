"""Benchmark: `wattdesk simulate` (电价调整测算) end to end, local engine vs Spark local[2] vs a naive peer.

    python benchmarks/bench_simulate.py                                  # SQLite, 20,000 accounts x 12 months
    python benchmarks/bench_simulate.py --accounts 100000 --db postgres --pg-url postgresql://.../postgres

A worker process makes a fresh database (a new SQLite file, or a new PostgreSQL database through --pg-url)
and bulk-loads the lean company of ``bench_billing_run.load_company`` (imported, not copied: accounts,
service points, registers, readings for 2026-01..03, issued bills 2025-12..2026-02), then adds nine more
months of readings and issued bills (2026-03..2026-11, same register mix), so that each account has 12
issued periods (2025-12 has no consumption reading: its rows are counted as not billable, as they would be).
Then it times, each as a separate process (whole command: start-up, export from the database, rating,
summary, writing the per-account Parquet):

1. ``wattdesk simulate --engine local`` (BJ-RES-TIER -> the same tariff with +0.03 yuan/kWh, 12 months);
2. ``wattdesk simulate --engine spark --spark-master local[2]`` (same request; the two summaries must be equal);
3. the peer, in the worker: a naive per-account exact re-rating on a sample (per bill: the consumption
   query for that account and window, ``determinants.build`` and ``exact.rate`` under both tariffs,
   Decimal sums) — what one would write without the export / vector engine.

Prints accounts/s, the ratio to the peer, peak RSS (of the command's process tree) and the load average.
Timing is never a pass/fail test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
FROM = "BJ-RES-TIER"
UP_TO = "2026-11"
EXTRA_MONTHS = [date(2026, m, 1) for m in range(4, 13)]  # reads on the 1st: consumption of the month before


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    django.setup()


def extend_months(n: int) -> float:
    """Readings on the 1st of 2026-04..2026-12 and issued bills 2026-03..2026-11 for every account."""
    from django.db import connection, transaction

    from wattdesk.domain.billing.models import Bill
    from wattdesk.domain.bulk import insert_rows
    from wattdesk.domain.metering.models import MeterRegister, RegisterReading

    t0 = time.perf_counter()
    regs = list(MeterRegister.objects.order_by("id").values_list("id", "meter_id", "kind"))
    last = dict(RegisterReading.objects.filter(read_on=date(2026, 3, 1)).values_list("register_id", "value"))
    cons = dict(
        RegisterReading.objects.filter(read_on=date(2026, 3, 1)).values_list("register_id", "consumption")
    )
    rid = (RegisterReading.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    rows = []
    for reg_id, _meter, kind in regs:
        value, c = last[reg_id], cons[reg_id]
        for j, d in enumerate(EXTRA_MONTHS):
            c_j = (c * Decimal(100 + (j * 7 + reg_id) % 21 - 10) / 100).quantize(Decimal("0.01"))
            value = c_j if kind == "max_demand" else value + c_j
            rows.append((rid, reg_id, d, value, "actual", "valid", "", c_j, c_j))
            rid += 1
    totals = dict(Bill.objects.filter(period="2026-02").values_list("account_id", "total"))
    kwh = dict(Bill.objects.filter(period="2026-02").values_list("account_id", "kwh"))
    bid = (Bill.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    bills = []
    for acc in range(1, n + 1):
        for m in range(3, 12):
            start, end = date(2026, m, 1), date(2026, m + 1, 1)
            bills.append((bid, acc, f"2026-{m:02d}", 1, "issued", start, end, kwh[acc], totals[acc], ""))
            bid += 1
    with transaction.atomic():
        insert_rows(
            RegisterReading,
            (
                "id",
                "register",
                "read_on",
                "value",
                "source",
                "status",
                "estimated_from",
                "advance",
                "consumption",
            ),
            rows,
        )
        insert_rows(
            Bill,
            ("id", "account", "period", "version", "status", "start", "end", "kwh", "total", "hold_reason"),
            bills,
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return time.perf_counter() - t0


def naive_peer(sample: int, proposed: Path) -> tuple[float, int]:
    """Per account: per issued bill, the consumption query, build + exact rate under both tariffs."""
    from wattdesk.application.billing.determinants import NotBillable, build
    from wattdesk.application.billing.quote import load_tariff
    from wattdesk.application.simulation.export import periods_up_to
    from wattdesk.application.simulation.simulate import resolve_tariff
    from wattdesk.core.period import Period
    from wattdesk.core.rating import rate
    from wattdesk.domain.billing.models import Bill
    from wattdesk.domain.customers.models import ServicePoint
    from wattdesk.domain.metering.queries import consumption_by_account
    from wattdesk.domain.tariffs.models import TariffAssignment

    t_from = resolve_tariff(FROM, on=Period.parse(UP_TO).next())
    t_to = load_tariff(path=proposed).tariff
    periods = periods_up_to(up_to=UP_TO, months=12)
    ids = list(
        TariffAssignment.objects.filter(tariff_code=FROM).values_list("service_point__account_id", flat=True)
    )
    random.Random(3).shuffle(ids)
    ids = sorted(ids[:sample])
    t0 = time.perf_counter()
    change = Decimal(0)
    for acc in ids:
        sp = ServicePoint.objects.get(account_id=acc)
        for b in Bill.objects.filter(account_id=acc, period__in=periods, status="issued"):
            u = consumption_by_account(period_start=b.start, period_end=b.end, account_ids=[acc]).get(sp.pk)
            if u is None:
                continue
            try:
                bills = [
                    rate(
                        tariff=t,
                        det=build(
                            tariff=t,
                            start=b.start,
                            end=b.end,
                            kwh_by_kind=u.kwh_by_kind,
                            kvarh=u.kvarh,
                            max_kw=u.max_kw,
                            capacity_kva=sp.capacity_kva,
                            contract_kw=sp.contract_kw,
                            pf_assessed=sp.pf_standard is not None,
                            max_kw_by_kind=u.max_kw_by_kind,
                        ),
                    ).total
                    for t in (t_from, t_to)
                ]
            except NotBillable:
                continue
            change += bills[1] - bills[0]
    return len(ids) / (time.perf_counter() - t0), len(ids)


def _command(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `wattdesk ...` as its own process; wall time and the peak RSS of its process tree."""

    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        return _watch(args, env, out_f, err_f)


def _watch(args: list[str], env: dict[str, str], out_f: Any, err_f: Any) -> dict[str, Any]:
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "wattdesk", *args], env=env, stdout=out_f, stderr=err_f)
    # peak of the summed RSS of the command's process tree (the Spark engine's JVM and Python workers
    # included), sampled every 0.2 s
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            total = 0
            for p in tree:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(0.2)
    seconds = time.perf_counter() - t0
    out_f.seek(0)
    err_f.seek(0)
    out, err = out_f.read().decode(), err_f.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"wattdesk {' '.join(args)} failed:\n{err[-3000:]}")
    return {"seconds": seconds, "rss_mb": peak / 2**20, "summary": json.loads(out)}


def worker(n: int, sample: int, spark: bool) -> dict[str, Any]:
    _setup()
    from bench_billing_run import load_company
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load = load_company(n)
    extend_s = extend_months(n)
    import yaml

    doc = yaml.safe_load(
        (ROOT / "src/wattdesk/config/tariffs/beijing-residential-monthly.yaml").read_text("utf-8")
    )
    for p in doc["energy"]["periods"]:
        for t in p["tiers"]:
            t["rate"] = round(float(t["rate"]) + 0.03, 4)
    proposed = Path(os.environ["WATTDESK_DATA_DIR"]) / "proposed.yaml"
    proposed.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    env = dict(os.environ)
    base = [
        "simulate",
        "--tariff-from",
        FROM,
        "--tariff-to",
        str(proposed),
        "--months",
        "12",
        "--up-to",
        UP_TO,
        "--json",
    ]
    out: dict[str, Any] = {"accounts_loaded": n, "load_s": load["load_s"] + extend_s}
    naive_rate, naive_n = naive_peer(sample, proposed)
    out.update(naive_accounts_per_s=naive_rate, naive_sample=naive_n, naive_load=os.getloadavg()[0])
    local = _command([*base, "--engine", "local"], env)
    out.update(
        local_s=local["seconds"],
        local_rss_mb=local["rss_mb"],
        local_load=os.getloadavg()[0],
        accounts=local["summary"]["accounts"],
        rows=local["summary"]["rows"],
        local_phases=local["summary"]["seconds"],
    )
    if spark:
        sp = _command([*base, "--engine", "spark", "--spark-master", "local[2]"], env)
        out.update(
            spark_s=sp["seconds"],
            spark_rss_mb=sp["rss_mb"],
            spark_load=os.getloadavg()[0],
            spark_phases=sp["summary"]["seconds"],
        )
        keys = ("accounts", "bill_from_fen", "bill_to_fen", "by_class", "by_region", "by_tier", "distribution",
                "top_increase", "top_decrease")  # fmt: skip
        out["engines_equal"] = all(local["summary"][k] == sp["summary"][k] for k in keys)
    return out


def spawn(db: str, n: int, sample: int, spark: bool, pg_url: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="h6-bench-")
    env["WATTDESK_DATA_DIR"] = tmp
    if db == "postgres":
        if not pg_url:
            raise SystemExit("--db postgres needs --pg-url")
        import psycopg

        name = f"h6_bench_{n}"
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        env["WATTDESK_DATABASE_URL"] = pg_url.rsplit("/", 1)[0] + "/" + name
    else:
        env.pop("WATTDESK_DATABASE_URL", None)
    cmd = [sys.executable, __file__, "--worker", str(n), "--sample", str(sample)] + (
        [] if spark else ["--no-spark"]
    )
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-4000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["db"] = db
    return result


def fmt(r: dict[str, Any]) -> str:
    acc = r["accounts"]
    local_rate = acc / r["local_s"]
    lines = [
        f"{r['db']}: {acc:,} accounts x 12 periods ({r['rows']:,} account-periods), data loaded in {r['load_s']:.0f} s",
        f"  naive peer (per-account exact Decimal, sample {r['naive_sample']}): {r['naive_accounts_per_s']:,.1f} accounts/s"
        f"  (load avg {r['naive_load']:.1f})",
        f"  wattdesk simulate --engine local:            {r['local_s']:.1f} s  {local_rate:,.0f} accounts/s"
        f"  {local_rate / r['naive_accounts_per_s']:.0f}x peer  peak RSS {r['local_rss_mb']:.0f} MB  (load avg {r['local_load']:.1f})",
        f"    phases (s): {r['local_phases']}",
    ]
    if "spark_s" in r:
        spark_rate = acc / r["spark_s"]
        lines.append(
            f"  wattdesk simulate --engine spark local[2]:   {r['spark_s']:.1f} s  {spark_rate:,.0f} accounts/s"
            f"  {spark_rate / r['naive_accounts_per_s']:.0f}x peer  peak RSS {r['spark_rss_mb']:.0f} MB"
            f"  (load avg {r['spark_load']:.1f})  summaries equal: {r['engines_equal']}"
        )
        lines.append(f"    phases (s): {r['spark_phases']}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, nargs="+", default=[20_000])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("WATTDESK_BENCH_POSTGRES_URL"))
    ap.add_argument("--sample", type=int, default=300, help="accounts re-rated by the naive peer")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.sample, not args.no_spark)))
        return 0
    print(f"machine: {os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.1f}")
    for n in args.accounts:
        print(fmt(spawn(args.db, n, args.sample, not args.no_spark, args.pg_url)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
