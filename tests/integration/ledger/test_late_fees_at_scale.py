"""The set-based nightly pass selects the same charges as reading every overdue charge did.

``accrue_late_fees`` and the dunning candidates read only the bill items that may be open or were settled
recently (a superset chosen in SQL, ``payments.queries.possibly_open_items``). These tests build accounts in
every state that matters (unpaid, part paid, paid on time, paid late inside and outside the catch-up window,
paid by a payment later reversed, a cancelled charge, credit waiting for a new bill, an industrial bill
across a year end) and compare, night after night, what was posted with a reference that reads every
overdue unreversed charge and applies the rule of the module docstring in Python (the pass before it was
made set-based).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from payments_helpers import at, issue_bill

from wattdesk.application.collection.nightly import run_nightly
from wattdesk.application.dunning.nightly import _candidates, load_policy
from wattdesk.application.ledger.late_fees import (
    CATCH_UP_DAYS,
    accrue_late_fees,
    load_policies,
    waive_late_fee,
)
from wattdesk.application.ledger.open_items import FULL_SCAN_EVERY, rule_for, scan_open_items
from wattdesk.application.payments.posting import post_payment, reverse_payment
from wattdesk.core.late_fee import Arrear, Reduction, late_fee, policy_on
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.dunning.models import DunningAction
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger import operations as ledger_ops
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.open_items import candidate_ids, latest_scan
from wattdesk.domain.payments import queries
from wattdesk.domain.payments.models import LateFeeAssessment, PaymentAllocation

pytestmark = pytest.mark.django_db
D = Decimal
ZERO = D("0.00")


def reference(as_of: date) -> dict[int, Decimal]:
    """bill id -> late fee to post for ``as_of``, reading every overdue unreversed charge (no SQL filter)."""
    policy = policy_on(load_policies(), as_of)
    last_due = as_of - timedelta(days=policy.start_offset_days)
    rows = LedgerEntry.objects.filter(
        kind="charge", reversed_by__isnull=True, bill__isnull=False, bill__due_on__lte=last_due
    ).values_list(
        "id", "amount", "bill_id", "bill__due_on", "bill__period", "account__customer__customer_class"
    )
    paid: dict[int, list[Reduction]] = defaultdict(list)
    for entry_id, on, amount in PaymentAllocation.objects.filter(payment__status="posted").values_list(
        "ledger_entry_id", "allocated_on", "amount"
    ):
        paid[entry_id].append(Reduction(on, amount))
    assessed = dict(
        LateFeeAssessment.objects.values("bill_id").annotate(s=MoneySum("amount")).values_list("bill_id", "s")
    )
    out: dict[int, Decimal] = {}
    for entry_id, amount, bill_id, due_on, period, klass in rows:
        reductions = tuple(paid.get(entry_id, ()))
        outstanding = amount - sum((r.amount for r in reductions), ZERO)
        recent = any(r.on >= as_of - timedelta(days=CATCH_UP_DAYS) for r in reductions)
        if not (outstanding > 0 or recent):
            continue
        category: Any = "residential" if klass == "residential" else "other"
        line = late_fee(
            arrears=[Arrear(entry_id, category, period, due_on, amount, reductions)],
            as_of=as_of,
            policy=policy,
        ).lines[0]
        delta = line.amount - assessed.get(bill_id, ZERO)
        if delta > 0:
            out[bill_id] = delta
    return out


def posted_on(as_of: date) -> dict[int, Decimal]:
    return dict(LateFeeAssessment.objects.filter(as_of=as_of).values_list("bill_id", "amount"))


def pay(account: Any, amount: str, txn: str, on: date) -> Any:
    return post_payment(
        account_number=account.number,
        amount=amount,
        channel="counter",
        channel_txn_id=txn,
        received_at=at(on.year, on.month, on.day),
    )


@pytest.fixture
def company(make_account: Any) -> dict[str, Any]:
    a = {
        name: make_account()
        for name in ("unpaid", "part", "ontime", "late", "old", "reversed", "cancel", "credit")
    }
    due = date(2025, 10, 18)
    for acc in a.values():
        issue_bill(acc, "2025-08", "120.00", date(2025, 9, 18))
        issue_bill(acc, "2025-09", "200.00", due)
    pay(a["part"], "120.00", "P1", date(2025, 9, 10))
    pay(a["part"], "80.00", "P2", date(2025, 10, 25))  # part of the September bill, late
    for n, acc in enumerate((a["ontime"], a["reversed"])):
        pay(acc, "320.00", f"T{n}", date(2025, 9, 15))
    pay(a["late"], "320.00", "L1", date(2025, 11, 3))  # late, inside the catch-up window of the dates below
    pay(a["old"], "120.00", "O1", date(2025, 9, 25))  # August late, long before the window
    pay(a["old"], "200.00", "O2", date(2025, 10, 30))
    reverse_payment(
        payment_id=pay(a["reversed"], "1.00", "R0", date(2025, 9, 16)).payment_id,
        reason="test",
        reversed_at=at(2025, 9, 16, 12),
    )
    reverse_payment(channel="counter", channel_txn_id="T1", reason="bounced", reversed_at=at(2025, 10, 1))
    charge = LedgerEntry.objects.get(account=a["cancel"], kind="charge", bill__period="2025-09")
    ledger_ops.reverse_entry(entry_id=charge.pk, posted_at=at(2025, 10, 2), memo="cancelled")
    pay(a["credit"], "500.00", "C1", date(2025, 9, 1))  # pays ahead: credit for the next bills
    industrial = make_account()
    industrial.customer.customer_class = "industrial"
    industrial.customer.save()
    issue_bill(industrial, "2025-11", "500.00", date(2025, 12, 20))
    a["industrial"] = industrial
    return a


class TestSetBasedSelection:
    def test_every_night_posts_what_reading_every_charge_posts(self, company: dict[str, Any]) -> None:
        nights = [
            date(2025, 11, 20),
            date(2025, 11, 21),
            date(2025, 12, 10),
            date(2026, 1, 5),
            date(2026, 3, 1),
        ]
        totals = []
        for day in nights:
            expected = reference(day)
            result = accrue_late_fees(as_of=day)
            assert posted_on(day) == expected
            assert result.bills == len(expected)
            totals.append(result.total)
        assert totals[0] > 0 and totals[-1] > 0  # the pass really accrues on this data

    def test_open_item_candidates_cover_every_open_item_and_leave_settled_history_out(
        self, company: dict[str, Any]
    ) -> None:
        accrue_late_fees(as_of=date(2025, 11, 20))
        rows = [r for part in queries.possibly_open_items() for r in part]
        found = {r.entry_id for r in rows}
        every_account = [a.pk for a in company.values()]
        for items in queries.open_items(every_account).values():
            assert {i.item_id for i in items} <= found
        assert queries.open_items_among(rows) == queries.open_items(every_account)
        ontime = company["ontime"].pk
        assert ontime not in {r.account_id for r in rows}  # paid long ago: never read again
        # the bounced payment made the reversed account's bills open again
        assert company["reversed"].pk in {r.account_id for r in rows}

    def test_dunning_candidates_are_the_accounts_that_owe(self, company: dict[str, Any]) -> None:
        owing = {acc for acc, items in queries.open_items([a.pk for a in company.values()]).items() if items}
        ids = set(_candidates(date(2025, 11, 20), load_policy()))
        assert owing - {company["industrial"].pk} <= ids  # its bill is not due before 2025-12-20
        # the shared candidate set also holds charges settled late inside the late-fee catch-up window (the
        # exact check in run_dunning leaves them out); nothing else
        assert ids - owing == {company["late"].pk, company["old"].pk}
        assert company["unpaid"].pk in ids and company["ontime"].pk not in ids


def full_scan_rows(day: date) -> dict[int, Any]:
    """What the full set-based scan returns for the late-fee rule of ``day`` (the previous pass's reads)."""
    since, after_due_only = rule_for(day, policy_on(load_policies(), day))
    return {
        r.entry_id: r
        for part in queries.possibly_open_items(allocated_since=since, recent_after_due_only=after_due_only)
        for r in part
    }


def rebill(bill: Bill, total: str) -> Bill:
    """Cancel-and-rebill (作废重开): the bill cancelled with its charge reversed, version 2 issued."""
    Bill.objects.filter(pk=bill.pk).update(status=BillStatus.CANCELLED)
    charge = LedgerEntry.objects.get(bill=bill, kind="charge")
    ledger_ops.reverse_entry(entry_id=charge.pk, posted_at=at(2025, 12, 2), memo="作废")
    new = Bill.objects.create(
        account_id=bill.account_id,
        period=bill.period,
        version=2,
        replaces=bill,
        start=bill.start,
        end=bill.end,
        kwh=bill.kwh,
        total=D(total),
        due_on=bill.due_on,
        status=BillStatus.ISSUED,
    )
    ledger_ops.post_entry(
        account_id=bill.account_id,
        kind="charge",
        amount=D(total),
        posted_at=at(2025, 12, 2),
        bill_id=new.pk,
        memo="重开",
    )
    return new


class TestIncrementalOpenItemSet:
    """Night after night the incremental open-item set (``ledger.open_items``) gives the pass the same rows as
    the full scan, and what is posted equals the reference, with payments, partial payments, reversals,
    waivers, cancel-and-rebill and new bills between the nights; a re-run of a night posts nothing twice."""

    def test_nights_with_activity_between_them(
        self, company: dict[str, Any], make_account: Any, django_user_model: Any
    ) -> None:
        a = company
        clerk = django_user_model.objects.create_user("clerk", password="x")
        clerk.groups.add(Group.objects.get_or_create(name="billing_clerk")[0])
        newcomer = make_account()
        october: dict[str, Bill] = {}

        def between(day: date) -> None:
            """What happens during the day before the night of ``day``."""
            if day == date(2025, 11, 21):
                pay(a["unpaid"], "50.00", "U1", day)  # partial payment of an old item
                pay(a["ontime"], "10.00", "X1", day)  # credit: waits for the next bill
                reverse_payment(
                    channel="counter", channel_txn_id="L1", reason="bounced", reversed_at=at(2025, 11, 21)
                )
            elif day == date(2025, 11, 22):
                bill = Bill.objects.get(account=a["part"], period="2025-09")
                waive_late_fee(bill_id=bill.pk, reason="系统故障", user=clerk, waived_at=at(2025, 11, 22))
                for key, acc in a.items():
                    if key != "industrial":
                        october[key] = issue_bill(acc, "2025-10", "150.00", date(2025, 11, 25))
                issue_bill(newcomer, "2025-10", "80.00", date(2025, 11, 20))  # new, already overdue
            elif day == date(2025, 12, 3):
                pay(a["unpaid"], "600.00", "U2", day)  # pays everything: its items settle, the rest is credit
                rebill(october["cancel"], "140.00")
                pay(a["late"], "150.00", "L2", day)
            elif day == date(2025, 12, 18):
                pay(newcomer, "80.00", "N1", day)
                issue_bill(a["part"], "2025-11", "90.00", date(2025, 12, 10))
            elif day == date(2026, 1, 26):
                reverse_payment(
                    channel="counter", channel_txn_id="U2", reason="bounced", reversed_at=at(2026, 1, 26)
                )

        nights = [
            date(2025, 11, 20),
            date(2025, 11, 21),
            date(2025, 11, 22),
            date(2025, 11, 30),
            date(2025, 12, 3),
            date(2025, 12, 18),
            date(2026, 1, 25),  # the chain is FULL_SCAN_EVERY days old: a full scan again
            date(2026, 1, 26),
        ]
        every_account = [acc.pk for acc in (*a.values(), newcomer)]
        totals = []
        base = nights[0]
        for n, day in enumerate(nights):
            between(day)
            expected = reference(day)
            found = scan_open_items(as_of=day)
            # the first night builds the state; the others are incremental until the chain is too old
            assert found.full == (n == 0 or day - base >= timedelta(days=FULL_SCAN_EVERY))
            base = day if found.full else base
            assert found.rows == full_scan_rows(day)
            result = accrue_late_fees(as_of=day, candidates=found)
            assert posted_on(day) == expected
            assert result.bills == len(expected)
            totals.append(result.total)
            found.catch_up()  # tonight's late fees: dunning sees them as a scan after the late-fee step would
            assert found.rows == full_scan_rows(day)
            open_now = {k: v for k, v in queries.open_items(every_account).items() if v}
            among = queries.open_items_among(list(found.rows.values()))
            assert among == open_now
            # the idempotent re-run: nothing posted twice, the incremental set unchanged
            again = scan_open_items(as_of=day)
            assert not again.full and again.rows == found.rows
            assert accrue_late_fees(as_of=day, candidates=again).outcome == "already"
            assert posted_on(day) == expected
        assert all(t > 0 for t in totals[:3]) and totals[-1] > 0  # the pass really accrues on this data
        assert [scan_open_items(as_of=d, save=False).full for d in (nights[-1],)] == [False]

    def test_a_night_before_the_saved_state_scans_everything_and_keeps_the_state(
        self, company: dict[str, Any]
    ) -> None:
        later = scan_open_items(as_of=date(2025, 12, 10))
        earlier = scan_open_items(as_of=date(2025, 11, 20))
        assert earlier.full and earlier.rows == full_scan_rows(date(2025, 11, 20))
        assert latest_scan().as_of == date(2025, 12, 10)  # type: ignore[union-attr]
        assert set(candidate_ids()) == set(later.rows)

    def test_the_nightly_pass_shares_one_scan_and_rerun_writes_nothing(self, company: dict[str, Any]) -> None:
        first = run_nightly(day=date(2025, 11, 20), now=at(2025, 11, 20, 22))
        assert first.late_fees.bills > 0 and first.dunning.actions > 0
        actions = DunningAction.objects.count()
        entries = LedgerEntry.objects.count()
        again = run_nightly(day=date(2025, 11, 20), now=at(2025, 11, 20, 23))
        assert again.late_fees.outcome == "already" and again.dunning.actions == 0
        assert (DunningAction.objects.count(), LedgerEntry.objects.count()) == (actions, entries)
        # the pass's own late fees joined the saved set as written: the next night does not check them again
        fees = set(LedgerEntry.objects.filter(kind="late_fee").values_list("pk", flat=True))
        assert fees and fees <= set(candidate_ids())
        nxt = run_nightly(day=date(2025, 11, 21), now=at(2025, 11, 21, 22))
        assert latest_scan().as_of == date(2025, 11, 21) and not latest_scan().full  # type: ignore[union-attr]
        assert latest_scan().checked < len(fees)  # type: ignore[union-attr]
        assert nxt.late_fees.outcome == "accrued"
