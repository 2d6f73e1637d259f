"""Use cases: the nightly late-fee accrual (违约金计收) and waivers (违约金减免).

``accrue_late_fees(as_of=D)`` is idempotent for a date: one ``LateFeeRun`` per date (unique); running it
again answers ``already``. For every overdue unreversed bill charge it computes, with ``core.late_fee``, the
cumulative fee from the start day through D (partial payments reduce the base from the day allocated), and
posts the difference to what was already assessed on that bill (``LateFeeAssessment``, unique per bill and
date, waived amounts included so a waiver is not re-charged) as one ``LedgerEntry(kind=late_fee)``. Because
it posts a cumulative difference, skipped nights are caught up and a re-run for an earlier date posts nothing.
The policy version in force on D applies to the whole computation.

At scale the charges are not all read: the night's open-item candidates (``ledger.open_items.scan_open_items``:
the full set-based scan ``payments.queries.possibly_open_items`` the first night, then incremental) are a
superset of the charges the rule above can post for — not fully allocated, allocated to in the catch-up window
after the due date, or touched by a reversed payment — and only those reach Python; the fees are posted
through the ledger's one checked path (``ledger.operations.post_entries``, COPY on PostgreSQL) and their
assessments written with the one bulk writer (``domain.bulk``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.application.ledger.open_items import CATCH_UP_DAYS, OpenItems, scan_open_items
from wattdesk.application.tariffs.reference_data import _config_text
from wattdesk.core.late_fee import Arrear, LateFeePolicy, Reduction, late_fee, policy_on
from wattdesk.domain import audit, bulk
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.customers.models import Account
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger import operations as ledger_ops
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.domain.ledger.queries import id_list
from wattdesk.domain.payments import operations, queries
from wattdesk.domain.payments.models import (
    LateFeeAssessment,
    LateFeeRun,
    PaymentAllocation,
    PaymentStatus,
)

ZERO = Decimal("0.00")
CHUNK = 5000


class WaiverRefused(InputError):
    """The user may not waive late fees, or there is nothing to waive."""


@cache
def load_policies() -> tuple[LateFeePolicy, ...]:
    """The effective-dated versions in config/late-fee-policy.yaml."""
    doc = yaml.safe_load(_config_text("late-fee-policy.yaml"))
    try:
        return tuple(
            LateFeePolicy(
                effective_from=v["effective_from"],
                residential_rate=Decimal(str(v["residential_rate"])),
                current_year_rate=Decimal(str(v["current_year_rate"])),
                earlier_year_rate=Decimal(str(v["earlier_year_rate"])),
                start_offset_days=int(v["start_offset_days"]),
                payment_day_accrues=bool(v["payment_day_accrues"]),
                minimum=Decimal(str(v["minimum"])),
                source=str(v.get("source", "")),
            )
            for v in doc["versions"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"config/late-fee-policy.yaml: bad version: {exc}") from exc


@dataclass(frozen=True)
class AccrualResult:
    as_of: date
    outcome: Literal["accrued", "already"]
    bills: int  # bills that received a late-fee posting
    total: Decimal
    credits_applied: int  # allocations made from existing credit before accruing


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=ZoneInfo(settings.TIME_ZONE))


def accrue_late_fees(
    *,
    as_of: date,
    run_at: datetime | None = None,
    policies: tuple[LateFeePolicy, ...] | None = None,
    candidates: OpenItems | None = None,
) -> AccrualResult:
    """Accrue the late fees of ``as_of`` (see the module docstring). ``candidates``: the night's open-item
    scan when the caller shares it with dunning (``scan_open_items(as_of=as_of)``); else it is taken here."""
    policy = policy_on(policies or load_policies(), as_of)
    started = run_at or timezone.now()
    posted_at = end_of_day(as_of)
    with transaction.atomic():
        try:
            with transaction.atomic():
                run = LateFeeRun.objects.create(as_of=as_of, started_at=started)
        except IntegrityError:
            done = LateFeeRun.objects.get(as_of=as_of)
            c = done.counts
            return AccrualResult(as_of, "already", c.get("bills", 0), Decimal(c.get("total", "0.00")), 0)
        last_due = as_of - timedelta(days=policy.start_offset_days)
        # The night's open-item candidates (``ledger.open_items``: incremental after the first night, a
        # superset chosen in SQL) hold the bill items that may be open or were settled recently; settled
        # history never reaches Python. A charge settled by its due date is left out when accrual starts
        # after the day a payment counts from (it accrued nothing). The scan is taken before credit is
        # applied: applying credit only settles items that were open, so the superset still holds.
        found = candidates if candidates is not None else scan_open_items(as_of=as_of, policies=policies)
        if found.as_of != as_of:
            raise ValueError(f"open-item candidates of {found.as_of} given for the late fees of {as_of}")
        charges: list[queries.ItemRow] = []
        owing: set[int] = set()
        for entry_id in sorted(found.rows):
            r = found.rows[entry_id]
            owing.add(r.account_id)
            if r.kind == LedgerEntryKind.CHARGE and r.due_on is not None and r.due_on <= last_due:
                charges.append(r)
        # credit can only be applied where an item is open: the accounts with credit among those that may owe
        applied = operations.apply_credits(
            account_ids=queries.accounts_with_credit(account_ids=sorted(owing)), allocated_on=as_of
        )
        fees: list[tuple[int, int, Decimal, str]] = []  # account, bill, amount, period
        for i in range(0, len(charges), CHUNK):
            fees.extend(_accrue_part(charges[i : i + CHUNK], as_of=as_of, policy=policy))
        ids = _post(fees, as_of=as_of, posted_at=posted_at)
        created = len(ids)
        # tonight's fees are new items with no allocation: the set takes them as written (``catch_up``)
        by_bill = {r.bill_id: r for r in charges}
        kind = LedgerEntryKind.LATE_FEE.value
        for eid, (acc, bill, amount, period) in zip(ids, fees, strict=True):
            c = by_bill[bill]
            found.posted[eid] = queries.ItemRow(
                eid, acc, kind, amount, bill, c.due_on, period, c.customer_class
            )
        total = sum((f[2] for f in fees), ZERO)
        counts = {"bills": created, "total": str(total), "credits_applied": len(applied)}
        LateFeeRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), counts=counts)
        audit.record_batch(
            actor=None,
            action="late_fees.accrue",
            object_repr=f"late fees {as_of.isoformat()}",
            object_pk=run.pk,
            changes=counts,
        )
    return AccrualResult(as_of, "accrued", created, total, len(applied))


def _accrue_part(
    part: list[queries.ItemRow], *, as_of: date, policy: LateFeePolicy
) -> list[tuple[int, int, Decimal, str]]:
    """The late fee still to post on each charge of ``part``: (account, bill, amount, period)."""
    paid: dict[int, list[Reduction]] = defaultdict(list)
    for entry_id, on, amount in PaymentAllocation.objects.filter(
        ledger_entry_id__in=id_list(r.entry_id for r in part), payment__status=PaymentStatus.POSTED
    ).values_list("ledger_entry_id", "allocated_on", "amount"):
        paid[entry_id].append(Reduction(on, amount))
    arrears: list[Arrear] = []
    for r in part:
        reductions = tuple(paid.get(r.entry_id, ()))
        outstanding = r.amount - sum((x.amount for x in reductions), ZERO)
        recent = any(x.on >= as_of - timedelta(days=CATCH_UP_DAYS) for x in reductions)
        if r.due_on is not None and (outstanding > 0 or recent):
            category: Any = "residential" if r.customer_class == "residential" else "other"
            arrears.append(Arrear(r.entry_id, category, r.period, r.due_on, r.amount, reductions))
    if not arrears:
        return []
    result = late_fee(arrears=arrears, as_of=as_of, policy=policy)
    by_entry = {r.entry_id: r for r in part}
    assessed = dict(
        LateFeeAssessment.objects.filter(bill_id__in=id_list(by_entry[a.item_id].bill_id for a in arrears))
        .values("bill_id")
        .annotate(s=MoneySum("amount"))
        .values_list("bill_id", "s")
    )
    out = []
    for line in result.lines:
        r = by_entry[line.item_id]
        delta = line.amount - assessed.get(r.bill_id, ZERO)
        if delta > 0:
            out.append((r.account_id, r.bill_id, delta, r.period))
    return out


def _post(fees: list[tuple[int, int, Decimal, str]], *, as_of: date, posted_at: datetime) -> list[int]:
    """One late-fee ledger entry and its assessment per fee, written in bulk (COPY on PostgreSQL). Returns
    the entries' ids, in the order of ``fees``."""
    if not fees:
        return []
    kind = LedgerEntryKind.LATE_FEE.value
    ids = ledger_ops.post_entries(
        entries=[
            ledger_ops.Posting(acc, kind, amount, posted_at, bill, f"{period} 违约金 至 {as_of.isoformat()}")
            for acc, bill, amount, period in fees
        ]
    )
    bulk.insert_rows(
        LateFeeAssessment,
        ("bill", "as_of", "amount", "ledger_entry"),
        ((bill, as_of, amount, eid) for eid, (_acc, bill, amount, _p) in zip(ids, fees, strict=True)),
    )
    return list(ids)


