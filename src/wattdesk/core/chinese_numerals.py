"""Amounts in Chinese capital numerals (人民币大写金额), as printed on a bill, an invoice or a receipt.

Pure (no Django, no I/O). The convention follows the People's Bank of China rules for filling in bills and
settlement vouchers (《正确填写票据和结算凭证的基本规定》):

* digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟, sections 万 亿, currency units 元 角 分;
* ``整`` after 元 when there are no 角/分 (``壹佰元整``) and after 角 when there is no 分 (``伍角整``); never after 分;
* a run of zeros inside the integer part is written as one ``零`` (``陆仟零柒元``, ``壹亿零壹万元整``); zeros that
  close a section (万, 亿) or the integer part are not written (``壹拾万柒仟``, ``壹佰元``), but an all-zero
  section between two others is (``壹亿零壹仟``);
* when the 元 digit is 0 (integer part not zero) and a 角 or 分 follows, one ``零`` is written after 元
  (``壹拾万柒仟元零伍角叁分``) — the rules allow omitting it there; WattDesk always writes it, so nothing can
  be inserted between 元 and 角;
* when 角 is 0 and 分 is not, ``零`` is written after 元 (``壹仟贰佰叁拾肆元零陆分``) — this one is mandatory;
* 10-19 keep the 壹 (``壹拾陆元整``), as the rules require for amounts;
* zero is ``零元整``; a negative amount (a credit) is prefixed with ``负``.

The amount must already be rounded to the fen (``core.money.round_fen``): this module does not round.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

DIGITS: Final = "零壹贰叁肆伍陆柒捌玖"
UNITS: Final = ("", "拾", "佰", "仟")
SECTIONS: Final = ("", "万", "亿", "万亿")
MAX_AMOUNT: Final = Decimal("9999999999999999.99")


class ChineseNumeralError(ValueError):
    """The amount cannot be written: not finite, finer than a fen, or too large."""


def _integer_part(n: int) -> str:
    """Capital numerals of a non-negative integer (without the currency unit); '' for 0."""
    if n == 0:
        return ""
    digits = str(n)
    width = len(digits)
    out: list[str] = []
    pending_zero = False
    section_has_digit = False
    for i, ch in enumerate(digits):
        pos = width - 1 - i  # power of ten of this digit
        unit_idx, section_idx = pos % 4, pos // 4
        d = int(ch)
        if d == 0:
            pending_zero = bool(out)
        else:
            if pending_zero:
                out.append("零")
                pending_zero = False
            out.append(DIGITS[d] + UNITS[unit_idx])
            section_has_digit = True
        if unit_idx == 0:
            if section_has_digit:
                # zeros closing a section are not written (壹拾万柒仟); after an all-zero section they are
                pending_zero = False
                out.append(SECTIONS[section_idx])
            section_has_digit = False
    return "".join(out)


def amount_in_words(amount: Decimal) -> str:
    """``Decimal("1234.50")`` -> ``"壹仟贰佰叁拾肆元伍角整"`` (see the module docstring for the rules)."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ChineseNumeralError(f"not a finite Decimal amount: {amount!r}")
    fen_total = amount * 100
    if fen_total != fen_total.to_integral_value():
        raise ChineseNumeralError(f"amount {amount} is not rounded to the fen (分)")
    if abs(amount) > MAX_AMOUNT:
        raise ChineseNumeralError(f"amount {amount} is too large")
    fen_count = int(fen_total)
    sign = "负" if fen_count < 0 else ""
    fen_count = abs(fen_count)
    yuan, rest = divmod(fen_count, 100)
    jiao, fen = divmod(rest, 10)
    if fen_count == 0:
        return "零元整"
    words = _integer_part(yuan)
    out = [sign]
    if words:
        out.append(words + "元")
    if jiao == 0 and fen == 0:
        out.append("整")
        return "".join(out)
    if words and (yuan % 10 == 0 or jiao == 0):
        out.append("零")
    if jiao:
        out.append(DIGITS[jiao] + "角")
    if fen:
        out.append(DIGITS[fen] + "分")
    else:
        out.append("整")
    return "".join(out)
