"""Use cases of the mobile / online channel (线上缴费) through a payment gateway (docs/payments-gateway.md).

* ``create_order``: a customer (or staff) starts paying an account in their scope; the portal then sends the
  browser to the gateway's pay page.
* ``handle_callback``: the gateway's asynchronous, HMAC-signed notice that an order was paid. Checked in this
  order, each refusal logged: signature (400), body (400), timestamp window and nonce (replay, 400), order
  (404), amount (409). Then, in one transaction, the order is moved to ``paid`` by a conditional UPDATE and
  the payment is posted with ``post_payment(channel="mobile", channel_txn_id=txn_id)``: exactly one posting
  however many times and however concurrently the callback arrives; every repeat is answered 200
  "already processed".
* ``reconcile``: the gateway's daily statement file (对账单) against the mobile payments WattDesk posted.

Nothing here reads the clock: ``created_at`` / ``received_at`` come from the interface.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.application.payments.posting import PaymentConflict, money, post_payment
from wattdesk.core import gateway_signing
from wattdesk.core.money import AmountError, parse_amount
from wattdesk.core.text import EncodingUndecided, decode_import
from wattdesk.domain import audit
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.fields import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from wattdesk.domain.gateway import operations, queries
from wattdesk.domain.gateway.models import CallbackOutcome, OrderStatus, PaymentOrder
from wattdesk.domain.payments.models import PaymentChannel

CHANNEL = PaymentChannel.MOBILE
MAX_ORDER_AMOUNT = Decimal("1000000.00")
STATEMENT_COLUMNS = ("txn_id", "order_no", "amount", "paid_at")


class AccountNotFound(InputError):
    """No such account in the user's scope."""


# --- orders ----------------------------------------------------------------------------------------------


def _money(value: Any) -> Decimal:
    """An online amount: ``payments.money`` within the online limit."""
    amount = money(value)
    if amount > MAX_ORDER_AMOUNT:
        raise InputError(f"amount {value} is above the online limit of {MAX_ORDER_AMOUNT}")
    return amount


def new_order_no(created_at: datetime) -> str:
    """WD + local yyyymmddHHMMSS + 10 random hex digits (26 characters)."""
    return "WD" + timezone.localtime(created_at).strftime("%Y%m%d%H%M%S") + secrets.token_hex(5).upper()


def create_order(*, user: Any, account_number: str, amount: Any, created_at: datetime) -> PaymentOrder:
    """A payment order for an account the user may see (a customer: their own accounts)."""
    if created_at.tzinfo is None:
        raise InputError("created_at must be timezone-aware")
    value = _money(amount)
    account = accounts_for(user).filter(number=(account_number or "").strip()).first()
    if account is None:
        raise AccountNotFound(f"no account {account_number!r}")
    with transaction.atomic():
        return operations.create_order(
            order_no=new_order_no(created_at),
            account_id=account.pk,
            amount=value,
            created_at=created_at,
            customer_user=user,
        )


def expire_orders(*, before: datetime) -> int:
    """Expire the orders left unpaid since before ``before``; returns how many (idempotent)."""
    if before.tzinfo is None:
        raise InputError("before must be timezone-aware")
    with transaction.atomic():
        n = operations.expire_created(before=before)
        if n:
            audit.record_batch(
                actor=None,
                action="gateway.expire",
                object_repr=f"payment orders created before {before.isoformat()}",
                changes={"status": (OrderStatus.CREATED, OrderStatus.EXPIRED), "orders": n},
            )
        return n


#: an unpaid order older than this is expired by the nightly pass (``WATTDESK_GATEWAY_ORDER_TTL_HOURS``)
DEFAULT_ORDER_TTL_HOURS = 24


def order_ttl() -> timedelta:
    """How long an unpaid order stays payable: the setting or environment variable
    ``WATTDESK_GATEWAY_ORDER_TTL_HOURS`` (whole hours >= 1), else 24 hours."""
    raw = getattr(settings, "WATTDESK_GATEWAY_ORDER_TTL_HOURS", None)
    if raw is None:
        raw = os.environ.get("WATTDESK_GATEWAY_ORDER_TTL_HOURS", "").strip() or DEFAULT_ORDER_TTL_HOURS
    try:
        hours = int(raw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"WATTDESK_GATEWAY_ORDER_TTL_HOURS must be whole hours, got {raw!r}") from exc
    if hours < 1:
        raise InputError(f"WATTDESK_GATEWAY_ORDER_TTL_HOURS must be >= 1, got {hours}")
    return timedelta(hours=hours)


