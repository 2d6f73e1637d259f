"""Use cases: the living synthetic company (``build_living_county``, what ``wattdesk synth`` builds) and the
demo (``run_demo``: the same company, then the billing cycle of its latest month and a report).

The living company, in order: generate the county; its payment outlets and candidate sites (网点规划 has
something to plan); enrol a share of residential accounts in prepaid fee control (费控); bill and issue the
months before the latest one; pay them by each customer's payment behaviour (punctual / late / chronic
arrears, preferred channel) with late fees, collectors, visits and complaints — so the nightly pass has
debts to dun and prepaid balances to watch. Each part after the county can be left out (``LivingParts``).
The demo then runs the latest month's billing cycle, whose hold check compares with a year of history.

The report's numbers are read back from the database after the run (bills, their customers' classes,
reading exceptions), not taken from the generator's or the billing run's own counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from wattdesk.application.billing.review import issue_bills
from wattdesk.application.billing.run import RunResult, run_billing
from wattdesk.application.metering.estimation import estimate_period
from wattdesk.core.period import Period
from wattdesk.domain.access.operations import DemoLogin, create_demo_users
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import Account
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.metering.models import ImportBatch, ReadingException
from wattdesk.synthetic import CountySummary, Progress, generate_county
from wattdesk.synthetic.outlets import SeedSummary, seed_outlets
from wattdesk.synthetic.payments import (
    HistoryResult,
    PaymentHistoryResult,
    bill_history,
    generate_payment_history,
)

#: share of residential accounts on prepaid fee control (费控) in the synthetic company
PREPAID_SHARE = 0.05


@dataclass(frozen=True)
class LivingParts:
    """Which parts of the living company to build after the county itself."""

    outlets: bool = True  # payment outlets and candidate sites
    prepaid: bool = True  # residential accounts on prepaid fee control
    payments: bool = True  # bill history, payments by profile, late fees, collectors, visits


@dataclass(frozen=True)
class LivingCounty:
    county: CountySummary
    outlets: SeedSummary | None
    prepaid_accounts: int
    history: HistoryResult | None
    payments: PaymentHistoryResult | None
    timings: dict[str, float]


def enrol_prepaid(*, seed: int, share: float = PREPAID_SHARE) -> int:
    """Put a deterministic share (at least one) of the residential accounts on prepaid fee control; the
    number enrolled."""
    ids = list(
        Account.objects.filter(customer__customer_class="residential", prepaid=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids or share <= 0:
        return 0
    n = max(1, round(len(ids) * share))
    chosen = np.random.default_rng([seed, 0xFEE]).choice(len(ids), size=min(n, len(ids)), replace=False)
    return Account.objects.filter(pk__in=[ids[int(i)] for i in chosen]).update(prepaid=True)


def build_living_county(
    *,
    accounts: int,
    months: int,
    seed: int,
    end_month: date,
    through: date,
    interval_share: float = 0.05,
    parts: LivingParts = LivingParts(),
    progress: Progress | None = None,
) -> LivingCounty:
    """The synthetic company as a living business: the county with readings through ``end_month``, then the
    parts asked for; payments are made through ``through``. Shared by ``wattdesk synth`` and the demo."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    county = generate_county(
        accounts=accounts,
        months=months,
        seed=seed,
        end_month=end_month,
        interval_share=interval_share,
        progress=progress,
    )
    timings["synth"] = time.perf_counter() - t0
    timings.update({f"synth: {k}": v for k, v in county.timings.items()})
    outlets = seed_outlets(seed=seed) if parts.outlets else None
    prepaid = enrol_prepaid(seed=seed) if parts.prepaid else 0
    history = payments = None
    if parts.payments:
        t = time.perf_counter()
        history = bill_history(
            months=max(months - 1, 1),
            end_period=str(Period.of(end_month).previous()),
            progress=progress,
        )
        timings["bill history"] = time.perf_counter() - t
        t = time.perf_counter()
        payments = generate_payment_history(seed=seed, through=through, progress=progress)
        timings["payment history"] = time.perf_counter() - t
    return LivingCounty(county, outlets, prepaid, history, payments, timings)


@dataclass(frozen=True)
class ClassLine:
    customer_class: str
    bills: int
    kwh: Decimal
    revenue: Decimal


