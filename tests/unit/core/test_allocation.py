"""Payment allocation (销账): oldest debt first, late fee before principal, the rest a credit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattdesk.core.allocation import (
    DEFAULT_POLICY,
    AllocationError,
    AllocationPolicy,
    OpenItem,
    allocate,
)

D = Decimal
JAN_CHARGE = OpenItem(10, 1, "charge", date(2024, 2, 15), "2024-01", D("100.00"))
JAN_FEE = OpenItem(11, 1, "late_fee", date(2024, 2, 15), "2024-01", D("3.00"))
FEB_CHARGE = OpenItem(20, 2, "charge", date(2024, 3, 15), "2024-02", D("80.00"))
ITEMS = [FEB_CHARGE, JAN_CHARGE, JAN_FEE]


def plan(
    amount: str, items: list[OpenItem] = ITEMS, policy: AllocationPolicy = DEFAULT_POLICY
) -> list[tuple[int, Decimal]]:
    return [
        (ln.item_id, ln.amount) for ln in allocate(amount=D(amount), open_items=items, policy=policy).lines
    ]


class TestAllocate:
    def test_settles_the_late_fee_before_the_principal_of_the_oldest_bill(self) -> None:
        assert plan("50.00") == [(11, D("3.00")), (10, D("47.00"))]

    def test_settles_older_bills_before_newer_ones(self) -> None:
        assert plan("120.00") == [(11, D("3.00")), (10, D("100.00")), (20, D("17.00"))]

    def test_overpayment_becomes_a_credit(self) -> None:
        result = allocate(amount=D("200.00"), open_items=ITEMS, policy=DEFAULT_POLICY)
        assert [ln.item_id for ln in result.lines] == [11, 10, 20]
        assert (result.allocated, result.credit) == (D("183.00"), D("17.00"))

    def test_no_open_items_everything_is_credit(self) -> None:
        result = allocate(amount=D("30.00"), open_items=[], policy=DEFAULT_POLICY)
        assert (result.lines, result.credit) == ((), D("30.00"))

    def test_period_breaks_ties_between_equal_due_dates_and_undated_items_come_last(self) -> None:
        draft = OpenItem(30, 3, "charge", None, "2023-12", D("5.00"))
        a = OpenItem(40, 4, "charge", date(2024, 3, 15), "2024-02", D("5.00"))
        b = OpenItem(41, 5, "charge", date(2024, 3, 15), "2024-01", D("5.00"))
        assert [i for i, _ in plan("15.00", [draft, a, b])] == [41, 40, 30]

    def test_policy_is_data_principal_first(self) -> None:
        policy = AllocationPolicy(name="principal first", kind_order=("charge", "late_fee"))
        assert plan("101.00", policy=policy) == [(10, D("100.00")), (11, D("1.00"))]

    def test_refuses_negative_amounts_and_empty_items(self) -> None:
        with pytest.raises(AllocationError):
            allocate(amount=D("-1.00"), open_items=ITEMS, policy=DEFAULT_POLICY)
        with pytest.raises(AllocationError):
            allocate(
                amount=D("1.00"),
                open_items=[OpenItem(1, 1, "charge", None, "2024-01", D("0.00"))],
                policy=DEFAULT_POLICY,
            )


items = st.lists(
    st.builds(
        OpenItem,
        item_id=st.integers(1, 10**6),
        bill_id=st.one_of(st.none(), st.integers(1, 20)),
        kind=st.sampled_from(["late_fee", "charge"]),
        due_on=st.one_of(st.none(), st.dates(date(2023, 1, 1), date(2025, 12, 31))),
        period=st.sampled_from(["2023-12", "2024-01", "2024-02"]),
        outstanding=st.decimals(D("0.01"), D("10000.00"), places=2),
    ),
    max_size=8,
    unique_by=lambda i: i.item_id,
)


class TestAllocateProperties:
    @given(amount=st.decimals(D("0.00"), D("50000.00"), places=2), open_items=items)
    def test_never_over_allocates_and_sums_add_up(self, amount: Decimal, open_items: list[OpenItem]) -> None:
        result = allocate(amount=amount, open_items=open_items, policy=DEFAULT_POLICY)
        by_id = {i.item_id: i for i in open_items}
        assert result.allocated <= amount
        assert result.allocated + result.credit == amount
        assert sum((ln.amount for ln in result.lines), D(0)) == result.allocated
        assert len({ln.item_id for ln in result.lines}) == len(result.lines)
        for ln in result.lines:
            assert D("0") < ln.amount <= by_id[ln.item_id].outstanding
        total_open = sum((i.outstanding for i in open_items), D(0))
        assert result.credit == max(D(0), amount - total_open)