@dataclass(frozen=True)
class ExpiryResult:
    before: datetime
    expired: int


def expire_stale_orders(*, day: date, now: datetime, ttl: timedelta | None = None) -> ExpiryResult:
    """The nightly pass for ``day``: expire the orders created more than ``ttl`` (default :func:`order_ttl`)
    before the end of ``day`` (or before ``now`` when the pass runs during the day), so re-running an old
    day expires only what was already stale then. Idempotent."""
    if now.tzinfo is None:
        raise InputError("now must be timezone-aware")
    end_of_day = datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())
    before = min(now, end_of_day) - (ttl if ttl is not None else order_ttl())
    return ExpiryResult(before, expire_orders(before=before))


def visible_orders(*, user: Any) -> Any:
    return queries.orders_of(accounts=accounts_for(user))


# --- the callback ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackResult:
    http_status: int
    outcome: str  # a CallbackOutcome value
    detail: str
    order_no: str = ""
    txn_id: str = ""
    payment_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.http_status == 200


@dataclass(frozen=True)
class _Notice:
    order_no: str
    txn_id: str
    amount: Decimal
    status: str
    paid_at: datetime
    timestamp: int
    nonce: str


def _parse(body: bytes) -> _Notice:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError("body is not UTF-8 JSON") from exc
    if not isinstance(data, dict):
        raise InputError("body must be a JSON object")
    missing = [
        k
        for k in ("order_no", "txn_id", "amount", "status", "paid_at", "timestamp", "nonce")
        if k not in data
    ]
    if missing:
        raise InputError(f"missing fields: {', '.join(missing)}")
    texts = {k: str(data[k]).strip() for k in ("order_no", "txn_id", "status", "nonce")}
    for k, v in texts.items():
        if not v or len(v) > 64:
            raise InputError(f"{k} must be 1 to 64 characters")
    if texts["status"] not in ("paid", "failed"):
        raise InputError(f"status must be paid or failed, got {texts['status']!r}")
    if not isinstance(data["amount"], str):
        raise InputError('amount must be a decimal string, e.g. "120.50"')
    amount = _money(data["amount"])
    try:
        paid_at = datetime.fromisoformat(str(data["paid_at"]))
    except ValueError as exc:
        raise InputError(f"paid_at {data['paid_at']!r} is not an ISO 8601 date-time") from exc
    if paid_at.tzinfo is None:
        raise InputError("paid_at must carry a UTC offset")
    ts = data["timestamp"]
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise InputError("timestamp must be an integer (Unix seconds)")
    return _Notice(texts["order_no"], texts["txn_id"], amount, texts["status"], paid_at, ts, texts["nonce"])


def handle_callback(*, body: bytes, signature: str, received_at: datetime) -> CallbackResult:
    """Verify and apply one gateway callback; every call is logged with its outcome."""
    result, signature_ok = _handle(body=body, signature=signature, received_at=received_at)
    operations.log_callback(
        received_at=received_at,
        order_no=result.order_no,
        txn_id=result.txn_id,
        signature_ok=signature_ok,
        outcome=result.outcome,
        http_status=result.http_status,
        detail=result.detail,
        body=body,
    )
    return result