@dataclass(frozen=True)
class DemoReport:
    period: str
    county: CountySummary
    run: RunResult
    history_periods: tuple[str, ...]
    prepaid_accounts: int
    outlets: int
    candidate_sites: int
    payments: int
    payments_amount: Decimal
    bills: int  # live bills of the period (draft, held or issued)
    issued: int  # of which issued (电费发行) by the demo: receivables
    held: int
    kwh: Decimal
    revenue: Decimal
    by_class: tuple[ClassLine, ...]
    exceptions_by_check: tuple[tuple[str, str, int, int], ...]  # (check, severity, found, still open)
    held_reasons: tuple[tuple[str, int], ...]
    timings: dict[str, float]


def run_demo(
    *,
    accounts: int,
    months: int,
    seed: int,
    end_month: date,
    run_at: datetime,
    interval_share: float = 0.05,
    progress: Progress | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DemoReport:
    """Build the living company (``build_living_county``, every part), bill `end_month`, and report from the
    database."""
    report = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()
    living = build_living_county(
        accounts=accounts,
        months=months,
        seed=seed,
        end_month=end_month,
        through=run_at.date(),
        interval_share=interval_share,
        progress=progress,
    )
    county, history, payments = living.county, living.history, living.payments
    assert history is not None and payments is not None and living.outlets is not None
    period = str(Period.of(end_month))

    def billing_progress(done: int, total: int) -> None:
        report("billing", done, total)

    t1 = time.perf_counter()
    estimate_period(period=period)  # 估抄: missing reads are estimated and billed, not skipped
    run = run_billing(period=period, run_at=run_at, progress=billing_progress, clock=clock)
    # 电费发行: the month's clean bills become receivables (the customer sees and pays them); the held ones
    # wait in the clerk's review queue, owing nothing until approved and issued
    issue_at = run_at + timedelta(hours=1)
    issued = issue_bills(
        period=period, user=None, issued_at=issue_at, issued_on=timezone.localtime(issue_at).date()
    )
    t_bill = time.perf_counter() - t1

    live = Bill.objects.filter(period=period).exclude(status=BillStatus.CANCELLED)
    totals = live.aggregate(n=Count("id"), kwh=Sum("kwh"), revenue=MoneySum("total", default=Decimal("0.00")))
    by_class = tuple(
        ClassLine(row["cls"], row["n"], _qty(row["kwh"]), row["revenue"])
        for row in live.values(cls=F("account__customer__customer_class"))
        .annotate(n=Count("id"), kwh=Sum("kwh"), revenue=MoneySum("total", default=Decimal("0.00")))
        .order_by("-revenue")
    )
    latest_batch = ImportBatch.objects.filter(kind="register").order_by("-created_at", "-id").first()
    exc = ReadingException.objects.filter(import_batch=latest_batch)
    exceptions = tuple(
        (row["check_code"], row["severity"], row["n"], row["open"])
        for row in exc.values("check_code", "severity")
        .annotate(n=Count("id"), open=Count("id", filter=Q(resolved=False)))
        .order_by("-n", "check_code")
    )
    held_reasons = tuple(
        (row["hold_reason"] or "-", row["n"])
        for row in live.filter(status=BillStatus.HELD)
        .values("hold_reason")
        .annotate(n=Count("id"))
        .order_by("-n")[:10]
    )
    timings = dict(living.timings)
    timings["billing run"] = t_bill
    timings["total"] = time.perf_counter() - t0
    return DemoReport(
        period=period,
        county=county,
        run=run,
        history_periods=history.periods,
        prepaid_accounts=living.prepaid_accounts,
        outlets=living.outlets.outlets,
        candidate_sites=living.outlets.candidates,
        payments=payments.payments,
        payments_amount=payments.amount,
        bills=totals["n"],
        issued=issued.issued,
        held=live.filter(status=BillStatus.HELD).count(),
        kwh=_qty(totals["kwh"]),
        revenue=totals["revenue"],
        by_class=by_class,
        exceptions_by_check=exceptions,
        held_reasons=held_reasons,
        timings=timings,
    )


def create_demo_logins(*, password: str) -> list[DemoLogin]:
    """One login per role on the demo company (see ``access.operations.create_demo_users``)."""
    return create_demo_users(password=password)


def _qty(x: object) -> Decimal:
    if x is None:
        return Decimal("0.0000")
    return Decimal(str(x)).quantize(Decimal("0.0001"))
