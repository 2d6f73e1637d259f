"""Benchmark: smart fee control (智能费控) — the daily pass at N prepaid accounts, and top-up -> restore latency.

    python benchmarks/bench_fee_control.py                                   # SQLite, 50,000 prepaid accounts
    python benchmarks/bench_fee_control.py --accounts 100000 --db postgres \
        --pg-url postgresql://wattdesk@127.0.0.1:55432/wd_h5                 # a fresh database wd_h5_fcbench
    python benchmarks/bench_fee_control.py --top-ups 200 --fail-rate 0.2 --delay 0.05 --max-delay 0.5

A fresh database (a new SQLite file, or ``<db>_fcbench`` created next to --pg-url's database) is migrated and
bulk-loaded with N prepaid accounts (benchmark-only loader, COPY / multi-row INSERT): customer (with a phone,
1% protected), account, service point, meter, register(s) (90% a tiered single-register tariff, 10% a TOU
tariff with peak and valley registers), the latest issued bill (October), its ledger charge and a top-up
drawn so that a few % of the accounts are exhausted and a few % are low, and a daily reading of every register
from the bill's end to the day of the pass (26 days).

(a) The daily step: ``run_fee_control(day=, now=)`` over every prepaid account, timed end to end, against a
    naive per-account peer on a sample (ORM reads one account at a time, the same pure estimate, then
    ``update_or_create`` of the state and a command saved one by one; rolled back).
(b) Top-up -> restore: the sandbox head-end is started as a real process (``wattdesk sandbox headend``, i.e.
    ``sandbox/headend_server.py``) with its latency and failure settings; K exhausted meters are disconnected
    through it; then each account is topped up through the real path (``post_payment(channel="prepaid")``:
    the restore is queued and a ``send_meter_commands`` task enqueued in the payment's transaction; since
    issue 10 nothing is sent on the payment's thread). No task worker runs here: this script plays the worker
    and the dispatcher loop itself, calling ``dispatch_commands`` for the restore at once and again when its
    retry is due, so "acked in the payment call" is now always 0 and the latency leaves out the worker's
    polling interval (``wattdesk worker --interval``, 1 s by default). Latency = the head-end's acknowledgement
    (recorded ``acknowledged_at``) minus the top-up call's time: p50 / p95 / max, the number of retries and the failure share the sandbox actually produced.

Timing is never a pass/fail test. Other jobs on the machine change the numbers: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
SH = ZoneInfo("Asia/Shanghai")
BILL_START, BILL_END = date(2026, 10, 1), date(2026, 11, 1)
DAY = date(2026, 11, 26)  # a Thursday, not a holiday: disconnection permitted at 10:00
RUN_AT = datetime(2026, 11, 26, 10, tzinfo=SH)
TARIFFS = {"BJ-RES-TIER": "beijing-residential-monthly", "ZJ-RES-TIER-TOU": "zhejiang-residential-annual-tou"}


# ------------------------------------------------------------------------------------------------ loader


def load(n: int, seed: int = 5) -> dict[str, Any]:
    """Bulk-load ``n`` prepaid accounts into an empty, migrated database."""
    import numpy as np
    import yaml
    from django.db import connection, transaction

    from wattdesk.domain.billing.models import Bill
    from wattdesk.domain.bulk import insert_rows
    from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint
    from wattdesk.domain.ledger.models import LedgerEntry
    from wattdesk.domain.ledger.operations import Posting, post_entries
    from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister, RegisterReading
    from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    tou = rng.random(n) < 0.10
    protected = rng.random(n) < 0.01
    monthly = np.round(rng.lognormal(mean=5.0, sigma=0.5, size=n), 2)  # kWh in October, median ~150
    topup_factor = rng.uniform(1.72, 4.0, size=n)  # top-up / October bill: < ~1.79 is exhausted by the 26th

    def ts(d: datetime) -> Any:
        return connection.ops.adapt_datetimefield_value(d) if connection.vendor == "sqlite" else d

    with transaction.atomic():
        for code, fname in TARIFFS.items():
            text = (ROOT / "src/wattdesk/config/tariffs" / f"{fname}.yaml").read_text(encoding="utf-8")
            doc = json.loads(json.dumps(yaml.safe_load(text), default=str))
            TariffVersion.objects.create(
                code=code, version="1", effective_from=date(2012, 1, 1), name=doc["name"], document=doc
            )
        region = Region.objects.create(code="R01", name="城关供电所")
        route = ReadingRoute.objects.create(code="RT0001", name="抄表段1", region=region)
        created = ts(datetime(2024, 1, 1, tzinfo=SH))
        insert_rows(
            Customer,
            ("id", "number", "name", "kind", "customer_class", "phone", "id_number", "protected",
             "payment_profile", "created_at"),
            ((i + 1, f"C{i + 1:09d}", f"客户{i + 1}", "individual", "residential", f"138{i + 1:08d}", "",
              bool(protected[i]), "{}", created) for i in range(n)),
        )  # fmt: skip
        insert_rows(
            Account,
            ("id", "number", "customer", "status", "opened_on", "billing_day", "prepaid", "billing_address"),
            ((i + 1, f"A{i + 1:09d}", i + 1, "active", date(2024, 1, 1), 1, True, "") for i in range(n)),
        )
        insert_rows(
            ServicePoint,
            ("id", "number", "account", "address", "region", "route", "voltage_kv", "capacity_kva"),
            ((i + 1, f"SP{i + 1:09d}", i + 1, "幸福路", region.pk, route.pk, Decimal("0.22"), Decimal(8))
             for i in range(n)),
        )  # fmt: skip
        insert_rows(
            Meter,
            ("id", "serial", "multiplier", "digits", "interval"),
            ((i + 1, f"M{i + 1:09d}", Decimal(1), 6, False) for i in range(n)),
        )
        insert_rows(
            MeterInstallation,
            ("id", "meter", "service_point", "installed_on", "initial_values", "final_values"),
            ((i + 1, i + 1, i + 1, date(2024, 1, 1), "{}", "{}") for i in range(n)),
        )
        insert_rows(
            TariffAssignment,
            ("id", "service_point", "tariff_code", "effective_from"),
            (
                (i + 1, i + 1, "ZJ-RES-TIER-TOU" if tou[i] else "BJ-RES-TIER", date(2024, 1, 1))
                for i in range(n)
            ),
        )
        totals = [Decimal(str(round(float(monthly[i]) * 0.52, 2))) for i in range(n)]
        insert_rows(
            Bill,
            ("id", "account", "period", "version", "status", "start", "end", "kwh", "total", "hold_reason"),
            ((i + 1, i + 1, "2026-10", 1, "issued", BILL_START, BILL_END, Decimal(str(monthly[i])), totals[i], "")
             for i in range(n)),
        )  # fmt: skip
        bill_at, top_at = datetime(2026, 11, 1, 6, tzinfo=SH), datetime(2026, 11, 2, 9, tzinfo=SH)
        ledger: list[Posting] = []  # through the ledger's one checked path, like every ledger write
        for i in range(n):
            ledger.append(Posting(i + 1, "charge", totals[i], bill_at, i + 1, "2026-10 电费"))
            top = Decimal(str(round(float(totals[i]) * float(topup_factor[i]), 2)))
            ledger.append(Posting(i + 1, "payment", -top, top_at, None, "prepaid top-up"))
        post_entries(entries=ledger)
        del ledger
        # registers and one reading a day from the bill's end (opening read) to DAY
        days = [BILL_END + timedelta(days=k) for k in range((DAY - BILL_END).days + 1)]
        regs: list[tuple[Any, ...]] = []
        reads: list[tuple[Any, ...]] = []
        rid = rd = 0
        daily = rng.gamma(6.0, 1 / 6.0, size=(n, len(days)))
        for i in range(n):
            kinds = (("active_peak", 0.6), ("active_valley", 0.4)) if tou[i] else (("active_total", 1.0),)
            per_day = float(monthly[i]) / 31
            for kind, share in kinds:
                rid += 1
                regs.append((rid, i + 1, kind))
                value = Decimal(1000)
                for k, d in enumerate(days):
                    rd += 1
                    if k == 0:
                        reads.append((rd, rid, d, value, "actual", "valid", "", None, None))
                        continue
                    c = Decimal(str(round(per_day * share * float(daily[i, k]), 2)))
                    value += c
                    reads.append((rd, rid, d, value, "actual", "valid", "", c, c))
            if len(reads) > 500_000:
                insert_rows(MeterRegister, ("id", "meter", "kind"), regs)
                insert_rows(
                    RegisterReading,
                    ("id", "register", "read_on", "value", "source", "status", "estimated_from", "advance",
                     "consumption"),
                    reads,
                )  # fmt: skip
                regs, reads = [], []
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
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            for model in (Customer, Account, ServicePoint, Meter, MeterInstallation, TariffAssignment, Bill,
                          LedgerEntry, MeterRegister, RegisterReading):  # fmt: skip
                t = model._meta.db_table
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))")
        cur.execute("ANALYZE")
    return {"load_s": time.perf_counter() - t0, "registers": rid, "readings": rd}


# ------------------------------------------------------------------------------------------------ peer


def naive_daily(sample: int) -> float:
    """The per-account peer on the first ``sample`` prepaid accounts; accounts/s. Rolled back."""
    from django.db import transaction
    from django.db.models import Sum

    from wattdesk.application.billing.determinants import energy_by_period
    from wattdesk.application.fee_control import prepaid as fc
    from wattdesk.application.tariffs.reference_data import load_holidays
    from wattdesk.core import fee_control as rules
    from wattdesk.domain.billing.models import Bill
    from wattdesk.domain.customers.models import Account
    from wattdesk.domain.fee_control.models import FeeControlState, MeterCommand
    from wattdesk.domain.ledger.queries import balance
    from wattdesk.domain.metering.models import MeterInstallation, RegisterReading
    from wattdesk.domain.tariffs.models import TariffAssignment

    class Rollback(Exception):
        pass

    accounts = list(Account.objects.filter(prepaid=True).order_by("pk")[:sample])
    permitted = rules.disconnect_permitted(
        at=RUN_AT.replace(tzinfo=None), holidays=load_holidays().holidays, policy=fc.POLICY
    )
    tariffs: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        with transaction.atomic():
            for acc in accounts:
                sp = acc.service_points.order_by("pk").first()
                assert sp is not None
                code = (
                    TariffAssignment.objects.filter(service_point=sp, effective_from__lte=DAY)
                    .order_by("-effective_from")
                    .values_list("tariff_code", flat=True)
                    .first()
                )
                if code and code not in tariffs:  # the peer parses each tariff once, too
                    tariffs[code] = fc._tariff_on(code, DAY)
                tariff = tariffs.get(code) if code else None
                inst = MeterInstallation.objects.filter(service_point=sp).select_related("meter").first()
                if tariff is None or inst is None:
                    continue
                bill = Bill.objects.filter(account=acc, status="issued").order_by("-end").first()
                since = bill.end if bill else DAY
                kwh = {
                    r["register__kind"]: r["s"]
                    for r in RegisterReading.objects.filter(
                        register__meter=inst.meter, read_on__gt=since, read_on__lte=DAY
                    )
                    .values("register__kind")
                    .annotate(s=Sum("consumption"))
                }
                usage = rules.Usage(
                    since=since,
                    kwh_by_period=energy_by_period(tariff=tariff, kwh_by_kind=kwh) if kwh else None,
                    latest_bill_kwh=bill.kwh if bill else None,
                    latest_bill_days=(bill.end - bill.start).days if bill else 0,
                    latest_bill_total=bill.total if bill else None,
                    capacity_kva=sp.capacity_kva,
                    contract_kw=sp.contract_kw,
                )
                ledger = balance(account_id=acc.pk)
                est = rules.estimate(tariff=tariff, day=DAY, credit=-ledger, usage=usage)
                last = MeterCommand.objects.filter(meter=inst.meter).order_by("-requested_at").first()
                d = rules.decide(
                    estimated_balance=est.estimated_balance,
                    days_left=est.days_left,
                    meter_on=last is None or last.kind == "restore",
                    protected=acc.customer.protected,
                    permitted=permitted,
                    policy=fc.POLICY,
                )
                FeeControlState.objects.update_or_create(
                    account=acc,
                    day=DAY,
                    defaults={
                        "ledger_balance": ledger,
                        "estimated_charge": est.charge,
                        "kwh_since": est.kwh,
                        "measured": est.measured,
                        "estimated_balance": est.estimated_balance,
                        "days_left": est.days_left,
                        "decision": d.action,
                        "reason": d.reason,
                        "computed_at": RUN_AT,
                    },
                )
                if d.action in ("disconnect", "restore"):
                    MeterCommand.objects.get_or_create(
                        idem_key=f"naive-{acc.number}-{d.action}-{DAY}",
                        defaults={"meter": inst.meter, "account": acc, "kind": d.action,
                                  "requested_at": RUN_AT, "next_attempt_at": RUN_AT},
                    )  # fmt: skip
            elapsed = time.perf_counter() - t0
            raise Rollback
    except Rollback:
        pass
    return len(accounts) / elapsed


# ------------------------------------------------------------------------------------------------ (b) latency


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_headend(
    fail_rate: float, delay: float, max_delay: float, state: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("wattdesk")), "sandbox", "headend", "--port", str(port),
         "--fail-rate", str(fail_rate), "--delay", str(delay), "--max-delay", str(max_delay),
         "--state-file", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the sandbox head-end did not start")


def top_up_latency(k: int, fail_rate: float, delay: float, max_delay: float) -> dict[str, Any]:
    """Disconnect ``k`` exhausted meters through the sandbox process, then top each account up."""
    from django.utils import timezone

    from wattdesk.adapters.headend.http_headend import HttpHeadEnd
    from wattdesk.application.fee_control.prepaid import RetryPolicy, dispatch_commands
    from wattdesk.application.payments.posting import post_payment
    from wattdesk.domain.fee_control.models import MeterCommand

    tmp = Path(tempfile.mkdtemp(prefix="wd-headend-"))
    proc, url = start_headend(fail_rate, delay, max_delay, tmp / "state.json")
    try:
        headend = HttpHeadEnd(url, timeout=max(2.0, 4 * max_delay))
        cuts = list(
            MeterCommand.objects.filter(kind="disconnect", status="queued")
            .order_by("pk")
            .values_list("pk", flat=True)[:k]
        )
        sturdy = RetryPolicy(attempts_per_dispatch=40, max_attempts=60, base_delay=0.02, max_delay=0.2)
        dispatch_commands(now=timezone.now(), headend=headend, ids=cuts, retry=sturdy)
        cut_rows = list(
            MeterCommand.objects.filter(pk__in=cuts, status="acknowledged").values_list(
                "account__number", "meter__serial"
            )
        )
        os.environ["WATTDESK_HEADEND_URL"] = url
        os.environ["WATTDESK_HEADEND_TIMEOUT"] = str(max(2.0, 4 * max_delay))
        latencies: list[float] = []
        prompt = later = 0
        restore_ids: list[int] = []
        for i, (number, _serial) in enumerate(cut_rows):
            received_at = timezone.now()
            res = post_payment(account_number=number, amount="500.00", channel="prepaid",
                               channel_txn_id=f"BENCH-TOPUP-{i}", received_at=received_at)  # fmt: skip
            cmd = MeterCommand.objects.filter(account__number=number, kind="restore").order_by("-pk").first()
            assert cmd is not None, f"no restore queued for {number} ({res})"
            restore_ids.append(cmd.pk)
            if cmd.status == "acknowledged":
                prompt += 1
            while cmd.status != "acknowledged":  # the dispatcher loop (collect dispatch --watch)
                wait = (cmd.next_attempt_at - timezone.now()).total_seconds()
                time.sleep(max(0.0, min(wait, 1.0)))
                dispatch_commands(now=timezone.now(), headend=headend, ids=[cmd.pk])
                cmd.refresh_from_db()
                later += cmd.status == "acknowledged"
            assert cmd.acknowledged_at is not None
            latencies.append((cmd.acknowledged_at - received_at).total_seconds())
        rows = list(MeterCommand.objects.filter(pk__in=restore_ids).values_list("attempts", flat=True))
        retries = sum(a - 1 for a in rows)
        attempts = sum(rows)
        states = [headend.meter_state(s) for _, s in cut_rows]
        ops = headend.operations()
    finally:
        proc.terminate()
        proc.wait(10)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, round(p * (len(latencies) - 1)))]

    return {
        "top_ups": len(latencies),
        "p50_ms": pct(0.50) * 1000,
        "p95_ms": pct(0.95) * 1000,
        "max_ms": latencies[-1] * 1000,
        "acked_in_the_payment_call": prompt,
        "acked_by_the_dispatcher": later,
        "retries": retries,
        "attempts": attempts,
        "observed_fail_share": retries / attempts if attempts else 0.0,
        "meters_on": states.count("on"),
        "relay_operations": len(ops),
        "fail_rate": fail_rate,
        "delay": f"{delay}..{max_delay}",
    }


# ------------------------------------------------------------------------------------------------ worker


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from wattdesk.application.fee_control.prepaid import run_fee_control

    call_command("migrate", verbosity=0)
    info = load(args.accounts)
    naive = naive_daily(args.sample)
    t0 = time.perf_counter()
    r = run_fee_control(day=DAY, now=RUN_AT)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = run_fee_control(day=DAY, now=RUN_AT)  # the same day again: rewrites the states, queues nothing
    rerun = time.perf_counter() - t0
    out: dict[str, Any] = {
        "db": connection.vendor,
        "accounts": r.accounts,
        "decisions": r.decisions,
        "commands": r.commands_queued,
        "warnings": r.warnings_queued,
        "rerun_commands": again.commands_queued,
        "seconds": first,
        "rerun_seconds": rerun,
        "per_s": r.accounts / first,
        "naive_per_s": naive,
        "ratio": r.accounts / first / naive,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **info,
    }
    if args.top_ups:
        out["latency"] = top_up_latency(args.top_ups, args.fail_rate, args.delay, args.max_delay)
    return out


def main() -> int:
    from _common import machine

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=50_000, help="prepaid accounts")
    p.add_argument("--db", choices=["sqlite", "postgres"], default=None)
    p.add_argument("--pg-url", default=os.environ.get("WATTDESK_BENCH_POSTGRES_URL"))
    p.add_argument("--sample", type=int, default=500, help="accounts run by the naive peer")
    p.add_argument("--top-ups", type=int, default=100, help="K: disconnected meters topped up (0: skip)")
    p.add_argument("--fail-rate", type=float, default=0.2, help="sandbox head-end failure share")
    p.add_argument("--delay", type=float, default=0.05, help="sandbox head-end minimum answer delay, s")
    p.add_argument("--max-delay", type=float, default=0.5, help="sandbox head-end maximum answer delay, s")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args), default=str))
        return 0
    db = args.db or ("postgres" if args.pg_url else "sqlite")
    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="wd-fcbench-")
    env["WATTDESK_DATA_DIR"] = tmp
    env.pop("WATTDESK_HEADEND_URL", None)
    dbname = None
    if db == "sqlite":
        env["WATTDESK_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
    else:
        import psycopg

        if not args.pg_url:
            p.error("PostgreSQL needs --pg-url (or WATTDESK_BENCH_POSTGRES_URL)")
        dbname = f"{args.pg_url.rsplit('/', 1)[1]}_fcbench"
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
            conn.execute(f"CREATE DATABASE {dbname}")
        env["WATTDESK_DATABASE_URL"] = f"{args.pg_url.rsplit('/', 1)[0]}/{dbname}"
    print(f"machine: {machine()}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        cmd = [sys.executable, __file__, "--worker", "--accounts", str(args.accounts), "--sample",
               str(args.sample), "--top-ups", str(args.top_ups), "--fail-rate", str(args.fail_rate),
               "--delay", str(args.delay), "--max-delay", str(args.max_delay)]  # fmt: skip
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if dbname:
            import psycopg

            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
        for f in Path(tmp).glob("bench.db*"):
            f.unlink()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"(a) daily step, {r['db']}, {r['accounts']:,} prepaid accounts ({r['readings']:,} daily readings, "
        f"loaded in {r['load_s']:.0f} s): {r['seconds']:.1f} s = {r['per_s']:,.0f} accounts/s; naive "
        f"per-account peer {r['naive_per_s']:,.0f} accounts/s on {args.sample} -> {r['ratio']:.1f}x; "
        f"re-run of the day {r['rerun_seconds']:.1f} s ({r['rerun_commands']} commands); "
        f"peak RSS {r['peak_rss_mb']:,.0f} MB"
    )
    print(f"    decisions {r['decisions']}, {r['commands']} commands queued, {r['warnings']} warnings")
    lat = r.get("latency")
    if lat:
        print(
            f"(b) top-up -> restore acknowledged, {lat['top_ups']} top-ups, sandbox fail rate {lat['fail_rate']} "
            f"delay {lat['delay']} s: p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, max "
            f"{lat['max_ms']:.0f} ms; {lat['acked_in_the_payment_call']} acknowledged within the payment call, "
            f"{lat['acked_by_the_dispatcher']} by the dispatcher; {lat['retries']} retries in {lat['attempts']} "
            f"attempts (observed failure share {lat['observed_fail_share']:.2f}); meters on "
            f"{lat['meters_on']}/{lat['top_ups']}, relay operations {lat['relay_operations']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