def _handle(*, body: bytes, signature: str, received_at: datetime) -> tuple[CallbackResult, bool]:
    secret = settings.WATTDESK_GATEWAY_SECRET
    if not secret:
        return CallbackResult(
            503, CallbackOutcome.NOT_CONFIGURED, "WATTDESK_GATEWAY_SECRET is not set"
        ), False
    if not gateway_signing.verify(secret=secret, body=body, signature=signature):
        return CallbackResult(400, CallbackOutcome.BAD_SIGNATURE, "signature does not match the body"), False
    try:
        n = _parse(body)
    except InputError as exc:
        return CallbackResult(400, CallbackOutcome.BAD_REQUEST, str(exc)), True
    if not gateway_signing.within_window(timestamp=n.timestamp, now=int(received_at.timestamp())):
        detail = f"timestamp {n.timestamp} is outside the {gateway_signing.WINDOW_SECONDS} s window"
        return CallbackResult(400, CallbackOutcome.REPLAY, detail, n.order_no, n.txn_id), True

    with transaction.atomic():
        if not operations.remember_nonce(
            nonce=n.nonce, body_sha256=gateway_signing.body_digest(body), seen_at=received_at
        ):
            return CallbackResult(
                400, CallbackOutcome.REPLAY, f"nonce {n.nonce} was already used", n.order_no, n.txn_id
            ), True
        order = queries.order(order_no=n.order_no)
        if order is None:
            return CallbackResult(
                404, CallbackOutcome.UNKNOWN_ORDER, f"no order {n.order_no}", n.order_no, n.txn_id
            ), True
        if n.amount != order.amount:
            detail = f"amount {n.amount} differs from the order's {order.amount}"
            return CallbackResult(409, CallbackOutcome.AMOUNT_MISMATCH, detail, n.order_no, n.txn_id), True
        if n.status == "failed":
            changed = operations.mark_failed(order_id=order.pk)
            return CallbackResult(
                200, CallbackOutcome.FAILED, "failed" if changed else "ignored", n.order_no, n.txn_id
            ), True
        if operations.claim_paid(order_id=order.pk, txn_id=n.txn_id, paid_at=n.paid_at):
            try:
                posted = post_payment(
                    account_number=order.account.number,
                    amount=n.amount,
                    channel=CHANNEL,
                    channel_txn_id=n.txn_id,
                    received_at=n.paid_at,
                    user=None,
                    memo=f"线上缴费 order {order.order_no}",
                )
            except PaymentConflict as exc:  # the txn id was posted for another order: undo the claim
                transaction.set_rollback(True)
                return CallbackResult(409, CallbackOutcome.CONFLICT, str(exc), n.order_no, n.txn_id), True
            audit.record_batch(
                actor=None,
                action="gateway.paid",
                object_repr=f"payment order {order.order_no}",
                object_pk=order.pk,
                changes={
                    "status": (order.status, OrderStatus.PAID),
                    "channel_txn_id": n.txn_id,
                    "amount": str(n.amount),
                    "payment": posted.payment_id,
                },
            )
            return CallbackResult(
                200, CallbackOutcome.POSTED, "posted", n.order_no, n.txn_id, posted.payment_id
            ), True
        paid = PaymentOrder.objects.filter(pk=order.pk).values_list("channel_txn_id", flat=True).first()
        if paid != n.txn_id:
            detail = f"order {n.order_no} was already paid by transaction {paid}"
            return CallbackResult(409, CallbackOutcome.CONFLICT, detail, n.order_no, n.txn_id), True
        return CallbackResult(200, CallbackOutcome.DUPLICATE, "already processed", n.order_no, n.txn_id), True


# --- reconciliation (对账) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    kind: str  # missing_in_wattdesk | missing_in_statement | amount_differs | order_differs | day_differs | duplicate_in_statement
    txn_id: str
    order_no: str
    statement_amount: Decimal | None
    wattdesk_amount: Decimal | None
    detail: str = ""


@dataclass(frozen=True)
class StatementLine:
    line: int
    txn_id: str
    order_no: str
    amount: Decimal
    paid_at: datetime


def read_statement(path: Path) -> list[StatementLine]:
    """Parse the gateway's statement CSV (header txn_id,order_no,amount,paid_at); any bad line -> InputError."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"no statement file {path}") from exc
    except OSError as exc:
        raise InputError(f"cannot read statement file {path}: {exc}") from exc
    try:
        text = decode_import(data, name=str(path)).text  # UTF-8 (BOM optional) or GB18030, strictly
    except EncodingUndecided as exc:
        raise InputError(str(exc)) from None
    return parse_statement(text, name=str(path))


def parse_statement(text: str, *, name: str) -> list[StatementLine]:
    """The one parser of the gateway's statement (CLI ``wattdesk gateway reconcile`` and the upload page):
    CSV with the header ``txn_id,order_no,amount,paid_at`` (a quoted field may hold a line break; rows are
    counted as records, the header is row 1; blank rows are skipped). Strict: the first bad cell is an
    :class:`InputError` ``<name> row N, column C: reason`` — an empty or longer than 64 characters txn_id or
    order_no, an amount that is not a yuan amount a ``MoneyField`` holds (``core.money.parse_amount``: no
    exponent, NaN or more than two decimals; refunds may be negative), a paid_at without a UTC offset."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _statement_rows(reader, name=name)
    except csv.Error as exc:
        raise InputError(f"{name} row {reader.line_num}: {exc}") from exc


