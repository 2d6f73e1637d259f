"""Use cases on a held reading (抄表异常处理): accept, correct, estimate, or send it for a field check.

A reading that VEE held (status ``exception``) keeps its account out of the billing run. Staff decide, from the
readings page or the API, with a reason (required, audited as ``readings.<action>``):

* **accept** (确认原表码): the reading is right after all; its open exceptions are closed and it becomes valid
  (``domain.metering.operations.resolve_exception``);
* **correct** (更正表码): a new register value supersedes it — the held reading stays as history, the
  correction goes through VEE like any reading (``record_register_readings`` with ``supersedes``). The
  estimated bill impact is the kWh change × the account's latest bill's average price (or
  ``WATTDESK_READING_CORRECTION_FALLBACK_PRICE`` for an account never billed); above
  ``WATTDESK_READING_CORRECTION_APPROVAL_YUAN`` (default 1000 yuan) the correction waits, ``pending``, for a
  second person (not the requester) to approve it (:func:`approve_correction`) or reject it;
* **estimate** (估抄): the reading is set aside (superseded) and the register estimated from history
  (``estimate_missing_readings``);
* **field_check** (派现场核查): the reading stays held, marked as sent to the meter reader; their next
  reading of that register on that date (an import or the API) corrects it, or staff decide later.

When the decision makes the account billable and its period has already been billed, the account is
re-billed at once — a draft or held bill covering the reading is cancelled first (``review.cancel_bill``) and
the billing run's own batch code bills the account again (version + 1), so the clerk can review and issue
it. An ISSUED bill is never touched: its correction is a 退补 (``application.billing.adjustment``).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from wattdesk.application.billing import fetch, review
from wattdesk.application.billing import run as billing_run
from wattdesk.application.billing.hold import DEFAULT_HOLD_POLICY
from wattdesk.application.billing.review import BillActionRefused
from wattdesk.application.billing.run import BillingInputError, BillNotFound, BillStateError
from wattdesk.core.money import quantize_quantity, round_fen
from wattdesk.core.period import Period, add_months
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.billing.models import (
    Bill,
    BillingRun,
    BillingRunStatus,
    BillStatus,
    CorrectionAction,
    CorrectionStatus,
    ReadingCorrection,
)
from wattdesk.domain.metering import operations as metering
from wattdesk.domain.metering.models import (
    ImportBatch,
    ImportKind,
    MeterInstallation,
    ReadingException,
    ReadingStatus,
    RegisterReading,
)

ZERO = Decimal(0)
DEFAULT_APPROVAL_YUAN = Decimal(1000)
DEFAULT_FALLBACK_PRICE = Decimal("0.60")
MAX_TEXT = 300
UPDATE = LogEntry.Action.UPDATE


class CorrectionInputError(BillingInputError):
    """Bad input for a held-reading decision (no reason, no value, a reading that is not held …)."""


def approval_threshold() -> Decimal:
    return Decimal(str(getattr(settings, "WATTDESK_READING_CORRECTION_APPROVAL_YUAN", DEFAULT_APPROVAL_YUAN)))


def fallback_price() -> Decimal:
    return Decimal(
        str(getattr(settings, "WATTDESK_READING_CORRECTION_FALLBACK_PRICE", DEFAULT_FALLBACK_PRICE))
    )


@dataclass(frozen=True)
class CorrectionResult:
    correction_id: int
    reading_id: int
    action: str
    status: str
    impact: Decimal
    kwh_before: Decimal | None
    kwh_after: Decimal | None
    cancelled_bill_id: int | None
    rebilled_bill_id: int | None
    rebill_skipped: str  # why the re-bill did not produce a bill ("" when it did or was not needed)


def _check(user: Any) -> None:
    if user is not None and not has_capability(user, roles.BILLING_REVIEW):
        name = getattr(user, "get_username", lambda: str(user))()
        raise BillActionRefused(
            f"user {name!r} may not do this: it needs the {roles.BILLING_REVIEW} capability"
        )


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise CorrectionInputError(f"a {what} is required")
    if len(text) > MAX_TEXT:
        raise CorrectionInputError(f"the {what} is longer than {MAX_TEXT} characters")
    return text


def _account_id(reading: RegisterReading) -> int | None:
    inst = (
        MeterInstallation.objects.filter(
            meter_id=reading.register.meter_id, installed_on__lte=reading.read_on
        )
        .filter(Q(removed_on__isnull=True) | Q(removed_on__gte=reading.read_on))
        .select_related("service_point")
        .order_by("-installed_on")
        .first()
    )
    return None if inst is None else inst.service_point.account_id


def _previous_value(reading: RegisterReading) -> RegisterReading | None:
    return (
        RegisterReading.objects.filter(
            register_id=reading.register_id, read_on__lt=reading.read_on, status__in=("valid", "estimated")
        )
        .order_by("-read_on", "-id")
        .first()
    )


def _kwh_of_value(reading: RegisterReading, value: Decimal) -> Decimal | None:
    """The consumption a register value gives against the previous billable reading (rollover at 10**digits)."""
    prev = _previous_value(reading)
    if prev is None:
        return None
    meter = reading.register.meter
    advance: Decimal = value - prev.value
    if advance < 0:
        advance += Decimal(10) ** meter.digits
    return quantize_quantity(advance * Decimal(meter.multiplier))


def _average_price(account_id: int | None) -> Decimal:
    if account_id is None:
        return fallback_price()
    bill = (
        Bill.objects.filter(account_id=account_id, kwh__gt=0)
        .exclude(status=BillStatus.CANCELLED)
        .order_by("-period", "-version")
        .first()
    )
    if bill is None or bill.total <= 0:
        return fallback_price()
    return Decimal(bill.total) / Decimal(bill.kwh)


def _locked_reading(reading_id: int) -> RegisterReading:
    reading = (
        RegisterReading.objects.select_for_update()
        .select_related("register__meter")
        .filter(pk=reading_id)
        .first()
    )
    if reading is None:
        raise BillNotFound(f"no reading {reading_id}")
    return reading


def decide(
    *,
    reading_id: int,
    action: str,
    reason: str,
    user: Any,
    decided_at: datetime,
    new_value: str | Decimal | None = None,
) -> CorrectionResult:
    """Record a decision on a held reading and apply it (or leave it pending a second approval)."""
    _check(user)
    if action not in CorrectionAction.values:
        raise CorrectionInputError(f"action: {action!r} is not one of {', '.join(CorrectionAction.values)}")
    reason = _text(reason, "reason")
    value: Decimal | None = None
    if action == CorrectionAction.CORRECT:
        try:
            value = Decimal(str(new_value if new_value is not None else "").strip())
        except InvalidOperation:
            raise CorrectionInputError(f"new_value: {new_value!r} is not a register value") from None
        if not value.is_finite() or value < 0:
            raise CorrectionInputError(f"new_value: {new_value!r} is not a register value")
    elif new_value not in (None, ""):
        raise CorrectionInputError(f"new_value: only a correction takes a register value, not {action}")
    with transaction.atomic():
        reading = _locked_reading(reading_id)
        if reading.status != ReadingStatus.EXCEPTION:
            raise BillStateError(f"reading {reading_id} is {reading.status}, not held: nothing to decide")
        open_ = (
            ReadingCorrection.objects.select_for_update()
            .filter(
                reading_id=reading.pk, status__in=(CorrectionStatus.PENDING, CorrectionStatus.FIELD_CHECK)
            )
            .first()
        )
        if open_ is not None and open_.status == CorrectionStatus.PENDING:
            raise BillStateError(f"reading {reading_id} has a correction waiting for approval ({open_.pk})")
        if open_ is not None:  # the field check is answered by this decision
            ReadingCorrection.objects.filter(pk=open_.pk).update(
                status=CorrectionStatus.APPLIED, decided_at=decided_at, decided_by=user
            )
        account_id = _account_id(reading)
        kwh_before = reading.consumption
        kwh_after: Decimal | None = kwh_before
        impact = ZERO
        if value is not None:
            kwh_after = _kwh_of_value(reading, value)
            delta = abs((kwh_after or ZERO) - (kwh_before or ZERO))
            impact = round_fen(delta * _average_price(account_id))
        status = CorrectionStatus.APPLIED
        if action == CorrectionAction.FIELD_CHECK:
            status = CorrectionStatus.FIELD_CHECK
        elif action == CorrectionAction.CORRECT and impact > approval_threshold():
            status = CorrectionStatus.PENDING
        c = ReadingCorrection.objects.create(
            reading=reading,
            account_id=account_id,
            period=str(Period.of(reading.read_on)),
            action=action,
            new_value=value,
            reason=reason,
            kwh_before=kwh_before,
            kwh_after=kwh_after,
            impact=impact,
            status=status,
            requested_at=decided_at,
            requested_by=user,
        )
        audit.record_batch(
            actor=user,
            action=f"readings.{action}",
            object_repr=f"reading {reading.pk} {reading.register.meter.serial} {reading.register.kind} {reading.read_on}",
            object_pk=reading.pk,
            kind=UPDATE,
            changes={
                "correction": c.pk,
                "status": (ReadingStatus.EXCEPTION, status),
                "value": (str(reading.value), None if value is None else str(value)),
                "impact": str(impact),
                "reason": reason,
            },
        )
        if status == CorrectionStatus.APPLIED:
            return _apply(c, reading, user, decided_at)
    return _result(c, "")


def approve_correction(*, correction_id: int, user: Any, approved_at: datetime) -> CorrectionResult:
    """The second approval of a pending correction (someone other than the requester): apply it."""
    _check(user)
    with transaction.atomic():
        c = _pending(correction_id)
        if user is not None and c.requested_by_id == user.pk:
            raise BillActionRefused(f"correction {c.pk} must be approved by someone other than its requester")
        reading = _locked_reading(c.reading_id)
        if reading.status != ReadingStatus.EXCEPTION:
            raise BillStateError(f"reading {reading.pk} is no longer held")
        audit.record_batch(
            actor=user,
            action="readings.correct.approve",
            object_repr=f"reading {reading.pk} correction {c.pk}",
            object_pk=reading.pk,
            kind=UPDATE,
            changes={"status": (CorrectionStatus.PENDING, CorrectionStatus.APPLIED), "impact": str(c.impact)},
        )
        return _apply(c, reading, user, approved_at)


def reject_correction(
    *, correction_id: int, user: Any, rejected_at: datetime, reason: str
) -> CorrectionResult:
    """Reject a pending correction: the reading stays held."""
    _check(user)
    reason = _text(reason, "reason")
    with transaction.atomic():
        c = _pending(correction_id)
        ReadingCorrection.objects.filter(pk=c.pk).update(
            status=CorrectionStatus.REJECTED, decided_at=rejected_at, decided_by=user
        )
        c.status = CorrectionStatus.REJECTED
        audit.record_batch(
            actor=user,
            action="readings.correct.reject",
            object_repr=f"reading {c.reading_id} correction {c.pk}",
            object_pk=c.reading_id,
            kind=UPDATE,
            changes={"status": (CorrectionStatus.PENDING, CorrectionStatus.REJECTED), "reason": reason},
        )
    return _result(c, "")


def _pending(correction_id: int) -> ReadingCorrection:
    c = ReadingCorrection.objects.select_for_update().filter(pk=correction_id).first()
    if c is None:
        raise BillNotFound(f"no reading correction {correction_id}")
    if c.status != CorrectionStatus.PENDING:
        raise BillStateError(f"correction {correction_id} is {c.status}, not pending")
    return c


def _result(c: ReadingCorrection, skipped: str) -> CorrectionResult:
    return CorrectionResult(
        c.pk,
        c.reading_id,
        c.action,
        c.status,
        c.impact,
        c.kwh_before,
        c.kwh_after,
        c.cancelled_bill_id,
        c.rebilled_bill_id,
        skipped,
    )


def _covering_bill(account_id: int, reading: RegisterReading) -> Bill | None:
    return (
        Bill.objects.filter(account_id=account_id, start__lte=reading.read_on, end__gt=reading.read_on)
        .exclude(status=BillStatus.CANCELLED)
        .first()
    )


def _apply(c: ReadingCorrection, reading: RegisterReading, user: Any, at: datetime) -> CorrectionResult:
    """Apply a decision (inside the caller's transaction): change the reading, then re-bill if needed."""
    cancelled: Bill | None = None
    if c.account_id is not None and c.action != CorrectionAction.FIELD_CHECK:
        cancelled = _covering_bill(c.account_id, reading)
        if cancelled is not None and cancelled.status == BillStatus.ISSUED:
            raise BillStateError(
                f"bill {cancelled.pk} ({cancelled.period}) covering this reading is issued: correct it with a 退补"
            )
        if cancelled is not None:
            review.cancel_bill(
                bill_id=cancelled.pk, user=user, cancelled_at=at, reason=f"抄表更正 {c.pk}: {c.reason}"[:300]
            )
    if c.action == CorrectionAction.ACCEPT:
        for exc_id in ReadingException.objects.filter(reading_id=reading.pk, resolved=False).values_list(
            "id", flat=True
        ):
            metering.resolve_exception(exception_id=exc_id, accept_reading=True)
    elif c.action == CorrectionAction.CORRECT:
        assert c.new_value is not None
        digest = hashlib.sha256(f"reading-correction:{c.pk}:{c.new_value}".encode()).hexdigest()
        batch = ImportBatch.objects.create(
            file_name=f"reading correction {c.pk}",
            sha256=digest,
            kind=ImportKind.REGISTER,
            rows=1,
            created_at=at,
        )
        outcome = metering.record_register_readings(
            batch=batch,
            readings=[
                metering.NewReading(
                    reading.register_id,
                    reading.register.meter_id,
                    reading.read_on,
                    c.new_value,
                    supersedes=reading.pk,
                )
            ],
        )
        if outcome.held:
            ImportBatch.objects.filter(pk=batch.pk).update(status="with_exceptions")
        new = RegisterReading.objects.filter(import_batch=batch).first()
        if new is not None and new.consumption is not None:
            c.kwh_after = new.consumption
    elif c.action == CorrectionAction.ESTIMATE:
        metering.supersede_held_readings(reading_ids=[reading.pk])
        start, end = Period.of(reading.read_on).bounds
        metering.estimate_missing_readings(
            period_start=start, period_end=end, read_on=reading.read_on, meter_ids=[reading.register.meter_id]
        )
        new = (
            RegisterReading.objects.filter(
                register_id=reading.register_id, read_on=reading.read_on, status="estimated"
            )
            .order_by("-id")
            .first()
        )
        c.kwh_after = None if new is None else new.consumption
    c.status = CorrectionStatus.APPLIED if c.action != CorrectionAction.FIELD_CHECK else c.status
    c.decided_at, c.decided_by = at, user
    c.cancelled_bill = cancelled
    skipped = ""
    if c.action != CorrectionAction.FIELD_CHECK and c.account_id is not None:
        period = cancelled.period if cancelled is not None else c.period
        if (
            cancelled is not None
            or BillingRun.objects.filter(period=period, status=BillingRunStatus.FINISHED).exists()
        ):
            bill_id, skipped = rebill_account(account_id=c.account_id, period=period, at=at, user=user)
            c.rebilled_bill_id = bill_id
    c.save(
        update_fields=["status", "decided_at", "decided_by", "cancelled_bill", "rebilled_bill", "kwh_after"]
    )
    return _result(c, skipped)


def rebill_account(*, account_id: int, period: str, at: datetime, user: Any) -> tuple[int | None, str]:
    """Bill one account for a period with the billing run's own batch code (fetch, rate, hold check, write),
    recorded as a one-account run. Returns (the new bill's id, "") or (None, the skip reason)."""
    if (
        Bill.objects.filter(account_id=account_id, period=period)
        .exclude(status=BillStatus.CANCELLED)
        .exists()
    ):
        return None, "already_billed"
    p = Period.parse(period)
    month_start = p.bounds[0]
    latest_end = add_months(date(p.year, p.month, 28), 1)
    t0 = time.perf_counter()
    run = BillingRun.objects.create(
        period=period, started_at=at, status=BillingRunStatus.FINISHED, started_by=user, finished_at=at
    )
    ctx = billing_run._Ctx(
        period=period,
        year=p.year,
        month=p.month,
        run_id=run.pk,
        run_at=at,
        policy=DEFAULT_HOLD_POLICY,
        versions=fetch.tariff_versions(),
        blocked=fetch.blocked_accounts(period=period, month_start=month_start, latest_end=latest_end),
    )
    batch = billing_run._prepare_batch(ctx, [account_id])
    billing_run._write_batch(ctx, batch)
    run.attempt = 1
    billing_run._finish_run(run, batch, 1, 0, BillingRunStatus.FINISHED, lambda: at, at, t0)
    bill_id = (
        Bill.objects.filter(account_id=account_id, period=period)
        .exclude(status=BillStatus.CANCELLED)
        .values_list("pk", flat=True)
        .first()
    )
    if bill_id is None:
        return None, next(iter(batch.skipped), "not_billed")
    return bill_id, ""


def open_corrections(*, reading_ids: list[int]) -> dict[int, ReadingCorrection]:
    """The pending / field-check correction of each reading (for the readings page)."""
    rows = ReadingCorrection.objects.filter(
        reading_id__in=reading_ids, status__in=(CorrectionStatus.PENDING, CorrectionStatus.FIELD_CHECK)
    )
    return {c.reading_id: c for c in rows}


def pending_corrections() -> list[ReadingCorrection]:
    return list(
        ReadingCorrection.objects.filter(status=CorrectionStatus.PENDING)
        .select_related("reading__register__meter", "requested_by")
        .order_by("requested_at", "id")
    )


__all__ = [
    "CorrectionInputError",
    "CorrectionResult",
    "approve_correction",
    "decide",
    "open_corrections",
    "pending_corrections",
    "rebill_account",
    "reject_correction",
]
