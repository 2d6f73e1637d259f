"""The billing period value type (core.period.Period): parse, format, half-open bounds, shift, compare."""

from __future__ import annotations

from datetime import date

import pytest

from wattdesk.core.period import Period, PeriodError, add_months, period_text


class TestParse:
    def test_reads_and_formats_yyyy_mm(self) -> None:
        p = Period.parse("2026-03")
        assert (p.year, p.month) == (2026, 3)
        assert str(p) == "2026-03"
        assert str(Period(987, 1)) == "0987-01"

    @pytest.mark.parametrize(
        "text",
        ["", None, "2026-3", "2026-00", "2026-13", "26-03", "2026/03", "2026-03-01", " 2026-03", "2026-03\n",
         "２０２６-03", "0000-01", "2026-03x"],
    )  # fmt: skip
    def test_refuses_anything_else_naming_the_text(self, text: str | None) -> None:
        with pytest.raises(PeriodError, match="YYYY-MM"):
            Period.parse(text)
        assert not Period.is_valid(text)

    def test_is_valid(self) -> None:
        assert Period.is_valid("1999-12")

    def test_constructor_checks_the_month(self) -> None:
        with pytest.raises(PeriodError):
            Period(2026, 13)


class TestBounds:
    def test_half_open_month(self) -> None:
        assert Period(2026, 2).bounds == (date(2026, 2, 1), date(2026, 3, 1))
        assert Period(2026, 12).end == date(2027, 1, 1)
        assert Period.of(date(2024, 2, 29)) == Period(2024, 2)
        assert period_text(date(2026, 11, 30)) == "2026-11"


class TestShift:
    def test_previous_next_and_shift_across_years(self) -> None:
        p = Period(2026, 1)
        assert p.previous() == Period(2025, 12)
        assert p.next() == Period(2026, 2)
        assert p.shift(-13) == Period(2024, 12)
        assert p.shift(24) == Period(2028, 1)
        assert Period(2026, 12).next() == Period(2027, 1)

    def test_back_lists_oldest_first(self) -> None:
        assert [str(x) for x in Period(2026, 2).back(3)] == ["2025-12", "2026-01", "2026-02"]
        assert Period(2026, 2).back(0) == []

    def test_out_of_range(self) -> None:
        with pytest.raises(PeriodError):
            Period(9999, 12).next()

    def test_add_months_keeps_the_day(self) -> None:
        assert add_months(date(2026, 1, 28), 1) == date(2026, 2, 28)
        assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)


class TestCompare:
    def test_orders_like_the_calendar_and_hashes(self) -> None:
        assert Period(2025, 12) < Period(2026, 1) < Period(2026, 2)
        assert sorted([Period(2026, 3), Period(2025, 4)]) == [Period(2025, 4), Period(2026, 3)]
        assert len({Period.parse("2026-03"), Period(2026, 3)}) == 1
        assert max(Period(2026, 1), Period(2025, 12)) == Period(2026, 1)
