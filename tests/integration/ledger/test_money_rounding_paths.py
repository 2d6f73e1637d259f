"""Money read back from the database is rounded with the one helper (``core.money.round_fen``: half-up to
the fen), never with Python's default half-even: SQLite hands raw-cursor money columns back as floats, and
``Decimal(str(x)).quantize(FEN)`` turned 1.005 into 1.00 and 0.125 into 0.12."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from wattdesk.application.billing import fetch
from wattdesk.domain.payments import queries as payment_queries

HALF_FEN = [
    (0.125, Decimal("0.13")),
    (1.005, Decimal("1.01")),
    (-0.125, Decimal("-0.13")),
    (2.5, Decimal("2.50")),
]


@pytest.mark.parametrize(("raw", "expected"), HALF_FEN)
def test_payment_queries_round_half_up(raw: float, expected: Decimal) -> None:
    assert payment_queries._money(raw) == expected
    assert str(payment_queries._money(raw)) == str(expected)


@pytest.mark.parametrize(("raw", "expected"), HALF_FEN)
def test_the_billing_fetch_rounds_half_up(raw: float, expected: Decimal) -> None:
    assert str(fetch._money(raw)) == str(expected)


def test_a_decimal_from_postgresql_is_kept_as_it_is() -> None:
    assert payment_queries._money(Decimal("12.34")) == Decimal("12.34")
    assert fetch._money(Decimal("12.34")) == Decimal("12.34")


def test_the_hold_reason_shows_the_median_rounded_half_up() -> None:
    from wattdesk.application.billing.hold import DEFAULT_HOLD_POLICY, assess_hold

    history = [Decimal("100.25"), Decimal("100.25"), Decimal("100.00"), Decimal("100.00")]  # median 100.125
    reason = assess_hold(
        total=Decimal("400.00"), history=history, customer_class="residential", policy=DEFAULT_HOLD_POLICY
    )
    assert reason is not None and reason.code == "high"
    assert reason.params["median"] == "100.13"  # half-even formatting showed 100.12


@pytest.mark.django_db
def test_the_held_bills_median_is_rounded_half_up(account: Any) -> None:
    from wattdesk.application.billing.review import list_held_bills
    from wattdesk.domain.billing.models import Bill

    for period, total, status in (("2024-01", "100.00", "issued"), ("2024-02", "100.25", "issued"),
                                  ("2024-03", "400.00", "held")):  # fmt: skip
        y, m = int(period[:4]), int(period[5:])
        Bill.objects.create(
            account=account, period=period, status=status, start=date(y, m, 1), end=date(y, m + 1, 1),
            kwh=Decimal("100"), total=Decimal(total),
        )  # fmt: skip
    (held,) = list_held_bills(period="2024-03")
    assert held.history_median == Decimal("100.13")  # median 100.125; quantize's half-even gave 100.12
