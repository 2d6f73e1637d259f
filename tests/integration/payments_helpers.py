"""Small builders shared by the payments and late-fee integration tests."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.ledger.operations import post_entry

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hour: int = 10) -> datetime:
    return datetime(y, m, d, hour, tzinfo=SH)


def issue_bill(account: Any, period: str, total: str, due_on: date) -> Bill:
    """An issued bill and its ledger charge, as the billing run leaves them."""
    y, m = int(period[:4]), int(period[5:])
    start = date(y, m, 1)
    end = date(y + (m == 12), m % 12 + 1, 1)
    bill = Bill.objects.create(
        account=account,
        period=period,
        start=start,
        end=end,
        kwh=Decimal("100"),
        total=Decimal(total),
        due_on=due_on,
        status=BillStatus.ISSUED,
    )
    post_entry(
        account_id=account.pk,
        kind="charge",
        amount=Decimal(total),
        posted_at=at(end.year, end.month, 1),
        bill_id=bill.pk,
        memo=f"{period} 电费",
    )
    return bill


#: A flat residential tariff (0.50 yuan/kWh + a 0.02 fund) for the prepaid and batch-payment tests.
FLAT_TARIFF = {
    "code": "T-FLAT",
    "name": "flat",
    "effective_from": "2024-01-01",
    "customer_class": "residential",
    "currency": "CNY",
    "rounding": "per_line",
    "calendar": {"semantics": "real", "holidays": False},
    "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.5000"}]}]},
    "funds": [{"code": "fund", "name": "基金", "rate": "0.02"}],
}
