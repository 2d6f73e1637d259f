"""Use cases of smart fee control (智能费控) for prepaid accounts (Account.prepaid).

* ``run_fee_control(day=, now=)``: the daily pass (part of ``wattdesk collect nightly``). For every prepaid
  account: fetch (ledger balance, latest issued bill, daily readings since, tariff, relay intent), calculate
  with ``core.fee_control`` (estimated balance, days left, decision), then write in bulk: one
  ``FeeControlState`` per account and day (re-running the day rewrites the same rows), a warning SMS through
  the dunning outbox (at most one per account and day), and the disconnect / restore commands, keyed
  ``{account}-{kind}-{day}`` (UNIQUE): re-running the day queues nothing new. One audit entry per run.
* ``dispatch_commands(now=, headend=)``: sends the due commands to the AMI head-end with retries and bounded
  exponential backoff; every state change is written (and committed) as it happens, so the page shows
  queued / sent / acknowledged / failed / expired live. The command id sent is the ``idem_key``: a retry
  after a lost acknowledgement is answered with the same ack and the relay operates once.
* ``restore_after_payment(account_id=, payment_id=, now=)``: called by ``post_payment`` inside the payment's
  transaction for every posted payment of an account with a disconnection order or a meter command (the
  others have nothing to restore), whatever the channel (counter, collector, gateway callback, bank
  file, CLI, API): asks dunning for a restore order after an executed disconnection (``request_restores``),
  and, when the account's meter is off through fee control and the estimated balance is now > 0, queues a
  restore command (keyed by the payment) in the same transaction, with a task (``send_meter_commands``) for
  the task queue's worker, which sends it once the payment has committed, with the dispatcher's retries: the
  payment never waits for the head-end. What is still not acknowledged stays failed with a due time and is
  sent by ``wattdesk collect dispatch`` / the nightly pass.
* ``on_top_up(account_number=, now=, headend=)``: the same restore, dispatched at once to the given head-end.

At most one open command (queued / sent / failed) per meter and kind (a partial UNIQUE index): queuing a
restore while one is open returns the open one; queuing a command supersedes the open, not yet sent command
of the other kind for the same meter (a disconnect overtaken by a top-up is never sent).

The clock is the caller's: ``now`` is passed in; the dispatcher stamps ``acknowledged_at`` as ``now`` plus the
elapsed monotonic time of the dispatch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from wattdesk.adapters.headend.base import HeadEnd, PermanentError, RelayCommand, TransientError
from wattdesk.adapters.headend.http_headend import configured_headend
from wattdesk.application.billing.determinants import NotBillable, energy_by_period
from wattdesk.application.errors import InputError
from wattdesk.application.tariffs.reference_data import load_holidays, load_pf_table
from wattdesk.core import fee_control as rules
from wattdesk.core.tariff import Tariff, parse_tariff
from wattdesk.domain import audit
from wattdesk.domain.customers.models import Account
from wattdesk.domain.fee_control import operations, queries
from wattdesk.domain.fee_control.models import (
    CommandKind,
    CommandStatus,
    MeterCommand,
)
from wattdesk.domain.ledger.queries import id_list
from wattdesk.domain.payments.models import Payment
from wattdesk.domain.tariffs.models import TariffVersion

CHUNK = 2000
POLICY = rules.FeeControlPolicy()


@dataclass(frozen=True)
class RetryPolicy:
    attempts_per_dispatch: int = 6
    max_attempts: int = 30
    base_delay: float = 0.05
    max_delay: float = 1.0


OTHER_KIND = {CommandKind.DISCONNECT: CommandKind.RESTORE, CommandKind.RESTORE: CommandKind.DISCONNECT}


@dataclass(frozen=True)
class RunResult:
    day: date
    accounts: int
    decisions: dict[str, int]
    warnings_queued: int
    commands_queued: int


def _tariff_on(code: str, day: date) -> Tariff | None:
    """The tariff version in force on ``day``, parsed. Callers keep the result for one pass (one query and
    one parse per code per pass); nothing is cached across passes, so a new version is seen at once (a
    process-wide cache keyed by primary key also returned another database's tariff in tests)."""
    doc = (
        TariffVersion.objects.filter(code=code, effective_from__lte=day)
        .exclude(effective_to__lte=day)
        .order_by("-effective_from")
        .values_list("document", flat=True)
        .first()
    )
    return None if doc is None else parse_tariff(doc=doc, pf_table=load_pf_table())


@dataclass(frozen=True)
class Computed:
    row: queries.PrepaidRow
    ledger_balance: Decimal
    estimate: rules.Estimate
    decision: rules.Decision


def _compute(*, account_ids: Sequence[int], day: date, now: datetime) -> list[Computed]:
    local_now = timezone.localtime(now)
    calendar = load_holidays()
    permitted = rules.disconnect_permitted(
        at=local_now.replace(tzinfo=None),
        holidays=calendar.holidays,
        holiday_years=calendar.years,
        policy=POLICY,
    )
    day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=local_now.tzinfo)
    posted_before = min(day_end, now)
    out: list[Computed] = []
    tariffs: dict[str, Tariff | None] = {}
    for lo in range(0, len(account_ids), CHUNK):
        ids = list(account_ids[lo : lo + CHUNK])
        balances = queries.balances(account_ids=ids, posted_before=posted_before)
        for row in queries.prepaid_rows(account_ids=ids, day=day):
            code = row.tariff_code
            if code and code not in tariffs:
                tariffs[code] = _tariff_on(code, day)  # one query per tariff code, not per account
            tariff = tariffs.get(code) if code else None
            if tariff is None or row.meter_id is None:
                continue  # not controllable: no tariff or no meter (shown nowhere; the pass counts skips)
            since = row.bill_end or day
            by_period: tuple[Decimal, ...] | None = None
            if row.kwh_by_kind:
                try:
                    by_period = energy_by_period(tariff=tariff, kwh_by_kind=row.kwh_by_kind)
                except NotBillable:
                    by_period = None
            bill_days = (row.bill_end - row.bill_start).days if row.bill_end and row.bill_start else 0
            usage = rules.Usage(
                since=since,
                kwh_by_period=by_period,
                latest_bill_kwh=row.bill_kwh,
                latest_bill_days=bill_days,
                latest_bill_total=row.bill_total,
                capacity_kva=row.capacity_kva,
                contract_kw=row.contract_kw,
            )
            ledger_balance = balances[row.account_id]
            est = rules.estimate(tariff=tariff, day=day, credit=-ledger_balance, usage=usage)
            decision = rules.decide(
                estimated_balance=est.estimated_balance,
                days_left=est.days_left,
                meter_on=row.intended_relay == "on",
                protected=row.protected,
                permitted=permitted,
                policy=POLICY,
            )
            out.append(Computed(row, ledger_balance, est, decision))
    return out


