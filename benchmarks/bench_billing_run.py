"""Benchmark: `wattdesk bill run` end to end on SQLite and PostgreSQL, against a naive row-by-row peer.

    python benchmarks/bench_billing_run.py                          # SQLite, 20,000 accounts
    python benchmarks/bench_billing_run.py --accounts 100000 1000000 \
        --pg-url postgresql://postgres@127.0.0.1:55441/postgres    # SQLite and PostgreSQL
    python benchmarks/bench_billing_run.py --db postgres --pg-url ... --append-docs

For every database and size, a worker process (fresh database: a new SQLite file, or a new PostgreSQL
database created through --pg-url) bulk-loads a lean synthetic company (benchmark-only loader: customers,
accounts, service points, meters, registers, installations, two readings per register, tariff assignments
and three months of bill history, all with COPY / multi-row INSERT), then:

0. (``--baseline``, default on) the previous implementation: the same ``run_billing`` forced onto the exact
   Decimal rating path (``engine="exact"``, point by point, memoised), over every account; its bills are then
   deleted (and, on PostgreSQL, the tables vacuumed) so the real run below starts from the same state;
1. the peer: a naive implementation on a sample of accounts — per account, ORM reads (service point,
   assignment, tariff version, usage through metering's query), exact rating, then Bill/BillLine saved row by
   row (no ledger entry: like the run, since charges are posted when bills are issued) in one transaction per
   account; measured inside one outer transaction that is rolled back, so it never pays a real commit (the
   ratio is therefore conservative);
2. the real thing: ``run_billing`` over every account, timed end to end (scope query, fetch, rating,
   hold checks, bulk writes, commits);
3. the issue (电费发行, ``review.issue_bills`` as `wattdesk bill issue` calls it) of the run's draft bills: status
   updates, one ledger charge per bill, credit applied.

It prints bills/s, the ratio to the peer and to the previous implementation, the load average, and peak memory (ru_maxrss of the worker, which includes the
loader). Also WATTDESK_BENCH_POSTGRES_URL instead of --pg-url. Timing is never a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
SH = ZoneInfo("Asia/Shanghai")
PERIOD = "2026-03"
# share of accounts per (customer class, tariff code, register kinds)
MIX = (
    (0.88, "residential", "BJ-RES-TIER", ("active_total",)),
    (0.05, "residential", "ZJ-RES-TIER-TOU", ("active_peak", "active_valley")),
    (
        0.04,
        "commercial",
        "CI-TOU5",
        ("active_total", "active_critical", "active_peak", "active_valley", "active_deep_valley"),
    ),
    (0.01, "agricultural", "AGR-FLAT", ("active_total",)),
    (
        0.02,
        "industrial",
        "LI-2P-DEMAND",
        (
            "active_total",
            "active_critical",
            "active_peak",
            "active_valley",
            "active_deep_valley",
            "reactive",
            "max_demand",
        ),
    ),
)
TARIFF_FILES = {
    "BJ-RES-TIER": "beijing-residential-monthly",
    "ZJ-RES-TIER-TOU": "zhejiang-residential-annual-tou",
    "CI-TOU5": "ci-tou-5period",
    "AGR-FLAT": "agricultural-flat",
    "LI-2P-DEMAND": "large-industry-two-part-demand",
}


# ------------------------------------------------------------------------------------------------ loader


def load_company(n: int, seed: int = 7) -> dict[str, float]:
    """Bulk-load ``n`` accounts (fresh, empty database). Returns timings."""
    import numpy as np
    import yaml
    from django.db import connection, transaction

    from wattdesk.domain.billing.models import Bill
    from wattdesk.domain.bulk import insert_rows
    from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint
    from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister, RegisterReading
    from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    shares = np.array([m[0] for m in MIX])
    kind_of = rng.choice(len(MIX), size=n, p=shares / shares.sum())
    created = datetime(2024, 1, 1, tzinfo=SH)
    if connection.vendor == "sqlite":
        created = connection.ops.adapt_datetimefield_value(created)  # type: ignore[assignment]
    opened = date(2024, 1, 1)
    n_routes = max(1, n // 2000)
    with transaction.atomic():
        for code, fname in TARIFF_FILES.items():
            text = (ROOT / "src/wattdesk/config/tariffs" / f"{fname}.yaml").read_text(encoding="utf-8")
            doc = json.loads(json.dumps(yaml.safe_load(text), default=str))
            TariffVersion.objects.create(
                code=code, version="1", effective_from=date(2012, 1, 1), name=doc["name"], document=doc
            )
        region = Region.objects.create(code="R01", name="城关供电所")
        insert_rows(
            ReadingRoute,
            ("id", "code", "name", "region"),
            ((r + 1, f"RT{r + 1:04d}", f"抄表段{r + 1}", region.pk) for r in range(n_routes)),
        )
        insert_rows(
            Customer,
            (
                "id",
                "number",
                "name",
                "kind",
                "customer_class",
                "phone",
                "id_number",
                "protected",
                "payment_profile",
                "created_at",
            ),
            (
                (
                    i + 1,
                    f"C{i + 1:09d}",
                    f"客户{i + 1}",
                    "individual" if MIX[k][1] == "residential" else "enterprise",
                    MIX[k][1],
                    "",
                    "",
                    False,
                    "{}",
                    created,
                )
                for i, k in enumerate(kind_of.tolist())
            ),
        )
        insert_rows(
            Account,
            ("id", "number", "customer", "status", "opened_on", "billing_day", "prepaid", "billing_address"),
            ((i + 1, f"A{i + 1:09d}", i + 1, "active", opened, 1, False, "") for i in range(n)),
        )
        sp_rows = []
        for i, k in enumerate(kind_of.tolist()):
            ind = MIX[k][1] == "industrial"
            sp_rows.append(
                (
                    i + 1,
                    f"SP{i + 1:09d}",
                    i + 1,
                    "幸福路",
                    region.pk,
                    i % n_routes + 1,
                    Decimal(10) if ind else Decimal("0.22"),
                    Decimal(500) if ind else Decimal(8),
                    Decimal(400) if ind else None,
                    Decimal("0.90") if ind else None,
                )
            )
        insert_rows(
            ServicePoint,
            (
                "id",
                "number",
                "account",
                "address",
                "region",
                "route",
                "voltage_kv",
                "capacity_kva",
                "contract_kw",
                "pf_standard",
            ),
            sp_rows,
        )
        del sp_rows
        insert_rows(
            Meter,
            ("id", "serial", "multiplier", "digits", "interval"),
            (
                (i + 1, f"M{i + 1:09d}", Decimal(100) if MIX[k][1] == "industrial" else Decimal(1), 6, False)
                for i, k in enumerate(kind_of.tolist())
            ),
        )
        insert_rows(
            MeterInstallation,
            ("id", "meter", "service_point", "installed_on", "initial_values", "final_values"),
            ((i + 1, i + 1, i + 1, opened, "{}", "{}") for i in range(n)),
        )
        insert_rows(
            TariffAssignment,
            ("id", "service_point", "tariff_code", "effective_from"),
            ((i + 1, i + 1, MIX[k][2], opened) for i, k in enumerate(kind_of.tolist())),
        )
        # registers + readings: an opening read on 2025-12-01, then one read on the 1st of each month up to the
        # period's read of 2026-03-01 (four readings per register, so the period is a quarter of the table)
        base_kwh = rng.lognormal(mean=5.2, sigma=0.6, size=n)  # household median ~180 kWh
        scale = np.array([1, 1.3, 40, 20, 400])[kind_of]
        kwh = np.round(base_kwh * scale, 2)
        regs: list[tuple[Any, ...]] = []
        reads: list[tuple[Any, ...]] = []
        rid = 0
        read_dates = (date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1))
        reading_id = 0
        shares_tou = {
            "active_critical": 0.1,
            "active_peak": 0.35,
            "active_valley": 0.25,
            "active_deep_valley": 0.05,
        }
        for i, k in enumerate(kind_of.tolist()):
            total = Decimal(str(kwh[i]))
            kinds = MIX[k][3]
            for kind in kinds:
                rid += 1
                regs.append((rid, i + 1, kind))
                if kind == "active_total":
                    c = total
                elif kind == "reactive":
                    c = (total * Decimal("0.4")).quantize(Decimal("0.01"))
                elif kind == "max_demand":
                    c = Decimal(380 + (i % 60))
                elif MIX[k][2] == "ZJ-RES-TIER-TOU":
                    c = (total * Decimal("0.6" if kind == "active_peak" else "0.4")).quantize(Decimal("0.01"))
                else:
                    c = (total * Decimal(str(shares_tou[kind]))).quantize(Decimal("0.01"))
                value = Decimal(1000)
                for j, d in enumerate(read_dates):
                    reading_id += 1
                    if j == 0:
                        reads.append((reading_id, rid, d, value, "actual", "valid", "", None, None))
                        continue
                    value = c if kind == "max_demand" else value + c  # demand is a per-period maximum
                    reads.append((reading_id, rid, d, value, "actual", "valid", "", c, c))
        insert_rows(MeterRegister, ("id", "meter", "kind"), regs)
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
            reads,
        )
        n_regs, n_reads = len(regs), len(reads)
        del regs, reads
        # three months of history: the hold check has a median to compare with
        hist = []
        bid = 0
        for i in range(n):
            for m, p in ((12, "2025-12"), (1, "2026-01"), (2, "2026-02")):
                bid += 1
                y = 2025 if m == 12 else 2026
                start = date(y, m, 1)
                end = date(y + (m == 12), m % 12 + 1, 1)
                amount = Decimal(str(round(float(kwh[i]) * 0.55 * (0.9 + 0.05 * (bid % 5)), 2)))
                hist.append(
                    (
                        bid,
                        i + 1,
                        p,
                        1,
                        "issued",
                        start,
                        end,
                        Decimal(str(kwh[i])),
                        amount,
                        "",
                    )
                )
        insert_rows(
            Bill,
            ("id", "account", "period", "version", "status", "start", "end", "kwh", "total", "hold_reason"),
            hist,
        )
        del hist
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            for model in (
                ReadingRoute,
                Customer,
                Account,
                ServicePoint,
                Meter,
                MeterInstallation,
                TariffAssignment,
                MeterRegister,
                RegisterReading,
                Bill,
            ):
                t = model._meta.db_table
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))")
            cur.execute("ANALYZE")
    else:
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    return {"load_s": time.perf_counter() - t0, "registers": n_regs, "readings": n_reads}


# ------------------------------------------------------------------------------------------------ peer


def naive_run(sample: int) -> float:
    """Row-by-row billing of the first ``sample`` accounts; returns bills/s. Rolled back at the end."""
    from django.db import transaction

    from wattdesk.application.billing.determinants import build
    from wattdesk.application.tariffs.reference_data import load_pf_table
    from wattdesk.core.rating import rate
    from wattdesk.core.tariff import parse_tariff
    from wattdesk.domain.billing.models import Bill, BillLine
    from wattdesk.domain.customers.models import Account
    from wattdesk.domain.metering.queries import consumption_by_account
    from wattdesk.domain.tariffs.queries import assignment_on, version_in_force

    class Rollback(Exception):
        pass

    start, end = date(2026, 3, 1), date(2026, 4, 1)
    accounts = list(Account.objects.order_by("id")[:sample])
    t0 = time.perf_counter()
    try:
        with transaction.atomic():
            for acc in accounts:
                with transaction.atomic():
                    sp = acc.service_points.get()
                    a = assignment_on(service_point_id=sp.pk, on=start)
                    v = version_in_force(code=a.tariff_code, on=start)
                    tariff = parse_tariff(doc=v.document, pf_table=load_pf_table())
                    u = consumption_by_account(period_start=start, period_end=end, account_ids=[acc.pk])[
                        sp.pk
                    ]
                    det = build(
                        tariff=tariff,
                        start=start,
                        end=end,
                        kwh_by_kind=u.kwh_by_kind,
                        kvarh=u.kvarh,
                        max_kw=u.max_kw,
                        capacity_kva=sp.capacity_kva,
                        contract_kw=sp.contract_kw,
                        pf_assessed=sp.pf_standard is not None,
                    )
                    rated = rate(tariff=tariff, det=det)
                    bill = Bill.objects.create(
                        account=acc, period=PERIOD, start=start, end=end, kwh=det.kwh, total=rated.total
                    )
                    for seq, ln in enumerate(rated.lines, 1):
                        BillLine.objects.create(
                            bill=bill,
                            seq=seq,
                            code=ln.code,
                            description=ln.description,
                            quantity=ln.quantity.quantize(Decimal("0.0001")),
                            unit=ln.unit,
                            rate=ln.rate.quantize(Decimal("0.000001")),
                            amount=ln.amount,
                            rule=ln.rule,
                        )
            elapsed = time.perf_counter() - t0
            raise Rollback
    except Rollback:
        pass
    return len(accounts) / elapsed


# ------------------------------------------------------------------------------------------------ workers


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    django.setup()


def load_worker(n: int) -> dict[str, Any]:
    """Process 1: migrate and bulk-load the company."""
    _setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return load_company(n)


def cpu_seconds() -> float:
    """User + system CPU of this process and of its waited-for children (the run's forked workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def baseline_run(batch_size: int, workers: int | None) -> tuple[float, float, float]:
    """The previous implementation (exact engine) over every account: (bills/s, seconds, client CPU µs per
    bill); then its bills are removed so that the measured run starts from the same database state."""
    from django.db import connection

    from wattdesk.application.billing.run import run_billing
    from wattdesk.domain.billing.models import BillingRun

    cpu0 = cpu_seconds()
    result = run_billing(
        period=PERIOD,
        run_at=datetime(2026, 4, 2, 7, tzinfo=SH),
        batch_size=batch_size,
        workers=workers,
        engine="exact",
    )
    cpu_us = (cpu_seconds() - cpu0) / max(result.bills, 1) * 1e6
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM billing_billline WHERE bill_id IN (SELECT id FROM billing_bill WHERE run_id = %s)",
            [result.run_id],
        )
        cur.execute("DELETE FROM billing_bill WHERE run_id = %s", [result.run_id])
    BillingRun.objects.filter(pk=result.run_id).delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE billing_billline")
            cur.execute("VACUUM ANALYZE billing_bill")
    return result.bills / result.elapsed_s, result.elapsed_s, cpu_us


