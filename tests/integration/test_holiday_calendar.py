"""The public-holiday calendar comes from the maintained chinese_calendar library, with config/holidays-local.yaml
only for local overrides; a disconnection on a day of a year the calendar does not know is refused, not guessed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import Group
from payments_helpers import SH, issue_bill

from wattdesk.application.dunning import disconnection as disconnection_app
from wattdesk.application.dunning.disconnection import OrderRefused, approve_order, execute_order
from wattdesk.application.errors import InputError
from wattdesk.application.tariffs import reference_data
from wattdesk.application.tariffs.reference_data import (
    _config_text,
    load_holidays,
    merge_holidays,
    official_holidays,
    parse_holidays,
)
from wattdesk.core.calendar import UnknownHolidayYear
from wattdesk.domain.dunning.models import DisconnectionOrder


class TestLoadedCalendar:
    def test_knows_the_years_of_the_library(self) -> None:
        cal = load_holidays()
        assert cal.years is not None and set(range(2004, 2027)) <= cal.years
        assert cal.knows(date(2026, 12, 31))

    @pytest.mark.parametrize(
        "day",
        [date(2026, 10, 1), date(2026, 10, 7), date(2026, 2, 17), date(2019, 2, 5), date(2021, 5, 3)],
    )
    def test_holidays_the_hand_kept_file_lacked(self, day: date) -> None:
        # The old config/holidays-cn.yaml had no 2020-2023 nor 2026 and only New Year's Day of 2019.
        assert load_holidays().is_holiday(day)

    def test_make_up_working_days(self) -> None:
        cal = load_holidays()
        assert date(2026, 10, 10) in cal.workdays  # a Saturday worked for National Day
        assert not cal.is_holiday(date(2026, 10, 10))

    def test_a_year_the_library_does_not_know_raises(self) -> None:
        cal = load_holidays()
        unknown = max(cal.years or {2026}) + 1
        assert not cal.knows(date(unknown, 3, 2))
        with pytest.raises(UnknownHolidayYear, match=f"public holidays of {unknown} are not known"):
            cal.is_holiday(date(unknown, 3, 2))

    def test_the_shipped_file_holds_overrides_only(self) -> None:
        doc = yaml.safe_load(_config_text("holidays-local.yaml"))
        assert doc == {"years": {}}


class TestOverrides:
    def test_local_days_win_and_a_listed_year_becomes_known(self) -> None:
        local = parse_holidays(
            {
                "years": {
                    2026: {"holidays": ["2026-06-01"], "workdays": ["2026-10-07"]},
                    2031: {"holidays": ["2031-01-01", "2031-02-01..2031-02-03"], "workdays": ["2031-02-08"]},
                }
            }
        )
        cal = merge_holidays(official_holidays(), local)
        assert cal.is_holiday(date(2026, 6, 1))  # a local day off
        assert not cal.is_holiday(date(2026, 10, 7)) and date(2026, 10, 7) in cal.workdays
        assert cal.is_holiday(date(2026, 10, 6))  # the rest of the official calendar stays
        assert cal.knows(date(2031, 5, 5)) and cal.is_holiday(date(2031, 2, 2))
        assert date(2031, 2, 8) in cal.workdays

    @pytest.mark.parametrize(
        ("doc", "message"),
        [
            ({"years": {2027: {"holidays": ["2028-01-01"]}}}, "2028-01-01 is not in 2027"),
            ({"years": {2027: {"holidays": ["2027-13-01"]}}}, "not a date"),
            ({"years": {2027: {"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}}}, "both"),
            ({"years": {"next": {}}}, "not a year"),
            ({"years": [2027]}, "must be a mapping"),
        ],
    )
    def test_bad_override_files_are_named(self, doc: Any, message: str) -> None:
        with pytest.raises(InputError, match=message):
            parse_holidays(doc)


SH_DAY = datetime(2024, 6, 11, 10, 30, tzinfo=SH)


@pytest.fixture
def approved(account: Any, django_user_model: Any) -> tuple[DisconnectionOrder, Any]:
    boss = django_user_model.objects.create_user("boss", password="x")
    boss.groups.add(Group.objects.get_or_create(name="marketing_manager")[0])
    crew = django_user_model.objects.create_user("crew", password="x")
    crew.groups.add(Group.objects.get_or_create(name="admin")[0])
    bill = issue_bill(account, "2024-03", "300.00", date(2024, 4, 30))
    order = DisconnectionOrder.objects.create(
        account=account,
        bill=bill,
        kind="disconnect",
        status="notified",
        amount=Decimal("300.00"),
        planned_at=datetime(2024, 6, 11, 9, 0, tzinfo=SH),
        created_at=datetime(2024, 6, 4, 2, tzinfo=SH),
    )
    approve_order(order_id=order.pk, user=boss, now=SH_DAY)
    return order, crew


@pytest.mark.django_db
class TestDisconnectionUsesTheCalendar:
    def test_no_cut_on_national_day_2026(self, approved: tuple[DisconnectionOrder, Any]) -> None:
        order, crew = approved
        with pytest.raises(OrderRefused, match="2026-10-02 is a public holiday"):
            execute_order(order_id=order.pk, user=crew, now=datetime(2026, 10, 2, 10, 0, tzinfo=SH))

    def test_no_cut_in_a_year_the_calendar_does_not_know(
        self, approved: tuple[DisconnectionOrder, Any]
    ) -> None:
        order, crew = approved
        unknown = max(load_holidays().years or {2026}) + 1
        with pytest.raises(OrderRefused, match=f"public holidays of {unknown} are not known"):
            execute_order(order_id=order.pk, user=crew, now=datetime(unknown, 3, 2, 10, 0, tzinfo=SH))
        order.refresh_from_db()
        assert order.status == "notified"

    def test_a_year_listed_in_the_overrides_can_be_cut(
        self, approved: tuple[DisconnectionOrder, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        order, crew = approved
        unknown = max(load_holidays().years or {2026}) + 1
        local = parse_holidays({"years": {unknown: {"holidays": [f"{unknown}-01-01"]}}})
        cal = merge_holidays(official_holidays(), local)
        monkeypatch.setattr(disconnection_app, "load_holidays", lambda: cal)
        assert reference_data.load_holidays is not cal
        tuesday = date(unknown, 3, 2)
        while tuesday.weekday() != 1:
            tuesday = date(unknown, 3, tuesday.day + 1)
        done = execute_order(
            order_id=order.pk, user=crew, now=datetime(unknown, 3, tuesday.day, 10, 0, tzinfo=SH)
        )
        assert done.order.status == "executed"
