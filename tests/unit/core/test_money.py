from decimal import Decimal as D

import pytest

from wattdesk.core.money import AmountError, MoneyError, parse_amount, quantize_ratio, round_fen, round_lines


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


class TestParseAmount:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("120.5", D("120.50")),
            ("  120.50\n", D("120.50")),
            ("7", D("7.00")),
            ("0007.10", D("7.10")),
            ("1.500", D("1.50")),  # zeros beyond the fen are not decimals
            ("999999999999.99", D("999999999999.99")),  # the largest a MoneyField(14, 2) holds
            ("１２０．５０", D("120.50")),  # full-width, as a Chinese IME types: deliberately accepted
            ("\u3000８\u3000", D("8.00")),
            (D("12.3"), D("12.30")),
            (D("0.10000"), D("0.10")),
            (15, D("15.00")),
        ],
    )
    def test_reads_plain_decimal_notation(self, text: str | int | D, expected: D) -> None:
        amount = parse_amount(text)
        assert amount == expected
        assert amount.as_tuple().exponent == -2

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("1e20", "not_a_number"),
            ("1E+2", "not_a_number"),
            ("1e999999", "not_a_number"),
            ("NaN", "not_a_number"),
            ("-nan", "not_a_number"),
            ("sNaN", "not_a_number"),
            ("inf", "not_a_number"),
            ("Infinity", "not_a_number"),
            ("1_000", "not_a_number"),
            ("1,000.00", "not_a_number"),
            ("+5", "not_a_number"),
            (".5", "not_a_number"),
            ("5.", "not_a_number"),
            ("¥5", "not_a_number"),
            ("\u0663", "not_a_number"),  # ARABIC-INDIC DIGIT THREE: Decimal() would read it as 3
            ("5\x00", "not_a_number"),
            ("1" * 41, "not_a_number"),
            ("", "empty"),
            ("   ", "empty"),
            ("99999999999999.99", "too_large"),
            ("1000000000000", "too_large"),
            ("1.234", "too_many_decimals"),
            ("0", "not_positive"),
            ("0.00", "not_positive"),
            ("-5", "not_positive"),
            (D("NaN"), "not_a_number"),
            (D("Infinity"), "not_a_number"),
            (D("1E+999999"), "too_large"),
            (D("1E-999999"), "too_many_decimals"),
            (True, "not_a_number"),
            (1.5, "not_a_number"),
            (None, "not_a_number"),
        ],
    )
    def test_refuses_what_is_not_a_stored_yuan_amount(self, text: object, reason: str) -> None:
        with pytest.raises(AmountError) as err:
            parse_amount(text, field="declared cash")  # type: ignore[arg-type]
        assert err.value.reason == reason
        assert str(err.value).startswith("declared cash ")
        assert "\n" not in str(err.value)
        assert isinstance(err.value, MoneyError)

    def test_names_the_limit_when_too_large(self) -> None:
        with pytest.raises(AmountError) as err:
            parse_amount("99999999999999.99")
        assert err.value.limit == D("999999999999.99")
        assert "999999999999.99" in str(err.value)

    def test_zero_and_negative_only_when_asked(self) -> None:
        assert parse_amount("0", allow_zero=True) == D("0.00")
        assert parse_amount("-0", allow_zero=True) == D("0.00")
        with pytest.raises(AmountError) as err:
            parse_amount("-1", allow_zero=True)
        assert err.value.reason == "negative"
        assert parse_amount("-12.5", allow_negative=True) == D("-12.50")
        assert parse_amount("－３", allow_negative=True) == D("-3.00")

    def test_other_column_sizes(self) -> None:
        assert parse_amount("12.3456", max_digits=16, places=4) == D("12.3456")
        with pytest.raises(AmountError):
            parse_amount("1000", max_digits=5, places=2)
        assert parse_amount("999.99", max_digits=5, places=2) == D("999.99")
