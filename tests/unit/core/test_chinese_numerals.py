"""Capital-numeral amounts (大写金额) per the PBOC rules for filling in bills (see the module docstring)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wattdesk.core.chinese_numerals import ChineseNumeralError, amount_in_words


class TestAmountInWords:
    @pytest.mark.parametrize(
        ("amount", "words"),
        [
            ("1234.50", "壹仟贰佰叁拾肆元伍角整"),
            ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
            ("1234.00", "壹仟贰佰叁拾肆元整"),
            ("1234", "壹仟贰佰叁拾肆元整"),
            ("1234.06", "壹仟贰佰叁拾肆元零陆分"),
            ("1409.50", "壹仟肆佰零玖元伍角整"),
            ("6007.14", "陆仟零柒元壹角肆分"),
            ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
            ("107000.53", "壹拾万柒仟元零伍角叁分"),
            ("325.04", "叁佰贰拾伍元零肆分"),
            ("16.00", "壹拾陆元整"),
            ("10", "壹拾元整"),
            ("100000000", "壹亿元整"),
            ("100010000", "壹亿零壹万元整"),
            ("100000001", "壹亿零壹元整"),
            ("10000100", "壹仟万零壹佰元整"),
            ("100001000", "壹亿零壹仟元整"),
            ("20300.00", "贰万零叁佰元整"),
            ("1001001", "壹佰万壹仟零壹元整"),
            ("0.50", "伍角整"),
            ("0.05", "伍分"),
            ("0.55", "伍角伍分"),
            ("0", "零元整"),
            ("0.00", "零元整"),
            ("-58.20", "负伍拾捌元贰角整"),
            (
                "9999999999999999.99",
                "玖仟玖佰玖拾玖万亿玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分",
            ),
        ],
    )
    def test_writes_the_amount_in_capital_numerals(self, amount: str, words: str) -> None:
        assert amount_in_words(Decimal(amount)) == words

    def test_refuses_an_amount_finer_than_a_fen(self) -> None:
        with pytest.raises(ChineseNumeralError, match="not rounded"):
            amount_in_words(Decimal("1.005"))

    def test_refuses_a_float(self) -> None:
        with pytest.raises(ChineseNumeralError):
            amount_in_words(1.5)  # type: ignore[arg-type]

    def test_refuses_an_amount_too_large(self) -> None:
        with pytest.raises(ChineseNumeralError, match="too large"):
            amount_in_words(Decimal("10000000000000000"))

    def test_refuses_nan(self) -> None:
        with pytest.raises(ChineseNumeralError):
            amount_in_words(Decimal("NaN"))
