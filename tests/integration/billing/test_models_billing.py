"""Bill constraints: one live bill per (account, period), versions unique, periods non-empty."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from wattdesk.domain.billing.models import Bill, BillLine

pytestmark = pytest.mark.django_db


def _bill(account: Any, *, version: int = 1, status: str = "issued", replaces: Bill | None = None) -> Bill:
    return Bill.objects.create(
        account=account,
        period="2024-03",
        version=version,
        status=status,
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
        kwh=Decimal("215.0000"),
        total=Decimal("120.35"),
        due_on=date(2024, 4, 15),
        replaces=replaces,
    )


class TestOneLiveBillPerAccountAndPeriod:
    def test_a_second_live_bill_for_the_same_period_is_rejected(self, account: Any) -> None:
        _bill(account)
        with pytest.raises(IntegrityError), transaction.atomic():
            _bill(account, version=2, status="draft")
        assert Bill.objects.filter(account=account).count() == 1

    def test_a_correction_may_be_issued_once_the_original_is_cancelled(self, account: Any) -> None:
        original = _bill(account)
        Bill.objects.filter(pk=original.pk).update(status="cancelled")
        correction = _bill(account, version=2, replaces=original)
        assert list(Bill.objects.filter(account=account).exclude(status="cancelled")) == [correction]
        assert original.replaced_by.get() == correction

    def test_the_same_version_twice_is_rejected_even_when_cancelled(self, account: Any) -> None:
        _bill(account, status="cancelled")
        with pytest.raises(IntegrityError), transaction.atomic():
            _bill(account, status="cancelled")

    def test_other_accounts_and_periods_are_independent(self, make_account: Any) -> None:
        a, b = make_account(), make_account()
        _bill(a)
        _bill(b)
        assert Bill.objects.filter(period="2024-03").count() == 2


class TestBillFields:
    def test_end_must_be_after_start(self, account: Any) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            Bill.objects.create(
                account=account,
                period="2024-03",
                start=date(2024, 3, 1),
                end=date(2024, 3, 1),
                kwh=Decimal(0),
                total=Decimal(0),
            )

    def test_period_must_look_like_yyyy_mm(self, account: Any) -> None:
        bill = _bill(account)
        bill.period = "2024-13"
        with pytest.raises(ValidationError):
            bill.full_clean()

    def test_lines_come_back_in_sequence_with_exact_amounts(self, account: Any) -> None:
        bill = _bill(account)
        BillLine.objects.create(
            bill=bill,
            seq=2,
            code="fund",
            description="政府性基金及附加",
            quantity=Decimal("215"),
            unit="kWh",
            rate=Decimal("0.029125"),
            amount=Decimal("6.26"),
            rule="fund",
        )
        BillLine.objects.create(
            bill=bill,
            seq=1,
            code="energy.t1",
            description="第一档电度电费",
            quantity=Decimal("215"),
            unit="kWh",
            rate=Decimal("0.538300"),
            amount=Decimal("115.73"),
            rule="energy.tier",
        )
        lines = list(bill.lines.all())
        assert [line.seq for line in lines] == [1, 2]
        assert [line.rate for line in lines] == [Decimal("0.538300"), Decimal("0.029125")]
        assert sum(line.amount for line in lines) == Decimal("121.99")
