"""Pages that show one billing period open on the latest billed period, whatever today's date is.

The bill list and the scorecards used to open on the previous calendar month: on 2026-12-07 the sample company
(billed for 2026-10) showed an empty bill list and scorecards with 0 % recovery. The clock is pinned here (to
that day and to dates far from the billed period), so the tests do not depend on the day they run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from sample_company import Company
from wattdesk.application.billing.review import issue_bills
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.billing.queries import latest_billed_period

SH = ZoneInfo("Asia/Shanghai")
# The day the bug was found, the first day after the billed month's successor, and a date a year later.
CLOCKS = [
    datetime(2026, 12, 7, 10, tzinfo=SH),
    datetime(2026, 12, 1, 0, 5, tzinfo=SH),
    datetime(2027, 11, 20, tzinfo=SH),
]


@pytest.fixture(params=CLOCKS, ids=lambda d: d.date().isoformat())
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[datetime]:
    """Pins django.utils.timezone.now (and so localdate) for the whole test, login included."""
    pinned: datetime = request.param
    monkeypatch.setattr(timezone, "now", lambda: pinned)
    yield pinned


def test_bill_list_opens_on_the_latest_billed_period(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    response = client_for(roles.BILLING_CLERK).get("/bills/")
    assert response.status_code == 200
    assert response.context["filters"]["period"] == company.period
    assert response.context["count"] == Bill.objects.filter(period=company.period).count() > 0


def test_bill_list_explicit_period_is_kept(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    response = client_for(roles.BILLING_CLERK).get("/bills/?period=2026-09")
    assert response.context["filters"]["period"] == "2026-09"
    assert response.context["count"] == 0


def test_bill_list_without_any_bill_falls_back_to_the_previous_calendar_month(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    Bill.objects.update(status=BillStatus.CANCELLED)
    response = client_for(roles.BILLING_CLERK).get("/bills/")
    today = timezone.localdate()
    expected = f"{today.year - 1}-12" if today.month == 1 else f"{today.year}-{today.month - 1:02d}"
    assert response.context["filters"]["period"] == expected


def test_scorecards_open_on_the_latest_billed_period_with_its_recovery(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=SH),
        issued_on=date(2026, 11, 3),
    )
    response = client_for(roles.ADMIN).get("/collection/scorecards/")
    assert response.status_code == 200
    assert response.context["period"] == company.period
    cards = response.context["cards"]
    assert cards.period == company.period
    assert cards.total.billed > 0


def test_scorecards_prefer_the_latest_issued_period_to_a_newer_draft_one(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    """A period just billed (drafts, not sent out) has collected nothing yet: its recovery rate is 0 %. The
    scorecards open on the latest period whose bills were issued."""
    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=SH),
        issued_on=date(2026, 11, 3),
    )
    draft = Bill.objects.filter(period=company.period).order_by("pk").first()
    assert draft is not None
    draft.pk, draft.period, draft.status = None, "2026-11", BillStatus.DRAFT
    draft.save()
    assert latest_billed_period() == "2026-11"
    response = client_for(roles.ADMIN).get("/collection/scorecards/")
    assert response.context["period"] == company.period
    assert client_for(roles.BILLING_CLERK).get("/bills/").context["filters"]["period"] == "2026-11"


def test_dashboard_opens_on_the_latest_billed_period(
    clock: datetime, company: Company, client_for: Callable[[str], Client]
) -> None:
    response = client_for(roles.ADMIN).get("/dashboard/")
    assert response.status_code == 200
    assert response.context["d"].period == company.period
    assert response.context["d"].current.bills > 0


@pytest.mark.django_db
def test_latest_billed_period_ignores_cancelled_bills_and_respects_the_scope(company: Company) -> None:
    assert latest_billed_period() == company.period
    account_ids = list(Bill.objects.filter(period=company.period).values_list("account_id", flat=True)[:1])
    assert latest_billed_period(Bill.objects.filter(account_id__in=account_ids)) == company.period
    assert latest_billed_period(Bill.objects.none()) is None
    Bill.objects.filter(period=company.period).update(status=BillStatus.CANCELLED)
    assert latest_billed_period() is None