def _command(c: Computed, kind: str, key: str, now: datetime, reason: str) -> MeterCommand:
    assert c.row.meter_id is not None
    return MeterCommand(
        meter_id=c.row.meter_id,
        account_id=c.row.account_id,
        kind=kind,
        idem_key=key,
        reason=reason,
        requested_at=now,
        next_attempt_at=now,
    )


def _warnings(computed: Iterable[Computed], day: date, now: datetime) -> int:
    """One SMS per account and day through the dunning outbox (if the dunning app is installed)."""
    try:
        from wattdesk.domain.dunning.models import OutboxMessage
    except ImportError:  # pragma: no cover - the outbox ships with dunning
        return 0
    wanted = {
        f"费控预警 {c.row.number} {day.isoformat()}": c
        for c in computed
        if c.decision.action in ("warn", "disconnect") and c.row.phone and c.decision is not PAID_SINCE
    }
    if not wanted:
        return 0
    done = set(OutboxMessage.objects.filter(subject__in=list(wanted)).values_list("subject", flat=True))
    new = [
        OutboxMessage(
            channel="sms",
            recipient=c.row.phone,
            subject=subject,
            body=(
                f"尊敬的客户，您的户号{c.row.number}预估电费余额{c.estimate.estimated_balance}元"
                + (f"，约可用{c.estimate.days_left}天" if c.estimate.days_left is not None else "")
                + "，请及时充值，以免停电。"
            ),
            created_at=now,
        )
        for subject, c in wanted.items()
        if subject not in done
    ]
    OutboxMessage.objects.bulk_create(new)
    return len(new)


