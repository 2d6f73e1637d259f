"""Use cases after a billing run: review held bills (复核), approve, hold, cancel-and-rebill (作废重开), issue (发行).

One function per action, whatever starts it — ``wattdesk bill …`` (interfaces/commands/bill.py), the review
page (interfaces/web/pages/billing.py), the API (``/api/bills/…``) or a task. Each one

* takes the acting ``user`` (keyword-only; ``None`` only for a system job such as the synthetic county) and,
  for a user, checks the ``billing.review`` capability;
* takes the same database lock: ``domain.billing.operations.lock_bill`` (the account row, then the bill row,
  as payments lock the account) for one bill; the bill rows being issued for ``issue_bills``;
* writes the same audit entry (``domain.audit.record_batch``, the action and payload below) in the same
  transaction as the change, so an entry exists exactly when the change committed.

Audit entries (object: the bill, or the period for an issue; kind UPDATE):

=================  ===============================================================================
``bills.approve``  ``status: [held, draft]``, ``total``, ``note``
``bills.hold``     ``status: [<before>, held]``, ``total``, ``reason``
``bills.cancel``   ``status: [<before>, cancelled]``, ``total``, ``reason``, ``reversal`` (the amount)
``bills.issue``    ``status: [draft, issued]``, ``bills``, ``total``, ``due_on``, ``route``
=================  ===============================================================================

The clock is never read here: the interface passes the time of the action.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from auditlog.models import LogEntry
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from wattdesk.application.billing import fetch
from wattdesk.application.billing.hold import DEFAULT_HOLD_POLICY, median
from wattdesk.application.billing.run import (
    BillingInputError,
    BillNotFound,
    BillStateError,
    parse_period,
)
from wattdesk.core.money import round_fen
from wattdesk.domain import audit, sql
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.billing.operations import BillMissing, lock_bill
from wattdesk.domain.customers.models import Account, ReadingRoute, ServicePoint
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.domain.ledger.operations import Posting, post_entries, reverse_entry
from wattdesk.domain.payments import operations as payment_operations
from wattdesk.domain.payments import queries as payment_queries

ZERO = Decimal(0)
APPROVED_PREFIX = "approved "
MAX_TEXT = 300
UPDATE = LogEntry.Action.UPDATE
_t, _c = sql.table, sql.col

#: Hold-reason filters of the review page: code -> how the stored line starts (``application.billing.hold``).
REASON_PREFIXES = {
    "negative": "negative total",
    "new_account": "new account:",
    "high": "high:",
    "low": "low:",
}
OTHER_REASON = "other"  # a hold put by a reviewer (free text)


class BillActionRefused(BillingInputError):
    """The acting user may not do this (capability)."""


# --- value objects -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuePolicy:
    """Policy data for issuing (发行): the payment term. 缴费期限 is set by the supply contract / provincial
    rule; 15 days after issue is a common default — configure it, do not trust this constant."""

    due_days: int = 15

    def __post_init__(self) -> None:
        if self.due_days < 0:
            raise ValueError("due_days must not be negative")


@dataclass(frozen=True)
class IssueResult:
    period: str
    issued: int
    total: Decimal
    due_on: date
    still_held: int


@dataclass(frozen=True)
class CancelResult:
    bill_id: int
    account_number: str
    period: str
    version: int
    reversal_id: int | None
    reversal_amount: Decimal
    total: Decimal  # the cancelled bill's total (never changed)


@dataclass(frozen=True)
class HeldBill:
    bill_id: int
    account_number: str
    period: str
    version: int
    total: Decimal
    kwh: Decimal
    hold_reason: str
    history_median: Decimal | None


@dataclass(frozen=True)
class ApproveResult:
    bill_id: int
    account_number: str
    period: str
    total: Decimal


@dataclass(frozen=True)
class HoldResult:
    bill_id: int
    account_number: str
    period: str
    total: Decimal
    status_before: str


# --- reads for the review --------------------------------------------------------------------------------


def held_bills(
    *,
    period: str,
    bills: QuerySet[Bill] | None = None,
    route: str | None = None,
    reason: str | None = None,
    min_total: Decimal | None = None,
    max_total: Decimal | None = None,
) -> QuerySet[Bill]:
    """The held bills of a period, largest first, optionally within ``bills`` (the caller's scope), on one
    reading route (code), with one hold-reason code (``REASON_PREFIXES`` or ``other``) and within an
    amount range (inclusive)."""
    parse_period(period)
    qs = (bills if bills is not None else Bill.objects.all()).filter(period=period, status=BillStatus.HELD)
    if route:
        on_route = ServicePoint.objects.filter(route__code=route).values("account_id")
        qs = qs.filter(account_id__in=on_route)
    if reason:
        if reason == OTHER_REASON:
            for prefix in REASON_PREFIXES.values():
                qs = qs.exclude(hold_reason__startswith=prefix)
        elif reason in REASON_PREFIXES:
            qs = qs.filter(hold_reason__startswith=REASON_PREFIXES[reason])
        else:
            raise BillingInputError(
                f"unknown hold reason {reason!r}: use one of {', '.join([*REASON_PREFIXES, OTHER_REASON])}"
            )
    if min_total is not None:
        qs = qs.filter(total__gte=min_total)
    if max_total is not None:
        qs = qs.filter(total__lte=max_total)
    return qs.select_related("account").order_by("-total", "id")


def held_routes(*, period: str, bills: QuerySet[Bill] | None = None) -> QuerySet[ReadingRoute]:
    """The reading routes that have held bills in the period (within ``bills``, the caller's scope)."""
    qs = (bills if bills is not None else Bill.objects.all()).filter(period=period, status=BillStatus.HELD)
    accounts = ServicePoint.objects.filter(account_id__in=qs.values("account_id")).values("route_id")
    return ReadingRoute.objects.filter(pk__in=accounts).order_by("code")


def describe_held(bills: Sequence[Bill]) -> list[HeldBill]:
    """The rows of a review list: each held bill with the median of its account's recent bills."""
    if not bills:
        return []
    period = bills[0].period
    since = str(parse_period(period).shift(-DEFAULT_HOLD_POLICY.max_history))
    past: dict[int, list[Decimal]] = defaultdict(list)
    for acc_id, total in (
        Bill.objects.filter(
            account_id__in={b.account_id for b in bills}, period__gte=since, period__lt=period
        )
        .exclude(status=BillStatus.CANCELLED)
        .values_list("account_id", "total")
    ):
        past[acc_id].append(total)
    out = []
    for b in bills:
        totals = past.get(b.account_id, [])
        med = round_fen(median(totals)) if totals else None
        out.append(HeldBill(b.pk, b.account.number, b.period, b.version, b.total, b.kwh, b.hold_reason, med))
    return out


def list_held_bills(*, period: str, limit: int = 200) -> list[HeldBill]:
    """Bills held for review in a period, largest first, with the median of the account's history."""
    return describe_held(list(held_bills(period=period)[:limit]))


# --- actions -----------------------------------------------------------------------------------------------


def _check(user: Any, capability: str = roles.BILLING_REVIEW) -> None:
    if user is not None and not has_capability(user, capability):
        name = getattr(user, "get_username", lambda: str(user))()
        raise BillActionRefused(f"user {name!r} may not do this: it needs the {capability} capability")


def _text(value: str | None, what: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise BillingInputError(f"a {what} is required")
    if len(text) > MAX_TEXT:
        raise BillingInputError(f"the {what} is longer than {MAX_TEXT} characters")
    return text


def _locked(bill_id: int) -> Bill:
    try:
        return lock_bill(bill_id=bill_id)
    except BillMissing as exc:
        raise BillNotFound(str(exc)) from None


def _repr(bill: Bill) -> str:
    return f"bill {bill.pk} {bill.account.number} {bill.period}"


def approve_bill(*, bill_id: int, user: Any, approved_at: datetime, note: str = "") -> ApproveResult:
    """A reviewer accepts a held bill: it becomes a draft again (issued with ``include_held_approved``).

    The original hold reason is kept, prefixed with ``approved <time>:``, so the review stays visible.
    """
    _check(user)
    note = _text(note, "note", required=False)
    with transaction.atomic():
        bill = _locked(bill_id)
        if bill.status != BillStatus.HELD:
            raise BillStateError(f"bill {bill_id} is {bill.status}, only a held bill can be approved")
        # the stamp is the company's local time with its offset, whatever zone the caller passed, so the raw
        # record the CLI and the API print is unambiguous and the pages read it back exactly
        stamp = timezone.localtime(approved_at).isoformat(sep=" ", timespec="minutes")
        reason = f"{APPROVED_PREFIX}{stamp}: {bill.hold_reason}"
        updated = Bill.objects.filter(pk=bill_id, status=BillStatus.HELD).update(
            status=BillStatus.DRAFT, hold_reason=reason
        )
        if updated != 1:  # SQLite: another writer approved it between our read and this update
            raise BillStateError(f"bill {bill_id} is no longer held")
        audit.record_batch(
            actor=user,
            action="bills.approve",
            object_repr=_repr(bill),
            object_pk=bill.pk,
            kind=UPDATE,
            changes={"status": (BillStatus.HELD, BillStatus.DRAFT), "total": str(bill.total), "note": note},
        )
    return ApproveResult(bill.pk, bill.account.number, bill.period, bill.total)


def approve_bills(
    *, bill_ids: Sequence[int], user: Any, approved_at: datetime, note: str = ""
) -> list[ApproveResult]:
    """Approve several held bills, all or nothing: each through ``approve_bill`` (its lock and audit entry)
    inside one transaction; the first that cannot be approved undoes them all."""
    ids = list(dict.fromkeys(bill_ids))
    if not ids:
        raise BillingInputError("no bills selected")
    with transaction.atomic():
        # lock in one order (by id) so two batch approvals never wait for each other crosswise
        return [approve_bill(bill_id=i, user=user, approved_at=approved_at, note=note) for i in sorted(ids)]


def hold_bill(*, bill_id: int, user: Any, held_at: datetime, reason: str) -> HoldResult:
    """Hold a bill for review, with a reason: a draft (not issued) bill becomes held; a held bill stays held
    and the reviewer's decision to keep it (保持挂起) is recorded. Issued and cancelled bills cannot be held."""
    _check(user)
    reason = _text(reason, "reason", required=True)
    with transaction.atomic():
        bill = _locked(bill_id)
        before = bill.status
        if before not in (BillStatus.DRAFT, BillStatus.HELD):
            raise BillStateError(f"bill {bill_id} is {before}, only a draft or held bill can be held")
        if before == BillStatus.DRAFT:
            updated = Bill.objects.filter(pk=bill_id, status=BillStatus.DRAFT).update(
                status=BillStatus.HELD, hold_reason=reason
            )
            if updated != 1:
                raise BillStateError(f"bill {bill_id} changed while holding it")
        audit.record_batch(
            actor=user,
            action="bills.hold",
            object_repr=_repr(bill),
            object_pk=bill.pk,
            kind=UPDATE,
            changes={"status": (before, BillStatus.HELD), "total": str(bill.total), "reason": reason},
        )
    return HoldResult(bill.pk, bill.account.number, bill.period, bill.total, before)


def find_live_bill(*, account_number: str, period: str) -> int:
    """The id of an account's live (not cancelled) bill for a period."""
    parse_period(period)
    if not Account.objects.filter(number=account_number).exists():
        raise BillNotFound(f"no account {account_number!r}")
    bill_id = (
        Bill.objects.filter(account__number=account_number, period=period)
        .exclude(status=BillStatus.CANCELLED)
        .values_list("pk", flat=True)
        .first()
    )
    if bill_id is None:
        raise BillNotFound(f"account {account_number} has no live bill for {period}")
    return bill_id


def cancel_bill(*, bill_id: int, user: Any, cancelled_at: datetime, reason: str) -> CancelResult:
    """Cancel (作废) a bill: status -> cancelled and a reversal of its ledger charge. Amounts never change.

    The next billing run for the period bills the account again as version + 1, ``replaces`` = this bill.
    """
    _check(user)
    reason = _text(reason, "reason", required=True)
    with transaction.atomic():
        bill = _locked(bill_id)
        if bill.status == BillStatus.CANCELLED:
            raise BillStateError(f"bill {bill.pk} is already cancelled")
        updated = Bill.objects.filter(pk=bill.pk, status=bill.status).update(status=BillStatus.CANCELLED)
        if updated != 1:  # SQLite: another writer changed it between our read and this update
            raise BillStateError(f"bill {bill.pk} changed while cancelling it")
        reversal_id = None
        amount = round_fen(ZERO)  # 0.00: a draft or held bill was never a receivable, nothing to reverse
        charge = (
            LedgerEntry.objects.filter(bill_id=bill.pk, kind=LedgerEntryKind.CHARGE, reversed_by__isnull=True)
            .order_by("id")
            .first()
        )
        if charge is not None:
            entry = reverse_entry(
                entry_id=charge.pk,
                posted_at=cancelled_at,
                memo=f"作废 {bill.period} v{bill.version}: {reason}"[:300],
            )
            reversal_id, amount = entry.pk, entry.amount
        audit.record_batch(
            actor=user,
            action="bills.cancel",
            object_repr=_repr(bill),
            object_pk=bill.pk,
            kind=UPDATE,
            changes={
                "status": (bill.status, BillStatus.CANCELLED),
                "total": str(bill.total),
                "reason": reason,
                "reversal": str(amount),
            },
        )
    return CancelResult(
        bill.pk, bill.account.number, bill.period, bill.version, reversal_id, amount, bill.total
    )


def issue_bills(
    *,
    period: str,
    user: Any,
    issued_at: datetime,
    issued_on: date,
    route: str | None = None,
    include_held_approved: bool = False,
    policy: IssuePolicy = IssuePolicy(),
) -> IssueResult:
    """Issue (发行) the draft bills of a period: status -> issued, due date set, and each bill's charge posted to
    the ledger (应收电费): a bill is a receivable from its issue on, never before (draft and held bills owe
    nothing). Set-based: per range of 10,000 bill ids one ``UPDATE … RETURNING`` (locks, re-checks and issues
    the range's drafts in one statement, no id lists sent) and one bulk ledger insert (``post_entries``);
    credit the accounts already have (payments not yet allocated) is applied to the new charges on
    ``issued_on``.

    Bills that were held and later approved are issued only with ``include_held_approved``; bills still held
    are never issued. The UPDATE locks each bill it issues and re-checks that it is still a draft, so an
    approval, hold or cancel of one of them waits for the issue or is seen by it. An issued bill is frozen:
    nothing but ``cancel_bill`` (status only) touches it again.
    """
    _check(user)
    parse_period(period)
    b, sp = Bill, ServicePoint
    # the bills to issue, as the WHERE of one UPDATE … RETURNING per range of their ids
    where = [f"{_c(b, 'period')} = %s", f"{_c(b, 'status')} = %s"]
    params: list[Any] = [period, str(BillStatus.DRAFT)]
    if not include_held_approved:
        where.append(f"{_c(b, 'hold_reason')} = %s")
        params.append("")
    qs = Bill.objects.filter(period=period, status=BillStatus.DRAFT)
    if not include_held_approved:
        qs = qs.filter(hold_reason="")
    held = Bill.objects.filter(period=period, status=BillStatus.HELD)
    if route:
        route_id = ReadingRoute.objects.filter(code=route).values_list("id", flat=True).first()
        if route_id is None:
            raise BillingInputError(f"unknown reading route {route!r}")
        on_route = Q(account__service_points__route_id=route_id)
        qs = qs.filter(account_id__in=ServicePoint.objects.filter(route_id=route_id).values("account_id"))
        held = held.filter(on_route).distinct()
        where.append(
            f"{_c(b, 'account')} IN (SELECT {_c(sp, 'account')} FROM {_t(sp)} WHERE {_c(sp, 'route')} = %s)"
        )
        params.append(route_id)
    due_on = issued_on + timedelta(days=policy.due_days)
    ops = connection.ops
    update = (
        f"UPDATE {_t(b)} SET {_c(b, 'status')} = %s, {_c(b, 'issued_at')} = %s, {_c(b, 'due_on')} = %s "
        f"WHERE id BETWEEN %s AND %s AND {' AND '.join(where)} "
        f"RETURNING id, {_c(b, 'total')}, {_c(b, 'account')}, {_c(b, 'period')}"
    )
    set_params = [
        str(BillStatus.ISSUED),
        ops.adapt_datetimefield_value(issued_at),
        ops.adapt_datefield_value(due_on),
    ]
    charge = LedgerEntryKind.CHARGE.value
    with transaction.atomic():
        ids = list(qs.order_by("pk").values_list("pk", flat=True))
        issued = 0
        total = ZERO
        accounts: set[int] = set()
        for part in fetch.chunked(ids):
            # one statement locks, re-checks (still a draft) and issues the range's bills: an approval, hold or
            # cancel of one of them waits for the issue or is seen by it, as with SELECT … FOR UPDATE first
            with connection.cursor() as cur:
                cur.execute(update, [*set_params, part[0], part[-1], *params])
                locked = sorted((pk, fetch.read_money(t), acc, p) for pk, t, acc, p in cur.fetchall())
            if not locked:
                continue
            issued += len(locked)
            total += sum((t for _pk, t, _a, _p in locked), ZERO)
            post_entries(
                entries=[
                    Posting(acc, charge, amount, issued_at, pk, f"{bill_period} 电费")
                    for pk, amount, acc, bill_period in locked
                    if amount != 0
                ]
            )
            accounts.update(acc for _pk, _t, acc, _p in locked)
        if accounts:
            payment_operations.apply_credits(
                account_ids=payment_queries.accounts_with_credit(account_ids=sorted(accounts)),
                allocated_on=issued_on,
            )
        if issued:
            audit.record_batch(
                actor=user,
                action="bills.issue",
                object_repr=f"issue {period}" + (f" {route}" if route else ""),
                kind=UPDATE,
                changes={
                    "status": (BillStatus.DRAFT, BillStatus.ISSUED),
                    "bills": issued,
                    "total": str(total),
                    "due_on": due_on.isoformat(),
                    "route": route or "",
                },
            )
    return IssueResult(period=period, issued=issued, total=total, due_on=due_on, still_held=held.count())


__all__ = [
    "APPROVED_PREFIX",
    "ApproveResult",
    "BillActionRefused",
    "CancelResult",
    "HeldBill",
    "HoldResult",
    "IssuePolicy",
    "IssueResult",
    "approve_bill",
    "approve_bills",
    "cancel_bill",
    "describe_held",
    "find_live_bill",
    "held_bills",
    "held_routes",
    "hold_bill",
    "issue_bills",
    "list_held_bills",
]
