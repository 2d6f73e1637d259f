"""Stateful property: random bills, payments, duplicates, late fees and reversals keep the ledger consistent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from payments_helpers import at, issue_bill

from wattdesk.application.ledger.late_fees import accrue_late_fees
from wattdesk.application.payments.posting import post_payment, reverse_payment
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.payments import queries
from wattdesk.domain.payments.models import Payment, PaymentAllocation

ZERO = Decimal("0.00")


@pytest.mark.django_db
def test_ledger_invariant_under_random_operations(make_account: Any) -> None:
    class Ledger(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            self.account = make_account()
            self.month = 0
            self.day = date(2024, 2, 1)
            self.txns: list[tuple[str, str]] = []

        @rule(total=st.decimals(Decimal("0.01"), Decimal("500"), places=2))
        def bill(self, total: Decimal) -> None:
            self.month += 1
            period = f"{2023 + (self.month - 1) // 12}-{(self.month - 1) % 12 + 1:02d}"
            issue_bill(self.account, period, str(total), self.day + timedelta(days=10))

        @rule(amount=st.decimals(Decimal("0.01"), Decimal("800"), places=2))
        def pay(self, amount: Decimal) -> None:
            txn = f"T{len(self.txns)}"
            self.txns.append((txn, str(amount)))
            post_payment(
                account_number=self.account.number,
                amount=amount,
                channel="counter",
                channel_txn_id=txn,
                received_at=at(self.day.year, self.day.month, self.day.day),
            )

        @rule(data=st.data())
        def duplicate(self, data: st.DataObject) -> None:
            if self.txns:
                txn, amount = data.draw(st.sampled_from(self.txns))
                r = post_payment(
                    account_number=self.account.number,
                    amount=amount,
                    channel="counter",
                    channel_txn_id=txn,
                    received_at=at(2030, 1, 1),
                )
                assert r.outcome == "duplicate"

        @rule(days=st.integers(1, 40))
        def late_fees(self, days: int) -> None:
            self.day += timedelta(days=days)
            accrue_late_fees(as_of=self.day)

        @rule(data=st.data())
        def reverse(self, data: st.DataObject) -> None:
            posted = list(
                Payment.objects.filter(account=self.account, status="posted").values_list("pk", flat=True)
            )
            if posted:
                reverse_payment(
                    payment_id=data.draw(st.sampled_from(posted)),
                    reason="test",
                    reversed_at=at(self.day.year, self.day.month, self.day.day, 12),
                )

        @invariant()
        def consistent(self) -> None:
            entries = LedgerEntry.objects.filter(account=self.account)
            total = entries.aggregate(s=MoneySum("amount", default=ZERO))["s"]
            assert balance(account_id=self.account.pk) == total
            by_kind = dict(entries.values("kind").annotate(s=MoneySum("amount")).values_list("kind", "s"))
            assert total == sum(by_kind.values(), ZERO)
            outstanding = sum(
                (i.outstanding for i in queries.open_items([self.account.pk]).get(self.account.pk, [])), ZERO
            )
            credit = sum(
                (c.remaining for c in queries.credits([self.account.pk]).get(self.account.pk, [])), ZERO
            )
            assert total == outstanding - credit
            for entry_id, amount in entries.filter(kind__in=("charge", "late_fee")).values_list(
                "id", "amount"
            ):
                live = PaymentAllocation.objects.filter(ledger_entry_id=entry_id, payment__status="posted")
                assert live.aggregate(s=MoneySum("amount", default=ZERO))["s"] <= amount
            assert Payment.objects.filter(account=self.account).count() == len(self.txns)
            assert entries.filter(kind="payment").count() == len(self.txns)

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)

    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=30,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
