"""The nightly late-fee accrual (违约金) on the ledger: idempotent per date, partial payments, waivers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from payments_helpers import at, issue_bill

from wattdesk.application.ledger.late_fees import WaiverRefused, accrue_late_fees, waive_late_fee
from wattdesk.application.payments.posting import post_payment
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import balance

pytestmark = pytest.mark.django_db
D = Decimal


def fees(account: Any) -> list[Decimal]:
    return list(
        LedgerEntry.objects.filter(account=account, kind="late_fee")
        .order_by("id")
        .values_list("amount", flat=True)
    )


class TestAccrueLateFees:
    def test_nightly_is_idempotent_for_a_date_and_posts_the_cumulative_difference(self, account: Any) -> None:
        issue_bill(account, "2024-02", "200.00", date(2024, 3, 31))
        first = accrue_late_fees(as_of=date(2024, 4, 10))  # 10 days x 200 x 1‰ = 2.00
        assert (first.outcome, first.bills, first.total) == ("accrued", 1, D("2.00"))
        again = accrue_late_fees(as_of=date(2024, 4, 10))
        assert (again.outcome, again.total) == ("already", D("2.00"))
        accrue_late_fees(as_of=date(2024, 4, 15))  # 15 days -> 3.00, 1.00 more
        assert fees(account) == [D("2.00"), D("1.00")]
        assert balance(account_id=account.pk) == D("203.00")

    def test_partial_payment_reduces_the_base_from_the_day_received(self, account: Any) -> None:
        issue_bill(account, "2024-04", "300.00", date(2024, 5, 31))
        post_payment(
            account_number=account.number,
            amount="100.00",
            channel="counter",
            channel_txn_id="P1",
            received_at=at(2024, 6, 6),
        )
        # 6-01..6-05: 5 x 300 x 1‰ = 1.50; 6-06..6-10: 5 x 200 x 1‰ = 1.00
        assert accrue_late_fees(as_of=date(2024, 6, 10)).total == D("2.50")

    def test_other_customers_cross_year(self, account: Any) -> None:
        account.customer.customer_class = "industrial"
        account.customer.save()
        issue_bill(account, "2024-11", "500.00", date(2024, 12, 25))
        # 12-26..12-31: 6 x 500 x 2‰ = 6.00; 1-01..1-05: 5 x 500 x 3‰ = 7.50
        assert accrue_late_fees(as_of=date(2025, 1, 5)).total == D("13.50")

    def test_the_minimum_then_nothing_until_the_total_passes_it(self, account: Any) -> None:
        issue_bill(account, "2024-02", "50.00", date(2024, 3, 31))
        accrue_late_fees(as_of=date(2024, 4, 1))  # 0.05 -> 1.00
        accrue_late_fees(as_of=date(2024, 4, 10))  # 0.50 -> still 1.00
        assert fees(account) == [D("1.00")]

    def test_payment_settles_the_late_fee_before_the_principal(self, account: Any) -> None:
        bill = issue_bill(account, "2024-02", "200.00", date(2024, 3, 31))
        accrue_late_fees(as_of=date(2024, 4, 10))
        result = post_payment(
            account_number=account.number,
            amount="202.00",
            channel="mobile",
            channel_txn_id="M1",
            received_at=at(2024, 4, 11),
        )
        assert [(a.bill_id, a.kind, a.amount) for a in result.allocations] == [
            (bill.pk, "late_fee", D("2.00")),
            (bill.pk, "charge", D("200.00")),
        ]
        assert accrue_late_fees(as_of=date(2024, 4, 12)).total == D("0.00")
        assert balance(account_id=account.pk) == D("0.00")


class TestWaiveLateFee:
    def test_billing_clerk_waives_with_a_reason_and_it_is_not_charged_again(
        self, account: Any, django_user_model: Any
    ) -> None:
        bill = issue_bill(account, "2024-02", "200.00", date(2024, 3, 31))
        accrue_late_fees(as_of=date(2024, 4, 10))
        clerk = django_user_model.objects.create_user("clerk", password="x")
        clerk.groups.add(Group.objects.get_or_create(name="billing_clerk")[0])
        result = waive_late_fee(bill_id=bill.pk, reason="系统故障期间", user=clerk, waived_at=at(2024, 4, 11))
        assert result.waived == D("2.00")
        assert balance(account_id=account.pk) == D("200.00")
        accrue_late_fees(as_of=date(2024, 4, 11))  # 11 days -> 2.20, 2.00 already assessed (waived)
        assert fees(account)[-1] == D("0.20")

    def test_refused_without_the_capability(self, account: Any, django_user_model: Any) -> None:
        bill = issue_bill(account, "2024-02", "200.00", date(2024, 3, 31))
        accrue_late_fees(as_of=date(2024, 4, 10))
        reader = django_user_model.objects.create_user("reader", password="x")
        with pytest.raises(WaiverRefused):
            waive_late_fee(bill_id=bill.pk, reason="x", user=reader, waived_at=at(2024, 4, 11))
        assert balance(account_id=account.pk) == D("202.00")
