"""Use case of the billing cycle (电费核算): run a period. Reviewing held bills, approving, holding, issuing and
cancelling are ``application.billing.review``.

``run_billing`` is fetch -> calculate -> write, one batch of accounts at a time:

1. fetch (``application.billing.fetch``, raw SQL over an account-id range): service points, tariff
   assignments and versions, the accounts' recent bills; validated usage of the period from the one
   consumption query, ``domain.metering.queries.consumption_by_account`` (same account range);
2. calculate (pure): determinants (``application.billing.determinants``), rating by tariff version
   (``core.rating.vector``: all points of a batch on one tariff version at once, lines with quantity, unit
   rate and rule; ``engine="exact"`` rates point by point on the reference path), the hold-for-review
   check (``application.billing.hold``);
3. write, in ONE transaction per batch: the bills and their lines, with bulk statements (the one bulk writer
   ``domain.bulk``: binary COPY on PostgreSQL, multi-row INSERT on SQLite). A run writes nothing to the ledger: a bill
   becomes a receivable (应收电费) when it is issued after review (电费发行, ``review.issue_bills``).

A batch that committed is complete, so a run that crashed or was killed is finished by running it again:
accounts that already have a live (not cancelled) bill for the period are skipped, and the partial unique
index "one live bill per account and period" makes a duplicate impossible even for two concurrent runs.
Batches run in forked worker processes (PostgreSQL) or with a background writer thread (SQLite).

The clock is never read here: the interface passes ``run_at`` (and a ``clock`` for the
run's finish time). Rules and CLI: docs/billing.md.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.util
import os
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Count

from wattdesk.application.billing import fetch, quota
from wattdesk.application.billing import sub_use as sub_use_billing
from wattdesk.application.billing.determinants import (
    NotBillable,
    build,
    tier_year_fraction,
    tier_year_start,
)
from wattdesk.application.billing.hold import DEFAULT_HOLD_POLICY, HoldPolicy, hold_reason
from wattdesk.application.billing.transformer_loss import BatchLosses
from wattdesk.application.changes.billing import ChangedAccounts
from wattdesk.application.errors import InputError
from wattdesk.application.tariffs.reference_data import load_pf_table
from wattdesk.core.period import Period, PeriodError, add_months, period_text
from wattdesk.core.rating import Determinants, Line, RatingError
from wattdesk.core.rating import rate as rate_exact
from wattdesk.core.rating.exact import RatedBill
from wattdesk.core.rating.quota import QuotaGrant
from wattdesk.core.rating.sub_use import SubUseError
from wattdesk.core.rating.sub_use import split as split_sub_uses
from wattdesk.core.rating.vector import columns_from_determinants, rate_columns
from wattdesk.core.tariff import Tariff, TariffError, parse_tariff
from wattdesk.core.urdb import is_urdb_record, tariff_from_urdb
from wattdesk.domain import bulk
from wattdesk.domain.billing.models import Bill, BillingRun, BillingRunStatus, BillLine, BillStatus
from wattdesk.domain.customers.models import ReadingRoute
from wattdesk.domain.fields import MoneySum, QuantitySum
from wattdesk.domain.metering.queries import ServicePointUsage, consumption_by_account

ZERO = Decimal(0)
QTY_STEP = Decimal("0.0001")
RATE_STEP = Decimal("0.000001")
DEFAULT_BATCH_SIZE = 10_000
SKIP_EXAMPLES = 20  # account numbers kept per skip reason in BillingRun.counts

ProgressCallback = Callable[[int, int], None]
ENGINES = ("vector", "exact")


# --- errors ------------------------------------------------------------------------------------------------


class BillingInputError(InputError):
    """Bad input from the caller (period format, unknown route or bill, a bill in the wrong state)."""


class BillNotFound(BillingInputError):
    pass


class BillStateError(BillingInputError):
    pass


class RunSuperseded(Exception):
    """The run was taken over by another attempt (resumed elsewhere): this process stops writing to it."""


# --- value objects -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    run_id: int
    period: str
    route: str | None
    status: str
    accounts: int  # accounts in scope without a live bill when the run started
    already_billed: int  # accounts in scope that had a live bill already (earlier run)
    billed: int  # bills written by this run that can be issued (status draft)
    held: int  # bills written by this run and held for review; bills written = billed + held
    estimated: int
    skipped: Mapping[str, int]
    kwh: Decimal
    total: Decimal
    revenue_by_class: Mapping[str, Decimal]
    elapsed_s: float
    batches: int

    @property
    def bills(self) -> int:
        """Bills written by this run (draft + held)."""
        return self.billed + self.held


# --- periods -----------------------------------------------------------------------------------------------


def parse_period(period: str) -> Period:
    """The :class:`~wattdesk.core.period.Period` a billing use case is asked for; ``BillingInputError``
    (the message names the text) when it is not ``YYYY-MM``."""
    try:
        return Period.parse(period)
    except PeriodError as exc:
        raise BillingInputError(str(exc)) from None


def account_window(year: int, month: int, billing_day: int) -> tuple[date, date]:
    """The billing period [start, end) of an account: from its billing day (1-28) to the same day a month on."""
    start = date(year, month, billing_day)
    return start, add_months(start, 1)


# --- the run -----------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    period: str
    year: int
    month: int
    run_id: int
    run_at: datetime
    policy: HoldPolicy
    versions: dict[str, list[fetch.TariffVersionRow]]
    blocked: set[int]
    tariffs: dict[tuple[int, Decimal | None], Tariff | TariffError] = field(default_factory=dict)
    memo: dict[tuple[int, Determinants], Any] = field(default_factory=dict)
    engine: str = (
        "vector"  # "vector" (core.rating.vector) or "exact" (the reference path, kept as a baseline)
    )


@dataclass
class _Batch:
    """What one batch writes, plus its counters. Bills and lines are plain tuples."""

    bills: list[tuple[Any, ...]] = field(default_factory=list)  # without id
    lines: list[list[tuple[Any, ...]]] = field(default_factory=list)  # per bill, without bill id
    billed: int = 0
    held: int = 0
    estimated: int = 0
    kwh: Decimal = ZERO
    total: Decimal = ZERO
    by_class: defaultdict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    skipped: Counter[str] = field(default_factory=Counter)
    skip_examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


BILL_FIELDS = (
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
    "run",
    "hold_reason",
    "replaces",
)
LINE_FIELDS = ("bill", "seq", "code", "description", "quantity", "unit", "rate", "amount", "rule")

ESTIMATED_NOTE = (
    "note.estimated",
    "本期含估抄示数, 下次实抄后多退少补 (estimated reading, trued up at the next actual read)",
)


def run_billing(
    *,
    period: str,
    run_at: datetime,
    route: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    hold_policy: HoldPolicy = DEFAULT_HOLD_POLICY,
    progress: ProgressCallback | None = None,
    clock: Callable[[], datetime] | None = None,
    pipeline: bool = True,
    workers: int | None = None,
    run: BillingRun | None = None,
    engine: str = "vector",
) -> RunResult:
    """Bill every account in scope that has no live bill for ``period`` (resumable, idempotent).

    ``run``: an existing run row to execute (launched, or resumed after its process died, by
    ``application.billing.launch``); its bills from earlier attempts count in its totals. Without it a new
    row is created. The run's finish is written only while the row is still on ``run.attempt``
    (``RunSuperseded`` otherwise).

    Parallelism (results are identical either way; every batch is one transaction):

    * ``workers`` > 1: batches are prepared and written by that many forked worker processes, each with
      its own database connection (default: :func:`default_workers`);
    * ``workers`` = 1 and ``pipeline``: each batch is written on a second thread (its own connection) while
      the next one is fetched and rated.

    Both are switched off (one connection, synchronous) when the caller already holds a transaction, since
    the batches must then join it, and for an in-memory SQLite database, which other connections cannot
    share safely.

    ``engine``: ``"vector"`` (default) rates each batch with ``core.rating.vector``, all points on one tariff
    version at once, lines with their quantity, unit rate and rule; ``"exact"`` rates point by point on the
    exact Decimal path, the reference the vector path is proven equal to (tests/unit/core/
    test_vector_equals_exact.py). The bills are the same either way.
    """
    if engine not in ENGINES:
        raise BillingInputError(f"unknown rating engine {engine!r} (expected one of {', '.join(ENGINES)})")
    asked = parse_period(period)
    year, month = asked.year, asked.month
    if batch_size < 1:
        raise BillingInputError("batch size must be at least 1")
    route_id = None
    if route:
        route_id = ReadingRoute.objects.filter(code=route).values_list("id", flat=True).first()
        if route_id is None:
            raise BillingInputError(f"unknown reading route {route!r}")
    t0 = time.perf_counter()
    month_start = date(year, month, 1)
    latest_end = add_months(date(year, month, 28), 1)
    if run is None:
        run = BillingRun.objects.create(
            period=period, route_id=route_id, started_at=run_at, status=BillingRunStatus.RUNNING
        )
    ids, already = fetch.candidate_accounts(
        period=period, month_start=month_start, latest_end=latest_end, route_id=route_id
    )
    ctx = _Ctx(
        period=period,
        year=year,
        month=month,
        run_id=run.pk,
        run_at=run_at,
        policy=hold_policy,
        versions=fetch.tariff_versions(),
        blocked=fetch.blocked_accounts(period=period, month_start=month_start, latest_end=latest_end),
        engine=engine,
    )
    totals, prior = _earlier_attempts(run.pk)
    already -= prior
    if progress:
        progress(prior, prior + len(ids))
    progress = _offset(progress, prior)
    parallel = _can_write_in_background(True)
    if workers is None:
        workers = default_workers()
    n_workers = workers if parallel else 1
    if n_workers < 1:
        raise BillingInputError("workers must be at least 1")
    parts = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    if n_workers > 1 and len(parts) > 1:
        try:
            n_batches = _run_in_processes(ctx, parts, n_workers, totals, progress, len(ids))
        except BaseException:
            _finish_run(run, totals, prior + len(ids), already, BillingRunStatus.FAILED, clock, run_at, t0)
            raise
    else:
        writer = _Writer(ctx, totals, len(ids), progress, threaded=parallel and pipeline)
        try:
            for part in parts:
                with _gc_paused():
                    batch = _prepare_batch(ctx, part)
                writer.submit(batch, len(part))
                del batch
            writer.close()
        except BaseException:
            writer.close(raise_error=False)  # a batch already handed over is finished (whole) or not at all
            _finish_run(run, totals, prior + len(ids), already, BillingRunStatus.FAILED, clock, run_at, t0)
            raise
        n_batches = writer.batches
    elapsed = _finish_run(
        run, totals, prior + len(ids), already, BillingRunStatus.FINISHED, clock, run_at, t0
    )
    return RunResult(
        run_id=run.pk,
        period=period,
        route=route,
        status=BillingRunStatus.FINISHED,
        accounts=prior + len(ids),
        already_billed=already,
        billed=totals.billed,
        held=totals.held,
        estimated=totals.estimated,
        skipped=dict(totals.skipped),
        kwh=totals.kwh,
        total=totals.total,
        revenue_by_class=dict(totals.by_class),
        elapsed_s=elapsed,
        batches=n_batches,
    )


# --- the cyclic garbage collector during a batch ----------------------------------------------------------

_gc_lock = threading.Lock()
_gc_holders = 0  # batches (threads) of this process inside _gc_paused
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a batch is prepared or written, back to its state when the last
    batch of the process leaves. A batch allocates millions of small objects (rows, Decimals, tuples) that
    reference counting frees; with the collector on, its generation passes scan them again and again
    (measured on SQLite at 20,000 accounts: 3.5 s of CPU per run with it, 1.9-2.1 s without). Cycles made
    meanwhile (an exception kept with its traceback) are collected once it is back on."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


# --- worker processes ----------------------------------------------------------------------------------------

_FORK_CTX: _Ctx | None = None  # the run's context, inherited by forked workers (never pickled)


def _process_batch(account_ids: Sequence[int]) -> _Batch:
    """Worker process: prepare and write one batch; return its counters (rows dropped to keep IPC small)."""
    assert _FORK_CTX is not None
    with _gc_paused():
        batch = _prepare_batch(_FORK_CTX, account_ids)
        _write_batch(_FORK_CTX, batch)
    batch.bills, batch.lines = [], []
    return batch


def _worker_init() -> None:
    """Close the worker's own connection when the worker process exits (multiprocessing finalizer)."""
    multiprocessing.util.Finalize(None, connections.close_all, exitpriority=10)


