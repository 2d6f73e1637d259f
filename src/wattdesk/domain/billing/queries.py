"""Reads on bills."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db.models import QuerySet

from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import ServicePoint


def live_bill(*, account_id: int, period: str) -> Bill | None:
    """The bill of an account for a period that is not cancelled (there is at most one), or None."""
    return (
        Bill.objects.filter(account_id=account_id, period=period).exclude(status=BillStatus.CANCELLED).first()
    )


def bill_history(*, account_id: int, period: str) -> QuerySet[Bill]:
    """All versions of an account's bill for a period, oldest first (cancelled ones included)."""
    return Bill.objects.filter(account_id=account_id, period=period).order_by("version")


def bills_in_period(*, period: str, status: BillStatus | str | None = None) -> QuerySet[Bill]:
    qs = Bill.objects.filter(period=period)
    if status is not None:
        qs = qs.filter(status=status)
    return qs.order_by("account_id")


def latest_billed_period(bills: QuerySet[Bill] | None = None) -> str | None:
    """The latest period that has a live (not cancelled) bill among ``bills`` (default: every bill), or None.
    Pages that show one period open on it: the previous calendar month may not be billed yet (or at all)."""
    qs = Bill.objects.all() if bills is None else bills
    return (
        qs.exclude(status=BillStatus.CANCELLED).order_by("-period").values_list("period", flat=True).first()
    )


def live_bills_covering(*, service_point_days: Iterable[tuple[int, date]]) -> dict[tuple[int, date], Bill]:
    """For each (service point, date): the live bill of the service point's account whose period [start, end)
    holds that date — the bill a reading of that date was (or is being) billed on."""
    pairs = set(service_point_days)
    if not pairs:
        return {}
    sp_account = dict(
        ServicePoint.objects.filter(pk__in={sp for sp, _ in pairs}).values_list("pk", "account_id")
    )
    days = [d for _, d in pairs]
    bills = list(
        Bill.objects.filter(account_id__in=set(sp_account.values()), start__lte=max(days), end__gt=min(days))
        .exclude(status=BillStatus.CANCELLED)
        .order_by("account_id", "start")
    )
    out: dict[tuple[int, date], Bill] = {}
    for sp, d in pairs:
        for bill in bills:
            if bill.account_id == sp_account.get(sp) and bill.start <= d < bill.end:
                out[(sp, d)] = bill
                break
    return out
