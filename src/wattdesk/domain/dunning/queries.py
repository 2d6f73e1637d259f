"""Reads for dunning: the history of actions per debt, today's actions, the outbox, open orders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from django.db.models import Count, QuerySet

from wattdesk.domain.dunning.models import (
    DisconnectionOrder,
    DunningAction,
    OrderKind,
    OrderStatus,
    OutboxMessage,
)
from wattdesk.domain.ledger.queries import id_list

CHUNK = 5000


def history(account_ids: Sequence[int]) -> dict[tuple[int, int], list[DunningAction]]:
    """Every action taken so far, by (account id, bill id)."""
    out: dict[tuple[int, int], list[DunningAction]] = defaultdict(list)
    ids = sorted(set(account_ids))
    for i in range(0, len(ids), CHUNK):
        for a in DunningAction.objects.filter(account_id__in=id_list(ids[i : i + CHUNK])).only(
            "account_id", "bill_id", "kind", "step", "day", "planned_at"
        ):
            out[(a.account_id, a.bill_id)].append(a)
    return dict(out)


def actions_on(*, day: date, accounts: QuerySet | None = None) -> QuerySet[DunningAction]:  # type: ignore[type-arg]
    qs = DunningAction.objects.filter(day=day).select_related("account", "bill", "message")
    if accounts is not None:
        qs = qs.filter(account__in=accounts)
    return qs.order_by("kind", "account__number")


def open_orders(*, kind: str = OrderKind.DISCONNECT) -> QuerySet[DisconnectionOrder]:
    return DisconnectionOrder.objects.filter(
        kind=kind, status__in=[OrderStatus.PLANNED, OrderStatus.NOTIFIED]
    )


def orders(*, accounts: QuerySet | None = None) -> QuerySet[DisconnectionOrder]:  # type: ignore[type-arg]
    qs = DisconnectionOrder.objects.select_related("account")
    if accounts is not None:
        qs = qs.filter(account__in=accounts)
    return qs.order_by("-planned_at", "-id")


def outbox_status_counts(*, accounts: QuerySet | None = None) -> dict[tuple[str, str], int]:  # type: ignore[type-arg]
    """(channel, status) -> number of messages."""
    qs = OutboxMessage.objects.all()
    if accounts is not None:
        qs = qs.filter(action__account__in=accounts)
    return {
        (r["channel"], r["status"]): r["n"]
        for r in qs.values("channel", "status").annotate(n=Count("id")).order_by()
    }
