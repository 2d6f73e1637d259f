"""Unit tests for the pure VEE rules (wattdesk.core.vee), with hand-computed values."""

from datetime import date
from decimal import Decimal as D

import pytest

from wattdesk.core import vee
from wattdesk.core.vee import (
    Check,
    Estimate,
    MeterExchange,
    PeriodUsage,
    Reading,
    RegisterCheckInput,
    Severity,
    VeeRules,
)


def monthly(*kwh: str, first: date = date(2024, 1, 1)) -> tuple[PeriodUsage, ...]:
    """Consecutive calendar-month periods starting at `first`, with the given kWh."""
    out = []
    y, m = first.year, first.month
    for k in kwh:
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append(PeriodUsage(date(y, m, 1), date(ny, nm, 1), D(k)))
        y, m = ny, nm
    return tuple(out)


class TestRegisterAdvance:
    def test_returns_plain_difference_when_value_increases(self):
        adv, f = vee.register_advance(previous=D("1234.5"), current=D("1300.25"), digits=6)
        assert adv == D("65.75")
        assert f is None

    def test_corrects_rollover_near_full_scale(self):
        # 6 digits: full scale 1,000,000; 999,950 -> 30 is an advance of 80
        adv, f = vee.register_advance(previous=D("999950"), current=D("30"), digits=6)
        assert adv == D("80")
        assert f is not None and f.check is Check.ROLLOVER and f.severity is Severity.INFO

    def test_flags_true_negative_when_previous_not_near_full_scale(self):
        adv, f = vee.register_advance(previous=D("5000"), current=D("4990"), digits=6)
        assert adv == D("-10")
        assert f is not None and f.check is Check.NEGATIVE_ADVANCE and f.severity is Severity.ERROR

    def test_flags_negative_when_wrapped_advance_is_implausibly_large(self):
        # previous 950,000 (>= 0.9 x 1e6) but value 500,000 would wrap to 550,000 (> 0.1 x 1e6)
        adv, f = vee.register_advance(previous=D("950000"), current=D("500000"), digits=6)
        assert adv == D("-450000")
        assert f is not None and f.check is Check.NEGATIVE_ADVANCE

    def test_rollover_thresholds_are_parameters(self):
        rules = VeeRules(rollover_min_previous_fraction=D("0.5"), rollover_max_advance_fraction=D("0.6"))
        adv, f = vee.register_advance(previous=D("950000"), current=D("500000"), digits=6, rules=rules)
        assert adv == D("550000")
        assert f is not None and f.check is Check.ROLLOVER


class TestComputeAdvance:
    def test_applies_multiplier(self):
        r = vee.compute_advance(
            previous=Reading(date(2024, 1, 1), D("100.5")),
            current=Reading(date(2024, 2, 1), D("110.75")),
            digits=5,
            multiplier=D(40),
        )
        assert r.advance == D("10.25")
        assert r.consumption == D("410.00")
        assert r.findings == ()
        assert r.ok

    def test_first_reading_of_register_only_opens_it(self):
        r = vee.compute_advance(
            previous=None, current=Reading(date(2024, 2, 1), D("7")), digits=5, multiplier=D(1)
        )
        assert r.advance is None and r.consumption is None and r.ok

    def test_rollover_consumption_uses_corrected_advance_times_multiplier(self):
        r = vee.compute_advance(
            previous=Reading(date(2024, 1, 1), D("9990")),
            current=Reading(date(2024, 2, 1), D("15")),
            digits=4,
            multiplier=D(30),
        )
        assert r.advance == D("25")
        assert r.consumption == D("750")
        assert [f.check for f in r.findings] == [Check.ROLLOVER]
        assert r.ok

    def test_meter_exchange_adds_old_and_new_meter_parts(self):
        # old: 1200 -> final 1250 (x20) = 1000 kWh; new: initial 3 -> 18 (x50) = 750 kWh
        ex = MeterExchange(
            old_previous=D(1200), old_final=D(1250), old_multiplier=D(20), old_digits=6, new_initial=D(3)
        )
        r = vee.compute_advance(
            previous=None, current=Reading(date(2024, 2, 1), D(18)), digits=6, multiplier=D(50), exchange=ex
        )
        assert r.advance == D(15)
        assert r.consumption == D(1750)
        assert [f.check for f in r.findings] == [Check.METER_EXCHANGE]
        assert r.ok

    def test_meter_exchange_with_old_meter_rollover(self):
        ex = MeterExchange(
            old_previous=D(9995), old_final=D(5), old_multiplier=D(1), old_digits=4, new_initial=D(0)
        )
        r = vee.compute_advance(
            previous=None, current=Reading(date(2024, 2, 1), D(7)), digits=5, multiplier=D(1), exchange=ex
        )
        assert r.consumption == D(17)
        assert {f.check for f in r.findings} == {Check.ROLLOVER, Check.METER_EXCHANGE}


