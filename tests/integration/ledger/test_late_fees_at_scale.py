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
from payments_helpers import at, issue_bill

from wattdesk.application.dunning.nightly import _candidates, load_policy
from wattdesk.application.ledger.late_fees import CATCH_UP_DAYS, accrue_late_fees, load_policies
from wattdesk.application.payments.posting import post_payment, reverse_payment
from wattdesk.core.late_fee import Arrear, Reduction, late_fee, policy_on
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger import operations as ledger_ops
from wattdesk.domain.ledger.models import LedgerEntry
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
        assert ids == owing - {company["industrial"].pk}  # its bill is not due before 2025-12-20
        assert company["unpaid"].pk in ids and company["ontime"].pk not in ids
