"""Payments (缴费): post one or a batch, list and read them, reverse one (冲正).

* ``POST /api/payments`` (``payments.counter`` or ``payments.collect``): one ``post_payment`` call, idempotent
  per (channel, channel_txn_id): 201 the first time, 200 ``duplicate`` for the same transaction again, 409 when
  the transaction id was used for another account or amount. An account outside the caller's scope is a 404.
* ``POST /api/payments/batch`` (same capabilities): up to ``MAX_BATCH_ITEMS`` payments for bank / aggregator
  channels, validated whole (422 listing every bad item, 409 listing every conflicting one), then posted in
  one transaction by ``post_payments`` (set-based): all or nothing.
* ``GET /api/payments``, ``GET /api/payments/{id}`` (``ledger.view`` or ``portal.use``), scoped like the
  accounts; ``POST /api/payments/{id}/reverse`` (``payments.reverse``).

The interface decides "now" (``received_at`` default, ``reversed_at``) and passes it in.
"""

from datetime import date, timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import paginate
from ninja.params.functions import Body, Query

from wattdesk.application.payments.posting import (
    AccountNotFound,
    BatchRejected,
    PaymentAlreadyReversed,
    PaymentConflict,
    PaymentIn,
    PaymentNotFound,
    PostResult,
    post_payment,
    post_payments,
    reverse_payment,
)
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.payments.models import Payment, PaymentChannel, PaymentStatus
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.errors import ItemsRejected
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, ErrorRead, ValidationErrorRead
from wattdesk.interfaces.api.schemas.payments import (
    PaymentBatchRead,
    PaymentCreate,
    PaymentDetailRead,
    PaymentPostedRead,
    PaymentRead,
    PaymentReverse,
    PaymentReversedRead,
)

router = Router(tags=["payments"])

MAX_BATCH_ITEMS = 1000
MAX_ID = 2**63 - 1
#: A payment "received" later than this after the request arrived is refused (clock skew allowance).
FUTURE_SKEW = timedelta(minutes=5)
POST_CAPS = (roles.PAYMENTS_COUNTER, roles.PAYMENTS_COLLECT)
READ_CAPS = (roles.LEDGER_VIEW, roles.PORTAL_USE)

Item = tuple[int | None, str, str]  # (index, field, reason)


def _posted(r: PostResult) -> dict[str, Any]:
    return {
        "outcome": r.outcome,
        "payment_id": r.payment_id,
        "account": r.account_number,
        "amount": r.amount,
        "allocations": [{"bill_id": a.bill_id, "kind": a.kind, "amount": a.amount} for a in r.allocations],
        "credit": r.credit,
        "balance": r.balance,
    }


def _future(items: list[PaymentCreate], now: Any) -> list[Item]:
    return [
        (n, "received_at", f"received_at {i.received_at.isoformat()} is in the future")
        for n, i in enumerate(items)
        if i.received_at is not None and i.received_at > now + FUTURE_SKEW
    ]


def _post(item: PaymentCreate, *, user: Any, now: Any) -> PostResult:
    return post_payment(
        account_number=item.account,
        amount=item.amount,
        channel=str(item.channel),
        channel_txn_id=item.channel_txn_id,
        received_at=item.received_at or now,
        user=user,
        outlet=item.outlet or None,
        memo=item.memo,
    )


@router.post(
    "",
    response={
        200: PaymentPostedRead,
        201: PaymentPostedRead,
        404: ErrorRead,
        409: ErrorRead,
        422: ValidationErrorRead,
    },
    summary="Post one payment (idempotent per channel transaction)",
)
def create_payment(request: Any, payload: PaymentCreate) -> Status[dict[str, Any]]:
    user = require(request, *POST_CAPS)
    now = timezone.now()
    scoped = accounts_for(user)
    # a company-wide role sees every account: no scope query, post_payment's own lookup answers "no account"
    if scoped.query.has_filters() and not scoped.filter(number=payload.account).exists():
        raise Http404("no such account")
    late = _future([payload], now)
    if late:
        raise ItemsRejected([(None, f, r) for _, f, r in late])
    try:
        result = _post(payload, user=user, now=now)
    except AccountNotFound:
        raise Http404("no such account") from None
    except PaymentConflict as exc:
        return Status(409, {"detail": str(exc)})
    return Status(201 if result.outcome == "posted" else 200, _posted(result))


def _batch_error(status: int, errors: list[Item], detail: str) -> Status[dict[str, Any]]:
    return Status(
        status, {"detail": detail, "errors": [{"index": i, "field": f, "reason": r} for i, f, r in errors]}
    )


