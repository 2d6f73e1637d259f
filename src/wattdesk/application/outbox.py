"""Use case: dispatch the notification outbox (发送催费通知) and record delivery.

``dispatch_outbox(now=T, limit=N)`` takes up to N ``queued`` messages whose ``not_before`` has come (oldest
first), sends each through its channel's adapter (e-mail: SMTP; SMS and app push: the sandbox gateways;
call / visit: the task queue) and records the outcome: ``sent`` with the provider id and ``sent_at``, or, on
a failure, ``attempts + 1`` and ``last_error``; after ``max_attempts`` failures the message is ``failed``.
Then it collects the gateways' delivery receipts and moves ``sent`` messages to ``delivered`` / ``failed``.

Each message is claimed and recorded in its own short transaction (``select_for_update(skip_locked=True)``
where the database has it), so two dispatchers never send the same message and a crash loses at most the
record of one send. Re-running sends nothing twice: only ``queued`` messages are sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q

from wattdesk.adapters.notify import Adapter, Outgoing, SendError
from wattdesk.adapters.notify.push_sandbox import push_gateway
from wattdesk.adapters.notify.sms_sandbox import sms_gateway
from wattdesk.adapters.notify.smtp import SmtpAdapter
from wattdesk.adapters.notify.tasks import TaskQueue
from wattdesk.domain.dunning.models import OutboxMessage, OutboxStatus

MAX_ATTEMPTS = 3


def default_adapters() -> dict[str, Adapter]:
    return {
        "email": SmtpAdapter(),
        "sms": sms_gateway(),
        "push": push_gateway(),
        "call_task": TaskQueue(channel="call_task"),
        "visit_task": TaskQueue(channel="visit_task"),
    }


@dataclass(frozen=True)
class DispatchResult:
    sent: int
    retried: int  # failed this time, will be tried again
    failed: int  # failed for good this time
    delivered: int  # receipts that moved messages to delivered
    undeliverable: int  # receipts that moved messages to failed


def _claim(pk: int) -> OutboxMessage | None:
    qs = OutboxMessage.objects.filter(pk=pk, status=OutboxStatus.QUEUED)
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    return qs.first()


def dispatch_outbox(
    *,
    now: datetime,
    limit: int = 1000,
    adapters: Mapping[str, Adapter] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> DispatchResult:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    adapters = adapters if adapters is not None else default_adapters()
    ids = list(
        OutboxMessage.objects.filter(status=OutboxStatus.QUEUED)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    sent = retried = failed = 0
    for pk in ids:
        with transaction.atomic():
            msg = _claim(pk)
            if msg is None:
                continue
            adapter = adapters.get(msg.channel)
            attempts = msg.attempts + 1
            try:
                if adapter is None:
                    raise SendError(f"no adapter for channel {msg.channel!r}")
                provider_id = adapter.send(
                    Outgoing(msg.pk, msg.channel, msg.recipient, msg.subject, msg.body), now=now
                )
            except SendError as exc:
                final = attempts >= max_attempts
                OutboxMessage.objects.filter(pk=pk).update(
                    attempts=attempts,
                    last_error=str(exc)[:500],
                    status=OutboxStatus.FAILED if final else OutboxStatus.QUEUED,
                )
                failed += final
                retried += not final
                continue
            OutboxMessage.objects.filter(pk=pk).update(
                attempts=attempts,
                status=OutboxStatus.SENT,
                sent_at=now,
                provider_id=provider_id[:100],
                last_error="",
            )
            sent += 1
    delivered, undeliverable = collect_receipts(adapters=adapters)
    return DispatchResult(sent, retried, failed, delivered, undeliverable)


def collect_receipts(*, adapters: Mapping[str, Adapter]) -> tuple[int, int]:
    """Apply the gateways' delivery receipts to ``sent`` messages (idempotent)."""
    delivered = undeliverable = 0
    for channel, adapter in adapters.items():
        receipts = adapter.receipts()
        if not receipts:
            continue
        by_id = {r.provider_id: r for r in receipts}
        waiting = OutboxMessage.objects.filter(
            channel=channel, status=OutboxStatus.SENT, provider_id__in=list(by_id)
        ).values_list("pk", "provider_id")
        for pk, provider_id in waiting:
            r = by_id[provider_id]
            if r.status == "delivered":
                delivered += OutboxMessage.objects.filter(pk=pk, status=OutboxStatus.SENT).update(
                    status=OutboxStatus.DELIVERED, delivered_at=r.at
                )
            else:
                undeliverable += OutboxMessage.objects.filter(pk=pk, status=OutboxStatus.SENT).update(
                    status=OutboxStatus.FAILED, last_error=r.error[:500] or "undeliverable"
                )
    return delivered, undeliverable
