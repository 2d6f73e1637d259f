"""Use cases: the nightly late-fee accrual (违约金计收) and waivers (违约金减免).

``accrue_late_fees(as_of=D)`` is idempotent for a date: one ``LateFeeRun`` per date (unique); running it
again answers ``already``. For every overdue unreversed bill charge it computes, with ``core.late_fee``, the
cumulative fee from the start day through D (partial payments reduce the base from the day allocated), and
posts the difference to what was already assessed on that bill (``LateFeeAssessment``, unique per bill and
date, waived amounts included so a waiver is not re-charged) as one ``LedgerEntry(kind=late_fee)``. Because
it posts a cumulative difference, skipped nights are caught up and a re-run for an earlier date posts nothing.
The policy version in force on D applies to the whole computation.
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
from wattdesk.application.reference_data import _config_text
from wattdesk.core.late_fee import Arrear, LateFeePolicy, Reduction, late_fee, policy_on
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger import operations as ledger_ops
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.domain.payments import operations, queries
from wattdesk.domain.payments.models import (
    LateFeeAssessment,
    LateFeeRun,
    PaymentAllocation,
    PaymentStatus,
)

ZERO = Decimal("0.00")
CHUNK = 5000
CATCH_UP_DAYS = 31  # charges settled within this many days before D are still looked at (missed nights)


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
    *, as_of: date, run_at: datetime | None = None, policies: tuple[LateFeePolicy, ...] | None = None
) -> AccrualResult:
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
        applied = operations.apply_credits(account_ids=queries.accounts_with_credit(), allocated_on=as_of)
        last_due = as_of - timedelta(days=policy.start_offset_days)
        charges = list(
            LedgerEntry.objects.filter(
                kind=LedgerEntryKind.CHARGE,
                reversed_by__isnull=True,
                bill__isnull=False,
                bill__due_on__lte=last_due,
            )
            .order_by("id")
            .values_list(
                "id",
                "account_id",
                "amount",
                "bill_id",
                "bill__due_on",
                "bill__period",
                "account__customer__customer_class",
            )
        )
        entries: list[LedgerEntry] = []
        bill_ids: list[int] = []
        for i in range(0, len(charges), CHUNK):
            part = charges[i : i + CHUNK]
            paid: dict[int, list[Reduction]] = defaultdict(list)
            for entry_id, on, amount in PaymentAllocation.objects.filter(
                ledger_entry_id__in=[r[0] for r in part], payment__status=PaymentStatus.POSTED
            ).values_list("ledger_entry_id", "allocated_on", "amount"):
                paid[entry_id].append(Reduction(on, amount))
            arrears: list[Arrear] = []
            for entry_id, _acc, amount, _bill, due_on, period, klass in part:
                reductions = tuple(paid.get(entry_id, ()))
                outstanding = amount - sum((r.amount for r in reductions), ZERO)
                recent = any(r.on >= as_of - timedelta(days=CATCH_UP_DAYS) for r in reductions)
                if due_on is not None and (outstanding > 0 or recent):
                    category: Any = "residential" if klass == "residential" else "other"
                    arrears.append(Arrear(entry_id, category, period, due_on, amount, reductions))
            if not arrears:
                continue
            result = late_fee(arrears=arrears, as_of=as_of, policy=policy)
            by_entry = {r[0]: r for r in part}
            assessed = dict(
                LateFeeAssessment.objects.filter(bill_id__in=[by_entry[a.item_id][3] for a in arrears])
                .values("bill_id")
                .annotate(s=MoneySum("amount"))
                .values_list("bill_id", "s")
            )
            for line in result.lines:
                _eid, account_id, _amt, bill_id, _due, period, _k = by_entry[line.item_id]
                delta = line.amount - assessed.get(bill_id, ZERO)
                if delta > 0:
                    entries.append(
                        LedgerEntry(
                            account_id=account_id,
                            kind=LedgerEntryKind.LATE_FEE,
                            amount=delta,
                            bill_id=bill_id,
                            posted_at=posted_at,
                            memo=f"{period} 违约金 至 {as_of.isoformat()}",
                        )
                    )
                    bill_ids.append(bill_id)
        created = LedgerEntry.objects.bulk_create(entries, batch_size=2000)
        LateFeeAssessment.objects.bulk_create(
            [
                LateFeeAssessment(bill_id=b, as_of=as_of, amount=e.amount, ledger_entry_id=e.pk)
                for b, e in zip(bill_ids, created, strict=True)
            ],
            batch_size=2000,
        )
        total = sum((e.amount for e in created), ZERO)
        counts = {"bills": len(created), "total": str(total), "credits_applied": len(applied)}
        LateFeeRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), counts=counts)
        audit.record_batch(
            actor=None,
            action="late_fees.accrue",
            object_repr=f"late fees {as_of.isoformat()}",
            object_pk=run.pk,
            changes=counts,
        )
    return AccrualResult(as_of, "accrued", len(created), total, len(applied))


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
