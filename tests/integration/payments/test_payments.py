"""Posting payments: allocation order, idempotency per channel transaction, credit, aging, recovery rate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from payments_helpers import at, issue_bill

from wattdesk.application.errors import InputError
from wattdesk.application.payments.posting import PaymentConflict, post_payment, reverse_payment
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.operations import post_entry
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.payments import operations, queries
from wattdesk.domain.payments.models import Payment

pytestmark = pytest.mark.django_db
D = Decimal


def pay(account: Any, amount: str, txn: str, day: tuple[int, int, int] = (2024, 4, 1)) -> Any:
    return post_payment(
        account_number=account.number,
        amount=amount,
        channel="counter",
        channel_txn_id=txn,
        received_at=at(*day),
    )


class TestPostPayment:
    def test_settles_the_oldest_bill_late_fee_first(self, account: Any) -> None:
        jan = issue_bill(account, "2024-01", "100.00", date(2024, 2, 15))
        feb = issue_bill(account, "2024-02", "80.00", date(2024, 3, 15))
        post_entry(
            account_id=account.pk, kind="late_fee", amount=D("3.00"), posted_at=at(2024, 3, 1), bill_id=jan.pk
        )
        result = pay(account, "50.00", "R-1")
        assert result.outcome == "posted"
        assert [(a.bill_id, a.kind, a.amount) for a in result.allocations] == [
            (jan.pk, "late_fee", D("3.00")),
            (jan.pk, "charge", D("47.00")),
        ]
        assert result.balance == D("133.00")  # 100 + 80 + 3 - 50
        items = queries.open_items([account.pk])[account.pk]
        assert [(i.bill_id, i.kind, i.outstanding) for i in items] == [
            (jan.pk, "charge", D("53.00")),
            (feb.pk, "charge", D("80.00")),
        ]

    def test_a_second_call_with_the_same_transaction_posts_nothing(self, account: Any) -> None:
        issue_bill(account, "2024-01", "100.00", date(2024, 2, 15))
        first = pay(account, "60.00", "R-7")
        again = pay(account, "60.00", "R-7")
        assert (again.outcome, again.payment_id) == ("duplicate", first.payment_id)
        assert Payment.objects.count() == 1
        assert LedgerEntry.objects.filter(kind="payment").count() == 1
        assert again.balance == D("40.00")

    def test_the_same_transaction_id_for_another_amount_is_a_conflict(self, account: Any) -> None:
        pay(account, "60.00", "R-8")
        with pytest.raises(PaymentConflict):
            pay(account, "61.00", "R-8")

    def test_the_same_transaction_id_on_another_channel_is_another_payment(self, account: Any) -> None:
        pay(account, "10.00", "T-1")
        other = post_payment(
            account_number=account.number,
            amount="10.00",
            channel="mobile",
            channel_txn_id="T-1",
            received_at=at(2024, 4, 1),
        )
        assert other.outcome == "posted" and Payment.objects.count() == 2

    def test_overpayment_is_a_credit_applied_to_the_next_bill(self, account: Any) -> None:
        issue_bill(account, "2024-01", "100.00", date(2024, 2, 15))
        result = pay(account, "150.00", "R-2")
        assert (result.credit, result.balance) == (D("50.00"), D("-50.00"))
        feb = issue_bill(account, "2024-02", "80.00", date(2024, 3, 15))
        made = operations.apply_credits(account_ids=[account.pk], allocated_on=date(2024, 3, 2))
        assert [(a.bill_id, a.amount) for a in made] == [(feb.pk, D("50.00"))]
        assert queries.open_items([account.pk])[account.pk][0].outstanding == D("30.00")
        assert queries.credits([account.pk]) == {}
        assert balance(account_id=account.pk) == D("30.00")

    def test_bad_input_is_refused_with_nothing_written(self, account: Any) -> None:
        for amount, channel in (("0", "counter"), ("-5", "counter"), ("1.001", "counter"), ("5", "cash")):
            with pytest.raises(InputError):
                post_payment(
                    account_number=account.number,
                    amount=amount,
                    channel=channel,
                    channel_txn_id="X",
                    received_at=at(2024, 4, 1),
                )
        assert Payment.objects.count() == 0 and LedgerEntry.objects.count() == 0

    def test_reversal_reopens_the_bill(self, account: Any) -> None:
        issue_bill(account, "2024-01", "100.00", date(2024, 2, 15))
        posted = pay(account, "100.00", "R-3")
        assert queries.open_items([account.pk]) == {}
        result = reverse_payment(payment_id=posted.payment_id, reason="假币", reversed_at=at(2024, 4, 2))
        assert result.balance == D("100.00")
        assert queries.open_items([account.pk])[account.pk][0].outstanding == D("100.00")
        assert Payment.objects.get().status == "reversed"


class TestAgingAndRecovery:
    def test_aging_buckets_by_days_past_due(self, account: Any) -> None:
        issue_bill(account, "2024-01", "100.00", date(2024, 2, 15))  # 65 days past due on 4-20
        issue_bill(account, "2024-02", "80.00", date(2024, 3, 15))  # 36 days
        issue_bill(account, "2024-03", "70.00", date(2024, 4, 25))  # not yet due
        pay(account, "50.00", "R-4")
        [row] = queries.aging(as_of=date(2024, 4, 20), by="region")
        assert row.key == "R01"
        assert row.buckets == {
            "not_due": D("70.00"),
            "0-30": D("0.00"),
            "31-60": D("80.00"),
            "61-90": D("50.00"),
            "91-180": D("0.00"),
            ">180": D("0.00"),
        }
        assert row.total == D("200.00")

    def test_recovery_rate_by_customer_class(self, make_account: Any) -> None:
        home, shop = make_account(), make_account()
        shop.customer.customer_class = "commercial"
        shop.customer.save()
        issue_bill(home, "2024-01", "100.00", date(2024, 2, 15))
        issue_bill(shop, "2024-01", "200.00", date(2024, 2, 15))
        issue_bill(shop, "2024-02", "999.00", date(2024, 3, 15))
        pay(home, "50.00", "H-1")
        pay(shop, "200.00", "S-1")
        rows = {
            r.key: (r.billed, r.collected, r.rate)
            for r in queries.recovery_rate(period="2024-01", by="class")
        }
        assert rows == {
            "residential": (D("100.00"), D("50.00"), D("0.5000")),
            "commercial": (D("200.00"), D("200.00"), D("1.0000")),
            "all": (D("300.00"), D("250.00"), D("0.8333")),
        }