def _run_in_processes(
    ctx: _Ctx,
    parts: Sequence[Sequence[int]],
    n_workers: int,
    totals: _Batch,
    progress: ProgressCallback | None,
    n: int,
) -> int:
    """Hand batches to forked workers, at most two per worker in flight; merge what committed.

    On the first failure no further batch is handed out; batches already running finish (each is whole
    or nothing) and are counted, then the error is raised.
    """
    global _FORK_CTX
    _FORK_CTX = ctx
    connections.close_all()  # children must open their own connections, never share the parent's socket
    done_accounts = 0
    committed = 0
    error: BaseException | None = None
    pool = ProcessPoolExecutor(
        max_workers=n_workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init
    )
    try:
        pending: dict[Future[_Batch], int] = {}
        queue_ = list(reversed(parts))
        while queue_ or pending:
            while queue_ and error is None and len(pending) < 2 * n_workers:
                part = queue_.pop()
                pending[pool.submit(_process_batch, part)] = len(part)
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                size = pending.pop(fut)
                exc = fut.exception()
                if exc is not None:
                    error = error or exc
                    continue
                _merge(totals, fut.result())
                committed += 1
                done_accounts += size
                if progress:
                    progress(done_accounts, n)
            if error is not None:
                queue_.clear()
    except BaseException as exc:
        error = error or exc
        for fut in list(pending):
            fut.cancel()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _FORK_CTX = None
    if error is not None:
        raise error
    return committed


