"""估抄: missing reads of a period are estimated before billing, so those accounts are billed (flagged
estimated) instead of skipped; a second pass estimates nothing more."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from wattdesk.application.billing.run import run_billing
from wattdesk.application.errors import InputError
from wattdesk.application.metering.estimation import estimate_period
from wattdesk.domain.metering.models import RegisterReading
from wattdesk.synthetic import generate_county


@pytest.mark.django_db
class TestEstimatePeriod:
    def test_missing_reads_are_estimated_then_billed(self) -> None:
        generate_county(accounts=400, months=3, seed=11, end_month=date(2026, 10, 1), interval_share=0.0)
        result = estimate_period(period="2026-10")
        assert result.estimated > 0  # the county injects ~0.5 % missing reads in the latest month
        estimated = RegisterReading.objects.filter(source="estimated", read_on=date(2026, 10, 31))
        assert estimated.count() == result.estimated
        assert all(r.status == "estimated" for r in estimated)
        assert estimate_period(period="2026-10").estimated == 0  # idempotent
        run = run_billing(
            period="2026-10", run_at=datetime(2026, 11, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai")), workers=1
        )
        assert "no_readings" not in dict(run.skipped)
        assert run.estimated > 0

    def test_bad_period_is_an_input_error(self) -> None:
        with pytest.raises(InputError, match="must be YYYY-MM"):
            estimate_period(period="2026-13")
