"""Reads for dunning: the history of actions per debt, today's actions, the outbox, open orders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple

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


class PastAction(NamedTuple):
    """An action already taken (what ``core.dunning.decide`` needs of it), read as a plain row."""

    account_id: int
    bill_id: int
    kind: str
    step: str
    day: date
    planned_at: datetime | None


def history(account_ids: Sequence[int]) -> dict[tuple[int, int], list[PastAction]]:
    """Every action taken so far, by (account id, bill id) (rows, not model instances: the nightly pass reads
    the history of every account in arrears)."""
    out: dict[tuple[int, int], list[PastAction]] = defaultdict(list)
    ids = sorted(set(account_ids))
    for i in range(0, len(ids), CHUNK):
        rows = DunningAction.objects.filter(account_id__in=id_list(ids[i : i + CHUNK])).values_list(
            "account_id", "bill_id", "kind", "step", "day", "planned_at"
        )
        for row in rows:
            a = PastAction(*row)
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