def default_workers() -> int:
    """PostgreSQL: one process per CPU (at most 4) where processes can be forked. SQLite: 1 (one writer at
    a time; measured slower with two processes on two cores, docs/performance.md) with the background
    writer thread."""
    if connection.vendor == "postgresql" and "fork" in multiprocessing.get_all_start_methods():
        return max(1, min(os.cpu_count() or 1, 4))
    return 1


def _can_write_in_background(pipeline: bool) -> bool:
    if not pipeline or connection.in_atomic_block:
        return False
    in_memory = connection.vendor == "sqlite" and bool(
        getattr(connection, "is_in_memory_db", lambda: False)()
    )
    return not in_memory


class _Writer:
    """Writes prepared batches, one transaction each, on a background thread (or inline).

    At most one batch waits while another is written, which bounds memory. ``totals`` only ever count
    committed batches. An error in the writer stops the run at the next ``submit``.
    """

    def __init__(
        self, ctx: _Ctx, totals: _Batch, n: int, progress: ProgressCallback | None, *, threaded: bool
    ) -> None:
        self.ctx, self.totals, self.n, self.progress = ctx, totals, n, progress
        self.done = 0
        self.batches = 0
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if threaded:
            self.queue: queue.Queue[tuple[_Batch, int] | None] = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._loop, name="billing-writer", daemon=True)
            self.thread.start()

    def _write(self, batch: _Batch, accounts: int) -> None:
        with _gc_paused():
            _write_batch(self.ctx, batch)
        _merge(self.totals, batch)
        self.batches += 1
        self.done += accounts
        if self.progress:
            self.progress(self.done, self.n)

    def _loop(self) -> None:
        try:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                if self.error is None:
                    try:
                        self._write(*item)
                    except BaseException as exc:
                        self.error = exc
        finally:
            connection.close()  # this thread's own connection

    def submit(self, batch: _Batch, accounts: int) -> None:
        if self.thread is None:
            self._write(batch, accounts)
            return
        if self.error is not None:
            raise self.error
        self.queue.put((batch, accounts))

    def close(self, *, raise_error: bool = True) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        if raise_error and self.error is not None:
            raise self.error