def run_worker(
    n: int, sample: int, batch_size: int, workers: int | None, baseline: bool = True
) -> dict[str, Any]:
    """Process 2 (fresh, so its peak memory is the run's own): the previous implementation (exact engine), the
    naive peer, then the real run (vector engine)."""
    _setup()
    from django.db import connection

    from wattdesk.application.billing.review import issue_bills
    from wattdesk.application.billing.run import default_workers, run_billing
    from wattdesk.domain.billing.models import BillLine

    base_rate, base_s, base_load, base_cpu = 0.0, 0.0, 0.0, 0.0
    if baseline:
        base_rate, base_s, base_cpu = baseline_run(batch_size, workers)
        base_load = os.getloadavg()[0]
    naive = naive_run(sample)
    load_before = os.getloadavg()[0]
    cpu0 = cpu_seconds()
    result = run_billing(
        period=PERIOD, run_at=datetime(2026, 4, 2, 8, tzinfo=SH), batch_size=batch_size, workers=workers
    )
    cpu_us = (cpu_seconds() - cpu0) / max(result.bills, 1) * 1e6
    load_after = os.getloadavg()[0]
    # 电费发行: the issue posts every draft bill's charge (and applies credit); timed as `bill issue` runs it
    t_issue = time.perf_counter()
    issued = issue_bills(
        period=PERIOD,
        user=None,
        issued_at=datetime(2026, 4, 3, 9, tzinfo=SH),
        issued_on=date(2026, 4, 3),
    )
    issue_s = time.perf_counter() - t_issue
    # the run's process and, when it forks workers, the largest of them
    rss_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return {
        "db": connection.vendor,
        "accounts": n,
        "billed": result.bills,
        "held": result.held,
        "skipped": dict(result.skipped),
        "lines": BillLine.objects.count(),
        "seconds": result.elapsed_s,
        "bills_per_s": result.bills / result.elapsed_s,
        "issued": issued.issued,
        "issue_seconds": issue_s,
        "issued_per_s": issued.issued / issue_s if issue_s else 0.0,
        "naive_bills_per_s": naive,
        "ratio": result.bills / result.elapsed_s / naive,
        "baseline_bills_per_s": base_rate,
        "baseline_seconds": base_s,
        "client_cpu_us_per_bill": cpu_us,
        "baseline_client_cpu_us_per_bill": base_cpu,
        "baseline_ratio": result.bills / result.elapsed_s / base_rate if base_rate else 0.0,
        "load_avg": f"{load_before:.1f}-{load_after:.1f} (exact run: {base_load:.1f})",
        "peak_rss_mb": rss_kb / 1024,
        "batch_size": batch_size,
        "workers": workers or default_workers(),
    }


