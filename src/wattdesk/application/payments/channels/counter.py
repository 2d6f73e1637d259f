"""Use cases: taking money in person — the outlet counter (营业厅收费), door-to-door collectors (走收) and
prepaid top-ups (预付费充值) — with receipts, reprints (重打), the cashier's daily close (日结) and the
collector's cash hand-over (交款).

Every payment goes through ``application.payments.post_payment`` with the receipt number as its channel
transaction id, so it posts exactly once. The receipt number is ``<outlet>-<YYYYMMDD>-<seq 4>`` at a counter
(unique per outlet and day) and ``ZS<user id>-<YYYYMMDD>-<seq 4>`` for a collector. A form carries a
``request_token``: submitting it twice returns the first receipt and takes no money twice.

Rules:
* A cashier whose day is closed (``balanced`` or ``approved``) takes no more payments that day, at any outlet.
* The close compares the declared cash with the system's cash: the cashier's cash takings at the outlet plus
  the collectors' cash handed over to the cashier that day at that outlet or at no named outlet and not yet
  counted by another close (交款入柜); card and QR are settled by the acquirer and shown for information.
  Reversed (冲正) payments are out of the takings; the counter pays out no refunds, so none are deducted. Equal -> ``balanced``. Different -> a reason is required (else
  nothing is written); with a reason but no supervisor note the discrepancy is recorded as ``pending`` and
  the day stays open (refused); with a supervisor note it closes as ``approved``.
* A collector hands over once per day; after the hand-over the collector takes no more cash that day. A
  hand-over that does not match the cash collected needs a reason. The receiver must hold payments.counter
  and must not have closed their day (the till is closed). The close that counts a hand-over records it, so
  a hand-over is counted once.
* A cashier's payments, hand-overs received and close are serialized on the cashier's user row
  (``SELECT ... FOR UPDATE``), so nothing lands in a till after its close has summed it.
* A payment at the counter for a prepaid (费控) account is a top-up: channel ``prepaid``.

The domain never reads the clock: ``received_at`` / ``closed_at`` / ``handed_at`` come from the interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.application.payments.posting import PaymentConflict, PostResult, money, post_payment
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.counter import queries
from wattdesk.domain.counter.models import (
    CLOSED_STATUSES,
    CashClose,
    CashHandover,
    CloseStatus,
    PaymentMethod,
    Receipt,
)
from wattdesk.domain.customers.models import Account
from wattdesk.domain.outlets.models import PaymentOutlet
from wattdesk.domain.payments.models import PaymentChannel

ZERO = Decimal("0.00")
MAX_ATTEMPTS = 8


class DayClosed(InputError):
    """The cashier's day is closed (日结已完成), or the collector has handed over (已交款)."""


class ReceiptNotFound(InputError):
    """No such receipt (for this user)."""


class _NumberTaken(Exception):
    """The receipt number was taken concurrently: roll back the savepoint and try the next one."""


@dataclass(frozen=True)
class ReceiptRead:
    receipt_no: str
    created: bool  # False: the same request_token was submitted before
    account_number: str
    amount: Decimal
    method: str
    channel: str
    outlet_code: str
    business_date: date
    balance: Decimal | None  # the account's balance after posting (None when replayed)


def _token(request_token: str) -> str:
    token = (request_token or "").strip()
    if not token or len(token) > 64:
        raise InputError("request token must be 1 to 64 characters")
    return token