def _merge(into: _Batch, b: _Batch) -> None:
    into.billed += b.billed
    into.held += b.held
    into.estimated += b.estimated
    into.kwh += b.kwh
    into.total += b.total
    for cls, amount in b.by_class.items():
        into.by_class[cls] += amount
    into.skipped.update(b.skipped)
    for reason, numbers in b.skip_examples.items():
        room = SKIP_EXAMPLES - len(into.skip_examples[reason])
        if room > 0:
            into.skip_examples[reason].extend(numbers[:room])


def _earlier_attempts(run_id: int) -> tuple[_Batch, int]:
    """Totals of the bills an earlier attempt of this run wrote (a resumed run), and how many."""
    out = _Batch()
    n = 0
    rows = (
        Bill.objects.filter(run_id=run_id)
        .exclude(status=BillStatus.CANCELLED)  # cancelled since: its account is billed again by this attempt
        .values("status", "account__customer__customer_class")
        .annotate(n=Count("id"), kwh=QuantitySum("kwh", default=ZERO), total=MoneySum("total", default=ZERO))
    )
    for row in rows:
        n += row["n"]
        if row["status"] == BillStatus.HELD:
            out.held += row["n"]
        else:
            out.billed += row["n"]
        out.kwh += row["kwh"]
        out.total += row["total"]
        out.by_class[row["account__customer__customer_class"]] += row["total"]
    if n:
        out.estimated = (
            Bill.objects.filter(run_id=run_id, lines__code=ESTIMATED_NOTE[0])
            .exclude(status=BillStatus.CANCELLED)
            .distinct()
            .count()
        )
    return out, n


def _offset(progress: ProgressCallback | None, prior: int) -> ProgressCallback | None:
    """Progress of a resumed run counts the accounts its earlier attempts billed."""
    if progress is None or not prior:
        return progress

    def report(done: int, total: int) -> None:
        progress(prior + done, prior + total)

    return report


def _finish_run(
    run: BillingRun,
    totals: _Batch,
    accounts: int,
    already: int,
    status: str,
    clock: Callable[[], datetime] | None,
    run_at: datetime,
    t0: float,
) -> float:
    elapsed = time.perf_counter() - t0
    run.status = status
    run.finished_at = clock() if clock else run_at + timedelta(seconds=elapsed)
    run.counts = {
        "accounts": accounts,
        "already_billed": already,
        "billed": totals.billed,
        "held": totals.held,
        "estimated": totals.estimated,
        "skipped": dict(totals.skipped),
        "skipped_examples": {k: v for k, v in totals.skip_examples.items() if v},
        "kwh": str(totals.kwh),
        "total": str(totals.total),
        "revenue_by_class": {k: str(v) for k, v in totals.by_class.items()},
        "elapsed_s": round(elapsed, 3),
    }
    fenced = BillingRun.objects.filter(pk=run.pk, attempt=run.attempt).update(
        status=run.status, finished_at=run.finished_at, counts=run.counts
    )
    if not fenced:
        raise RunSuperseded(f"billing run {run.pk} was taken over by another attempt")
    return elapsed


def _tariff(ctx: _Ctx, version: fetch.TariffVersionRow, pf_standard: Decimal | None) -> Tariff:
    """Parsed tariff of a version, with the PF rule on the service point's standard; cached per run."""
    key = (version.id, pf_standard)
    cached = ctx.tariffs.get(key)
    if cached is None:
        try:
            base = ctx.tariffs.get((version.id, None))
            if base is None:
                # a stored URDB v8 record (tariffs import) is converted as the quote does; else WattDesk's format
                doc = version.document
                base = (
                    tariff_from_urdb(record=doc)
                    if is_urdb_record(doc)
                    else parse_tariff(doc=doc, pf_table=load_pf_table())
                )
                ctx.tariffs[(version.id, None)] = base
            if isinstance(base, TariffError):
                raise base
            cached = base
            if pf_standard is not None and base.power_factor is not None:
                std = pf_standard.quantize(Decimal("0.01"))
                if std != base.power_factor.standard:
                    if std not in base.power_factor.table.rows:
                        raise TariffError("power_factor.standard", f"no adjustment table for standard {std}")
                    cached = replace(base, power_factor=replace(base.power_factor, standard=std))
        except TariffError as exc:
            cached = exc
        ctx.tariffs[key] = cached
    if isinstance(cached, TariffError):
        raise NotBillable("tariff_error", f"{version.code} {version.version}: {cached}")
    return cached


def _tariff_on(ctx: _Ctx, code: str, on: date, pf_standard: Decimal | None) -> Tariff:
    """The tariff ``code`` in force on ``on`` with the PF standard: a point's, a segment's or a sub-use's."""
    version = fetch.version_in_force(ctx.versions.get(code, ()), on)
    if version is None:
        raise NotBillable("no_tariff_version", f"tariff {code} has no version in force on {on}")
    return _tariff(ctx, version, pf_standard)