@dataclass(frozen=True)
class WaiveResult:
    bill_id: int
    waived: Decimal
    reversal_entry_ids: tuple[int, ...]


def waive_late_fee(*, bill_id: int, reason: str, user: Any, waived_at: datetime) -> WaiveResult:
    """Waive (减免) the late fees assessed so far on a bill: each is reversed on the ledger, audited.

    Only for a user holding ``ledger.waive``; a reason is required. Money already paid against a waived fee
    becomes credit and is applied to the account's other open items.
    """
    if user is None or not has_capability(user, roles.LEDGER_WAIVE):
        raise WaiverRefused("waiving a late fee needs the ledger.waive capability")
    reason = (reason or "").strip()
    if not reason:
        raise WaiverRefused("a reason is required to waive a late fee")
    with transaction.atomic():
        # Lock the account as post_payment / reverse_payment do: the credit freed below is allocated once.
        account_id = Bill.objects.filter(pk=bill_id).values_list("account_id", flat=True).first()
        if account_id is not None:
            Account.objects.select_for_update().filter(pk=account_id).first()
        fees = list(
            LedgerEntry.objects.select_for_update(of=("self",))  # lock the entries, not the outer-joined side
            .filter(bill_id=bill_id, kind=LedgerEntryKind.LATE_FEE, reversed_by__isnull=True)
            .order_by("id")
        )
        if not fees:
            raise WaiverRefused(f"bill {bill_id} has no late fee to waive")
        reversals = [
            ledger_ops.reverse_entry(entry_id=f.pk, posted_at=waived_at, memo=f"违约金减免: {reason}"[:300])
            for f in fees
        ]
        waived = sum((f.amount for f in fees), ZERO)
        operations.apply_credits(
            account_ids=[fees[0].account_id], allocated_on=timezone.localtime(waived_at).date()
        )
        audit.record_batch(
            actor=user,
            action="ledger.waive",
            object_repr=f"late fees of bill {bill_id}",
            object_pk=bill_id,
            changes={"late_fee": (str(waived), "0.00"), "reason": reason},
        )
    return WaiveResult(bill_id, waived, tuple(r.pk for r in reversals))
