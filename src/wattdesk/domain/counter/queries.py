"""Reads for the counter and the collectors: what an account owes, a day's takings, what a receipt settled.
(Which accounts a collector works on: ``domain.collection.queries``.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from wattdesk.core.allocation import OpenItem
from wattdesk.domain.counter.models import (
    CLOSED_STATUSES,
    CashClose,
    CashHandover,
    CloseStatus,
    PaymentMethod,
    Receipt,
)
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.domain.payments import queries as payment_queries
from wattdesk.domain.payments.models import PaymentAllocation, PaymentChannel, PaymentStatus

ZERO = Decimal("0.00")
COUNTER_CHANNELS = (PaymentChannel.COUNTER, PaymentChannel.PREPAID)


@dataclass(frozen=True)
class Due:
    items: tuple[OpenItem, ...]  # open bill charges and late fees, oldest first
    outstanding: Decimal  # sum of the items
    credit: Decimal  # unallocated payments (预存)
    due: Decimal  # outstanding - credit, never below 0


def due(*, account_id: int) -> Due:
    items = tuple(payment_queries.open_items([account_id]).get(account_id, []))
    outstanding = sum((i.outstanding for i in items), ZERO)
    credit = sum((c.remaining for c in payment_queries.credits([account_id]).get(account_id, [])), ZERO)
    return Due(items, outstanding, credit, max(outstanding - credit, ZERO))


def _posted_receipts(**filters: Any) -> QuerySet[Receipt]:
    return Receipt.objects.filter(payment__status=PaymentStatus.POSTED, **filters)


def counter_totals(*, cashier_id: int, outlet_code: str, business_date: date) -> dict[str, Decimal]:
    """The system's takings of one cashier at one outlet on one day, by method (reversed payments excluded)."""
    rows = (
        _posted_receipts(
            user_id=cashier_id,
            outlet_code=outlet_code,
            business_date=business_date,
            channel__in=COUNTER_CHANNELS,
        )
        .values("method")
        .annotate(s=MoneySum("amount"))
        .values_list("method", "s")
    )
    totals = dict.fromkeys(PaymentMethod.values, ZERO)
    totals.update({m: s for m, s in rows})
    return totals


@dataclass(frozen=True)
class TillExpectation:
    """What the till of one cashier at one outlet should hold on one day (the one definition of 应收现金)."""

    totals: dict[str, Decimal]  # the counter's takings by method
    handovers: list[CashHandover]  # collectors' cash received into this till (交款入柜)
    handover_cash: Decimal
    expected_cash: Decimal  # counter cash + handover cash


def expected_till(
    *, cashier_id: int, outlet_code: str, business_date: date, close: CashClose | None
) -> TillExpectation:
    """The system's side of the cash close: the counter takings by method, the hand-overs the close counts
    (:func:`handovers_for_close`) and the cash expected in the till = counter cash + handed-over cash. The
    cashier page, the close and the supervisor's approval all read it here."""
    totals = counter_totals(cashier_id=cashier_id, outlet_code=outlet_code, business_date=business_date)
    handovers = list(
        handovers_for_close(
            cashier_id=cashier_id, outlet_code=outlet_code, business_date=business_date, close=close
        )
    )
    handover_cash = sum((h.handed_over for h in handovers), ZERO)
    return TillExpectation(totals, handovers, handover_cash, totals[PaymentMethod.CASH] + handover_cash)


def receipts_of_day(*, user_id: int, business_date: date, channels: Sequence[str]) -> QuerySet[Receipt]:
    return (
        Receipt.objects.filter(user_id=user_id, business_date=business_date, channel__in=list(channels))
        .select_related("account", "payment")
        .order_by("seq", "id")
    )


def day_closed(*, cashier_id: int, business_date: date) -> bool:
    return CashClose.objects.filter(
        cashier_id=cashier_id, business_date=business_date, status__in=CLOSED_STATUSES
    ).exists()


def cash_close(*, cashier_id: int, outlet_code: str, business_date: date) -> CashClose | None:
    return CashClose.objects.filter(
        cashier_id=cashier_id, outlet_code=outlet_code, business_date=business_date
    ).first()


def collected(*, collector_id: int, business_date: date) -> tuple[Decimal, int]:
    """Cash a collector took on a day (posted payments) and the number of receipts."""
    qs = _posted_receipts(user_id=collector_id, business_date=business_date, channel=PaymentChannel.COLLECTOR)
    agg = qs.aggregate(s=MoneySum("amount", default=ZERO))
    return agg["s"], qs.count()


