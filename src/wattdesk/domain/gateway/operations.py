"""Writes on gateway orders. Callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from wattdesk.core.text import log_text
from wattdesk.domain.gateway.models import (
    CallbackLog,
    CallbackNonce,
    OrderStatus,
    PaymentOrder,
)


def create_order(
    *, order_no: str, account_id: int, amount: Decimal, created_at: datetime, customer_user: Any
) -> PaymentOrder:
    return PaymentOrder.objects.create(
        order_no=order_no,
        account_id=account_id,
        amount=amount,
        created_at=created_at,
        customer_user=customer_user if getattr(customer_user, "pk", None) is not None else None,
    )


def claim_paid(*, order_id: int, txn_id: str, paid_at: datetime) -> bool:
    """Move the order to ``paid`` unless it already is: a conditional UPDATE, so of concurrent callers exactly
    one gets True (on PostgreSQL the losers wait on the row lock, then see status = paid; SQLite serialises
    writers)."""
    updated = (
        PaymentOrder.objects.filter(pk=order_id)
        .exclude(status=OrderStatus.PAID)
        .update(status=OrderStatus.PAID, channel_txn_id=txn_id, paid_at=paid_at)
    )
    return updated == 1


def mark_failed(*, order_id: int) -> bool:
    return (
        PaymentOrder.objects.filter(pk=order_id, status=OrderStatus.CREATED).update(status=OrderStatus.FAILED)
        == 1
    )


def expire_created(*, before: datetime) -> int:
    """Orders still ``created`` that were created before ``before`` become ``expired`` (a late paid callback
    still posts: money the gateway took is never refused)."""
    return PaymentOrder.objects.filter(status=OrderStatus.CREATED, created_at__lt=before).update(
        status=OrderStatus.EXPIRED
    )


def remember_nonce(*, nonce: str, body_sha256: str, seen_at: datetime) -> bool:
    """Record a callback message's nonce. False if the nonce was already used for a *different* body (a
    replay); True for a new nonce or a re-delivery of the very same message."""
    try:
        with transaction.atomic():  # savepoint: a concurrent first delivery makes this insert fail
            CallbackNonce.objects.create(nonce=nonce, body_sha256=body_sha256, first_seen_at=seen_at)
        return True
    except IntegrityError:
        seen = CallbackNonce.objects.filter(nonce=nonce).values_list("body_sha256", flat=True).first()
        return seen == body_sha256


def log_callback(
    *,
    received_at: datetime,
    order_no: str,
    txn_id: str,
    signature_ok: bool,
    outcome: str,
    http_status: int,
    detail: str,
    body: bytes,
) -> CallbackLog:
    return CallbackLog.objects.create(
        received_at=received_at,
        order_no=order_no[:64],
        txn_id=txn_id[:64],
        signature_ok=signature_ok,
        outcome=outcome,
        http_status=http_status,
        detail=detail[:300],
        body=log_text(body[:20000]),
    )
