"""Reads on bills."""

from __future__ import annotations

from django.db.models import QuerySet

from wattdesk.domain.billing.models import Bill, BillStatus


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
    return qs.exclude(status=BillStatus.CANCELLED).order_by("-period").values_list("period", flat=True).first()