def _lock_user(user: Any) -> None:
    """Serialize a cashier's takings, hand-overs received and close (a no-op lock on SQLite, whose
    transactions are IMMEDIATE and therefore serialized anyway)."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()


def _account(account_number: str) -> Account:
    account = Account.objects.filter(number=(account_number or "").strip()).first()
    if account is None:
        raise InputError(f"no account {account_number!r}")
    return account


def _read(receipt: Receipt, *, created: bool, balance: Decimal | None) -> ReceiptRead:
    return ReceiptRead(
        receipt_no=receipt.receipt_no,
        created=created,
        account_number=receipt.account.number,
        amount=receipt.amount,
        method=receipt.method,
        channel=receipt.channel,
        outlet_code=receipt.outlet_code,
        business_date=receipt.business_date,
        balance=balance,
    )


def _take(
    *,
    account: Account,
    amount: Decimal,
    method: str,
    channel: str,
    prefix: str,
    outlet_code: str,
    user: Any,
    received_at: datetime,
    token: str,
) -> ReceiptRead:
    day = timezone.localtime(received_at).date()
    stem = f"{prefix}-{day:%Y%m%d}-"
    for _attempt in range(MAX_ATTEMPTS):
        latest = Receipt.objects.filter(receipt_no__startswith=stem).aggregate(m=Max("seq"))["m"] or 0
        seq = latest + 1
        number = f"{stem}{seq:04d}"
        try:
            with transaction.atomic():  # savepoint: a concurrent cashier may take the same number
                result: PostResult = post_payment(
                    account_number=account.number,
                    amount=amount,
                    channel=channel,
                    channel_txn_id=number,
                    received_at=received_at,
                    user=user,
                    outlet=outlet_code,
                    memo=f"receipt {number} {method}",
                )
                if result.outcome != "posted":
                    raise _NumberTaken
                receipt = Receipt.objects.create(
                    receipt_no=number,
                    request_token=token,
                    channel=channel,
                    outlet_code=outlet_code,
                    business_date=day,
                    seq=seq,
                    user=user,
                    account=account,
                    amount=result.amount,
                    method=method,
                    payment_id=result.payment_id,
                    issued_at=received_at,
                )
        except (_NumberTaken, PaymentConflict, IntegrityError):
            existing = Receipt.objects.filter(request_token=token).select_related("account").first()
            if existing is not None:  # the same form, submitted concurrently
                return _read(existing, created=False, balance=None)
            continue
        return _read(receipt, created=True, balance=result.balance)
    raise InputError("could not allocate a receipt number, please retry")


def _replayed(token: str, user: Any) -> ReceiptRead | None:
    existing = Receipt.objects.filter(request_token=token).select_related("account").first()
    if existing is None:
        return None
    if existing.user_id != user.pk:
        raise InputError("request token already used")
    return _read(existing, created=False, balance=None)


def _taking(*, received_at: datetime, request_token: str, account_number: str) -> tuple[str, Account, date]:
    """Check a taking's time, request token and account (in that order): (token, account, business day)."""
    if received_at.tzinfo is None:
        raise InputError("received_at must be timezone-aware")
    token = _token(request_token)
    account = _account(account_number)
    return token, account, timezone.localtime(received_at).date()


def take_counter_payment(
    *,
    account_number: str,
    amount: Any,
    method: str,
    user: Any,
    outlet_code: str,
    received_at: datetime,
    request_token: str,
) -> ReceiptRead:
    """A payment at an outlet counter; a prepaid (费控) account's payment is a top-up (channel prepaid)."""
    value = money(amount)
    if method not in PaymentMethod.values:
        raise InputError(f"unknown method {method!r}: use one of {', '.join(PaymentMethod.values)}")
    code = (outlet_code or "").strip()
    if not PaymentOutlet.objects.filter(code=code, active=True).exists():
        raise InputError(f"no active payment outlet {outlet_code!r}")
    token, account, day = _taking(
        received_at=received_at, request_token=request_token, account_number=account_number
    )
    with transaction.atomic():
        replay = _replayed(token, user)
        if replay is not None:
            return replay
        _lock_user(user)
        if queries.day_closed(cashier_id=user.pk, business_date=day):
            raise DayClosed(
                f"the cash close (日结) of {day} is done: no more payments for this cashier today"
            )
        channel = PaymentChannel.PREPAID if account.prepaid else PaymentChannel.COUNTER
        return _take(
            account=account,
            amount=value,
            method=method,
            channel=channel,
            prefix=code,
            outlet_code=code,
            user=user,
            received_at=received_at,
            token=token,
        )


def collect_payment(
    *, account_number: str, amount: Any, user: Any, received_at: datetime, request_token: str
) -> ReceiptRead:
    """Cash taken at the door by a collector (走收): channel collector, method cash."""
    value = money(amount)
    token, account, day = _taking(
        received_at=received_at, request_token=request_token, account_number=account_number
    )
    with transaction.atomic():
        replay = _replayed(token, user)
        if replay is not None:
            return replay
        if queries.handover(collector_id=user.pk, business_date=day) is not None:
            raise DayClosed(f"the cash of {day} has been handed over (已交款): no more collection today")
        return _take(
            account=account,
            amount=value,
            method=PaymentMethod.CASH,
            channel=PaymentChannel.COLLECTOR,
            prefix=f"ZS{user.pk}",
            outlet_code="",
            user=user,
            received_at=received_at,
            token=token,
        )


def top_up(
    *, account_number: str, amount: Any, channel_txn_id: str, received_at: datetime, user: Any
) -> PostResult:
    """A prepaid (费控) top-up from any channel that has its own transaction id (portal order, counter
    receipt): posts once per ``channel_txn_id`` on channel ``prepaid``. Refused for a postpaid account."""
    account = _account(account_number)
    if not account.prepaid:
        raise InputError(f"account {account.number} is not a prepaid (费控) account")
    return post_payment(
        account_number=account.number,
        amount=amount,
        channel=PaymentChannel.PREPAID,
        channel_txn_id=channel_txn_id,
        received_at=received_at,
        user=user,
        memo="top-up 充值",
    )