def _prepare_batch(ctx: _Ctx, account_ids: Sequence[int]) -> _Batch:
    """Fetch and calculate one batch (no writes)."""
    out = _Batch()
    lo, hi = account_ids[0], account_ids[-1]
    wanted = set(account_ids)
    sps = [sp for sp in fetch.service_points(lo=lo, hi=hi) if sp.account_id in wanted]
    by_account: dict[int, list[fetch.SpRow]] = defaultdict(list)
    for sp in sps:
        by_account[sp.account_id].append(sp)
    # exact per-account windows; one usage query per billing day present in the batch
    windows: dict[int, tuple[date, date]] = {}
    days: set[int] = set()
    for acc_id, rows in by_account.items():
        first = rows[0]
        start, end = account_window(ctx.year, ctx.month, first.billing_day)
        if first.opened_on >= end or (first.closed_on is not None and first.closed_on < start):
            _skip(out, "not_in_service", first.account_number)
            continue
        windows[acc_id] = (start, end)
        days.add(first.billing_day)
    usage: dict[int, ServicePointUsage] = {}
    for day in sorted(days):
        start, end = account_window(ctx.year, ctx.month, day)
        found = consumption_by_account(period_start=start, period_end=end, account_range=(lo, hi))
        usage.update(
            (sp_id, u)
            for sp_id, u in found.items()
            if u.account_id in windows and windows[u.account_id][0] == start
        )
    latest_start = max((w[0] for w in windows.values()), default=date(ctx.year, ctx.month, 1))
    assigned = fetch.assignments(lo=lo, hi=hi, on_or_before=latest_start)
    # 12 months back at least: the hold rule's history and the year to date of annual tiers
    since = str(Period(ctx.year, ctx.month).shift(-max(12, ctx.policy.max_history)))
    past = fetch.history(lo=lo, hi=hi, period=ctx.period, since_period=since)
    quotas = quota.grants(lo=lo, hi=hi)  # 一户多人口 tier quotas (application.billing.quota)
    versions_now = fetch.period_bills(lo=lo, hi=hi, period=ctx.period)
    # 变损 (高供低计): the transformers feeding the batch's points (application.billing.transformer_loss)
    losses = BatchLosses.fetch(sp_ids=[sp.sp_id for sp in sps], windows=windows.values())
    loss_lines: dict[int, list[tuple[Any, ...]]] = {}
    # 变更用电: accounts with mid-period changes are billed by segments (application.changes.billing)
    changed = ChangedAccounts.fetch(lo=lo, hi=hi, account_ids=windows)
    seg_units: dict[int, list[Any]] = {}
    agreements = sub_use_billing.agreements(lo=lo, hi=hi, on_or_before=latest_start)  # 定量定比
    unit_subs: dict[int, sub_use_billing.InForce] = {}  # unit index -> its sub-uses

    # determinants per service point, grouped by tariff for rating
    units: list[tuple[int, Tariff, Determinants]] = []  # (account_id, tariff, det) in account order
    account_units: dict[int, list[int]] = {}
    estimated: set[int] = set()
    for acc_id, (start, end) in windows.items():
        rows = by_account[acc_id]
        number = rows[0].account_number
        if acc_id in ctx.blocked:
            _skip(out, "reading_exception", number)
            continue
        prev = versions_now.get(acc_id)
        if prev is not None and prev[2]:
            _skip(out, "already_billed", number)  # billed by a concurrent run since the scope was read
            continue
        try:
            rows, seg_units[acc_id] = changed.split(
                acc_id=acc_id,
                rows=rows,
                start=start,
                end=end,
                tariff_of=partial(_tariff_on, ctx),
                line_row=_line_row,
                losses=losses,  # 变损, 一户多人口, 定量定比 per segment
                grants=quotas.get(acc_id, ()),
                sub_uses={
                    sp.sp_id: in_force
                    for sp in rows
                    if sp.sp_id in agreements
                    and (in_force := _sub_uses(ctx, agreements[sp.sp_id], start)).sub_uses
                },
                history=past.get(acc_id, ()),  # annual tiers: the year to date
            )
            dets: list[tuple[Tariff, Determinants]] = []
            acc_subs: dict[int, sub_use_billing.InForce] = {}
            for sp in rows:
                u = usage.get(sp.sp_id)
                tariff, det, subs = _point(
                    ctx, sp, start, end, u, assigned, past, quotas.get(acc_id, ()), agreements
                )
                dets.append((tariff, det))
                if subs is not None:
                    acc_subs[len(dets) - 1] = subs
                if u is not None and u.estimated:
                    estimated.add(acc_id)
            # the loss joins the determinants before rating: one step both rating paths share
            dets, loss_lines[acc_id] = losses.apply(
                start=start,
                end=end,
                sp_ids=[sp.sp_id for sp in rows],
                dets=dets,
                metered_kvarh={sp.sp_id: u.kvarh for sp in rows if (u := usage.get(sp.sp_id)) is not None},
            )
        except NotBillable as nb:
            _skip(out, nb.reason, number)
            estimated.discard(acc_id)
            continue
        account_units[acc_id] = list(range(len(units), len(units) + len(dets)))
        unit_subs.update((len(units) + j, in_force) for j, in_force in acc_subs.items())
        units.extend((acc_id, t, d) for t, d in dets)

    if ctx.engine == "vector":
        rated = _rate_units_vector(units, unit_subs)
    else:
        rated = _rate_units(ctx, units)
        for i, in_force in unit_subs.items():
            rated[i] = _rate_sub_uses(units[i][1], units[i][2], in_force)

    for acc_id, idxs in account_units.items():
        rows = by_account[acc_id]
        first = rows[0]
        if any(isinstance(rated[i], NotBillable) for i in idxs):
            err = next(rated[i] for i in idxs if isinstance(rated[i], NotBillable))
            assert isinstance(err, NotBillable)
            _skip(out, err.reason, first.account_number)
            continue
        start, end = windows[acc_id]
        lines: list[tuple[Any, ...]] = []
        total = ZERO
        kwh = ZERO
        seq = 0
        for i in idxs:
            bill = rated[i]
            assert isinstance(bill, _Rated)
            kwh += bill.kwh
            total += bill.total
            for row in bill.rows:
                seq += 1
                lines.append((seq, *row))
        for unit in seg_units.get(acc_id, ()):  # segmented service points (变更用电)
            kwh += unit.kwh
            total += unit.total
            for row in unit.rows:
                seq += 1
                lines.append((seq, *row))
        # 变损电量: quantities only (amount 0); the energy lines above are priced on metered + loss
        for row in loss_lines.get(acc_id, ()):
            seq += 1
            lines.append((seq, *row))
        if acc_id in estimated:
            seq += 1
            lines.append((seq, ESTIMATED_NOTE[0], ESTIMATED_NOTE[1][:200], ZERO, "", ZERO, ZERO, "estimated"))
        # a tier uplift comes only from the account's 一户多人口 grants (quota.apply in _point)
        quota_note = quota.note(units[i][2] for i in idxs) if acc_id in quotas else None
        seg_rows = (r for unit in seg_units.get(acc_id, ()) for r in unit.rows)
        if quota_note is not None and not any(r[0] == quota.NOTE_CODE for r in seg_rows):  # one note a bill
            seq += 1
            lines.append((seq, *quota_note))
        history_totals = [t for _p, _k, t in past.get(acc_id, ())]
        reason = hold_reason(
            total=total, history=history_totals, customer_class=first.customer_class, policy=ctx.policy
        )
        # a 定量 above the metered kWh was capped: the reviewer sees why first (fms-cfs "电度电量小于协议电量")
        reason = next((b.hold for i in idxs if isinstance(b := rated[i], _Rated) and b.hold), "") or reason
        reason = next((u.hold for u in seg_units.get(acc_id, ()) if u.hold), "") or reason
        prev = versions_now.get(acc_id)
        version, replaces = (prev[0] + 1, prev[1]) if prev is not None else (1, None)
        status = BillStatus.HELD if reason else BillStatus.DRAFT
        out.bills.append(
            (
                acc_id,
                ctx.period,
                version,
                status,
                start,
                end,
                kwh,
                total,
                None,
                None,
                ctx.run_id,
                reason,
                replaces,
            )
        )
        out.lines.append(lines)
        if reason:
            out.held += 1
        else:
            out.billed += 1
        out.estimated += acc_id in estimated
        out.kwh += kwh
        out.total += total
        out.by_class[first.customer_class] += total
    return out


