"""Synthetic payment history on a small county: allocation equals post_payment's, the ledger invariant
holds, punctual customers pay no late fees, the same seed gives the same payments."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from wattdesk.application.billing.run import run_billing
from wattdesk.application.payments.posting import post_payment
from wattdesk.domain.access.operations import create_demo_users
from wattdesk.domain.collection.models import CollectorAssignment, Visit
from wattdesk.domain.customers.models import Account
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import balances
from wattdesk.domain.payments import queries
from wattdesk.domain.payments.models import LateFeeAssessment, Payment, PaymentAllocation
from wattdesk.synthetic import generate_county
from wattdesk.synthetic import payments as sp

pytestmark = pytest.mark.django_db(transaction=False)
SH = ZoneInfo("Asia/Shanghai")
THROUGH = date(2026, 12, 20)
ZERO = Decimal("0.00")


@pytest.fixture
def county(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    generate_county(accounts=60, months=4, seed=3, end_month=date(2026, 10, 1), interval_share=0.0)
    run_billing(period="2026-10", run_at=datetime(2026, 11, 1, 8, tzinfo=SH), workers=1)
    h = sp.bill_history(months=3, workers=1)
    assert h.periods == ("2026-08", "2026-09", "2026-10")
    assert h.issued > 0
    create_demo_users(password="pw")


def _profiles() -> dict[int, dict[str, Any]]:
    return dict(Account.objects.values_list("id", "customer__payment_profile"))


def test_history_allocated_and_ledger_invariant(county: None) -> None:
    r = sp.generate_payment_history(seed=11, through=THROUGH)
    assert r.payments > 0 and r.allocations >= r.payments
    assert set(r.by_channel) <= {"mobile", "counter", "bank", "collector"}
    # every payment fully allocated (payments never exceed what was owed): no credit anywhere
    per_payment = dict(
        PaymentAllocation.objects.values("payment_id")
        .annotate(s=MoneySum("amount"))
        .values_list("payment_id", "s")
    )
    for pid, amount in Payment.objects.values_list("id", "amount"):
        assert per_payment.get(pid) == amount
    assert queries.credits(list(Account.objects.values_list("id", flat=True))) == {}
    # ledger invariant: balance (sum of entries) == open items outstanding - credits, per account
    ids = list(Account.objects.values_list("id", flat=True))
    bal = balances(account_ids=ids)
    items = queries.open_items(ids)
    for acc in ids:
        assert bal[acc] == sum((i.outstanding for i in items.get(acc, [])), ZERO), acc
    total = LedgerEntry.objects.aggregate(s=MoneySum("amount"))["s"]
    assert total == sum(bal.values(), ZERO)
    # punctual customers pay before the due date: no late fee
    profiles = _profiles()
    fee_accounts = set(LateFeeAssessment.objects.values_list("bill__account_id", flat=True))
    assert all(profiles[a].get("punctuality") != "punctual" for a in fee_accounts)
    # collectors: the demo collector is assigned its scope routes and has visits
    assert CollectorAssignment.objects.filter(user__username="demo_collector").count() == r.assignments > 0
    assert Visit.objects.count() == r.visits
    # idempotent: a second run posts nothing
    again = sp.generate_payment_history(seed=11, through=THROUGH, late_fees=False)
    assert (again.payments, again.visits, again.assignments) == (0, 0, 0)


def test_same_result_as_post_payment(county: None) -> None:
    charges = sp._charges()
    plan = sp.plan_payments(seed=5, through=THROUGH, charges=charges, profiles=_profiles())
    simulated = sp.simulate_allocations(payments=plan, charges=charges)
    expected = sorted(
        (plan[a.payment_index].txn, a.entry_id, a.kind, a.amount, a.allocated_on) for a in simulated
    )
    for p in sorted(plan, key=lambda p: (p.received_at, p.txn)):
        number = Account.objects.get(pk=p.account_id).number
        post_payment(
            account_number=number,
            amount=p.amount,
            channel=p.channel,
            channel_txn_id=p.txn,
            received_at=p.received_at,
        )
    actual = sorted(
        PaymentAllocation.objects.values_list(
            "payment__channel_txn_id", "ledger_entry_id", "kind", "amount", "allocated_on"
        )
    )
    assert actual == expected


def test_deterministic_for_a_seed(county: None) -> None:
    charges = sp._charges()
    profiles = _profiles()
    a = sp.plan_payments(seed=7, through=THROUGH, charges=charges, profiles=profiles)
    b = sp.plan_payments(seed=7, through=THROUGH, charges=charges, profiles=profiles)
    c = sp.plan_payments(seed=8, through=THROUGH, charges=charges, profiles=profiles)
    assert a == b
    assert a != c
    # behaviour by profile: punctual pay in full by the due date, late ones after it
    due = {ch.bill_id: ch.due_on for ch in charges}
    amount = {ch.bill_id: ch.amount for ch in charges}
    kinds: dict[str, list[int]] = defaultdict(list)
    for p in a:
        kind = profiles[p.account_id].get("punctuality")
        days = (p.received_at.astimezone(SH).date() - due[p.bill_id]).days
        kinds[kind].append(days)
        if kind in ("punctual", "late"):
            assert p.amount == amount[p.bill_id]
    assert max(kinds["punctual"]) <= 0
    assert min(kinds["late"], default=5) >= 5
