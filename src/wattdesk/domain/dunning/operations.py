"""Writes for dunning orders (the nightly actions and messages are written in bulk by the use case)."""

from __future__ import annotations

from django.db.models import QuerySet

from wattdesk.domain.dunning.models import DisconnectionOrder, OrderStatus


class OrderNotCancellable(ValueError):
    """Only a planned or notified order can be cancelled."""


def cancel_order(*, order: DisconnectionOrder, reason: str) -> DisconnectionOrder:
    if order.status not in (OrderStatus.PLANNED, OrderStatus.NOTIFIED):
        raise OrderNotCancellable(
            f"order {order.pk} is {order.status}: only planned or notified orders can be cancelled"
        )
    order.status = OrderStatus.CANCELLED
    order.cancel_reason = reason[:300]
    order.save(update_fields=["status", "cancel_reason"])
    return order


def cancel_open(*, orders: QuerySet[DisconnectionOrder], reason: str) -> int:
    return orders.filter(status__in=[OrderStatus.PLANNED, OrderStatus.NOTIFIED]).update(
        status=OrderStatus.CANCELLED, cancel_reason=reason[:300]
    )