def _determinants(
    ctx: _Ctx,
    sp: fetch.SpRow,
    start: date,
    end: date,
    u: ServicePointUsage | None,
    assigned: Mapping[int, list[tuple[date, date | None, str]]],
    past: Mapping[int, list[tuple[str, Decimal, Decimal]]],
) -> tuple[Tariff, Determinants]:
    if u is not None and u.exceptions:
        raise NotBillable("reading_exception", f"{u.exceptions} reading(s) in exception status")
    if u is None or not u.readings:
        raise NotBillable("no_readings", "no billable reading dated in the period")
    a = fetch.assignment_in_force(assigned.get(sp.sp_id, ()), start)
    if a is None:
        raise NotBillable("no_tariff", "no tariff assignment in force at the period start")
    tariff = _tariff_on(ctx, a[2], start, sp.pf_standard)
    ytd = ZERO
    fraction = Decimal(1)
    if tariff.energy.tier_basis == "annual":
        ty_start = tier_year_start(period_start=start, start_month=tariff.energy.tier_year_start_month)
        since = period_text(ty_start)
        ytd = sum((k for p, k, _t in past.get(sp.account_id, ()) if p >= since), ZERO)
        fraction = tier_year_fraction(tier_year_begins=ty_start, on_tariff_since=max(sp.opened_on, a[0]))
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
        max_kw_by_kind=u.max_kw_by_kind,
        ytd_kwh_before=ytd,
        fraction=fraction,
    )
    return tariff, det


