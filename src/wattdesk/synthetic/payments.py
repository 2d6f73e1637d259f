"""Use case: a year of synthetic payment behaviour for the demo county (缴费行为模拟).

``bill_history(months=)`` bills and issues the months before the latest billed one (the demo bills only its
latest month), so that there is a year of bills to pay.

``generate_payment_history(seed=, through=)`` pays the issued bills according to each customer's
``payment_profile`` (set by the synth: punctuality punctual | late | chronic, channel mobile | counter | bank |
collector, risk):

* punctual: the whole bill, 0-12 days before the due date (never before the day after issue);
* late: the whole bill, 5-40 days after the due date;
* chronic: per bill, nothing (45 %), 30-80 % of it 10-60 days late (30 %), or the whole bill 10-60 days late;

through the customer's preferred channel, received on or before ``through``. Payments are written IN BULK
(Payment + its ledger entry + PaymentAllocation rows) inside one transaction, allocated with the same core
(``core.allocation.allocate``, ``DEFAULT_POLICY``) and in the same way as ``post_payment`` + the nightly
``apply_credits`` would have at the time: events in time order; each payment allocates every credit of the
account (oldest payment first) to the charges posted by then, ``allocated_on`` = that payment's day; a charge
posted while the account holds credit takes it the same day (the nightly pass). Accounts that already have a
payment are left alone (their ledger is real), and transaction ids are ``SYN<seed>-<bill id>`` so a re-run
posts nothing. Late fees are then accrued once for ``through`` (``accrue_late_fees``).

Collectors: every user of the collector role with a StaffScope gets a ``CollectorAssignment`` per scope
route (a year back from ``through``); some visits to the late and chronic accounts of those routes and a few
complaints are written.
"""

from __future__ import annotations

import random
import time as _time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from wattdesk.application.billing.review import issue_bills
from wattdesk.application.billing.run import run_billing
from wattdesk.application.errors import InputError
from wattdesk.core.allocation import DEFAULT_POLICY, OpenItem, allocate
from wattdesk.core.money import round_fen
from wattdesk.core.period import Period
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.collection.models import CollectorAssignment, Complaint, Visit
from wattdesk.domain.customers.models import Account, ServicePoint
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.domain.ledger.operations import Posting, post_entries
from wattdesk.domain.payments.models import Payment, PaymentAllocation

if TYPE_CHECKING:
    from wattdesk.synthetic.county import Progress

ZERO = Decimal("0.00")
CHANNELS = ("mobile", "counter", "bank", "collector")
BATCH = 2000
PAYMENT_STEPS = 4  # plan, write, late fees, collectors: the steps of generate_payment_history's progress


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


# --- bill history --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryResult:
    periods: tuple[str, ...]
    billed: int
    issued: int
    elapsed_s: float