def run_fee_control(*, day: date, now: datetime, actor: Any = None) -> RunResult:
    """The daily fee-control pass for ``day`` (idempotent for the day)."""
    if now.tzinfo is None:
        raise InputError("now must be timezone-aware")
    ids = queries.prepaid_account_ids()
    computed = _compute(account_ids=ids, day=day, now=now)
    counts: dict[str, int] = {}
    with transaction.atomic():
        paid_since = _paid_since(computed)
        states: list[operations.StateValues] = []
        commands = []
        for i, c in enumerate(computed):
            if c.row.account_id in paid_since:
                c = computed[i] = Computed(c.row, c.ledger_balance, c.estimate, PAID_SINCE)
            counts[c.decision.action] = counts.get(c.decision.action, 0) + 1
            states.append(
                (
                    c.row.account_id,
                    c.ledger_balance,
                    c.estimate.charge,
                    c.estimate.kwh,
                    c.estimate.measured,
                    c.estimate.estimated_balance,
                    c.estimate.days_left,
                    c.decision.action,
                    c.decision.reason,
                )
            )
            kind = c.decision.action
            if kind in ("disconnect", "restore") and kind not in c.row.pending:
                key = f"{c.row.number}-{kind}-{day.isoformat()}"
                commands.append(_command(c, kind, key, now, c.decision.reason))
        operations.upsert_states(day=day, computed_at=now, rows=states)
        known = queries.existing_keys(keys=[m.idem_key for m in commands])
        fresh = [m for m in commands if m.idem_key not in known]
        for cmd_kind in (CommandKind.DISCONNECT, CommandKind.RESTORE):
            _supersede(meter_ids=[m.meter_id for m in fresh if m.kind == cmd_kind], kind=OTHER_KIND[cmd_kind])
        # ignore_conflicts: a command of the same kind already open for the meter (a top-up restore queued
        # since the fetch) wins over this one: the partial UNIQUE index keeps one open command per kind
        MeterCommand.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
        fresh_keys = [m.idem_key for m in fresh]
        queued = len(queries.existing_keys(keys=fresh_keys)) if fresh_keys else 0
        warned = _warnings(computed, day, now)
        audit.record_batch(
            actor=actor,
            action="fee_control.run",
            object_repr=f"fee control {day.isoformat()}",
            changes={
                "accounts": len(computed),
                "decisions": counts,
                "commands": queued,
                "warnings": warned,
            },
        )
    return RunResult(day, len(computed), counts, warned, queued)


PAID_SINCE = rules.Decision("warn", "paid_since")


def _paid_since(computed: list[Computed]) -> set[int]:
    """Accounts the pass would disconnect that were credited after the fetch's cut-off (a payment posted after
    the end of the day, or while the pass was computing). Their rows are locked first (``post_payment`` locks
    the account too), so a payment either committed before this check and is seen here, or waits for this
    pass to commit and then finds the disconnect (its restore supersedes it if unsent). Never cut a meter the
    customer has just paid for; the next pass decides again."""
    cut = {
        c.row.account_id: c.ledger_balance
        for c in computed
        if c.decision.action == "disconnect" and "disconnect" not in c.row.pending
    }
    if not cut:
        return set()
    ids = sorted(cut)
    list(Account.objects.select_for_update().filter(pk__in=id_list(ids)).values_list("pk", flat=True))
    latest = queries.balances(account_ids=ids, posted_before=None)
    return {a for a in ids if latest[a] < cut[a]}


def _supersede(*, meter_ids: Sequence[int], kind: str) -> int:
    """Open commands of ``kind`` for these meters that were not sent yet (queued, or failed and waiting for
    a retry) become superseded: the later command of the other kind is the one that counts. A command being
    sent right now (``sent``) is left alone: it is dispatched before the new one (requested earlier)."""
    n = 0
    ids = list(dict.fromkeys(meter_ids))
    for lo in range(0, len(ids), CHUNK):
        n += MeterCommand.objects.filter(
            meter_id__in=ids[lo : lo + CHUNK],
            kind=kind,
            status__in=(CommandStatus.QUEUED, CommandStatus.FAILED),
        ).update(status=CommandStatus.SUPERSEDED, last_error="superseded by a later command")
    return n


