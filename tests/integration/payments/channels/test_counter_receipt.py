"""What a counter receipt prints besides the payment: the periods and late fees (违约金) it settled, the credit
(预存) it left and the account's balance after it — the same at every reprint."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from payments_helpers import at, issue_bill

from wattdesk.application.payments.channels import counter
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.counter import queries
from wattdesk.domain.counter.models import Receipt
from wattdesk.domain.customers.models import Region
from wattdesk.domain.ledger.operations import post_entry
from wattdesk.domain.outlets.models import PaymentOutlet

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def cashier(account: Any) -> Any:
    PaymentOutlet.objects.create(code="YYT01", name="城关营业厅", kind="counter", lat=D("30.1"),
                                 lon=D("120.1"), region=Region.objects.get())  # fmt: skip
    user = get_user_model().objects.create_user(username="cashier1", password="x")
    grant_role(user=user, role="billing_clerk")
    return user


def pay(account: Any, cashier: Any, amount: str, token: str, day: int = 1) -> Receipt:
    r = counter.take_counter_payment(account_number=account.number, amount=amount, method="cash", user=cashier,
                                     outlet_code="YYT01", received_at=at(2024, 4, day), request_token=token)  # fmt: skip
    return Receipt.objects.select_related("payment").get(receipt_no=r.receipt_no)


class TestReceiptDetails:
    def test_lists_each_period_with_its_late_fee_and_the_balance_after(
        self, account: Any, cashier: Any
    ) -> None:
        jan = issue_bill(account, "2024-01", "100.00", date(2024, 2, 20))
        issue_bill(account, "2024-02", "80.00", date(2024, 3, 20))
        issue_bill(account, "2024-03", "50.00", date(2024, 4, 20))
        post_entry(
            account_id=account.pk, kind="late_fee", amount=D("1.50"), posted_at=at(2024, 3, 1), bill_id=jan.pk
        )
        # 190.00 settles January (101.50 with its late fee) and February (80.00), and 8.50 of March
        details = queries.receipt_details(receipt=pay(account, cashier, "190.00", "t1"))
        assert [(s.period, s.charge, s.late_fee) for s in details.settled] == [
            ("2024-01", D("100.00"), D("1.50")),
            ("2024-02", D("80.00"), D("0.00")),
            ("2024-03", D("8.50"), D("0.00")),
        ]
        assert (details.settled_total, details.late_fees, details.credit) == (
            D("190.00"),
            D("1.50"),
            D("0.00"),
        )
        assert (details.balance_after, details.credit_after) == (D("41.50"), D("0.00"))

    def test_an_overpayment_is_a_credit_and_the_balance_after_negative(
        self, account: Any, cashier: Any
    ) -> None:
        issue_bill(account, "2024-03", "50.00", date(2024, 4, 20))
        details = queries.receipt_details(receipt=pay(account, cashier, "80.00", "t1"))
        assert [(s.period, s.charge) for s in details.settled] == [("2024-03", D("50.00"))]
        assert (details.credit, details.balance_after, details.credit_after) == (
            D("30.00"),
            D("-30.00"),
            D("30.00"),
        )

    def test_a_reprint_later_shows_what_the_receipt_showed_on_its_day(
        self, account: Any, cashier: Any
    ) -> None:
        issue_bill(account, "2024-03", "50.00", date(2024, 4, 20))
        first = pay(account, cashier, "80.00", "t1")  # 30.00 left as a credit
        before = queries.receipt_details(receipt=first)
        # the next bill takes the credit on a later day; a second payment follows
        issue_bill(account, "2024-04", "45.00", date(2024, 5, 20))
        from wattdesk.domain.payments.operations import apply_credits

        apply_credits(account_ids=[account.pk], allocated_on=date(2024, 5, 2))
        pay(account, cashier, "15.00", "t2", day=3)
        first.refresh_from_db()
        assert queries.receipt_details(receipt=first) == before
        assert before.balance_after == D("-30.00")
