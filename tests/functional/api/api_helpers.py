"""Objects a role can see, for building request URLs and bodies in the API tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from wattdesk.domain.access.queries import accounts_for, bills_for, customers_for, meters_for
from wattdesk.domain.metering.models import ReadingSource, RegisterReading


def user_of(company: Any, role: str) -> Any:
    return get_user_model().objects.get(username=company.logins[role].username)


def valid_reading(user: Any) -> dict[str, str]:
    """A reading the import accepts: an installed meter's active_total register, the day after its latest
    actual reading (never after today), a value above the latest one."""
    latest = (
        RegisterReading.objects.filter(
            register__meter__in=meters_for(user).values("pk"),
            register__meter__interval=False,
            register__meter__installations__removed_on__isnull=True,
            register__kind="active_total",
            source=ReadingSource.ACTUAL,
        )
        .select_related("register__meter")
        .order_by("-read_on", "register__meter__serial")
        .first()
    )
    assert latest is not None
    read_on = min(latest.read_on + timedelta(days=1), timezone.localdate())
    assert read_on > latest.read_on, "the synthetic company's readings must end before today"
    return {
        "meter_serial": latest.register.meter.serial,
        "register": "active_total",
        "read_on": read_on.isoformat(),
        "value": str(latest.value + Decimal("12.5")),
    }


def payment_of(user: Any, txn: str) -> str:
    """The id of a payment posted (through the use case) to the first account the user can see; "0" when the
    user sees no account."""
    from wattdesk.application.payments.posting import post_payment

    account = accounts_for(user).order_by("number").first()
    if account is None:
        return "0"
    posted = post_payment(
        account_number=account.number,
        amount="2.00",
        channel="counter",
        channel_txn_id=txn,
        received_at=timezone.now(),
    )
    return str(posted.payment_id)


def visible(user: Any) -> dict[str, str]:
    """URL parts for one object of each kind the user can see ("-" where the scope is empty)."""
    account = accounts_for(user).order_by("number").first()
    customer = customers_for(user).order_by("number").first()
    meter = meters_for(user).order_by("serial").first()
    bill = bills_for(user).order_by("id").first()
    return {
        "account": account.number if account else "-",
        "customer": customer.number if customer else "-",
        "meter": meter.serial if meter else "-",
        "bill": str(bill.pk) if bill else "0",
    }