def _statement_rows(reader: Any, *, name: str) -> list[StatementLine]:
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != STATEMENT_COLUMNS:
        raise InputError(f"{name} row 1: the header must be {','.join(STATEMENT_COLUMNS)}")
    out: list[StatementLine] = []
    for number, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(STATEMENT_COLUMNS):
            raise InputError(
                f"{name} row {number}: expected {len(STATEMENT_COLUMNS)} columns, got {len(row)}"
            )
        txn, order_no, amount_text, paid_text = (c.strip() for c in row)
        if not txn:
            raise InputError(f"{name} row {number}, column txn_id: empty")
        for column, value in (("txn_id", txn), ("order_no", order_no)):
            if len(value) > 64:
                raise InputError(f"{name} row {number}, column {column}: longer than 64 characters")
        try:
            amount = parse_amount(
                amount_text,
                max_digits=MONEY_MAX_DIGITS,
                places=MONEY_DECIMAL_PLACES,
                allow_zero=True,
                allow_negative=True,
            )
        except AmountError:
            raise InputError(
                f"{name} row {number}, column amount: {amount_text[:40]!r} is not an amount in yuan (two decimals)"
            ) from None
        try:
            paid_at: datetime | None = datetime.fromisoformat(paid_text)
        except ValueError:
            paid_at = None
        if paid_at is None or paid_at.tzinfo is None:
            raise InputError(
                f"{name} row {number}, column paid_at: {paid_text[:40]!r} is not an ISO 8601 date-time "
                "with a UTC offset"
            )
        out.append(StatementLine(number, txn, order_no, amount, paid_at))
    return out


def reconcile(
    *, day: date, statement_path: Path | None = None, lines: list[StatementLine] | None = None
) -> list[Mismatch]:
    """Every difference between the gateway's statement for ``day`` (a file, or lines already parsed by
    :func:`parse_statement`) and WattDesk's mobile payments received that day (received_on = the gateway's
    paid_at, local time), sorted by kind then transaction id."""
    if lines is None:
        if statement_path is None:
            raise InputError("a statement file or its parsed lines is needed")
        lines = read_statement(statement_path)
    posted = queries.mobile_payments(txn_ids=[ln.txn_id for ln in lines], day=day)
    mismatches: list[Mismatch] = []
    seen: set[str] = set()
    for ln in lines:
        if ln.txn_id in seen:
            mismatches.append(
                Mismatch("duplicate_in_statement", ln.txn_id, ln.order_no, ln.amount, None, f"line {ln.line}")
            )
            continue
        seen.add(ln.txn_id)
        p = posted.get(ln.txn_id)
        if p is None:
            mismatches.append(Mismatch("missing_in_wattdesk", ln.txn_id, ln.order_no, ln.amount, None))
            continue
        if p.amount != ln.amount:
            mismatches.append(Mismatch("amount_differs", ln.txn_id, ln.order_no, ln.amount, p.amount))
        if p.order_no != ln.order_no:
            mismatches.append(
                Mismatch(
                    "order_differs",
                    ln.txn_id,
                    ln.order_no,
                    ln.amount,
                    p.amount,
                    f"WattDesk order {p.order_no}",
                )
            )
        if p.received_on != day:
            mismatches.append(
                Mismatch(
                    "day_differs", ln.txn_id, ln.order_no, ln.amount, p.amount, f"posted on {p.received_on}"
                )
            )
    for txn, p in posted.items():
        if txn not in seen and p.received_on == day:
            mismatches.append(Mismatch("missing_in_statement", txn, p.order_no, None, p.amount))
    return sorted(mismatches, key=lambda m: (m.kind, m.txn_id))