def handover(*, collector_id: int, business_date: date) -> CashHandover | None:
    return CashHandover.objects.filter(collector_id=collector_id, business_date=business_date).first()


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of ``day`` in the configured time zone."""
    tz = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def handovers_for_close(
    *, cashier_id: int, outlet_code: str, business_date: date, close: CashClose | None = None
) -> QuerySet[CashHandover]:
    """The collectors' hand-overs that the cashier's close at ``outlet_code`` on ``business_date`` counts into the
    till: received by the cashier that day (``handed_at``) at that outlet or at no named outlet, and not
    counted by another close. For a close that is done: the hand-overs it counted."""
    if close is not None and close.status in CLOSED_STATUSES:
        return (
            CashHandover.objects.filter(cash_close=close)
            .select_related("collector")
            .order_by("handed_at", "id")
        )
    start, end = _day_bounds(business_date)
    counted_elsewhere = Q(cash_close__isnull=True)
    if close is not None:
        counted_elsewhere |= Q(cash_close=close)
    return (
        CashHandover.objects.filter(
            received_by_id=cashier_id,
            handed_at__gte=start,
            handed_at__lt=end,
            outlet_code__in=[outlet_code, ""],
        )
        .filter(counted_elsewhere)
        .select_related("collector")
        .order_by("handed_at", "id")
    )


@dataclass(frozen=True)
class SettledPeriod:
    """What one receipt's payment settled of one bill (period): its charge and its late fees (违约金)."""

    period: str
    charge: Decimal
    late_fee: Decimal

    @property
    def total(self) -> Decimal:
        return self.charge + self.late_fee


@dataclass(frozen=True)
class ReceiptDetails:
    settled: tuple[SettledPeriod, ...]  # oldest period first
    settled_total: Decimal
    late_fees: Decimal  # the late fees among them
    credit: Decimal  # the part of the payment left as a credit (预存) on the day
    balance_after: Decimal  # the account's ledger balance just after the payment (< 0: credit)

    @property
    def credit_after(self) -> Decimal:
        """The account's credit (预存) after the payment: the negative balance, shown positive."""
        return -self.balance_after if self.balance_after < 0 else ZERO


def receipt_details(*, receipt: Receipt) -> ReceiptDetails:
    """What a receipt prints besides the payment itself, the same at every reprint: the periods and late fees its
    payment settled on its own day (its allocations dated ``received_on``; the credit a payment leaves is applied
    to later bills on later days, which the receipt does not claim), and the account's ledger balance after the
    payment (entries up to and including the payment's own; the ledger is append-only and postings of one
    account are serialized on the account row, so this does not change later)."""
    payment = receipt.payment
    settled: dict[str, dict[str, Decimal]] = {}
    for period, kind, amount in (
        PaymentAllocation.objects.filter(payment_id=payment.pk, allocated_on=payment.received_on)
        .order_by("ledger_entry__bill__period", "id")
        .values_list("ledger_entry__bill__period", "kind", "amount")
    ):
        row = settled.setdefault(period or "", {"charge": ZERO, "late_fee": ZERO})
        row["late_fee" if kind == LedgerEntryKind.LATE_FEE else "charge"] += amount
    lines = tuple(SettledPeriod(p, v["charge"], v["late_fee"]) for p, v in sorted(settled.items()))
    total = sum((line.total for line in lines), ZERO)
    balance_after = LedgerEntry.objects.filter(
        account_id=payment.account_id, pk__lte=payment.ledger_entry_id
    ).aggregate(s=MoneySum("amount", default=ZERO))["s"]
    return ReceiptDetails(
        settled=lines,
        settled_total=total,
        late_fees=sum((line.late_fee for line in lines), ZERO),
        credit=max(payment.amount - total, ZERO),
        balance_after=balance_after,
    )


def pending_closes() -> QuerySet[CashClose]:
    """Cash closes with a discrepancy waiting for approval (日结审核), oldest day first."""
    return (
        CashClose.objects.filter(status=CloseStatus.PENDING)
        .select_related("cashier")
        .order_by("business_date", "outlet_code", "cashier_id")
    )


def approved_closes(*, limit: int = 20) -> QuerySet[CashClose]:
    """The latest approved cash closes, most recent approval first."""
    return (
        CashClose.objects.filter(status=CloseStatus.APPROVED)
        .select_related("cashier", "approved_by")
        .order_by("-approved_at")[:limit]
    )
