"""Benchmark: the nightly pass (`wattdesk collect nightly`) over a company of N accounts, step by step.

    python benchmarks/bench_nightly.py --accounts 50000 --pg-url postgresql://wattdesk@127.0.0.1:55432/wd_h2
    python benchmarks/bench_nightly.py --accounts 1000000 --pg-url ...     # the 1,000,000-account run
    python benchmarks/bench_nightly.py --accounts 20000 --db sqlite         # SQLite file database

A loader process (fresh database: a new PostgreSQL database ``<pg db>_nightly_<N>`` created through --pg-url,
or a new SQLite file) migrates and bulk-loads a company with COPY (PostgreSQL) / multi-row INSERT (SQLite),
then runs ANALYZE:

* customers with a ``payment_profile`` (channel, punctuality punctual 82 % / late 12 % / chronic 6 %, risk),
  birth years, 0.5 % protected; 95 % residential, 3 % commercial, 2 % industrial;
* accounts (3 % prepaid), one service point each (region, reading route, capacity);
* twelve months of issued bills (2025-11 .. 2026-10, issued on the 3rd of the next month, due 15 days later)
  with their ledger charges;
* payments by behaviour, through the day before the first nightly date (D - 1 = 2026-11-26), each with its
  ledger entry and its allocation to the bill it pays: punctual customers pay the whole bill 0-12 days before
  the due date, late ones 5-40 days after it, chronic ones nothing (45 %), 30-80 % of it (30 %) or all of it
  (25 %) 10-60 days late. Prepaid accounts also hold a top-up credit;
* for prepaid accounts: a meter with one register, the tariff assignment (BJ-RES-TIER) and a daily reading
  for every day since the latest bill (what ``fee_control._compute`` reads).

A run process then measures, on that database:

1. the peer: a naive row-by-row late-fee accrual on a sample of accounts — per account ORM reads of its
   charges, per charge its live allocations and what was assessed on the bill, ``core.late_fee``, then one
   ``LedgerEntry`` + one ``LateFeeAssessment`` saved per bill — inside a transaction that is rolled back;
2. the nightly pass for D = 2026-11-27 (the first night: it catches up every open charge's fee), step by
   step: late fees, dunning, outbox dispatch, fee control; then for D + 1 (steady state); then D + 1 again
   (idempotence: fast, posts nothing).

It prints seconds per step, counts, the late-fee step's accounts/s against the peer's, the machine and the
load average (other jobs on a shared machine move every number; the peer moves with them). Also
WATTDESK_BENCH_POSTGRES_URL instead of --pg-url. Timing is never a pass/fail test.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine

ROOT = Path(__file__).resolve().parent.parent
SH = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
D = date(2026, 11, 27)  # first nightly date
PERIODS = tuple(f"{2025 + (m + 10) // 12}-{(m + 10) % 12 + 1:02d}" for m in range(12))  # 2025-11 .. 2026-10
CLASSES = (("residential", 0.95), ("commercial", 0.03), ("industrial", 0.02))
PUNCTUALITY = (("punctual", 0.82), ("late", 0.12), ("chronic", 0.06))
CHANNELS = (("mobile", 0.45), ("counter", 0.25), ("bank", 0.2), ("collector", 0.1))
PREPAID_SHARE = 0.03
PROTECTED_SHARE = 0.005


# ------------------------------------------------------------------------------------------------ loader


def _money(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def load_company(n: int, seed: int = 11) -> dict[str, Any]:
    """Bulk-load ``n`` accounts into a fresh, migrated database. Returns timings and row counts."""
    import numpy as np
    import yaml
    from django.db import connection, transaction

    from wattdesk.domain import bulk
    from wattdesk.domain.billing.models import Bill
    from wattdesk.domain.bulk import insert_rows
    from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint
    from wattdesk.domain.ledger.models import LedgerEntry
    from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister, RegisterReading
    from wattdesk.domain.payments.models import Payment, PaymentAllocation
    from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

    pg = connection.vendor == "postgresql"

    @functools.cache
    def ts(dt: datetime) -> str:
        """A timestamp as the column expects it (SQLite: naive UTC text, as Django writes it)."""
        if pg:
            return dt.isoformat(sep=" ")
        return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    klass = rng.choice(len(CLASSES), size=n, p=[c[1] for c in CLASSES])
    punct = rng.choice(len(PUNCTUALITY), size=n, p=[p[1] for p in PUNCTUALITY])
    chan = rng.choice(len(CHANNELS), size=n, p=[c[1] for c in CHANNELS])
    prepaid = rng.random(n) < PREPAID_SHARE
    protected = rng.random(n) < PROTECTED_SHARE
    risk = np.round(np.clip(rng.beta(2, 6, size=n) + (punct == 2) * 0.3, 0, 1), 2)
    birth = rng.integers(1935, 2002, size=n)
    kwh_base = rng.lognormal(mean=5.2, sigma=0.6, size=n) * np.array([1.0, 40.0, 400.0])[klass]
    n_routes = max(1, n // 2000)
    created = ts(datetime(2024, 1, 1, tzinfo=SH))
    opened = date(2024, 1, 1)
    counts: dict[str, int] = {}
    through = D - timedelta(days=1)
    if pg:  # consistent by construction: skip the per-row deferred foreign-key checks (superuser only)
        with connection.cursor() as cur:
            cur.execute("SET session_replication_role = replica")
    # A benchmark fixture, not a ledger write of the product: twelve months of charges and payments with
    # precomputed ids and pre-adapted values go straight to the tables. Product code posts only through
    # ``domain.ledger.operations`` (tests/unit/test_one_ledger_path.py scans src/).
    with transaction.atomic(), bulk.opened(LedgerEntry):
        text = (ROOT / "src/wattdesk/config/tariffs/beijing-residential-monthly.yaml").read_text(
            encoding="utf-8"
        )
        doc = json.loads(json.dumps(yaml.safe_load(text), default=str))
        TariffVersion.objects.create(
            code="BJ-RES-TIER", version="1", effective_from=date(2012, 1, 1), name=doc["name"], document=doc
        )
        region = Region.objects.create(code="R01", name="城关供电所")
        insert_rows(
            ReadingRoute,
            ("id", "code", "name", "region"),
            ((r + 1, f"RT{r + 1:04d}", f"抄表段{r + 1}", region.pk) for r in range(n_routes)),
        )
        kl, pu, ch = klass.tolist(), punct.tolist(), chan.tolist()
        pp, pr, rk, by = prepaid.tolist(), protected.tolist(), risk.tolist(), birth.tolist()
        counts["customers"] = insert_rows(
            Customer,
            (
                "id",
                "number",
                "name",
                "kind",
                "customer_class",
                "birth_year",
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
                    "individual" if kl[i] == 0 else "enterprise",
                    CLASSES[kl[i]][0],
                    by[i] if kl[i] == 0 else None,
                    f"139{i + 1:08d}",
                    "",
                    pr[i],
                    json.dumps(
                        {
                            "channel": "prepaid" if pp[i] else CHANNELS[ch[i]][0],
                            "punctuality": "punctual" if pp[i] else PUNCTUALITY[pu[i]][0],
                            "risk": rk[i],
                        }
                    ),
                    created,
                )
                for i in range(n)
            ),
        )
        counts["accounts"] = insert_rows(
            Account,
            ("id", "number", "customer", "status", "opened_on", "billing_day", "prepaid", "billing_address"),
            (
                (i + 1, f"A{i + 1:09d}", i + 1, "active", opened, 1, pp[i], f"幸福路{i % 997 + 1}号")
                for i in range(n)
            ),
        )
        counts["service_points"] = insert_rows(
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
            (
                (
                    i + 1,
                    f"SP{i + 1:09d}",
                    i + 1,
                    f"幸福路{i % 997 + 1}号",
                    region.pk,
                    i % n_routes + 1,
                    "10" if kl[i] == 2 else "0.22",
                    ("630" if i % 3 else "250") if kl[i] == 2 else ("50" if kl[i] == 1 else "8"),
                    None,
                    None,
                )
                for i in range(n)
            ),
        )
        # prepaid accounts: meter, register, installation, tariff and daily readings since the latest bill
        pre = [i for i in range(n) if pp[i]]
        insert_rows(
            Meter,
            ("id", "serial", "multiplier", "digits", "interval"),
            ((j + 1, f"M{i + 1:09d}", "1", 6, False) for j, i in enumerate(pre)),
        )
        insert_rows(
            MeterRegister, ("id", "meter", "kind"), ((j + 1, j + 1, "active_total") for j in range(len(pre)))
        )
        insert_rows(
            MeterInstallation,
            ("id", "meter", "service_point", "installed_on", "initial_values", "final_values"),
            ((j + 1, j + 1, i + 1, opened, "{}", "{}") for j, i in enumerate(pre)),
        )
        insert_rows(
            TariffAssignment,
            ("id", "service_point", "tariff_code", "effective_from"),
            ((j + 1, i + 1, "BJ-RES-TIER", opened) for j, i in enumerate(pre)),
        )
        first_read = date(2026, 11, 1)
        days = (D + timedelta(days=2) - first_read).days  # through D + 1
        daily = np.round(kwh_base[pre] / 30, 2) if pre else np.zeros(0)

        def readings() -> Any:
            rid = 0
            for j in range(len(pre)):
                value = 1000.0
                c = max(float(daily[j]), 0.01)
                for k in range(days):
                    rid += 1
                    if k == 0:
                        yield (rid, j + 1, first_read, f"{value:.2f}", "actual", "valid", "", None, None)
                        continue
                    value += c
                    yield (
                        rid,
                        j + 1,
                        first_read + timedelta(days=k),
                        f"{value:.2f}",
                        "actual",
                        "valid",
                        "",
                        f"{c:.2f}",
                        f"{c:.2f}",
                    )

        counts["readings"] = insert_rows(
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
            readings(),
        )
        # twelve months of bills + charges, payments + their entries + allocations
        entry_id = pay_id = alloc_id = 0
        n_bills = n * len(PERIODS)
        pay_entry_base = n_bills  # charge entries take ids 1..n_bills, payment entries follow
        counts["bills"] = counts["payments"] = counts["allocations"] = 0
        for m, period in enumerate(PERIODS):
            y, mo = int(period[:4]), int(period[5:])
            start = date(y, mo, 1)
            end = date(y + (mo == 12), mo % 12 + 1, 1)
            issued = end + timedelta(days=2)
            due = issued + timedelta(days=15)
            posted = ts(datetime(end.year, end.month, end.day, 8, tzinfo=SH))
            issued_at = ts(datetime(issued.year, issued.month, issued.day, 9, tzinfo=SH))
            kwh = np.round(kwh_base * rng.lognormal(0, 0.15, size=n), 2)
            fen = np.maximum(100, np.round(kwh * 52)).astype(np.int64)  # ~0.52 yuan/kWh
            ids = range(m * n + 1, m * n + n + 1)
            kw, fn = kwh.tolist(), fen.tolist()
            counts["bills"] += insert_rows(
                Bill,
                (
                    "id",
                    "account",
                    "period",
                    "version",
                    "status",
                    "start",
                    "end",
                    "kwh",
                    "total",
                    "due_on",
                    "issued_at",
                    "hold_reason",
                ),
                (
                    (
                        ids[i],
                        i + 1,
                        period,
                        1,
                        "issued",
                        start,
                        end,
                        f"{kw[i]:.2f}",
                        _money(fn[i]),
                        due,
                        issued_at,
                        "",
                    )
                    for i in range(n)
                ),
            )
            insert_rows(
                LedgerEntry,
                ("id", "account", "kind", "amount", "bill", "posted_at", "memo"),
                (
                    (ids[i], i + 1, "charge", _money(fn[i]), ids[i], posted, f"{period} 电费")
                    for i in range(n)
                ),
            )
            # payments by behaviour
            r = rng.random(n)
            late_days = rng.integers(5, 41, size=n)
            early_days = rng.integers(0, 13, size=n)
            chronic_days = rng.integers(10, 61, size=n)
            share = rng.integers(30, 81, size=n)
            hour = rng.integers(8, 21, size=n)
            pays: list[tuple[int, int, date, int]] = []  # account index, amount fen, day, hour
            rr, ld, ed, cd, sh, hr = (
                r.tolist(),
                late_days.tolist(),
                early_days.tolist(),
                chronic_days.tolist(),
                share.tolist(),
                hour.tolist(),
            )
            for i in range(n):
                kind = 0 if pp[i] else pu[i]
                amount = fn[i]
                if kind == 0:
                    day = due - timedelta(days=ed[i])
                elif kind == 1:
                    day = due + timedelta(days=ld[i])
                else:
                    if rr[i] < 0.45:
                        continue
                    day = due + timedelta(days=cd[i])
                    if rr[i] < 0.75:
                        amount = amount * sh[i] // 100
                day = max(day, issued + timedelta(days=1))
                if day > through or amount <= 0:
                    continue
                pays.append((i, amount, day, hr[i]))
            p0 = pay_id
            insert_rows(
                LedgerEntry,
                ("id", "account", "kind", "amount", "bill", "posted_at", "memo"),
                (
                    (
                        pay_entry_base + p0 + k + 1,
                        i + 1,
                        "payment",
                        "-" + _money(a),
                        None,
                        ts(datetime(d.year, d.month, d.day, h, tzinfo=SH)),
                        "",
                    )
                    for k, (i, a, d, h) in enumerate(pays)
                ),
            )
            insert_rows(
                Payment,
                (
                    "id",
                    "account",
                    "amount",
                    "channel",
                    "channel_txn_id",
                    "received_at",
                    "received_on",
                    "outlet",
                    "status",
                    "memo",
                    "ledger_entry",
                ),
                (
                    (
                        p0 + k + 1,
                        i + 1,
                        _money(a),
                        "prepaid" if pp[i] else CHANNELS[ch[i]][0],
                        f"NB{p0 + k + 1}",
                        ts(datetime(d.year, d.month, d.day, h, tzinfo=SH)),
                        d,
                        "",
                        "posted",
                        "",
                        pay_entry_base + p0 + k + 1,
                    )
                    for k, (i, a, d, h) in enumerate(pays)
                ),
            )
            insert_rows(
                PaymentAllocation,
                ("id", "payment", "bill", "ledger_entry", "kind", "amount", "allocated_on"),
                (
                    (alloc_id + k + 1, p0 + k + 1, ids[i], ids[i], "charge", _money(a), d)
                    for k, (i, a, d, _h) in enumerate(pays)
                ),
            )
            pay_id += len(pays)
            alloc_id += len(pays)
            counts["payments"] += len(pays)
            counts["allocations"] += len(pays)
        entry_id = pay_entry_base + pay_id
        # prepaid top-ups: credit kept on the account (what fee control spends)
        topup_day = date(2026, 11, 5)
        top = [
            (i, int(fen_i))
            for i, fen_i in zip(
                pre, (np.round(kwh_base[pre] * 52 * 1.5)).astype(np.int64).tolist(), strict=True
            )
        ]
        at = ts(datetime(topup_day.year, topup_day.month, topup_day.day, 10, tzinfo=SH))
        insert_rows(
            LedgerEntry,
            ("id", "account", "kind", "amount", "bill", "posted_at", "memo"),
            (
                (entry_id + k + 1, i + 1, "payment", "-" + _money(max(a, 100)), None, at, "")
                for k, (i, a) in enumerate(top)
            ),
        )
        insert_rows(
            Payment,
            (
                "id",
                "account",
                "amount",
                "channel",
                "channel_txn_id",
                "received_at",
                "received_on",
                "outlet",
                "status",
                "memo",
                "ledger_entry",
            ),
            (
                (
                    pay_id + k + 1,
                    i + 1,
                    _money(max(a, 100)),
                    "prepaid",
                    f"NB{pay_id + k + 1}",
                    at,
                    topup_day,
                    "",
                    "posted",
                    "top-up",
                    entry_id + k + 1,
                )
                for k, (i, a) in enumerate(top)
            ),
        )
        counts["payments"] += len(top)
        entry_id += len(top)
        pay_id += len(top)
        counts["ledger_entries"] = entry_id
        counts["prepaid"] = len(pre)
    with connection.cursor() as cur:
        if pg:
            cur.execute("SET session_replication_role = DEFAULT")
            for model in (
                ReadingRoute,
                Customer,
                Account,
                ServicePoint,
                Meter,
                MeterRegister,
                MeterInstallation,
                TariffAssignment,
                RegisterReading,
                Bill,
                LedgerEntry,
                Payment,
                PaymentAllocation,
            ):
                t = model._meta.db_table
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE((SELECT MAX(id) FROM {t}), 1))"
                )
            cur.execute("VACUUM ANALYZE")  # outside a transaction: also sets the visibility map
        else:
            cur.execute("ANALYZE")
    counts["load_s"] = round(time.perf_counter() - t0, 1)  # type: ignore[assignment]
    return counts


# ------------------------------------------------------------------------------------------------ peer


def naive_late_fees(sample: int, as_of: date) -> dict[str, float]:
    """Row-by-row accrual for the first ``sample`` accounts (rolled back): accounts/s and bills posted."""
    from decimal import Decimal

    from django.db import transaction

    from wattdesk.application.ledger.late_fees import end_of_day, load_policies
    from wattdesk.core.late_fee import Arrear, Reduction, late_fee, policy_on
    from wattdesk.domain.customers.models import Account
    from wattdesk.domain.ledger.models import LedgerEntry
    from wattdesk.domain.ledger.operations import post_entry
    from wattdesk.domain.payments.models import LateFeeAssessment, PaymentAllocation

    class Rollback(Exception):
        pass

    policy = policy_on(load_policies(), as_of)
    last_due = as_of - timedelta(days=policy.start_offset_days)
    posted_at = end_of_day(as_of)
    accounts = list(Account.objects.select_related("customer").order_by("id")[:sample])
    posted = 0
    t0 = time.perf_counter()
    try:
        with transaction.atomic():
            for acc in accounts:
                category: Any = "residential" if acc.customer.customer_class == "residential" else "other"
                for charge in LedgerEntry.objects.filter(
                    account=acc, kind="charge", reversed_by__isnull=True, bill__due_on__lte=last_due
                ).select_related("bill"):
                    reductions = tuple(
                        Reduction(a.allocated_on, a.amount)
                        for a in PaymentAllocation.objects.filter(
                            ledger_entry=charge, payment__status="posted"
                        )
                    )
                    arrear = Arrear(
                        charge.pk, category, charge.bill.period, charge.bill.due_on, charge.amount, reductions
                    )
                    line = late_fee(arrears=[arrear], as_of=as_of, policy=policy).lines[0]
                    assessed = sum(
                        (a.amount for a in LateFeeAssessment.objects.filter(bill=charge.bill)),
                        Decimal("0.00"),
                    )
                    if line.amount - assessed > 0:
                        entry = post_entry(
                            account_id=acc.pk,
                            kind="late_fee",
                            amount=line.amount - assessed,
                            bill_id=charge.bill_id,
                            posted_at=posted_at,
                            memo="naive",
                        )
                        LateFeeAssessment.objects.create(
                            bill=charge.bill, as_of=as_of, amount=entry.amount, ledger_entry=entry
                        )
                        posted += 1
            elapsed = time.perf_counter() - t0
            raise Rollback
    except Rollback:
        pass
    return {
        "accounts_per_s": len(accounts) / elapsed,
        "seconds": elapsed,
        "bills": posted,
        "sample": len(accounts),
    }


# ------------------------------------------------------------------------------------------------ run


def _first_incremental() -> Any:
    """The first incremental open-item set (before the pass's own late fees joined the saved set), kept as a
    peer: every new item above the re-read watermark is checked in SQL again (``touched_since`` without
    ``skip_saved`` / ``known``), and ``catch_up`` re-checks tonight's late fees instead of taking them as
    posted. Patches ``domain.ledger.open_items.touched_since`` for the run process (a peer-only process)."""
    from wattdesk.domain.ledger import open_items as state

    original = state.touched_since

    def touched_since(marks: Any, *, skip_saved: bool = False, known: Any = ()) -> set[int]:
        return original(marks)

    state.touched_since = touched_since  # type: ignore[assignment]
    return original


def nightly(day: date, *, baseline: bool = False, first_incremental: bool = False) -> dict[str, Any]:
    """The steps of `wattdesk collect nightly --date day` (``collection.nightly.run_nightly``), each timed.

    ``baseline``: the previous implementation, kept as the peer — no open-item state: the late-fee step and
    dunning each run the full set-based scan over every range of bill ids (``scan_open_items(full=True,
    save=False)``, the rows ``possibly_open_items`` returned before), and the outbox stops at 100,000 messages.
    ``first_incremental``: the first incremental set (see :func:`_first_incremental`, patched by the caller).
    """
    from wattdesk.application.dunning.nightly import run_dunning
    from wattdesk.application.dunning.outbox import dispatch_outbox
    from wattdesk.application.fee_control.prepaid import run_fee_control
    from wattdesk.application.ledger.late_fees import accrue_late_fees
    from wattdesk.application.ledger.open_items import scan_open_items
    from wattdesk.application.payments.channels.gateway import expire_stale_orders
    from wattdesk.domain.ledger.open_items import latest_scan

    now = datetime(day.year, day.month, day.day, 22, tzinfo=SH)
    out: dict[str, Any] = {"day": day.isoformat()}
    t0 = t = time.perf_counter()
    found = scan_open_items(as_of=day, full=baseline, save=not baseline)
    out["scan_s"] = time.perf_counter() - t
    scan = latest_scan()
    checked = "every item" if found.full or scan is None else f"{scan.checked:,} checked in SQL"
    out["scan"] = (
        f"{'full' if found.full else 'incremental'}, {len(found.rows):,} candidate items ({checked})"
    )
    t = time.perf_counter()
    lf = accrue_late_fees(as_of=day, run_at=now, candidates=found)
    out["late_fees_s"] = time.perf_counter() - t
    out["late_fees"] = (
        f"{lf.outcome}: {lf.bills} bills, {lf.total} yuan, {lf.credits_applied} credit allocations"
    )
    t = time.perf_counter()
    if baseline:
        again = scan_open_items(as_of=day, full=True, save=False)  # dunning's own full scan, as before
    else:
        if first_incremental:
            found.posted.clear()  # tonight's late fees re-checked by catch_up, as before
        found.catch_up()
        again = found
    d = run_dunning(day=day, now=now, candidates=again)
    out["dunning_s"] = time.perf_counter() - t
    out["dunning"] = (
        f"{d.candidates} in arrears, {d.actions} actions {dict(sorted(d.by_kind.items()))}, "
        f"{d.messages} messages, {d.notices} orders"
    )
    t = time.perf_counter()
    o = dispatch_outbox(now=now, limit=100_000 if baseline else None)
    out["outbox_s"] = time.perf_counter() - t
    out["outbox"] = f"{o.sent} sent, {o.retried} retry, {o.failed} failed"
    t = time.perf_counter()
    fc = run_fee_control(day=day, now=now)
    out["fee_control_s"] = time.perf_counter() - t
    out["fee_control"] = (
        f"{fc.accounts} prepaid, {dict(sorted(fc.decisions.items()))}, {fc.commands_queued} commands"
    )
    expire_stale_orders(day=day, now=now)
    out["total_s"] = time.perf_counter() - t0
    out["loadavg"] = _loadavg()
    return out


def _setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    django.setup()


def load_worker(n: int) -> dict[str, Any]:
    _setup()
    from django.core.management import call_command

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = time.perf_counter() - t
    res = load_company(n)
    res["migrate_s"] = round(migrate_s, 1)
    return res


def run_worker(
    n: int, sample: int, baseline: bool = False, first_incremental: bool = False
) -> dict[str, Any]:
    _setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)  # a kept database loaded by older code
    res: dict[str, Any] = {"db": connection.vendor, "accounts": n, "baseline": baseline}
    res["peer"] = naive_late_fees(sample, D) if not (baseline or first_incremental) and sample else None
    if first_incremental:
        _first_incremental()
    nights = [D, D + timedelta(days=1), D + timedelta(days=1), D + timedelta(days=2)]
    res["nights"] = [nightly(day, baseline=baseline, first_incremental=first_incremental) for day in nights]
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def spawn(
    db: str, n: int, sample: int, pg_url: str | None, keep: bool, reuse: bool, baseline: bool = True
) -> dict[str, Any]:
    """Load (unless ``reuse`` finds the loaded database), then run the pass on a copy of it (PostgreSQL:
    TEMPLATE; SQLite: a file copy), and the baseline (the previous implementation) on another copy."""
    import shutil

    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="wd-nightly-")
    env["WATTDESK_DATA_DIR"] = tmp
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    modes = ["new", "first-incremental", "baseline"] if baseline else ["new", "first-incremental"]

    def child(*extra: str) -> dict[str, Any]:
        out = subprocess.run([sys.executable, __file__, *extra], env=env, capture_output=True, text=True)
        if out.returncode:
            sys.stderr.write(out.stderr)
            raise SystemExit(out.returncode)
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    def load() -> dict[str, Any]:
        t = time.perf_counter()
        info = child("--load", str(n))
        info["load_wall_s"] = round(time.perf_counter() - t, 1)
        print(f"loaded {db} {n:,} accounts: {json.dumps(info)}  load avg {_loadavg()}", flush=True)
        return info

    def run(mode: str) -> dict[str, Any]:
        extra = {"baseline": ["--baseline-run"], "first-incremental": ["--first-incremental-run"]}.get(
            mode, []
        )
        print(f"running {mode} ... load avg {_loadavg()}", flush=True)
        return child("--run", str(n), "--sample", str(sample), *extra)

    results: dict[str, Any] = {}
    if db == "sqlite":
        loaded = f"{tmp}/loaded.db"
        env["WATTDESK_DATABASE_URL"] = f"sqlite:///{loaded}"
        try:
            info = load()
            for mode in modes:
                shutil.copyfile(loaded, f"{tmp}/bench.db")
                env["WATTDESK_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
                results[mode] = run(mode)
                for f in Path(tmp).glob("bench.db*"):
                    f.unlink()
        finally:
            for f in Path(tmp).glob("*.db*"):
                f.unlink()
        results["load"] = info
        return results
    import psycopg

    assert pg_url
    prefix, admin_db = pg_url.rsplit("/", 1)
    base, work = f"{admin_db}_nightly_{n}_base", f"{admin_db}_nightly_{n}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [base]).fetchone()
        if not (reuse and exists):
            conn.execute(f"DROP DATABASE IF EXISTS {base}")
            conn.execute(f"CREATE DATABASE {base}")
    info: dict[str, Any] = {"reused": base}
    if not (reuse and exists):
        env["WATTDESK_DATABASE_URL"] = f"{prefix}/{base}"
        info = load()
    try:
        for mode in modes:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {work}")
                t = time.perf_counter()
                conn.execute(f"CREATE DATABASE {work} TEMPLATE {base}")
                print(f"copied {base} -> {work} in {time.perf_counter() - t:.0f} s", flush=True)
            env["WATTDESK_DATABASE_URL"] = f"{prefix}/{work}"
            results[mode] = run(mode)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {work}")
            if not keep:
                conn.execute(f"DROP DATABASE IF EXISTS {base}")
    results["load"] = info
    return results


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


LABELS = ("D (first night)", "D+1 (steady state)", "D+1 again (re-run)", "D+2 (steady state)")


def _table(r: dict[str, Any], title: str) -> list[str]:
    lines = [
        f"#### {title}: {r['db']}, {r['accounts']:,} accounts",
        "",
        "| night | scan s | late fees s | dunning s | outbox s | fee control s | total s | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, night in zip(LABELS, r["nights"], strict=True):
        lines.append(
            f"| {label} {night['day']} | {night['scan_s']:.1f} | {night['late_fees_s']:.1f} | "
            f"{night['dunning_s']:.1f} | {night['outbox_s']:.1f} | {night['fee_control_s']:.1f} | "
            f"**{night['total_s']:.1f}** | {night['loadavg']} |"
        )
    lines.append("")
    for label, night in zip(LABELS, r["nights"], strict=True):
        lines.append(
            f"- {label}: scan {night['scan']}; late fees {night['late_fees']}; dunning {night['dunning']}; "
            f"outbox {night['outbox']}; fee control {night['fee_control']}"
        )
    lines.append(f"- peak RSS of the run process: {r['peak_rss_mb']:,.0f} MB")
    return lines


def report(results: dict[str, Any]) -> str:
    r = results["new"]
    lines = _table(r, "the pass (incremental open-item set)")
    peer = r["peer"]
    first = r["nights"][0]
    if peer:
        lf_rate = r["accounts"] / (first["scan_s"] + first["late_fees_s"])
        lines.append(
            f"- late-fee step (scan + accrual), first night: **{lf_rate:,.0f} accounts/s**; naive row-by-row "
            f"peer on {peer['sample']:,} accounts ({peer['bills']} bills posted, rolled back): "
            f"{peer['accounts_per_s']:,.0f} accounts/s -> **{lf_rate / peer['accounts_per_s']:,.0f}x**"
        )
    f = results.get("first-incremental")
    if f:
        title = "the first incremental set (the pass's late fees checked again in SQL the next nights)"
        lines += ["", *_table(f, title)]
        for i, label in enumerate(LABELS):
            new_s, old_s = r["nights"][i]["total_s"], f["nights"][i]["total_s"]
            new_scan, old_scan = r["nights"][i]["scan_s"], f["nights"][i]["scan_s"]
            lines.append(
                f"- {label}: {new_s:.1f} s against the first incremental set's {old_s:.1f} s: "
                f"**{old_s / new_s:.2f}x** (scan {new_scan:.1f} s against {old_scan:.1f} s)"
            )
    b = results.get("baseline")
    if b:
        lines += ["", *_table(b, "baseline (the previous implementation: full scans, outbox limit 100,000)")]
        for i, label in enumerate(LABELS):
            new_s, old_s = r["nights"][i]["total_s"], b["nights"][i]["total_s"]
            lines.append(
                f"- {label}: {new_s:.1f} s against the baseline's {old_s:.1f} s: **{old_s / new_s:.1f}x**"
            )
    lines.append(f"- load: {json.dumps(results['load'])}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, nargs="+", default=[1_000_000])
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default=None)
    p.add_argument("--pg-url", default=os.environ.get("WATTDESK_BENCH_POSTGRES_URL"))
    p.add_argument("--sample", type=int, default=500, help="accounts accrued by the naive peer")
    p.add_argument(
        "--keep", action="store_true", help="keep the loaded PostgreSQL database (<db>_nightly_<N>_base)"
    )
    p.add_argument("--reuse", action="store_true", help="run on the kept loaded database instead of loading")
    p.add_argument("--load", type=int, help=argparse.SUPPRESS)
    p.add_argument("--run", type=int, help=argparse.SUPPRESS)
    p.add_argument("--baseline-run", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--first-incremental-run", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--no-baseline",
        action="store_true",
        help="do not run the implementation before the open-item set (the first incremental set still runs)",
    )
    args = p.parse_args()
    if args.load:
        print(json.dumps(load_worker(args.load), default=str))
        return 0
    if args.run:
        res = run_worker(
            args.run, args.sample, baseline=args.baseline_run, first_incremental=args.first_incremental_run
        )
        print(json.dumps(res, default=str))
        return 0
    dbs = {"sqlite": ["sqlite"], "postgres": ["postgres"], "both": ["sqlite", "postgres"]}[
        args.db or ("postgres" if args.pg_url else "sqlite")
    ]
    if "postgres" in dbs and not args.pg_url:
        p.error("PostgreSQL needs --pg-url (or WATTDESK_BENCH_POSTGRES_URL)")
    print(f"machine: {machine()}; load average {_loadavg()}", flush=True)
    for n in args.accounts:
        for db in dbs:
            r = spawn(db, n, min(args.sample, n), args.pg_url, args.keep, args.reuse, not args.no_baseline)
            print(report(r), flush=True)
            print(f"load average after: {_loadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
