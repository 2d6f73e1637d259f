from decimal import Decimal as D

import pytest

from wattdesk.core.money import MoneyError, quantize_ratio, round_fen, round_lines


class TestRoundFen:
    def test_rounds_half_up(self) -> None:
        assert round_fen(D("1.005")) == D("1.01")
        assert round_fen(D("1.0049")) == D("1.00")
        assert round_fen(D("-1.005")) == D("-1.01")


class TestRoundLines:
    def test_per_line_sums_rounded_lines(self) -> None:
        lines, total = round_lines([D("1.005"), D("2.004"), D("3.333")], "per_line")
        assert lines == (D("1.01"), D("2.00"), D("3.33"))
        assert total == D("6.34")

    def test_per_bill_rounds_the_exact_sum_and_gives_residual_fen_by_largest_remainder(self) -> None:
        # exact sum 0.015 -> 0.02; floors 0.00 0.00 0.00; two fen go to the two largest remainders
        lines, total = round_lines([D("0.005"), D("0.004"), D("0.006")], "per_bill")
        assert total == D("0.02")
        assert lines == (D("0.01"), D("0.00"), D("0.01"))
        # per line would give 0.01 + 0.00 + 0.01 = 0.02 here, but differs on e.g. three 0.005 lines
        assert round_lines([D("0.005")] * 3, "per_line")[1] == D("0.03")
        assert round_lines([D("0.005")] * 3, "per_bill") == ((D("0.01"), D("0.01"), D("0.00")), D("0.02"))

    def test_per_bill_with_negative_lines_still_adds_up(self) -> None:
        lines, total = round_lines([D("10.004"), D("-2.506")], "per_bill")
        assert total == D("7.50")
        assert sum(lines) == total

    def test_unknown_mode_is_rejected(self) -> None:
        with pytest.raises(MoneyError):
            round_lines([D(1)], "per_cent")  # type: ignore[arg-type]


class TestQuantizeRatio:
    def test_is_exact_half_up(self) -> None:
        assert quantize_ratio(D(240 * 30 * 12), D(365)) == D("236.7123")
        assert quantize_ratio(D(1), D(8)) == D("0.1250")
        assert quantize_ratio(D("0.00005"), D(1)) == D("0.0001")
        assert quantize_ratio(D("-0.00005"), D(1)) == D("-0.0001")
        assert quantize_ratio(D("7.57") * 365, D(12), D("0.00000001")) == D("230.25416667")