def spawn(
    db: str,
    n: int,
    sample: int,
    batch_size: int,
    pg_url: str | None,
    workers: int | None,
    baseline: bool = True,
    db_prefix: str = "wd_bench",
) -> dict[str, Any]:
    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="wd-bench-")
    env["WATTDESK_DATA_DIR"] = tmp
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    dbname = None
    if db == "sqlite":
        env["WATTDESK_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
    else:
        import psycopg

        assert pg_url
        dbname = f"{db_prefix}_{n}_{os.getpid()}"  # concurrent benchmarks on one server do not collide
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
            conn.execute(f"CREATE DATABASE {dbname}")
        env["WATTDESK_DATABASE_URL"] = f"{pg_url.rsplit('/', 1)[0]}/{dbname}"

    def child(*extra: str) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, __file__, *extra], env=env, check=True, capture_output=True, text=True
        )
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    try:
        info = child("--load", str(n))
        run_args = ["--run", str(n), "--sample", str(sample), "--batch-size", str(batch_size)]
        if workers:
            run_args += ["--workers", str(workers)]
        if not baseline:
            run_args += ["--no-baseline"]
        res = child(*run_args)
        res.update(load_s=info["load_s"], readings=info["readings"])
    finally:
        if dbname and pg_url:
            import psycopg

            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
        for f in Path(tmp).glob("bench.db*"):
            f.unlink()
    return res


