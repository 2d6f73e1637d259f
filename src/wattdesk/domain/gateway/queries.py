"""Reads on gateway orders and mobile payments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet

from wattdesk.domain.customers.models import Account
from wattdesk.domain.gateway.models import PaymentOrder
from wattdesk.domain.payments.models import Payment, PaymentChannel, PaymentStatus

CHUNK = 500


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


def mobile_payments(*, txn_ids: list[str], day: date) -> dict[str, PostedTxn]:
    """Mobile-channel payments keyed by gateway transaction id: those received on ``day`` and those with the
    given ids (any day). Only posted payments: a reversed (冲正) one is not money WattDesk holds, so the
    gateway's line for it shows as a mismatch."""
    base = Payment.objects.filter(channel=PaymentChannel.MOBILE, status=PaymentStatus.POSTED)
    rows = list(base.filter(received_on=day).values_list("channel_txn_id", "amount", "received_on"))
    for i in range(0, len(txn_ids), CHUNK):  # bounded IN lists (SQLite variable limit)
        chunk = txn_ids[i : i + CHUNK]
        rows += base.filter(channel_txn_id__in=chunk).values_list("channel_txn_id", "amount", "received_on")
    found = sorted({r[0] for r in rows})
    orders: dict[str, str] = {}
    for i in range(0, len(found), CHUNK):
        chunk = found[i : i + CHUNK]
        orders.update(
            PaymentOrder.objects.filter(channel_txn_id__in=chunk).values_list("channel_txn_id", "order_no")
        )
    return {t: PostedTxn(t, orders.get(t, ""), a, d) for t, a, d in rows}
