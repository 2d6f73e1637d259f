"""The billing run gives the same bills on both rating engines: ``engine="vector"`` (the default,
``core.rating.vector``: every point of a tariff version in a batch at once) and ``engine="exact"`` (the reference
Decimal path). Same accounts, same period: every bill and every line (code, description, quantity, unit, unit
rate, amount, rule) equal. The rating itself is a hypothesis property (tests/unit/core/
test_vector_equals_exact.py); this holds the run's wiring to it (grouping by tariff, sub-uses, notes, holds)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from wattdesk.application.billing.run import BillingInputError, run_billing
from wattdesk.domain.billing.models import Bill, BillLine
from wattdesk.synthetic import generate_county

pytestmark = pytest.mark.db

RUN_AT = datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def snapshot() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    bills = list(
        Bill.objects.order_by("account_id").values_list(
            "account_id", "period", "version", "status", "start", "end", "kwh", "total", "hold_reason"
        )
    )
    lines = list(
        BillLine.objects.order_by("bill__account_id", "seq").values_list(
            "bill__account_id", "seq", "code", "description", "quantity", "unit", "rate", "amount", "rule"
        )
    )
    return bills, lines


def billed(engine: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Run the period with ``engine``, read what it wrote, and roll it back."""
    with transaction.atomic():
        result = run_billing(period="2026-10", run_at=RUN_AT, engine=engine, batch_size=97)
        assert result.bills > 0
        out = snapshot()
        transaction.set_rollback(True)
    return out


def test_vector_and_exact_runs_write_the_same_bills_and_lines(db: None) -> None:
    # residential tiers, TOU, commercial, agricultural and two-part industrial with PF; small batches
    generate_county(accounts=240, months=3, seed=11, end_month=date(2026, 10, 1), interval_share=0.05)
    exact_bills, exact_lines = billed("exact")
    vector_bills, vector_lines = billed("vector")
    assert len(vector_bills) == len(exact_bills)
    assert vector_bills == exact_bills
    assert len(vector_lines) == len(exact_lines)
    assert vector_lines == exact_lines
    codes = {ln[2].split(".")[0] for ln in vector_lines}
    assert {"energy", "basic", "pf"} <= codes  # the two-part industrial rules were exercised


def test_an_unknown_engine_is_refused(db: None) -> None:
    with pytest.raises(BillingInputError, match="unknown rating engine"):
        run_billing(period="2026-10", run_at=RUN_AT, engine="float")