class TestZeroConsumption:
    def test_flags_after_n_consecutive_zero_periods(self):
        f = vee.check_zero_consumption(consumption=D(0), history=monthly("50", "0", "0"))
        assert f is not None and f.check is Check.ZERO_CONSUMPTION and f.severity is Severity.WARNING

    def test_does_not_flag_when_an_earlier_period_in_the_window_used_energy(self):
        assert vee.check_zero_consumption(consumption=D(0), history=monthly("0", "3", "0")) is None

    def test_does_not_flag_nonzero_consumption(self):
        assert vee.check_zero_consumption(consumption=D("0.1"), history=monthly("0", "0", "0")) is None

    def test_does_not_flag_with_too_little_history(self):
        assert vee.check_zero_consumption(consumption=D(0), history=monthly("0")) is None

    def test_n_is_a_parameter(self):
        rules = VeeRules(zero_periods=1)
        f = vee.check_zero_consumption(consumption=D(0), history=(), rules=rules)
        assert f is not None and "1 consecutive" in f.reason


class TestSpike:
    def test_flags_consumption_above_factor_times_median(self):
        # median of 100,120,110,90 = 105; 3 x 105 = 315 < 400
        f = vee.check_spike(consumption=D(400), history=monthly("100", "120", "110", "90"))
        assert f is not None and f.check is Check.SPIKE and f.severity is Severity.ERROR
        assert "median 105" in f.reason

    def test_does_not_flag_at_exactly_the_limit(self):
        assert vee.check_spike(consumption=D(315), history=monthly("100", "120", "110", "90")) is None

    def test_floor_suppresses_small_absolute_spikes(self):
        # 10 x median but below the 200 kWh floor
        assert vee.check_spike(consumption=D(150), history=monthly("15", "15", "15")) is None

    def test_needs_minimum_history(self):
        assert vee.check_spike(consumption=D(5000), history=monthly("100", "100")) is None

    def test_uses_only_the_latest_history_periods(self):
        # 12 low months preceded by one huge month: median of the latest 12 = 100
        hist = monthly("100000", *(["100"] * 12), first=date(2023, 1, 1))
        f = vee.check_spike(consumption=D(301), history=hist)
        assert f is not None and "median 100 of the latest 12" in f.reason

    def test_compares_per_day_when_the_period_is_known(self):
        # 12 months of ~300 kWh (~10 kWh/day); a reading spanning two months (61 days) of 640 kWh is ~10.5/day
        hist = monthly(*(["300"] * 12), first=date(2023, 1, 1))
        assert (
            vee.check_spike(consumption=D(640), history=hist, start=date(2024, 1, 1), end=date(2024, 3, 2))
            is None
        )
        # 640 kWh in one 31-day month is 20.6 kWh/day, about 2.1 x the ~9.8 kWh/day median: not yet a spike
        assert (
            vee.check_spike(consumption=D(640), history=hist, start=date(2024, 1, 1), end=date(2024, 2, 1))
            is None
        )
        f = vee.check_spike(consumption=D(1000), history=hist, start=date(2024, 1, 1), end=date(2024, 2, 1))
        assert f is not None and "kWh/day" in f.reason

    def test_same_period_last_year_raises_the_baseline_for_seasonal_use(self):
        # a critical-peak register: zero except 900 kWh in July last year
        hist = monthly(*(["0"] * 6 + ["900"] + ["0"] * 6), first=date(2023, 1, 1))  # Jan 2023 .. Jan 2024
        july = vee.check_spike(consumption=D(950), history=hist, start=date(2024, 7, 1), end=date(2024, 8, 1))
        assert july is None
        march = vee.check_spike(
            consumption=D(950), history=hist, start=date(2024, 3, 1), end=date(2024, 4, 1)
        )
        assert march is not None and march.check is Check.SPIKE


class TestEstimate:
    def test_uses_same_month_last_year_daily_average(self):
        hist = monthly(*(["310"] + ["999"] * 12), first=date(2023, 3, 1))  # March 2023: 310 kWh / 31 d
        est = vee.estimate_consumption(start=date(2024, 3, 1), end=date(2024, 3, 31), history=hist)
        assert est is not None
        assert est.kwh == D("300.0000")  # 10 kWh/d x 30 d
        assert "same month last year 2023-03-01" in est.basis

    def test_falls_back_to_latest_three_periods(self):
        # Jan 31 d 310, Feb 29 d 290, Mar 31 d 400: 1000 kWh / 91 d x 30 d = 329.6703...
        hist = monthly("5000", "310", "290", "400", first=date(2023, 12, 1))
        est = vee.estimate_consumption(start=date(2024, 4, 1), end=date(2024, 5, 1), history=hist)
        assert est is not None
        assert est.kwh == D("329.6703")
        assert est.basis.startswith("latest 3 periods: 1000 kWh / 91 d")

    def test_returns_none_without_history(self):
        assert vee.estimate_consumption(start=date(2024, 4, 1), end=date(2024, 5, 1), history=()) is None

    def test_rejects_empty_period(self):
        with pytest.raises(ValueError):
            vee.estimate_consumption(start=date(2024, 4, 1), end=date(2024, 4, 1), history=())

    def test_estimated_reading_divides_by_multiplier_and_wraps(self):
        value, kwh = vee.estimated_reading(
            previous=Reading(date(2024, 3, 1), D("9990")),
            read_on=date(2024, 4, 1),
            estimate=Estimate(D("500"), "x"),
            multiplier=D(30),
            digits=4,
        )
        # 500 / 30 = 16.6667 -> 9990 + 16.6667 = 10006.6667 -> wraps to 6.6667
        assert value == D("6.6667")
        assert kwh == D("500.0010")