def reprint(*, receipt_no: str, receipts: Any, user: Any) -> tuple[Receipt, int]:
    """Count a reprint (重打) of a receipt found in ``receipts`` (the caller's scoped queryset); returns the
    receipt and the reprint number."""
    with transaction.atomic():
        receipt = receipts.select_for_update().filter(receipt_no=receipt_no).first()
        if receipt is None:
            raise ReceiptNotFound(f"no receipt {receipt_no!r}")
        Receipt.objects.filter(pk=receipt.pk).update(reprints=F("reprints") + 1)
        receipt.refresh_from_db()
        audit.record_batch(
            actor=user,
            action="counter.reprint",
            object_repr=f"receipt {receipt.receipt_no}",
            object_pk=receipt.pk,
            changes={"reprints": (receipt.reprints - 1, receipt.reprints)},
        )
        return receipt, receipt.reprints


@dataclass(frozen=True)
class CloseResult:
    status: str  # balanced | approved | pending
    closed: bool
    expected: dict[str, Decimal]  # the counter takings by method
    declared_cash: Decimal
    discrepancy: Decimal  # declared - expected cash
    receipts: int
    handover_cash: Decimal = ZERO  # collectors' cash counted into the till
    handovers: int = 0
    expected_cash: Decimal = ZERO  # counter cash + handover_cash


def close_day(
    *,
    cashier: Any,
    outlet_code: str,
    business_date: date,
    declared_cash: Any,
    closed_at: datetime,
    reason: str = "",
) -> CloseResult:
    """The cashier's daily cash close (日结) at one outlet; see the module docstring for the rules. A
    discrepancy with a reason is recorded ``pending``: another user approves it (:func:`approve_close`)."""
    declared = money(declared_cash, name="declared cash", allow_zero=True)
    reason = (reason or "").strip()[:300]
    code = (outlet_code or "").strip()
    if not code:
        raise InputError("an outlet code is required")
    with transaction.atomic():
        _lock_user(cashier)
        existing = (
            CashClose.objects.select_for_update()
            .filter(cashier_id=cashier.pk, outlet_code=code, business_date=business_date)
            .first()
        )
        if existing is not None and existing.status in CLOSED_STATUSES:
            raise DayClosed(f"the cash close of {business_date} at {code} is already done")
        till = queries.expected_till(
            cashier_id=cashier.pk, outlet_code=code, business_date=business_date, close=existing
        )
        expected, handovers = till.totals, till.handovers
        handover_cash, expected_cash = till.handover_cash, till.expected_cash
        count = (
            queries.receipts_of_day(
                user_id=cashier.pk, business_date=business_date, channels=queries.COUNTER_CHANNELS
            )
            .filter(outlet_code=code, payment__status="posted")
            .count()
        )
        diff = declared - expected_cash
        if diff == 0:
            status = CloseStatus.BALANCED
        elif not reason:
            raise InputError(
                f"declared cash {declared} differs from the system's {expected_cash} "
                f"(counter {expected[PaymentMethod.CASH]} + hand-overs {handover_cash}) by {diff}: "
                "a reason is required"
            )
        else:
            status = CloseStatus.PENDING
        fields = {
            "expected_cash": expected_cash,
            "handover_cash": handover_cash,
            "expected_card": expected[PaymentMethod.CARD],
            "expected_qr": expected[PaymentMethod.QR],
            "receipts": count,
            "declared_cash": declared,
            "discrepancy": diff,
            "reason": reason if diff else "",
            "supervisor_note": "",
            "status": status,
            "closed_at": closed_at,
        }
        if existing is None:
            close = CashClose.objects.create(
                cashier=cashier, outlet_code=code, business_date=business_date, **fields
            )
        else:
            for k, v in fields.items():
                setattr(existing, k, v)
            existing.save()
            close = existing
        if status in CLOSED_STATUSES and handovers:
            CashHandover.objects.filter(pk__in=[h.pk for h in handovers]).update(cash_close=close)
        return CloseResult(
            status,
            status in CLOSED_STATUSES,
            expected,
            declared,
            diff,
            count,
            handover_cash=handover_cash,
            handovers=len(handovers),
            expected_cash=expected_cash,
        )


class CloseRefused(InputError):
    """The cash close cannot be approved (capability, four eyes, state, or the takings changed)."""


