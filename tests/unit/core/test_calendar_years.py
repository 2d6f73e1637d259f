"""The holiday calendar says which years it knows; cutting supply on a day of an unknown year is refused."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from wattdesk.core.calendar import HolidayCalendar, UnknownHolidayYear, year_spans
from wattdesk.core.disconnection import execution_refusal
from wattdesk.core.dunning import parse_policy
from wattdesk.core.fee_control import FeeControlPolicy, disconnect_permitted

SH = ZoneInfo("Asia/Shanghai")
DUNNING = parse_policy(
    yaml.safe_load((Path(__file__).parents[3] / "src/wattdesk/config/dunning-policy.yaml").read_text("utf-8"))
)
CAL = HolidayCalendar(holidays=frozenset({date(2026, 10, 1)}), years=frozenset({2025, 2026}))


class TestHolidayCalendar:
    def test_knows_only_its_years(self) -> None:
        assert CAL.knows(date(2026, 5, 5)) and not CAL.knows(date(2027, 5, 5))
        assert CAL.is_holiday(date(2026, 10, 1)) and not CAL.is_holiday(date(2026, 10, 9))
        with pytest.raises(UnknownHolidayYear, match=r"2027 are not known \(known years: 2025-2026\)"):
            CAL.is_holiday(date(2027, 1, 1))

    def test_a_calendar_without_years_makes_no_claim(self) -> None:
        assert HolidayCalendar().knows(date(2099, 1, 1))

    def test_year_spans(self) -> None:
        assert year_spans(frozenset({2004, 2005, 2006, 2030, 2032, 2033})) == "2004-2006, 2030, 2032-2033"
        assert year_spans(frozenset()) == ""


def _execute(at: datetime, years: frozenset[int] | None) -> str | None:
    return execution_refusal(
        kind="disconnect",
        status="notified",
        approved=True,
        owed=Decimal("120.00"),
        protected=False,
        at=at,
        policy=DUNNING,
        holidays=CAL.holidays,
        holiday_years=years,
    )


class TestExecutionRefusal:
    def test_refused_in_an_unknown_year(self) -> None:
        why = _execute(datetime(2027, 3, 2, 10, 0, tzinfo=SH), CAL.years)
        assert why is not None and "public holidays of 2027 are not known (known: 2025-2026)" in why

    def test_allowed_on_a_working_day_of_a_known_year(self) -> None:
        assert _execute(datetime(2026, 11, 24, 10, 0, tzinfo=SH), CAL.years) is None

    def test_without_years_it_behaves_as_before(self) -> None:
        assert _execute(datetime(2027, 3, 2, 10, 0, tzinfo=SH), None) is None


class TestFeeControlPermitted:
    def test_not_permitted_in_an_unknown_year(self) -> None:
        policy = FeeControlPolicy()
        noon_2027 = datetime(2027, 3, 2, 12, 0)
        assert disconnect_permitted(at=noon_2027, holidays=CAL.holidays, policy=policy)
        assert not disconnect_permitted(
            at=noon_2027, holidays=CAL.holidays, policy=policy, holiday_years=CAL.years
        )
        assert disconnect_permitted(
            at=datetime(2026, 3, 3, 12, 0), holidays=CAL.holidays, policy=policy, holiday_years=CAL.years
        )
