"""Reads on gateway orders and mobile payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet

from wattdesk.domain.customers.models import Account
from wattdesk.domain.gateway.models import PaymentOrder
from wattdesk.domain.payments.models import Payment, PaymentChannel


def order(*, order_no: str) -> PaymentOrder | None:
    return PaymentOrder.objects.filter(order_no=order_no).select_related("account").first()


def orders_of(*, accounts: QuerySet[Account]) -> QuerySet[PaymentOrder]:
    return PaymentOrder.objects.filter(account__in=accounts).select_related("account")


@dataclass(frozen=True)
class PostedTxn:
    txn_id: str
    order_no: str
    amount: Decimal
    received_on: date


def mobile_payments(*, txn_ids: list[str] | None = None, day: date | None = None) -> dict[str, PostedTxn]:
    """Mobile-channel payments keyed by gateway transaction id: those of ``day`` (received_on) and/or those
    with the given ids."""
    qs = Payment.objects.filter(channel=PaymentChannel.MOBILE)
    if day is not None and txn_ids is not None:
        from django.db.models import Q

        qs = qs.filter(Q(received_on=day) | Q(channel_txn_id__in=txn_ids))
    elif day is not None:
        qs = qs.filter(received_on=day)
    elif txn_ids is not None:
        qs = qs.filter(channel_txn_id__in=txn_ids)
    rows = list(qs.values_list("channel_txn_id", "amount", "received_on"))
    orders = dict(
        PaymentOrder.objects.filter(channel_txn_id__in=[r[0] for r in rows]).values_list(
            "channel_txn_id", "order_no"
        )
    )
    return {t: PostedTxn(t, orders.get(t, ""), a, d) for t, a, d in rows}