def _queue_one(c: Computed, kind: str, key: str, now: datetime, reason: str) -> int:
    """Queue one command for the account's meter, or return the command of that kind already open for it
    (at most one open per meter and kind); an open command not yet sent is made due now."""
    assert c.row.meter_id is not None
    _supersede(meter_ids=[c.row.meter_id], kind=OTHER_KIND[CommandKind(kind)])
    MeterCommand.objects.bulk_create([_command(c, kind, key, now, reason)], ignore_conflicts=True)
    pk = queries.open_command(meter_id=c.row.meter_id, kind=kind)
    if pk is None:  # acknowledged already (the same key sent before): nothing open, report that one
        return MeterCommand.objects.values_list("pk", flat=True).get(idem_key=key)
    MeterCommand.objects.filter(pk=pk, status__in=(CommandStatus.QUEUED, CommandStatus.FAILED)).update(
        next_attempt_at=now
    )
    return pk


@dataclass(frozen=True)
class DispatchResult:
    acknowledged: int
    failed: int
    expired: int


def dispatch_commands(
    *,
    now: datetime,
    headend: HeadEnd,
    ids: Iterable[int] | None = None,
    retry: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> DispatchResult:
    """Send the due commands (queued, or failed and due again) to the head-end; see the module docstring."""
    t0 = time.monotonic()

    def at() -> datetime:
        return now + timedelta(seconds=time.monotonic() - t0)

    acked = failed = expired = 0
    for pk in queries.due_commands(now=now, ids=ids):
        claimed = MeterCommand.objects.filter(
            pk=pk, status__in=(CommandStatus.QUEUED, CommandStatus.FAILED)
        ).update(status=CommandStatus.SENT)
        if not claimed:
            continue  # another dispatcher has it
        cmd = MeterCommand.objects.select_related("meter").get(pk=pk)
        relay = RelayCommand(command_id=cmd.idem_key, meter_serial=cmd.meter.serial, action=cmd.kind)  # type: ignore[arg-type]
        for n in range(1, retry.attempts_per_dispatch + 1):
            MeterCommand.objects.filter(pk=pk).update(attempts=F("attempts") + 1)
            cmd.attempts += 1
            try:
                cmd.ack_id = headend.send(relay)
            except PermanentError as exc:
                cmd.status, cmd.last_error = CommandStatus.EXPIRED, str(exc)[:300]
                expired += 1
                break
            except TransientError as exc:
                cmd.last_error = str(exc)[:300]
                if cmd.attempts >= retry.max_attempts:
                    cmd.status = CommandStatus.EXPIRED
                    expired += 1
                    break
                wait = rules.backoff_seconds(attempt=n, base=retry.base_delay, cap=retry.max_delay)
                if n == retry.attempts_per_dispatch:
                    cmd.status, cmd.next_attempt_at = CommandStatus.FAILED, at() + timedelta(seconds=wait)
                    failed += 1
                    break
                MeterCommand.objects.filter(pk=pk).update(last_error=cmd.last_error)
                sleep(wait)
                continue
            cmd.status, cmd.acknowledged_at, cmd.last_error = CommandStatus.ACKNOWLEDGED, at(), ""
            acked += 1
            break
        cmd.save(
            update_fields=["status", "attempts", "last_error", "ack_id", "acknowledged_at", "next_attempt_at"]
        )
    return DispatchResult(acked, failed, expired)


@dataclass(frozen=True)
class AfterPayment:
    restore_orders: int  # dunning restore orders created (field crew, after an executed disconnection)
    command_id: int | None  # the fee-control restore command queued (or already open) for the meter


def _restore_if_due(
    *, account_id: int, key_of: Callable[[str], str], now: datetime
) -> tuple[Computed | None, int | None]:
    """Re-estimate one account just after ``now`` (the payment is posted at ``now``) and queue a restore
    when its meter is off and the estimated balance is > 0. Returns (the estimate, the command id)."""
    day = timezone.localtime(now).date()
    computed = _compute(account_ids=[account_id], day=day, now=now + timedelta(microseconds=1))
    if not computed:
        return None, None
    c = computed[0]
    if c.decision.action == "restore":
        return c, _queue_one(c, CommandKind.RESTORE, key_of(c.row.number), now, "payment")
    if c.row.meter_id is not None and c.estimate.estimated_balance > 0:
        # a restore already open for the meter (queued by the nightly pass or an earlier payment, not
        # acknowledged yet): that one is sent now rather than a second one queued
        pk = queries.open_command(meter_id=c.row.meter_id, kind=CommandKind.RESTORE)
        if pk is not None:
            MeterCommand.objects.filter(
                pk=pk, status__in=(CommandStatus.QUEUED, CommandStatus.FAILED)
            ).update(next_attempt_at=now)
            return c, pk
    return c, None


def restore_after_payment(
    *, account_id: int, payment_id: int, now: datetime, dispatch: bool = True
) -> AfterPayment:
    """Restore promptly after a payment (缴费后及时复电). Call it inside the payment's transaction: the restore
    order / command is written with the payment (both or neither); the head-end is called by the worker
    after the commit (``dispatch_after_commit``), never on the payment's thread. ``dispatch=False``: the caller
    sends the returned command itself (a batch enqueues all of its commands in one task)."""
    from wattdesk.application.dunning.nightly import request_restores

    orders = request_restores(now=now, account_ids=[account_id])
    command_id: int | None = None
    if queries.restore_may_be_due(account_id=account_id):
        _, command_id = _restore_if_due(
            account_id=account_id, key_of=lambda number: f"{number}-restore-p{payment_id}", now=now
        )
        if command_id is not None and dispatch:
            dispatch_after_commit(command_ids=[command_id], now=now)
    return AfterPayment(orders, command_id)


def dispatch_after_commit(*, command_ids: Sequence[int], now: datetime) -> None:
    """Have these commands sent to the configured head-end (``WATTDESK_HEADEND_URL``) by the task queue's
    worker (``wattdesk worker``; ``wattdesk serve`` starts one), never on the caller's thread: the task
    ``send_meter_commands`` is enqueued in the current transaction (a rolled-back payment enqueues nothing;
    the worker sees it once the payment has committed) and dispatches them with ``RetryPolicy()``; what is
    still not acknowledged stays failed with a due time for ``wattdesk collect dispatch`` / the nightly pass.
    No head-end configured: nothing is enqueued, the commands stay queued for the dispatcher."""
    if not command_ids or configured_headend() is None:
        return
    send_meter_commands.enqueue(command_ids=[int(i) for i in command_ids], now=now.isoformat())


@task()
def send_meter_commands(command_ids: list[int], now: str) -> dict[str, Any]:
    """The task of :func:`dispatch_after_commit`: send these commands (those still due) to the configured
    head-end with the dispatcher's retry policy. ``now``: when they were requested; the worker sends them
    at its own time (``timezone.now()``, never earlier than ``now``)."""
    headend = configured_headend()
    if headend is None:
        return {"acknowledged": 0, "failed": 0, "expired": 0, "headend": None}
    at = max(datetime.fromisoformat(now), timezone.now())
    r = dispatch_commands(now=at, headend=headend, ids=command_ids)
    return {"acknowledged": r.acknowledged, "failed": r.failed, "expired": r.expired}


@dataclass(frozen=True)
class TopUpResult:
    account_number: str
    estimated_balance: Decimal | None
    command_id: int | None
    status: str
    acknowledged_at: datetime | None


def on_top_up(
    *,
    account_number: str,
    now: datetime,
    headend: HeadEnd,
    retry: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> TopUpResult:
    """After a prepaid top-up: restore the meter at once (through ``headend``) if it is off and the money now
    covers the usage. The restore queued by ``post_payment`` for the latest payment is the one sent."""
    account = Account.objects.filter(number=account_number).values_list("pk", "prepaid").first()
    if account is None:
        raise InputError(f"no account {account_number!r}")
    if not account[1]:
        return TopUpResult(account_number, None, None, "not_prepaid", None)
    payment = (
        Payment.objects.filter(account_id=account[0]).order_by("-pk").values_list("pk", flat=True).first()
    )
    with transaction.atomic():
        c, pk = _restore_if_due(
            account_id=account[0], key_of=lambda number: f"{number}-restore-p{payment}", now=now
        )
    if c is None:
        return TopUpResult(account_number, None, None, "not_controllable", None)
    if pk is None:
        return TopUpResult(
            account_number, c.estimate.estimated_balance, None, c.decision.reason or "ok", None
        )
    dispatch_commands(now=now, headend=headend, ids=[pk], retry=retry, sleep=sleep)
    cmd = MeterCommand.objects.get(pk=pk)
    return TopUpResult(account_number, c.estimate.estimated_balance, cmd.pk, cmd.status, cmd.acknowledged_at)