def _point(
    ctx: _Ctx,
    sp: fetch.SpRow,
    start: date,
    end: date,
    u: ServicePointUsage | None,
    assigned: Mapping[int, list[tuple[date, date | None, str]]],
    past: Mapping[int, list[tuple[str, Decimal, Decimal]]],
    grants: Sequence[QuotaGrant],
    agreements: Mapping[int, Sequence[sub_use_billing.AgreementRow]],
) -> tuple[Tariff, Determinants, sub_use_billing.InForce | None]:
    """One service point as the run bills it, before 变损: its tariff, its determinants with the account's
    一户多人口 uplift (``quota.apply``) and its 定量定比 sub-uses in force (None without any). The 退补 rebuild
    (``adjustment.rebuild_bill``) builds its points with this same function."""
    tariff, det = _determinants(ctx, sp, start, end, u, assigned, past)
    det = quota.apply(tariff=tariff, det=det, account_grants=grants)
    subs = _sub_uses(ctx, agreements[sp.sp_id], start) if sp.sp_id in agreements else None
    return tariff, det, subs if subs is not None and subs.sub_uses else None


@dataclass(frozen=True, slots=True)
class _Rated:
    """A rated unit as the writer needs it: total, kWh and the line rows (without bill id and seq)."""

    total: Decimal
    kwh: Decimal
    rows: tuple[tuple[Any, ...], ...]
    hold: str = ""  # a reason to hold the bill found while rating (a capped 定量定比 sub-use)


def _sub_uses(
    ctx: _Ctx, rows: Sequence[sub_use_billing.AgreementRow], start: date
) -> sub_use_billing.InForce:
    """The 定量定比 sub-uses of a service point in force at the period start, each on its tariff's version."""
    return sub_use_billing.sub_uses_of(
        rows, start=start, tariff_of=partial(_tariff_on, ctx, pf_standard=None)
    )


def _rate_sub_uses(
    tariff: Tariff,
    det: Determinants,
    in_force: sub_use_billing.InForce,
    rate_one: Callable[[Tariff, Determinants], RatedBill] | None = None,
) -> _Rated | NotBillable:
    """Rate a service point with 定量定比 sub-uses (application.billing.sub_use): main use, then each sub-use
    (``rate_one``: the rating path of each part, default exact)."""
    try:
        r = sub_use_billing.rate_with_sub_uses(tariff=tariff, det=det, in_force=in_force, rate_one=rate_one)
    except SubUseError as exc:
        return NotBillable("sub_use_error", str(exc))
    except RatingError as exc:
        return NotBillable("rating_error", str(exc))
    rows = tuple(_line_row(ln) for ln in (*r.bill.lines, *r.notes))
    return _Rated(r.bill.total, r.bill.kwh, rows, r.hold)


RATING_MEMO_LIMIT = 200_000


def _rate_units(ctx: _Ctx, units: Sequence[tuple[int, Tariff, Determinants]]) -> list[_Rated | NotBillable]:
    """Rate every (account, tariff, determinants) unit with the exact path (``engine="exact"``: the reference
    and the previous implementation; the run's default is ``_rate_units_vector``).

    Rating is pure, so equal determinants on the same tariff give the same bill: results are memoised per
    run (bounded), which pays off on real data where many households read the same whole-kWh usage.
    """
    out: list[_Rated | NotBillable] = []
    memo = ctx.memo
    for _acc, tariff, det in units:
        key = (id(tariff), det)
        hit = memo.get(key)
        if hit is None:
            try:
                bill = rate_exact(tariff=tariff, det=det)
                hit = _Rated(bill.total, det.kwh, tuple(_line_row(ln) for ln in bill.lines))
            except RatingError as exc:
                hit = NotBillable("rating_error", str(exc))
            if len(memo) >= RATING_MEMO_LIMIT:
                memo.clear()
            memo[key] = hit
        out.append(hit)
    return out


def _vector_rows(
    items: Sequence[tuple[Tariff, Determinants]],
) -> list[tuple[Decimal, Decimal, list[tuple[Any, ...]]] | RatingError]:
    """Rate (tariff, determinants) items on the vector path: one ``rate_columns`` call per tariff (object),
    all its items at once; per item (total, kWh, line rows as the writer stores them, ``_line_row``). The
    lines are assembled column-wise (``RatedColumns.line_tuples``). A tariff whose items the columns refuse
    (a determinant the tariff cannot rate: wrong number of periods, a missing demand ...) is rated item by
    item on the exact path, so each item gets its own error as on the exact path."""
    out: list[tuple[Decimal, Decimal, list[tuple[Any, ...]]] | RatingError | None] = [None] * len(items)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, (tariff, _det) in enumerate(items):
        groups[id(tariff)].append(i)
    for idxs in groups.values():
        tariff = items[idxs[0]][0]
        dets = [items[i][1] for i in idxs]
        try:
            cols = columns_from_determinants(dets)
            res = rate_columns(tariff=tariff, cols=cols)
        except RatingError:
            for i in idxs:
                try:
                    bill = rate_exact(tariff=tariff, det=items[i][1])
                except RatingError as exc:
                    out[i] = exc
                    continue
                out[i] = (bill.total, items[i][1].kwh, [_line_row(ln) for ln in bill.lines])
            continue
        table = res.line_tuples()
        totals = res.total_fen.tolist()
        kwh_units = cols.kwh_by_period.sum(axis=1).tolist()
        exact = res.exact_rows.tolist()
        for row, i in enumerate(idxs):
            kwh = dets[row].kwh if exact[row] else Decimal(kwh_units[row]).scaleb(-4)
            out[i] = (Decimal(totals[row]).scaleb(-2), kwh, [_tuple_row(t) for t in table[row]])
    return [b for b in out if b is not None]


