"""The demo's two long steps report progress: the bill history after each month, the payment history after each
of its steps, so `wattdesk demo` shows bars instead of ~50 s of silence each."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from wattdesk.application.billing.run import run_billing
from wattdesk.synthetic import generate_county
from wattdesk.synthetic import payments as sp

pytestmark = pytest.mark.django_db(transaction=False)
SH = ZoneInfo("Asia/Shanghai")


def test_bill_history_and_payment_history_report_progress(settings: Any) -> None:
    generate_county(accounts=30, months=4, seed=5, end_month=date(2026, 10, 1), interval_share=0.0)
    run_billing(period="2026-10", run_at=datetime(2026, 11, 1, 8, tzinfo=SH), workers=1)
    seen: list[tuple[str, int, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        seen.append((stage, done, total))

    history = sp.bill_history(months=3, workers=1, progress=progress)
    assert history.periods == ("2026-08", "2026-09", "2026-10")
    assert seen == [("bill history", n, 3) for n in range(4)]

    seen.clear()
    result = sp.generate_payment_history(seed=5, through=date(2026, 12, 20), progress=progress)
    assert result.payments > 0
    steps = sp.PAYMENT_STEPS
    assert seen == [("payment history", n, steps) for n in range(steps + 1)]