@router.post(
    "/batch",
    response={
        200: PaymentBatchRead,
        201: PaymentBatchRead,
        409: ValidationErrorRead,
        422: ValidationErrorRead,
    },
    summary="Post up to 1,000 payments in one transaction (all or nothing; each idempotent)",
)
def create_payments(
    request: Any,
    items: list[PaymentCreate] = Body(..., min_length=1, max_length=MAX_BATCH_ITEMS),  # noqa: B008
) -> Status[dict[str, Any]]:
    user = require(request, *POST_CAPS)
    now = timezone.now()
    visible = set(
        accounts_for(user).filter(number__in={i.account for i in items}).values_list("number", flat=True)
    )
    rejected: list[Item] = [
        (n, "account", f"unknown account {i.account!r}")
        for n, i in enumerate(items)
        if i.account not in visible
    ]
    rejected += _future(items, now)
    if rejected:
        raise ItemsRejected(sorted(rejected, key=lambda e: (e[0] or 0, e[1])))
    batch = [
        PaymentIn(
            account_number=i.account,
            amount=i.amount,
            channel=str(i.channel),
            channel_txn_id=i.channel_txn_id,
            received_at=i.received_at or now,
            outlet=i.outlet,
            memo=i.memo,
        )
        for i in items
    ]
    try:
        results = post_payments(items=batch, user=user)
    except BatchRejected as exc:
        return _batch_error(409 if exc.conflict else 422, list(exc.errors), str(exc))
    posted = sum(r.outcome == "posted" for r in results)
    return Status(
        201 if posted else 200,
        {"posted": posted, "duplicates": len(results) - posted, "results": [_posted(r) for r in results]},
    )


def _payments_for(user: Any) -> QuerySet[Payment]:
    return Payment.objects.filter(account__in=accounts_for(user).values("pk"))


@router.get("", response=list[PaymentRead], summary="Payments of the accounts in the caller's scope")
@paginate(Pages)
def list_payments(
    request: Any,
    account: str | None = Query(None, max_length=32, pattern=KEY_PATTERN, description="account number"),
    channel: PaymentChannel | None = Query(None),  # noqa: B008 (ninja parameter declaration)
    status: PaymentStatus | None = Query(None),  # noqa: B008
    received_from: date | None = Query(None, description="received on or after this day (YYYY-MM-DD)"),  # noqa: B008
    received_before: date | None = Query(None, description="received before this day (exclusive)"),  # noqa: B008
) -> QuerySet[Payment]:
    user = require(request, *READ_CAPS)
    qs = _payments_for(user)
    if account:
        qs = qs.filter(account__number=account)
    if channel:
        qs = qs.filter(channel=channel)
    if status:
        qs = qs.filter(status=status)
    if received_from:
        qs = qs.filter(received_on__gte=received_from)
    if received_before:
        qs = qs.filter(received_on__lt=received_before)
    return qs.select_related("account").order_by("-received_at", "-id")


def _scoped_payment(user: Any, payment_id: int) -> Payment:
    if not 0 < payment_id <= MAX_ID:
        raise Http404("no such payment")
    return get_object_or_404(_payments_for(user).select_related("account"), pk=payment_id)


@router.get("/{payment_id}", response=PaymentDetailRead, summary="One payment with its allocations")
def get_payment(request: Any, payment_id: int) -> Payment:
    user = require(request, *READ_CAPS)
    return _scoped_payment(user, payment_id)


@router.post(
    "/{payment_id}/reverse",
    response={200: PaymentReversedRead, 404: ErrorRead, 409: ErrorRead, 422: ValidationErrorRead},
    summary="Reverse (冲正) a posted payment, with a reason (audited)",
)
def reverse(request: Any, payment_id: int, payload: PaymentReverse) -> Status[dict[str, Any]]:
    user = require(request, roles.PAYMENTS_REVERSE)
    payment = _scoped_payment(user, payment_id)
    try:
        r = reverse_payment(
            payment_id=payment.pk, reason=payload.reason, reversed_at=timezone.now(), user=user
        )
    except PaymentNotFound:
        raise Http404("no such payment") from None
    except PaymentAlreadyReversed as exc:
        return Status(409, {"detail": str(exc)})
    return Status(
        200,
        {
            "payment_id": r.payment_id,
            "reversal_entry_id": r.reversal_entry_id,
            "amount": r.amount,
            "balance": r.balance,
        },
    )
