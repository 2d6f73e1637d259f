"""Late fees (违约金), billing-rules.md section 5: hand-computed cases and properties."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattdesk.core.late_fee import (
    Arrear,
    LateFeeError,
    LateFeePolicy,
    Reduction,
    late_fee,
    policy_on,
)

POLICY = LateFeePolicy(effective_from=date(1996, 10, 8))
D = Decimal


def fee(arrear: Arrear, as_of: date, policy: LateFeePolicy = POLICY) -> Decimal:
    return late_fee(arrears=[arrear], as_of=as_of, policy=policy).lines[0].amount


class TestLateFee:
    def test_residential_accrues_one_permille_from_the_day_after_the_due_date(self) -> None:
        # 4-01 .. 4-10 inclusive = 10 days x 200.00 x 0.001 = 2.00
        a = Arrear(1, "residential", "2024-02", date(2024, 3, 31), D("200.00"))
        result = late_fee(arrears=[a], as_of=date(2024, 4, 10), policy=POLICY)
        assert result.lines[0].days == 10
        assert result.total == D("2.00")

    def test_other_customers_accrue_two_permille_on_current_year_arrears(self) -> None:
        # 3-21 .. 3-31 (11 days) + 4-01 .. 4-09 (9 days) = 20 days x 1000.00 x 0.002 = 40.00
        a = Arrear(1, "other", "2024-02", date(2024, 3, 20), D("1000.00"))
        assert fee(a, date(2024, 4, 9)) == D("40.00")

    def test_cross_year_arrears_accrue_three_permille_from_january_first(self) -> None:
        # 2024-12-26 .. 12-31: 6 days x 500 x 0.002 = 6.00; 2025-01-01 .. 01-05: 5 x 500 x 0.003 = 7.50
        a = Arrear(1, "other", "2024-11", date(2024, 12, 25), D("500.00"))
        line = late_fee(arrears=[a], as_of=date(2025, 1, 5), policy=POLICY).lines[0]
        assert (line.days, line.exact, line.amount) == (11, D("13.50"), D("13.50"))

    def test_residential_cross_year_stays_at_one_permille(self) -> None:
        # 11 days x 500 x 0.001 = 5.50
        a = Arrear(1, "residential", "2024-11", date(2024, 12, 25), D("500.00"))
        assert fee(a, date(2025, 1, 5)) == D("5.50")

    def test_partial_payment_reduces_the_base_from_the_day_it_is_received(self) -> None:
        # 6-01 .. 6-05: 5 x 300 x 0.001 = 1.50; 6-06 .. 6-10: 5 x 200 x 0.001 = 1.00
        a = Arrear(
            1,
            "residential",
            "2024-04",
            date(2024, 5, 31),
            D("300.00"),
            (Reduction(date(2024, 6, 6), D("100.00")),),
        )
        assert fee(a, date(2024, 6, 10)) == D("2.50")

    def test_payment_day_accrues_when_the_policy_says_so(self) -> None:
        # 6-01 .. 6-06: 6 x 300 x 0.001 = 1.80; 6-07 .. 6-10: 4 x 200 x 0.001 = 0.80
        policy = LateFeePolicy(effective_from=date(1996, 10, 8), payment_day_accrues=True)
        a = Arrear(
            1,
            "residential",
            "2024-04",
            date(2024, 5, 31),
            D("300.00"),
            (Reduction(date(2024, 6, 6), D("100.00")),),
        )
        assert fee(a, date(2024, 6, 10), policy) == D("2.60")

    def test_a_total_below_one_yuan_is_charged_as_one_yuan(self) -> None:
        # 3 days x 50.00 x 0.001 = 0.15 -> 1.00
        a = Arrear(1, "residential", "2024-02", date(2024, 3, 31), D("50.00"))
        line = late_fee(arrears=[a], as_of=date(2024, 4, 3), policy=POLICY).lines[0]
        assert (line.exact, line.amount) == (D("0.15000"), D("1.00"))

    def test_daily_amounts_are_added_then_rounded_once(self) -> None:
        # 2024-02-01 .. 03-11 = 29 + 11 = 40 days x 33.33 x 0.001 = 1.3332 -> 1.33 (per-day rounding: 1.20)
        a = Arrear(1, "residential", "2023-12", date(2024, 1, 31), D("33.33"))
        line = late_fee(arrears=[a], as_of=date(2024, 3, 11), policy=POLICY).lines[0]
        assert (line.days, line.exact, line.amount) == (40, D("1.33320"), D("1.33"))

    def test_nothing_accrues_on_or_before_the_due_date(self) -> None:
        a = Arrear(1, "other", "2024-02", date(2024, 3, 31), D("500.00"))
        assert fee(a, date(2024, 3, 31)) == D("0.00")

    def test_paid_in_full_on_the_first_late_day_accrues_nothing_and_no_minimum(self) -> None:
        a = Arrear(
            1, "other", "2024-02", date(2024, 3, 31), D("100.00"), (Reduction(date(2024, 4, 1), D("100.00")),)
        )
        assert fee(a, date(2024, 4, 10)) == D("0.00")

    def test_start_offset_is_policy_data(self) -> None:
        # a 3-day grace: accrual from 4-04 through 4-10 = 7 days x 1000 x 0.002 = 14.00
        policy = LateFeePolicy(effective_from=date(1996, 10, 8), start_offset_days=4)
        a = Arrear(1, "other", "2024-02", date(2024, 3, 31), D("1000.00"))
        assert fee(a, date(2024, 4, 10), policy) == D("14.00")

    def test_policy_on_picks_the_version_in_force(self) -> None:
        old = LateFeePolicy(effective_from=date(1996, 10, 8))
        new = LateFeePolicy(effective_from=date(2024, 6, 1), minimum=D("2.00"))
        assert policy_on([old, new], date(2024, 5, 31)) is old
        assert policy_on([old, new], date(2024, 6, 1)) is new
        with pytest.raises(LateFeeError):
            policy_on([new], date(2020, 1, 1))


arrears = st.builds(
    Arrear,
    item_id=st.just(1),
    category=st.sampled_from(["residential", "other"]),
    period=st.sampled_from(["2023-11", "2024-01", "2024-12"]),
    due_on=st.dates(date(2023, 12, 1), date(2025, 1, 31)),
    principal=st.decimals(D("0.01"), D("99999.99"), places=2),
    reductions=st.lists(
        st.builds(
            Reduction,
            on=st.dates(date(2023, 12, 1), date(2025, 6, 30)),
            amount=st.decimals(D("0.01"), D("500"), places=2),
        ),
        max_size=3,
    ).map(tuple),
)


class TestLateFeeProperties:
    @given(arrear=arrears, as_of=st.dates(date(2023, 12, 1), date(2025, 6, 30)), extra=st.integers(0, 400))
    def test_fee_is_monotone_in_days(self, arrear: Arrear, as_of: date, extra: int) -> None:
        assert fee(arrear, as_of) <= fee(arrear, as_of + timedelta(days=extra))

    @given(arrear=arrears, as_of=st.dates(date(2023, 12, 1), date(2025, 6, 30)))
    def test_fee_is_zero_or_at_least_the_minimum_and_to_the_fen(self, arrear: Arrear, as_of: date) -> None:
        amount = fee(arrear, as_of)
        assert amount == 0 or amount >= D("1.00")
        assert amount == amount.quantize(D("0.01"))