def _as_bill(rated: tuple[Decimal, Decimal, list[tuple[Any, ...]]] | RatingError) -> RatedBill:
    """A rated part back as a ``RatedBill`` (the sub-use combine step reads Line objects)."""
    if isinstance(rated, RatingError):
        raise rated
    total, _kwh, rows = rated
    return RatedBill(
        lines=tuple(Line(c, d, q, u, r, a, rule) for c, d, q, u, r, a, rule in rows), total=total
    )


def _rate_units_vector(
    units: Sequence[tuple[int, Tariff, Determinants]], unit_subs: Mapping[int, sub_use_billing.InForce]
) -> list[_Rated | NotBillable]:
    """Rate every unit on the vector path (``_vector_rows``), lines with quantity, unit rate and rule as the
    exact path's. A unit with 定量定比 sub-uses is split first (``core.rating.sub_use.split``); its main use
    and sub-uses are rated in the same vector calls as the other units, then combined as on the exact path."""
    items: list[tuple[Tariff, Determinants]] = []
    plain: list[int] = []
    parts_of: dict[int, list[tuple[Tariff, Determinants]]] = {}
    for i, (_acc, tariff, det) in enumerate(units):
        in_force = unit_subs.get(i)
        if in_force is None:
            plain.append(i)
            items.append((tariff, det))
            continue
        try:
            split = split_sub_uses(tariff=tariff, det=det, sub_uses=in_force.sub_uses)
        except (RatingError, SubUseError):
            parts_of[i] = []  # the exact rating below raises the same error for the unit
            continue
        parts = [(tariff, split.main), *((t, d) for _d, t, d in split.parts)]
        parts_of[i] = parts
        items.extend(parts)
    rated = _vector_rows(items)
    out: list[_Rated | NotBillable] = [NotBillable("rating_error", "")] * len(units)
    for k, i in enumerate(plain):
        r = rated[k]
        if isinstance(r, RatingError):
            out[i] = NotBillable("rating_error", str(r))
        else:
            out[i] = _Rated(r[0], r[1], tuple(r[2]))
    k = len(plain)
    for i, parts in parts_of.items():
        own = [_as_bill_or_error(r) for r in rated[k : k + len(parts)]]
        k += len(parts)
        out[i] = _rate_sub_uses(
            units[i][1], units[i][2], unit_subs[i], _in_order(parts, own) if parts else None
        )
    return out


def _as_bill_or_error(
    rated: tuple[Decimal, Decimal, list[tuple[Any, ...]]] | RatingError,
) -> RatedBill | RatingError:
    return rated if isinstance(rated, RatingError) else _as_bill(rated)


def _in_order(
    parts: Sequence[tuple[Tariff, Determinants]], bills: Sequence[RatedBill | RatingError]
) -> Callable[[Tariff, Determinants], RatedBill]:
    """A ``rate_one`` for ``rate_with_sub_uses`` that hands out bills rated beforehand: its split is the same
    pure function, so it asks for the main use then each sub-use, in ``parts`` order (checked)."""
    pending = iter(zip(parts, bills, strict=True))

    def rate_one(tariff: Tariff, det: Determinants) -> RatedBill:
        (_t, expected), bill = next(pending)
        if det != expected:
            raise RatingError("sub-use split differs from the one rated")  # cannot happen: split is pure
        if isinstance(bill, RatingError):
            raise bill
        return bill

    return rate_one


def _line_row(ln: Line) -> tuple[Any, ...]:
    return (
        ln.code[:64],
        ln.description[:200],
        ln.quantity.quantize(QTY_STEP, rounding=ROUND_HALF_UP),
        ln.unit[:16],
        ln.rate.quantize(RATE_STEP, rounding=ROUND_HALF_UP),
        ln.amount,
        ln.rule[:64],
    )


def _tuple_row(t: tuple[Any, ...]) -> tuple[Any, ...]:
    """``_line_row`` of a line given as ``(code, description, quantity, unit, rate, amount, rule)``."""
    code, description, quantity, unit, rate, amount, rule = t
    return (
        code[:64],
        description[:200],
        quantity.quantize(QTY_STEP, rounding=ROUND_HALF_UP),
        unit[:16],
        rate.quantize(RATE_STEP, rounding=ROUND_HALF_UP),
        amount,
        rule[:64],
    )


def _skip(out: _Batch, reason: str, account_number: str) -> None:
    out.skipped[reason] += 1
    examples = out.skip_examples[reason]
    if len(examples) < SKIP_EXAMPLES:
        examples.append(account_number)


def _write_batch(ctx: _Ctx, batch: _Batch) -> None:
    """Write one batch in one transaction: bills and lines (no ledger: charges post on issue). All or nothing."""
    if not batch.bills:
        return
    with transaction.atomic():
        ids = bulk.reserve_ids(Bill, len(batch.bills))
        # binary COPY on PostgreSQL: the rows hold Python values (Decimal, date, int, str, None)
        bulk.insert_rows(
            Bill,
            BILL_FIELDS,
            ((bid, *row) for bid, row in zip(ids, batch.bills, strict=True)),
            binary=True,
        )
        bulk.insert_rows(
            BillLine,
            LINE_FIELDS,
            ((bid, *ln) for bid, lines in zip(ids, batch.lines, strict=True) for ln in lines),
            binary=True,
        )
