"""The billing-run launch form, the held-bill review and the readings exceptions page open on a period derived
from the data, not from the calendar: on 2026-12-07 the sample company (billed for 2026-10) was offered 2026-11
to bill — right by chance — and a year later 2027-10, skipping eleven months. The clock is pinned (as in
test_default_period.py) so the tests do not depend on the day they run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Max
from django.test import Client
from django.utils import timezone

from sample_company import Company
from wattdesk.core.period import Period
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.metering.models import ReadingException, RegisterReading

SH = ZoneInfo("Asia/Shanghai")
CLOCKS = [
    datetime(2026, 12, 7, 10, tzinfo=SH),
    datetime(2026, 11, 1, 0, 5, tzinfo=SH),
    datetime(2027, 11, 20, tzinfo=SH),
]


@pytest.fixture(params=CLOCKS, ids=lambda d: d.date().isoformat())
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[datetime]:
    pinned: datetime = request.param
    monkeypatch.setattr(timezone, "now", lambda: pinned)
    yield pinned


def _previous_calendar_month() -> str:
    return str(Period.of(timezone.localdate()).previous())


def test_launch_form_offers_the_period_after_the_latest_billed_one(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    response = client_for(roles.BILLING_CLERK).get("/billing/runs/")
    assert response.status_code == 200
    expected = str(Period.parse(company.period).next())
    assert expected == "2026-11"
    assert response.context["default_period"] == expected
    assert f'name="period" value="{expected}"' in response.content.decode()


def test_launch_form_without_any_bill_offers_the_previous_calendar_month(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    Bill.objects.update(status=BillStatus.CANCELLED)
    response = client_for(roles.BILLING_CLERK).get("/billing/runs/")
    assert response.context["default_period"] == _previous_calendar_month()


def test_review_opens_on_the_latest_billed_period(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    response = client_for(roles.BILLING_CLERK).get("/billing/review/")
    assert response.status_code == 200
    assert response.context["period"] == company.period


def test_readings_page_opens_on_the_period_of_the_latest_reading(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    latest = RegisterReading.objects.aggregate(m=Max("read_on"))["m"]
    expected = str(Period.of(latest))
    assert expected in {"2026-10", "2026-11"}  # the sample's readings end with 2026-10, whatever the clock
    response = client_for(roles.BILLING_CLERK).get("/readings/")
    assert response.status_code == 200
    assert response.context["period"] == expected


def test_readings_page_explicit_period_is_kept(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    response = client_for(roles.BILLING_CLERK).get("/readings/?period=2026-07")
    assert response.context["period"] == "2026-07"


def test_readings_page_without_readings_falls_back_to_the_previous_calendar_month(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    ReadingException.objects.all().delete()
    RegisterReading.objects.all().delete()
    response = client_for(roles.BILLING_CLERK).get("/readings/")
    assert response.context["period"] == _previous_calendar_month()
