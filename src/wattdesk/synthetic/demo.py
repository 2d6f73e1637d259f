"""Use case: the demo — a synthetic county with a year of bills and payments, the billing cycle of its latest
month, and a report.

Order: generate the county and its payment outlets; bill and issue the months before the latest one; pay
them by each customer's payment behaviour (punctual / late / chronic arrears, preferred channel) with late
fees; then run the latest month's billing cycle, whose hold check now compares with a year of history.

The report's numbers are read back from the database after the run (bills, their customers' classes,
reading exceptions), not taken from the generator's or the billing run's own counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from wattdesk.application.billing.run import RunResult, add_months, period_str, run_billing
from wattdesk.application.metering.estimation import estimate_period
from wattdesk.domain.access.operations import DemoLogin, create_demo_users
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.metering.models import ImportBatch, ReadingException
from wattdesk.synthetic import CountySummary, Progress, generate_county
from wattdesk.synthetic.outlets import seed_outlets
from wattdesk.synthetic.payments import bill_history, generate_payment_history


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
    payments: int
    payments_amount: Decimal
    bills: int  # live bills of the period (draft, held or issued)
    held: int
    kwh: Decimal
    revenue: Decimal
    by_class: tuple[ClassLine, ...]
    exceptions_by_check: tuple[tuple[str, str, int, int], ...]  # (check, severity, found, still open)
    held_reasons: tuple[tuple[str, int], ...]
    timings: dict[str, float]


def period_of(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


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
    """Generate the county, bill `end_month`, and report from the database."""
    report = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()
    county = generate_county(
        accounts=accounts,
        months=months,
        seed=seed,
        end_month=end_month,
        interval_share=interval_share,
        progress=progress,
    )
    t_synth = time.perf_counter() - t0
    period = period_of(end_month)
    seed_outlets(seed=seed)

    t_hist = time.perf_counter()
    history = bill_history(
        months=max(months - 1, 1),
        end_period=period_str(add_months(end_month.replace(day=1), -1)),
        progress=progress,
    )
    t_hist = time.perf_counter() - t_hist
    t_pay = time.perf_counter()
    payments = generate_payment_history(seed=seed, through=run_at.date(), progress=progress)
    t_pay = time.perf_counter() - t_pay

    def billing_progress(done: int, total: int) -> None:
        report("billing", done, total)

    t1 = time.perf_counter()
    estimate_period(period=period)  # 估抄: missing reads are estimated and billed, not skipped
    run = run_billing(period=period, run_at=run_at, progress=billing_progress, clock=clock)
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
    timings = {f"synth: {k}": v for k, v in county.timings.items()}
    timings["synth"] = t_synth
    timings["bill history"] = t_hist
    timings["payment history"] = t_pay
    timings["billing run"] = t_bill
    timings["total"] = time.perf_counter() - t0
    return DemoReport(
        period=period,
        county=county,
        run=run,
        history_periods=history.periods,
        payments=payments.payments,
        payments_amount=payments.amount,
        bills=totals["n"],
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
