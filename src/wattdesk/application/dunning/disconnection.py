"""Use cases: disconnection and restore orders (停电 / 复电工单) after the nightly dunning created them.

* ``approve_order``: a supervisor (``dunning.approve``) approves a *notified* disconnection whose notice period
  has elapsed (``planned_at`` reached); never for a protected or vulnerable customer. The order stays
  ``notified`` with ``approved_at`` / ``approved_by`` set, so the nightly pass still cancels it when the
  account pays or becomes protected.
* ``execute_order``: the field crew (``dunning.execute``) records that the supply was cut (or restored), with a
  note. A disconnection is re-checked at that moment with ``core.disconnection.execution_refusal``: approved,
  the account still owes (ledger balance > 0), the customer is not protected / vulnerable, not at night, not
  on a public holiday (chinese_calendar + config/holidays-local.yaml; a year it does not know is refused). Refused with the reason otherwise; nothing is written.
  A restore (created by ``application.dunning.request_restores`` once the account owes nothing) is executed
  whenever it is planned: restore promptly, day or night.
* ``cancel_order``: ``application.dunning.cancel_disconnection`` (a reason, audited), re-exported here.

Execution is recorded, not sent: a remote disconnect through the AMI head-end is fee control's (prepaid
accounts, ``application.fee_control``); for post-paid accounts WattDesk does not know which meters can be
switched remotely, so the crew's record is the execution.

Every step is audited (``dunning.approve`` / ``dunning.execute``). The caller passes ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from wattdesk.application.dunning.nightly import (
    OrderCancelRefused,
    cancel_disconnection,
    load_policy,
)
from wattdesk.application.errors import InputError
from wattdesk.application.tariffs.reference_data import load_holidays
from wattdesk.core import disconnection as rules
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, has_capability
from wattdesk.domain.customers.models import Account, Customer
from wattdesk.domain.dunning.models import DisconnectionOrder, OrderKind, OrderStatus
from wattdesk.domain.ledger.queries import balance

MAX_NOTE = 300
#: the page / API filter: the stored statuses plus "approved" (= notified and approved) and "awaiting"
#: (= notified, not approved yet)
FILTER_STATUSES = ("planned", "awaiting", "approved", "notified", "executed", "cancelled")


class OrderRefused(InputError):
    """The order cannot be approved / executed now; the message says why."""


class OrderNotFound(InputError):
    """No such order in the user's scope."""


def orders_for(
    *, user: Any, kind: str = "", status: str = "", account: str = ""
) -> QuerySet[DisconnectionOrder]:
    """Orders of accounts in the user's scope, filtered; an unknown kind or status is an InputError."""
    qs = DisconnectionOrder.objects.filter(account__in=accounts_for(user)).select_related(
        "account__customer", "approved_by", "executed_by"
    )
    if kind:
        if kind not in OrderKind.values:
            raise InputError(f"kind must be one of {', '.join(OrderKind.values)}, got {kind!r}")
        qs = qs.filter(kind=kind)
    if status:
        if status not in FILTER_STATUSES:
            raise InputError(f"status must be one of {', '.join(FILTER_STATUSES)}, got {status!r}")
        if status == "approved":
            qs = qs.filter(status=OrderStatus.NOTIFIED, approved_at__isnull=False)
        elif status == "awaiting":
            qs = qs.filter(status=OrderStatus.NOTIFIED, approved_at__isnull=True)
        else:
            qs = qs.filter(status=status)
    if account:
        qs = qs.filter(account__number=account.strip())
    return qs.order_by("-planned_at", "-id")


def _protected(customer: Customer) -> bool:
    pp = customer.payment_profile if isinstance(customer.payment_profile, dict) else {}
    return bool(customer.protected or pp.get("vulnerable"))


def _locked(order_id: int, user: Any) -> DisconnectionOrder:
    order = (
        DisconnectionOrder.objects.select_for_update(of=("self",))
        .filter(pk=order_id, account__in=accounts_for(user))
        .select_related("account__customer")
        .first()
    )
    if order is None:
        raise OrderNotFound(f"no disconnection order {order_id}")
    return order


