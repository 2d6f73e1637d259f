"""Benchmark: the ledger write of one billing batch (10,000 charges) through the checked path vs unchecked.

    python benchmarks/bench_ledger_post.py                                  # SQLite (a temporary file)
    python benchmarks/bench_ledger_post.py --pg-url postgresql://wattdesk@127.0.0.1:55432/postgres

In a fresh database (SQLite: a temporary file; PostgreSQL: a database ``wd_bench_ledger_<pid>`` created and
dropped through --pg-url), one account; then, alternately, ``--reps`` times each, inside a transaction that is
rolled back:

* unchecked: the rows written straight with the bulk writer (``domain.bulk.insert_rows``, the table opened
  by hand), as the billing run did before issue 8;
* checked: ``domain.ledger.operations.post_entries`` (every entry checked, ids reserved, the same writer).

Prints the best and the median of each in ms. Timing is never a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
SH = ZoneInfo("Asia/Shanghai")


class _Rollback(Exception):
    pass


def measure(n: int, reps: int) -> dict[str, list[float]]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from wattdesk.domain import bulk
    from wattdesk.domain.customers.models import Account, Customer
    from wattdesk.domain.ledger.models import LedgerEntry
    from wattdesk.domain.ledger.operations import Posting, post_entries

    call_command("migrate", verbosity=0)
    run_at = datetime(2026, 4, 1, 8, tzinfo=SH)
    with transaction.atomic():
        customer = Customer.objects.create(
            number="C1", name="基准", kind="individual", customer_class="residential", created_at=run_at
        )
        account = Account.objects.create(number="A1", customer=customer, opened_on=date(2024, 1, 1))
    charges = [(account.pk, Decimal("123.45") + i % 7) for i in range(n)]
    memo = "2026-03 电费"
    fields = ("account", "kind", "amount", "bill", "posted_at", "reverses", "memo")

    def unchecked() -> None:
        at = run_at
        if connection.vendor == "sqlite":
            at = connection.ops.adapt_datetimefield_value(at)
        with bulk.opened(LedgerEntry):  # benchmark only: the pre-issue-8 unchecked write, for comparison
            bulk.insert_rows(
                LedgerEntry, fields, ((a, "charge", amt, None, at, None, memo) for a, amt in charges)
            )

    def checked() -> None:
        post_entries(entries=[Posting(a, "charge", amt, run_at, None, memo) for a, amt in charges])

    out: dict[str, list[float]] = {"unchecked": [], "checked": []}
    for _ in range(reps):
        for name, fn in (("unchecked", unchecked), ("checked", checked)):
            try:
                with transaction.atomic():
                    t = time.perf_counter()
                    fn()
                    out[name].append(time.perf_counter() - t)
                    raise _Rollback
            except _Rollback:
                pass
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=10_000)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--pg-url", default=os.environ.get("WATTDESK_BENCH_POSTGRES_URL"))
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    tmp = tempfile.mkdtemp(prefix="wd-bench-ledger-")
    os.environ["WATTDESK_DATA_DIR"] = tmp
    dbname = None
    if args.pg_url:
        import psycopg

        dbname = f"wd_bench_ledger_{os.getpid()}"
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {dbname}")
        os.environ["WATTDESK_DATABASE_URL"] = f"{args.pg_url.rsplit('/', 1)[0]}/{dbname}"
    else:
        os.environ["WATTDESK_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
    try:
        times = measure(args.entries, args.reps)
    finally:
        if dbname:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
    vendor = "postgresql" if dbname else "sqlite"
    for name, values in times.items():
        ms = [v * 1000 for v in values]
        print(
            f"{vendor} {args.entries:,} entries {name:>9}: best {min(ms):.1f} ms, median {statistics.median(ms):.1f} ms"
        )
    if {"checked", "unchecked"} <= times.keys():
        ratio = statistics.median(times["checked"]) / statistics.median(times["unchecked"])
        print(f"{vendor} checked / unchecked (median): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