class TestTrueUp:
    def test_actual_minus_estimated(self):
        delta, f = vee.true_up(actual_consumption=D(900), estimated_consumption=D(600))
        assert delta == D(300)
        assert f.check is Check.TRUE_UP and f.severity is Severity.INFO

    def test_over_estimate_is_a_credit_with_warning(self):
        delta, f = vee.true_up(actual_consumption=D(500), estimated_consumption=D(600))
        assert delta == D(-100)
        assert f.severity is Severity.WARNING

    def test_validate_register_trues_up_after_estimates(self):
        # actual 1000 on Jan 1, estimate added 300 kWh (x1) for Feb; actual Mar 1 reads 1450
        res = vee.validate_register(
            RegisterCheckInput(
                previous=Reading(date(2024, 2, 1), D(1300)),
                current=Reading(date(2024, 3, 1), D(1450)),
                digits=6,
                multiplier=D(1),
                previous_actual=Reading(date(2024, 1, 1), D(1000)),
                estimated_since_actual=D(300),
            )
        )
        assert res.advance == D(450)
        assert res.consumption == D(150)
        assert [f.check for f in res.findings] == [Check.TRUE_UP]


class TestReactiveWithoutActive:
    def test_flags_reactive_with_zero_active(self):
        f = vee.check_reactive_without_active(reactive_consumption=D(40), active_consumption=D(0))
        assert f is not None and f.check is Check.REACTIVE_WITHOUT_ACTIVE and f.severity is Severity.ERROR

    def test_flags_reactive_with_missing_active(self):
        f = vee.check_reactive_without_active(reactive_consumption=D(40), active_consumption=None)
        assert f is not None and "not read" in f.reason

    def test_passes_when_both_moved(self):
        assert (
            vee.check_reactive_without_active(reactive_consumption=D(40), active_consumption=D(100)) is None
        )

    def test_passes_when_reactive_did_not_move(self):
        assert vee.check_reactive_without_active(reactive_consumption=D(0), active_consumption=None) is None


class TestDemand:
    def test_flags_demand_above_meter_physical_limit(self):
        kw, f = vee.check_demand(value=D("2.5"), multiplier=D(200), max_kw_physical=D(400), capacity_kva=None)
        assert kw == D("500.0")
        assert f is not None and f.check is Check.DEMAND_ABOVE_CAPACITY and "limit 400" in f.reason

    def test_uses_smaller_of_meter_and_capacity(self):
        kw, f = vee.check_demand(value=D(2), multiplier=D(200), max_kw_physical=D(800), capacity_kva=D(315))
        assert kw == D(400)
        assert f is not None and "limit 315" in f.reason

    def test_passes_within_limit(self):
        kw, f = vee.check_demand(value=D(1), multiplier=D(200), max_kw_physical=D(800), capacity_kva=D(315))
        assert kw == D(200) and f is None

    def test_no_limit_known_passes(self):
        assert (
            vee.check_demand(value=D(9), multiplier=D(1), max_kw_physical=None, capacity_kva=None)[1] is None
        )

    def test_tolerance_is_a_parameter(self):
        rules = VeeRules(demand_tolerance=D("1.3"))
        _, f = vee.check_demand(
            value=D(2), multiplier=D(200), max_kw_physical=None, capacity_kva=D(315), rules=rules
        )
        assert f is None


class TestValidateRegister:
    def test_negative_advance_stops_other_checks(self):
        res = vee.validate_register(
            RegisterCheckInput(
                previous=Reading(date(2024, 1, 1), D(500)),
                current=Reading(date(2024, 2, 1), D(400)),
                digits=6,
                multiplier=D(1),
                history=monthly("0", "0", "0"),
            )
        )
        assert [f.check for f in res.findings] == [Check.NEGATIVE_ADVANCE]
        assert not res.ok

    def test_spike_and_zero_run_on_consumption(self):
        res = vee.validate_register(
            RegisterCheckInput(
                previous=Reading(date(2024, 4, 1), D(1000)),
                current=Reading(date(2024, 5, 1), D(1020)),
                digits=6,
                multiplier=D(50),
                history=monthly("200", "210", "190"),
            )
        )
        assert res.consumption == D(1000)
        assert [f.check for f in res.findings] == [Check.SPIKE]
        assert not res.ok


class TestVeeRules:
    def test_rejects_nonsense_parameters(self):
        with pytest.raises(ValueError):
            VeeRules(zero_periods=0)
        with pytest.raises(ValueError):
            VeeRules(spike_factor=D(0))
