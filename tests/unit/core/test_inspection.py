"""窃电 / 违约用电 back-billing (core.inspection), billing-rules-2.md section 5: every published case of §5.5."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattdesk.core.inspection import (
    CaseFacts,
    InspectionInputError,
    Method,
    RuleSet,
    Usage,
    Use,
    assess,
    meter_capacity_kw,
    months_of_use,
)

D = Decimal

#: the 1996 《供电营业规则》 values (Arts 100–103, billing-rules-2.md §5.1/§5.2), as seeded in the inspection
#: app's data migration; written out here so the test does not read the database.
RULES_1996 = RuleSet(
    code="1996",
    theft_multiple=D(3),
    theft_default_days=180,
    hours_power=D(12),
    hours_lighting=D(6),
    reclass_multiple=D(2),
    reclass_default_days=90,
    over_capacity_multiple=D(3),
    over_capacity_per_kw=D(50),
    sealed_multiple=D(2),
    sealed_per_kw=D(30),
    tamper_residential=D(500),
    tamper_other=D(5000),
)


class TestTheft:
    def test_private_kit_time_unknown_is_180_days_of_12_hours_and_three_times_the_charge(self) -> None:
        # §5.5 (274949.com): 2 kW on the B phase, time unknown, 0.40 元/kWh
        # 补交电费 = 2 × 180 × 12 × 0.40 = 1728 ; 违约使用电费 = 1728 × 3 = 5184
        facts = CaseFacts(method=Method.UNAUTHORISED_CONNECTION, usages=(Usage(D(2), Use.POWER, D("0.40")),))
        a = assess(facts=facts, rules=RULES_1996)
        assert a.energy_kwh == D("4320.0000")  # 2 × 180 × 12
        assert (a.back_charge, a.penalty, a.total) == (D("1728.00"), D("5184.00"), D("6912.00"))
        assert [ln.label for ln in a.lines] == ["补交电费", "违约使用电费"]
        assert a.lines[0].formula == "2×12×180 = 4320 kWh; 4320×0.4 = 1728"

    def test_lighting_customer_bypassing_a_5_amp_meter_owes_2376(self) -> None:
        # §5.5 illustration: 220 V × 5 A / 1000 = 1.1 kW; 1.1 × 180 × 6 = 1188 kWh; × 0.50 = 594.00;
        # × 3 = 1782.00; total 2376.00
        kw = meter_capacity_kw(phase_voltage=D(220), rated_current=D(5))
        assert kw == D("1.1")
        facts = CaseFacts(method=Method.METER_CAPACITY, usages=(Usage(kw, Use.LIGHTING, D("0.50")),))
        a = assess(facts=facts, rules=RULES_1996)
        assert a.energy_kwh == D("1188.0000")
        assert (a.back_charge, a.penalty, a.total) == (D("594.00"), D("1782.00"), D("2376.00"))

    def test_known_days_and_hours_replace_the_defaults(self) -> None:
        # 3 kW × 8 h × 10 d = 240 kWh × 0.55 = 132.00 ; × 3 = 396.00
        facts = CaseFacts(
            method=Method.UNAUTHORISED_CONNECTION,
            usages=(Usage(D(3), Use.POWER, D("0.55"), hours_per_day=D(8)),),
            days=10,
        )
        a = assess(facts=facts, rules=RULES_1996)
        assert (a.energy_kwh, a.back_charge, a.penalty) == (D("240.0000"), D("132.00"), D("396.00"))

    def test_three_phase_meter_on_a_ct_multiplies_by_phases_and_ratio(self) -> None:
        # 3 × 220 V × 1.5 A × 50 (CT 75/1.5... ratio 50) / 1000 = 49.5 kW
        assert meter_capacity_kw(phase_voltage=D(220), rated_current=D("1.5"), phases=3, ct_ratio=D(50)) == D(
            "49.5"
        )

    def test_penalty_is_the_multiple_of_the_unrounded_charge(self) -> None:
        # 1 kW × 1 h × 1 d × 0.333 = 0.333 → 0.33 ; × 3 = 0.999 → 1.00 (not 0.99 = 3 × 0.33)
        facts = CaseFacts(
            method=Method.METER_CAPACITY, usages=(Usage(D(1), Use.POWER, D("0.333"), D(1)),), days=1
        )
        a = assess(facts=facts, rules=RULES_1996)
        assert (a.back_charge, a.penalty) == (D("0.33"), D("1.00"))


class TestReclass:
    def test_published_case_rounds_the_doubled_difference_once(self) -> None:
        # §5.5 (tk.swop.cn 5076399): 5 kW power + 3 kW lighting on a residential line, 3 months unknown
        # W1 = 5 × 12 × 30 × 3 = 5400 ; W2 = 3 × 6 × 30 × 3 = 1620
        # 差额 = 5400 × (0.7625 − 0.5653) + 1620 × (0.8895 − 0.5653) = 1064.88 + 525.204 = 1590.084 → 1590.08
        # 违约 = 2 × 1590.084 = 3180.168 → 3180.17 (2 × 1590.08 would be 3180.16)
        facts = CaseFacts(
            method=Method.RECLASS,
            usages=(Usage(D(5), Use.POWER, D("0.7625")), Usage(D(3), Use.LIGHTING, D("0.8895"))),
            base_price=D("0.5653"),
        )
        a = assess(facts=facts, rules=RULES_1996)
        assert a.energy_kwh == D("7020.0000")
        assert (a.back_charge, a.penalty) == (D("1590.08"), D("3180.17"))
        assert a.lines[1].exact == D("3180.1680")

    def test_a_price_not_above_the_billed_one_is_refused(self) -> None:
        facts = CaseFacts(
            method=Method.RECLASS, usages=(Usage(D(5), Use.POWER, D("0.5")),), base_price=D("0.5653")
        )
        with pytest.raises(InspectionInputError, match="must be above the price billed"):
            assess(facts=facts, rules=RULES_1996)


class TestCapacity:
    def test_sealed_equipment_two_part_published_case_81000_and_162000(self) -> None:
        # §5.5 (livelovelifegateway.com): 2000 kVA, 15 元/kVA·month, used from 5-10, found 7-30
        # 补交基本电费 = 2000 × 15 × 21/30 + 2000 × 15 + 2000 × 15 = 21000 + 30000 + 30000 = 81000
        # 违约使用电费 = 2 × 81000 = 162000
        facts = CaseFacts(
            method=Method.SEALED_EQUIPMENT,
            two_part=True,
            capacity_kw=D(2000),
            basic_price=D(15),
            used_from=date(2024, 5, 10),
            found_on=date(2024, 7, 30),
        )
        a = assess(facts=facts, rules=RULES_1996)
        assert (a.back_charge, a.penalty) == (D("81000.00"), D("162000.00"))
        assert a.lines[0].formula == "2000×15×21/30 + 2000×15 + 2000×15 = 81000"

    def test_sealed_equipment_other_customer_is_30_per_kw_per_time(self) -> None:
        # 40 kW × 30 × 2 times = 2400.00, no back charge
        facts = CaseFacts(method=Method.SEALED_EQUIPMENT, capacity_kw=D(40), events=2)
        a = assess(facts=facts, rules=RULES_1996)
        assert (a.back_charge, a.penalty) == (D("0.00"), D("2400.00"))

    def test_over_capacity_two_part_is_three_times_the_back_billed_basic_charge(self) -> None:
        # 100 kW × 25 元 × (30 − 16 = 14 days)/30 + 100 × 25 (month found) = 1166.666… + 2500 = 3666.67
        # 违约 = 3 × 3666.666… = 11000.00
        facts = CaseFacts(
            method=Method.OVER_CAPACITY,
            two_part=True,
            capacity_kw=D(100),
            basic_price=D(25),
            used_from=date(2024, 4, 16),
            found_on=date(2024, 5, 3),
        )
        a = assess(facts=facts, rules=RULES_1996)
        assert (a.back_charge, a.penalty) == (D("3666.67"), D("11000.00"))

    def test_over_capacity_other_customer_is_50_per_kw(self) -> None:
        facts = CaseFacts(method=Method.OVER_CAPACITY, capacity_kw=D(15))  # 15 × 50 = 750
        assert assess(facts=facts, rules=RULES_1996).penalty == D("750.00")

    def test_two_part_needs_the_dates(self) -> None:
        facts = CaseFacts(method=Method.OVER_CAPACITY, two_part=True, capacity_kw=D(1), basic_price=D(1))
        with pytest.raises(InspectionInputError, match="date"):
            assess(facts=facts, rules=RULES_1996)

    def test_months_of_use_counts_the_first_month_from_its_day_and_later_months_whole(self) -> None:
        assert months_of_use(used_from=date(2024, 5, 10), found_on=date(2024, 7, 30)) == (21, 2)
        assert months_of_use(used_from=date(2024, 2, 1), found_on=date(2024, 2, 20)) == (28, 0)
        with pytest.raises(InspectionInputError):
            months_of_use(used_from=date(2024, 5, 10), found_on=date(2024, 5, 9))


class TestMeterTamper:
    @pytest.mark.parametrize(
        ("residential", "events", "penalty"), [(True, 1, "500.00"), (False, 2, "10000.00")]
    )
    def test_per_event_amount_by_customer(self, residential: bool, events: int, penalty: str) -> None:
        facts = CaseFacts(method=Method.METER_TAMPER, residential=residential, events=events)
        a = assess(facts=facts, rules=RULES_1996)
        assert (a.back_charge, a.penalty) == (D("0.00"), D(penalty))


class TestBadInput:
    def test_theft_without_equipment_is_refused(self) -> None:
        with pytest.raises(InspectionInputError, match="at least one"):
            assess(facts=CaseFacts(method=Method.METER_CAPACITY), rules=RULES_1996)

    def test_negative_capacity_is_refused(self) -> None:
        facts = CaseFacts(method=Method.METER_CAPACITY, usages=(Usage(D(-1), Use.POWER, D(1)),))
        with pytest.raises(InspectionInputError, match="capacity"):
            assess(facts=facts, rules=RULES_1996)


@given(
    kw=st.decimals(min_value=D("0.1"), max_value=D(5000), places=2),
    price=st.decimals(min_value=D("0.1"), max_value=D(2), places=4),
    days=st.integers(min_value=1, max_value=400),
)
def test_theft_penalty_is_the_rounded_multiple_of_the_exact_charge(
    kw: Decimal, price: Decimal, days: int
) -> None:
    a = assess(
        facts=CaseFacts(method=Method.METER_CAPACITY, usages=(Usage(kw, Use.POWER, price),), days=days),
        rules=RULES_1996,
    )
    exact = kw * 12 * days * price
    assert a.back_charge == exact.quantize(D("0.01"), rounding="ROUND_HALF_UP")
    assert a.penalty == (3 * exact).quantize(D("0.01"), rounding="ROUND_HALF_UP")
    assert abs(a.penalty - 3 * a.back_charge) <= D("0.02")