def fmt(r: dict[str, Any]) -> str:
    return (
        f"| {r['db']} | {r['accounts']:,} | {r['workers']} | {r['billed']:,} | {r['lines']:,} | "
        f"{r['seconds']:.1f} | **{r['bills_per_s']:,.0f}** | {r['naive_bills_per_s']:,.0f} | "
        f"{r['ratio']:.0f}x | {r['baseline_bills_per_s']:,.0f} | {r['baseline_ratio']:.2f}x | "
        f"{r['client_cpu_us_per_bill']:.0f} ({r['baseline_client_cpu_us_per_bill']:.0f}) | "
        f"{r['issue_seconds']:.1f} | {r['issued_per_s']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['load_avg']} |"
    )


HEADER = (
    "| database | accounts | workers | bills | lines | run s | bills/s | naive peer bills/s | ratio | "
    "previous (exact engine) bills/s | ratio to previous | client CPU µs/bill (previous) | issue s | issued/s | "
    "peak RSS MB | load avg |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, nargs="+", default=[20_000])
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default=None)
    p.add_argument("--pg-url", default=os.environ.get("WATTDESK_BENCH_POSTGRES_URL"))
    p.add_argument("--sample", type=int, default=1000, help="accounts billed by the naive peer")
    p.add_argument("--batch-size", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: per database)")
    p.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the previous implementation (the run on the exact engine)",
    )
    p.add_argument("--db-prefix", default="wd_bench", help="PostgreSQL benchmark database name prefix")
    p.add_argument("--append-docs", action="store_true", help="append the table to docs/performance.md")
    p.add_argument("--load", type=int, help=argparse.SUPPRESS)
    p.add_argument("--run", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.load:
        print(json.dumps(load_worker(args.load)))
        return 0
    if args.run:
        print(json.dumps(run_worker(args.run, args.sample, args.batch_size, args.workers, args.baseline)))
        return 0
    dbs = {"sqlite": ["sqlite"], "postgres": ["postgres"], "both": ["sqlite", "postgres"]}[
        args.db or ("both" if args.pg_url else "sqlite")
    ]
    if "postgres" in dbs and not args.pg_url:
        p.error("PostgreSQL needs --pg-url (or WATTDESK_BENCH_POSTGRES_URL)")
    print(HEADER, flush=True)
    rows = []
    for n in args.accounts:
        for db in dbs:
            r = spawn(
                db,
                n,
                min(args.sample, n),
                args.batch_size,
                args.pg_url,
                args.workers,
                args.baseline,
                args.db_prefix,
            )
            rows.append(r)
            print(fmt(r), flush=True)
            print(
                f"    skipped {r['skipped']}, held {r['held']}, readings {r['readings']:,}, "
                f"load {r['load_s']:.0f} s, batch {r['batch_size']}",
                flush=True,
            )
    if args.append_docs:
        doc = ROOT / "docs/performance.md"
        with doc.open("a", encoding="utf-8") as fh:
            fh.write("\n" + HEADER + "\n" + "\n".join(fmt(r) for r in rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