def bill_history(
    *,
    months: int,
    end_period: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> HistoryResult:
    """Bill (resumable ``run_billing``) and issue the ``months`` periods ending with ``end_period`` (default:
    the latest period that has bills). A period is billed at 08:00 on the first day of the next month and
    issued on the 3rd; periods without readings simply bill nobody. ``progress("bill history", done, total)``
    is told after each period."""
    if months < 1:
        raise InputError("months must be at least 1")
    t0 = _time.perf_counter()
    latest = end_period or Bill.objects.order_by("-period").values_list("period", flat=True).first()
    if latest is None:
        raise InputError("no bills yet: run the billing of the latest month first (wattdesk demo)")
    periods = tuple(str(p) for p in Period.parse(latest).back(months))
    billed = issued = 0
    tz = _tz()
    report = progress or (lambda stage, done, total: None)
    report("bill history", 0, len(periods))
    for n, period in enumerate(periods, start=1):
        nxt = Period.parse(period).end
        run = run_billing(period=period, run_at=datetime.combine(nxt, time(8), tzinfo=tz), workers=workers)
        billed += run.billed
        issue_day = nxt + timedelta(days=2)
        res = issue_bills(  # the synthetic county's own history: no acting user
            period=period,
            user=None,
            issued_at=datetime.combine(issue_day, time(9), tzinfo=tz),
            issued_on=issue_day,
        )
        issued += res.issued
        report("bill history", n, len(periods))
    return HistoryResult(periods, billed, issued, _time.perf_counter() - t0)


# --- payment plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    entry_id: int
    account_id: int
    bill_id: int
    period: str
    amount: Decimal
    due_on: date
    posted_at: datetime
    issued_on: date


@dataclass(frozen=True)
class PlannedPayment:
    account_id: int
    bill_id: int
    amount: Decimal
    channel: str
    received_at: datetime
    txn: str


def _charges(account_ids: list[int] | None = None) -> list[Charge]:
    qs = LedgerEntry.objects.filter(
        kind=LedgerEntryKind.CHARGE,
        bill__status=BillStatus.ISSUED,
        bill__due_on__isnull=False,
        reversed_by__isnull=True,
    )
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    tz = _tz()
    out = []
    for entry_id, acc, bill_id, period, amount, due_on, posted_at, issued_at in qs.order_by(
        "account_id", "bill__period", "id"
    ).values_list(
        "id",
        "account_id",
        "bill_id",
        "bill__period",
        "amount",
        "bill__due_on",
        "posted_at",
        "bill__issued_at",
    ):
        issued_on = (issued_at or posted_at).astimezone(tz).date()
        if due_on is None:  # pragma: no cover - filtered out above
            continue
        out.append(Charge(entry_id, acc, bill_id, period, amount, due_on, posted_at, issued_on))
    return out


def plan_payments(
    *, seed: int, through: date, charges: list[Charge], profiles: dict[int, dict[str, Any]]
) -> list[PlannedPayment]:
    """The payments the profiles make on the charges, deterministic for a seed (pure: no database)."""
    tz = _tz()
    out: list[PlannedPayment] = []
    for c in sorted(charges, key=lambda c: (c.account_id, c.period, c.entry_id)):
        rng = random.Random(f"{seed}:{c.bill_id}")
        profile = profiles.get(c.account_id, {})
        kind = profile.get("punctuality", "punctual")
        channel = profile.get("channel", "counter")
        if channel not in CHANNELS:
            channel = "counter"
        amount = c.amount
        if kind == "punctual":
            day = c.due_on - timedelta(days=rng.randint(0, 12))
        elif kind == "late":
            day = c.due_on + timedelta(days=rng.randint(5, 40))
        else:
            r = rng.random()
            if r < 0.45:
                continue
            day = c.due_on + timedelta(days=rng.randint(10, 60))
            if r < 0.75:
                amount = round_fen(c.amount * Decimal(rng.randint(30, 80)) / Decimal(100))
        day = max(day, c.issued_on + timedelta(days=1))
        received_at = datetime.combine(day, time(rng.randint(8, 20), rng.randint(0, 59)), tzinfo=tz)
        if day > through or received_at <= c.posted_at or amount <= 0:
            continue
        out.append(
            PlannedPayment(c.account_id, c.bill_id, amount, channel, received_at, f"SYN{seed}-{c.bill_id}")
        )
    return out


@dataclass
class _Credit:
    index: int  # into the payments list
    received_on: date
    remaining: Decimal


@dataclass
class AllocationRow:
    payment_index: int
    entry_id: int
    bill_id: int
    kind: str
    amount: Decimal
    allocated_on: date


def simulate_allocations(*, payments: list[PlannedPayment], charges: list[Charge]) -> list[AllocationRow]:
    """What post_payment (+ the nightly apply_credits) would have allocated, replayed in time order."""
    tz = _tz()
    by_account_p: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(payments):
        by_account_p[p.account_id].append(i)
    by_account_c: dict[int, list[Charge]] = defaultdict(list)
    for c in charges:
        by_account_c[c.account_id].append(c)
    rows: list[AllocationRow] = []
    for acc, idxs in by_account_p.items():
        events: list[tuple[datetime, int, int, Any]] = [
            (c.posted_at, 0, c.entry_id, c) for c in by_account_c[acc]
        ]
        events += [(payments[i].received_at, 1, i, i) for i in idxs]
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        open_: dict[int, OpenItem] = {}
        credits: list[_Credit] = []
        for at, what, _key, obj in events:
            if what == 0:
                c = obj
                open_[c.entry_id] = OpenItem(c.entry_id, c.bill_id, "charge", c.due_on, c.period, c.amount)
                day = at.astimezone(tz).date()
            else:
                p = payments[obj]
                day = p.received_at.astimezone(tz).date()
                credits.append(_Credit(obj, day, p.amount))
            for credit in credits:
                if not open_:
                    break
                if credit.remaining <= 0:
                    continue
                plan = allocate(
                    amount=credit.remaining, open_items=list(open_.values()), policy=DEFAULT_POLICY
                )
                for line in plan.lines:
                    rows.append(
                        AllocationRow(
                            credit.index,
                            line.item_id,
                            line.bill_id or 0,
                            line.kind,
                            line.amount,
                            max(day, credit.received_on),
                        )
                    )
                    item = open_[line.item_id]
                    left = item.outstanding - line.amount
                    if left > 0:
                        open_[line.item_id] = OpenItem(
                            item.item_id, item.bill_id, item.kind, item.due_on, item.period, left
                        )
                    else:
                        del open_[line.item_id]
                credit.remaining -= plan.allocated
            credits = [c for c in credits if c.remaining > 0]
    return rows


# --- the use case ------------------------------------------------------------------------------------------


@dataclass
class PaymentHistoryResult:
    payments: int = 0
    amount: Decimal = ZERO
    allocations: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    late_fee_bills: int = 0
    late_fee_total: Decimal = ZERO
    assignments: int = 0
    visits: int = 0
    complaints: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def generate_payment_history(
    *, seed: int, through: date, late_fees: bool = True, progress: Progress | None = None
) -> PaymentHistoryResult:
    """Pay the issued bills through ``through`` by profile, in bulk; assign collectors; visits; complaints.
    ``progress("payment history", step, PAYMENT_STEPS)`` is told after each step."""
    report = progress or (lambda stage, done, total: None)
    report("payment history", 0, PAYMENT_STEPS)
    result = PaymentHistoryResult()
    t0 = _time.perf_counter()
    paid_accounts = set(Payment.objects.values_list("account_id", flat=True).distinct())
    charges = [c for c in _charges() if c.account_id not in paid_accounts]
    account_ids = sorted({c.account_id for c in charges})
    profiles: dict[int, dict[str, Any]] = {}
    for i in range(0, len(account_ids), 5000):
        for acc, profile in Account.objects.filter(pk__in=account_ids[i : i + 5000]).values_list(
            "id", "customer__payment_profile"
        ):
            profiles[acc] = profile if isinstance(profile, dict) else {}
    payments = plan_payments(seed=seed, through=through, charges=charges, profiles=profiles)
    allocations = simulate_allocations(payments=payments, charges=charges)
    result.timings["plan"] = _time.perf_counter() - t0
    report("payment history", 1, PAYMENT_STEPS)
    t1 = _time.perf_counter()
    with transaction.atomic():
        entry_ids = post_entries(
            entries=[
                Posting(
                    p.account_id,
                    LedgerEntryKind.PAYMENT,
                    -p.amount,
                    p.received_at,
                    None,
                    f"{p.channel}:{p.txn}",
                )
                for p in payments
            ]
        )
        tz = _tz()
        rows = Payment.objects.bulk_create(
            [
                Payment(
                    account_id=p.account_id,
                    amount=p.amount,
                    channel=p.channel,
                    channel_txn_id=p.txn,
                    received_at=p.received_at,
                    received_on=p.received_at.astimezone(tz).date(),
                    memo="synthetic",
                    ledger_entry_id=entry_id,
                )
                for p, entry_id in zip(payments, entry_ids, strict=True)
            ],
            batch_size=BATCH,
        )
        PaymentAllocation.objects.bulk_create(
            [
                PaymentAllocation(
                    payment_id=rows[a.payment_index].pk,
                    bill_id=a.bill_id,
                    ledger_entry_id=a.entry_id,
                    kind=a.kind,
                    amount=a.amount,
                    allocated_on=a.allocated_on,
                )
                for a in allocations
            ],
            batch_size=BATCH,
        )
        result.payments = len(payments)
        result.amount = sum((p.amount for p in payments), ZERO)
        result.allocations = len(allocations)
        counts: dict[str, int] = defaultdict(int)
        for p in payments:
            counts[p.channel] += 1
        result.by_channel = dict(sorted(counts.items()))
        if payments:
            audit.record_batch(
                actor=None,
                action="synth.payments",
                object_repr=f"synthetic payments seed {seed} through {through}",
                changes={
                    "payments": result.payments,
                    "amount": str(result.amount),
                    "allocations": result.allocations,
                },
            )
    result.timings["write payments"] = _time.perf_counter() - t1
    report("payment history", 2, PAYMENT_STEPS)
    if late_fees:
        from wattdesk.application.ledger.late_fees import accrue_late_fees

        t2 = _time.perf_counter()
        accrual = accrue_late_fees(
            as_of=through, run_at=datetime.combine(through, time(23, 30), tzinfo=_tz())
        )
        result.late_fee_bills, result.late_fee_total = accrual.bills, accrual.total
        result.timings["late fees"] = _time.perf_counter() - t2
    report("payment history", 3, PAYMENT_STEPS)
    t3 = _time.perf_counter()
    _collectors(seed=seed, through=through, profiles=profiles, charges=charges, result=result)
    result.timings["collectors"] = _time.perf_counter() - t3
    report("payment history", PAYMENT_STEPS, PAYMENT_STEPS)
    return result


OUTCOMES = (("paid", 30), ("promised", 30), ("not_home", 25), ("refused", 10), ("disputed", 5))


def _collectors(
    *,
    seed: int,
    through: date,
    profiles: dict[int, dict[str, Any]],
    charges: list[Charge],
    result: PaymentHistoryResult,
) -> None:
    from django.contrib.auth import get_user_model

    users = list(
        get_user_model()
        .objects.filter(groups__name=roles.COLLECTOR, staff_scope__isnull=False)
        .order_by("username")
        .distinct()
    )
    start = through - timedelta(days=365)
    tz = _tz()
    rng = random.Random(f"{seed}:collectors")
    with transaction.atomic():
        for user in users:
            routes = list(user.staff_scope.routes.order_by("code"))
            for route in routes:
                _obj, created = CollectorAssignment.objects.get_or_create(
                    user=user, route=route, from_date=start
                )
                result.assignments += int(created)
            marker = f"synth:{seed}"
            if Visit.objects.filter(collector=user, note=marker).exists():
                continue
            on_routes = set(
                ServicePoint.objects.filter(route__in=routes).values_list("account_id", flat=True)
            )
            visits: list[Visit] = []
            complaints: list[Complaint] = []
            for c in charges:
                if c.account_id not in on_routes:
                    continue
                kind = profiles.get(c.account_id, {}).get("punctuality", "punctual")
                if kind == "punctual" or rng.random() > (0.6 if kind == "chronic" else 0.25):
                    continue
                day = c.due_on + timedelta(days=rng.randint(8, 25))
                if day > through:
                    continue
                outcome = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
                at = datetime.combine(day, time(rng.randint(9, 18), rng.randint(0, 59)), tzinfo=tz)
                visits.append(
                    Visit(
                        collector=user,
                        account_id=c.account_id,
                        visited_at=at,
                        outcome=outcome,
                        promised_on=day + timedelta(days=rng.randint(2, 10))
                        if outcome == "promised"
                        else None,
                        amount_collected=ZERO,
                        note=marker,
                    )
                )
                if outcome in ("refused", "disputed") and rng.random() < 0.15:
                    complaints.append(
                        Complaint(
                            account_id=c.account_id,
                            collector=user,
                            received_at=at + timedelta(days=1),
                            text="催费方式投诉（模拟）" if outcome == "refused" else "对电费有异议（模拟）",
                        )
                    )
            Visit.objects.bulk_create(visits, batch_size=BATCH)
            Complaint.objects.bulk_create(complaints, batch_size=BATCH)
            result.visits += len(visits)
            result.complaints += len(complaints)
        if result.visits or result.assignments:
            audit.record_batch(
                actor=None,
                action="synth.collection",
                object_repr=f"synthetic collection seed {seed}",
                changes={
                    "assignments": result.assignments,
                    "visits": result.visits,
                    "complaints": result.complaints,
                },
            )