def approve_order(*, order_id: int, user: Any, now: datetime) -> DisconnectionOrder:
    if not has_capability(user, roles.DUNNING_APPROVE):
        raise OrderRefused("approving a disconnection needs the dunning.approve capability")
    with transaction.atomic():
        order = _locked(order_id, user)
        why = rules.approval_refusal(
            kind=order.kind,
            status=order.status,
            approved=order.approved_at is not None,
            planned_at=order.planned_at,
            at=now,
            protected=_protected(order.account.customer),
        )
        if why:
            raise OrderRefused(f"order {order.pk}: {why}")
        DisconnectionOrder.objects.filter(pk=order.pk).update(approved_at=now, approved_by=user)
        audit.record_batch(
            actor=user,
            action="dunning.approve",
            object_repr=f"disconnection order {order.pk} account {order.account.number}",
            object_pk=order.pk,
            changes={"approved_at": (None, now.isoformat()), "amount": str(order.amount)},
        )
        order.refresh_from_db()
    return order


@dataclass(frozen=True)
class Execution:
    order: DisconnectionOrder
    owed: Decimal  # the account's ledger balance when the execution was recorded


def execute_order(*, order_id: int, user: Any, now: datetime, note: str = "") -> Execution:
    if not has_capability(user, roles.DUNNING_EXECUTE):
        raise OrderRefused("recording an execution needs the dunning.execute capability")
    if now.tzinfo is None:
        raise InputError("now must be timezone-aware")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise OrderRefused(f"the note is longer than {MAX_NOTE} characters")
    with transaction.atomic():
        # Lock the account first, as post_payment does: a payment committing meanwhile either is seen in the
        # balance below or waits and then finds the order executed (and asks for the restore).
        account_id = (
            DisconnectionOrder.objects.filter(pk=order_id).values_list("account_id", flat=True).first()
        )
        if account_id is not None:
            Account.objects.select_for_update().filter(pk=account_id).first()
        order = _locked(order_id, user)
        owed = balance(account_id=order.account_id)
        why = rules.execution_refusal(
            kind=order.kind,
            status=order.status,
            approved=order.approved_at is not None,
            owed=owed,
            protected=_protected(order.account.customer),
            at=timezone.localtime(now),
            policy=load_policy(),
            holidays=load_holidays().holidays,
            holiday_years=load_holidays().years,
        )
        if why:
            raise OrderRefused(f"order {order.pk}: {why}")
        before = order.status
        DisconnectionOrder.objects.filter(pk=order.pk).update(
            status=OrderStatus.EXECUTED, executed_at=now, executed_by=user, execution_note=note
        )
        audit.record_batch(
            actor=user,
            action="dunning.execute",
            object_repr=f"{order.kind} order {order.pk} account {order.account.number}",
            object_pk=order.pk,
            changes={
                "status": (before, OrderStatus.EXECUTED),
                "kind": order.kind,
                "balance": str(owed),
                "note": note,
            },
        )
        order.refresh_from_db()
    return Execution(order, owed)


def cancel_order(*, order_id: int, reason: str, user: Any) -> DisconnectionOrder:
    """Cancel a planned / notified disconnection (``dunning.manage``; a reason; audited)."""
    if not has_capability(user, roles.DUNNING_MANAGE):
        raise OrderRefused("cancelling a disconnection needs the dunning.manage capability")
    try:
        return cancel_disconnection(order_id=order_id, reason=reason, user=user, accounts=accounts_for(user))
    except OrderCancelRefused as exc:
        if str(exc).startswith("no disconnection order"):
            raise OrderNotFound(str(exc)) from exc
        raise OrderRefused(str(exc)) from exc


def display_status(order: DisconnectionOrder) -> str:
    """The status a person reads: notified orders are "awaiting" approval or "approved"."""
    if order.status == OrderStatus.NOTIFIED:
        return "approved" if order.approved_at is not None else "awaiting"
    return str(order.status)


__all__ = [
    "FILTER_STATUSES",
    "Execution",
    "OrderNotFound",
    "OrderRefused",
    "approve_order",
    "cancel_order",
    "display_status",
    "execute_order",
    "orders_for",
]