def approve_close(*, close_id: int, user: Any, note: str, approved_at: datetime) -> CashClose:
    """Approve (主管审核) a pending cash close with a discrepancy: a user holding ``payments.close_approve``
    who is not the cashier, with a note. The takings are summed again under the cashier's lock: if they
    changed since the close was recorded (a payment or a hand-over after it), the approval is refused and the
    cashier closes again. The close then counts its hand-overs, like a balanced close. Audited."""
    if user is None or not has_capability(user, roles.PAYMENTS_CLOSE_APPROVE):
        raise CloseRefused("approving a cash close needs the payments.close_approve capability")
    note = (note or "").strip()
    if not note:
        raise CloseRefused("a note is required to approve a cash close")
    with transaction.atomic():
        close = CashClose.objects.filter(pk=close_id).select_related("cashier").first()
        if close is None:
            raise CloseRefused(f"no cash close {close_id}")
        _lock_user(close.cashier)
        close = CashClose.objects.select_for_update().get(pk=close_id)
        if close.cashier_id == user.pk:
            raise CloseRefused("a cashier cannot approve their own cash close (four eyes)")
        if close.status != CloseStatus.PENDING:
            raise CloseRefused(f"the cash close is {close.status}, not pending")
        cashier_id, code, day = close.cashier_id, close.outlet_code, close.business_date
        till = queries.expected_till(cashier_id=cashier_id, outlet_code=code, business_date=day, close=close)
        now_expected, handovers = till.expected_cash, till.handovers
        if now_expected != close.expected_cash:
            raise CloseRefused(
                f"the takings changed since the close was recorded ({close.expected_cash} -> {now_expected}): "
                "the cashier must close again"
            )
        CashClose.objects.filter(pk=close.pk).update(
            status=CloseStatus.APPROVED, supervisor_note=note[:300], approved_by=user, approved_at=approved_at
        )
        if handovers:
            CashHandover.objects.filter(pk__in=[h.pk for h in handovers]).update(cash_close=close)
        audit.record_batch(
            actor=user,
            action="counter.close_approve",
            object_repr=f"cash close {close.outlet_code} {close.business_date} cashier {close.cashier_id}",
            object_pk=close.pk,
            changes={"status": ("pending", "approved"), "discrepancy": str(close.discrepancy), "note": note},
        )
        close.refresh_from_db()
    return close


@dataclass(frozen=True)
class HandoverResult:
    expected: Decimal
    handed_over: Decimal
    discrepancy: Decimal
    receiver: str
    outlet_code: str = ""


def hand_over(
    *,
    collector: Any,
    business_date: date,
    handed_over: Any,
    receiver_username: str,
    handed_at: datetime,
    reason: str = "",
    outlet_code: str = "",
) -> HandoverResult:
    """The collector's cash hand-over (交款) of a day to a cashier, at ``outlet_code`` when named (an active
    outlet): the cashier's close of the day at that outlet counts it into the till (an unnamed outlet: the
    cashier's first close of the day that is done)."""
    amount = money(handed_over, name="handed-over cash", allow_zero=True)
    code = (outlet_code or "").strip()
    if code and not PaymentOutlet.objects.filter(code=code, active=True).exists():
        raise InputError(f"no active payment outlet {outlet_code!r}")
    if handed_at.tzinfo is None:
        raise InputError("handed_at must be timezone-aware")
    receiver = (
        get_user_model().objects.filter(username=(receiver_username or "").strip(), is_active=True).first()
    )
    if receiver is None or not has_capability(receiver, roles.PAYMENTS_COUNTER):
        raise InputError(f"{receiver_username!r} is not a cashier who can receive cash")
    if receiver.pk == collector.pk:
        raise InputError("cash cannot be handed over to oneself")
    reason = (reason or "").strip()[:300]
    with transaction.atomic():
        if queries.handover(collector_id=collector.pk, business_date=business_date) is not None:
            raise DayClosed(f"the cash of {business_date} has already been handed over")
        _lock_user(receiver)
        received_on = timezone.localtime(handed_at).date()
        if queries.day_closed(cashier_id=receiver.pk, business_date=received_on):
            raise DayClosed(
                f"{receiver.get_username()} has done the cash close (日结) of {received_on}: hand the cash to "
                "another cashier"
            )
        expected, _count = queries.collected(collector_id=collector.pk, business_date=business_date)
        diff = amount - expected
        if diff and not reason:
            raise InputError(
                f"handed-over {amount} differs from the {expected} collected by {diff}: a reason is required"
            )
        try:
            with transaction.atomic():
                CashHandover.objects.create(
                    collector=collector,
                    business_date=business_date,
                    expected=expected,
                    handed_over=amount,
                    discrepancy=diff,
                    reason=reason if diff else "",
                    received_by=receiver,
                    handed_at=handed_at,
                    outlet_code=code,
                )
        except IntegrityError:
            raise DayClosed(f"the cash of {business_date} has already been handed over") from None
        return HandoverResult(expected, amount, diff, receiver.get_username(), code)
