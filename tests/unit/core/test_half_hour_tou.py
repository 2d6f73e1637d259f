"""Half-hour TOU boundaries (issue 9 part 9): several provinces start a period at :30 (e.g. 峰 08:30–22:30).

A schedule row has 24 hourly or 48 half-hour slots; both rating paths assign each interval to the slot it lies in
(the exact path through ``core.rating.determinants.monthly_determinants``, the vector path through
``vector.monthly_columns_from_load``), and a property test keeps them equal to the fen.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattdesk.application.billing.determinants import energy_by_period
from wattdesk.core.rating.determinants import LoadError, monthly_determinants
from wattdesk.core.rating.exact import RatingError, rate
from wattdesk.core.rating.vector import monthly_columns_from_load, rate_columns
from wattdesk.core.tariff import Tariff, TariffError, parse_tariff

# valley 00:00-08:30 (slots 0-16), peak 08:30-22:30 (slots 17-44), valley 22:30-24:00 (slots 45-47)
HALF_HOUR_DAY = [1] * 17 + [0] * 28 + [1] * 3


def doc(weekday: Any = HALF_HOUR_DAY, **extra: Any) -> dict[str, Any]:
    return {
        "code": "HH",
        "name": "半点分时",
        "effective_from": "2026-01-01",
        "customer_class": "commercial",
        "calendar": {"semantics": "real", "holidays": False},
        "energy": {
            "periods": [
                {"key": "peak", "tiers": [{"rate": "1.0"}]},
                {"key": "valley", "tiers": [{"rate": "0.3"}]},
            ],
            "schedule": {"weekday": weekday, **extra},
        },
    }


def tariff(**kw: Any) -> Tariff:
    return parse_tariff(doc=doc(**kw))


class TestHalfHourSchedules:
    def test_a_48_slot_day_is_accepted_and_hourly_rows_are_widened(self) -> None:
        hourly_weekend = [1] * 24
        t = tariff(weekend=hourly_weekend)
        s = t.energy.schedule
        assert (s.slots_per_hour, s.slot_minutes) == (2, 30)
        assert s.period(day_type=0, month=1, hour=8, minute=0) == 1  # 08:00-08:30 valley
        assert s.period(day_type=0, month=1, hour=8, minute=30) == 0  # 08:30 peak begins
        assert s.period(day_type=0, month=1, hour=22, minute=30) == 1  # 22:30 valley again
        assert len(s.table[1][0]) == 48 and set(s.table[1][0]) == {1}  # the hourly weekend, widened

    def test_an_hourly_schedule_stays_hourly(self) -> None:
        s = tariff(weekday=[1] * 8 + [0] * 14 + [1] * 2).energy.schedule
        assert (s.slots_per_hour, len(s.table[0][0])) == (1, 24)

    def test_other_lengths_are_refused_naming_the_field(self) -> None:
        with pytest.raises(TariffError) as err:
            tariff(weekday=[[0] * 30] * 12)
        assert str(err.value) == "energy.schedule.weekday[0]: must have 24 hours (or 48 half-hours), has 30"


def day_load(step_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Monday 2026-01-05: 1 kWh per half hour, except 5 kWh in 08:00-08:30 and 3 kWh in 08:30-09:00."""
    per_half_hour = np.ones(48)
    per_half_hour[16], per_half_hour[17] = 5.0, 3.0
    split = 30 // step_minutes
    kwh = np.repeat(per_half_hour / split, split)
    ts = np.datetime64("2026-01-05T00:00", "m") + np.arange(48 * split) * step_minutes
    return ts, kwh


class TestExactPathAtHalfHours:
    @pytest.mark.parametrize("step_minutes", [30, 15])
    def test_the_0830_boundary_splits_the_load(self, step_minutes: int) -> None:
        t = tariff()
        ts, kwh = day_load(step_minutes)
        (det,) = monthly_determinants(tariff=t, timestamps=ts, kwh=kwh)
        # valley: 16 half-hours of 1 kWh before 08:00 + 5 kWh (08:00-08:30) + 3 x 1 kWh after 22:30 = 24 kWh
        # peak: 3 kWh (08:30-09:00) + 27 half-hours of 1 kWh (09:00-22:30) = 30 kWh
        assert det.kwh_by_period == (D(30), D(24))
        bill = rate(tariff=t, det=det)
        # 30 x 1.0 = 30.00; 24 x 0.3 = 7.20; total 37.20 (an hourly 08:00 boundary would bill 35.00 + 5.70)
        assert [(ln.code, ln.amount) for ln in bill.lines] == [
            ("energy.peak", D("30.00")),
            ("energy.valley", D("7.20")),
        ]
        assert bill.total == D("37.20")

    def test_hourly_data_cannot_be_split_at_half_past(self) -> None:
        ts = np.datetime64("2026-01-05T00:00", "m") + np.arange(24) * 60
        with pytest.raises(LoadError, match="periods change every 30 minutes: 60-minute intervals"):
            monthly_determinants(tariff=tariff(), timestamps=ts, kwh=np.ones(24))

    def test_a_register_read_account_bills_its_tou_registers(self) -> None:
        # the meter's own TOU table splits at :30; the registers are billed as read (峰 30, 谷 24)
        kwh = energy_by_period(tariff=tariff(), kwh_by_kind={"active_peak": D(30), "active_valley": D(24)})
        assert kwh == (D(30), D(24))


def year_steps(steps_per_hour: int) -> np.ndarray:
    return np.datetime64("2026-01-01T00:00", "m") + np.arange(365 * 24 * steps_per_hour) * (
        60 // steps_per_hour
    )


class TestVectorPathAtHalfHours:
    def test_hourly_data_is_refused_as_in_the_exact_path(self) -> None:
        with pytest.raises(RatingError, match="periods change every 30 minutes"):
            monthly_columns_from_load(
                tariff=tariff(), year=2026, kwh=np.ones((1, 365 * 24)), steps_per_hour=1
            )

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        weekday=st.lists(st.integers(0, 1), min_size=48, max_size=48),
        weekend=st.lists(st.integers(0, 1), min_size=48, max_size=48),
        steps_per_hour=st.sampled_from([2, 4]),
        seed=st.integers(0, 2**32 - 1),
        rates=st.tuples(
            st.decimals(min_value=D(0), max_value=D(2), places=4),
            st.decimals(min_value=D(0), max_value=D(2), places=4),
        ),
    )
    def test_vector_equals_exact_to_the_fen(
        self, weekday: list[int], weekend: list[int], steps_per_hour: int, seed: int, rates: tuple[D, D]
    ) -> None:
        d = doc(weekday=weekday, weekend=weekend)
        for p, r in zip(d["energy"]["periods"], rates, strict=True):
            p["tiers"] = [{"upto": 500, "rate": str(r)}, {"rate": str(r * 2)}]
        t = parse_tariff(doc=d)
        rng = np.random.default_rng(seed)
        n = 365 * 24 * steps_per_hour
        kwh = np.round(rng.gamma(2.0, 0.4, size=(2, n)) / steps_per_hour, 5)
        cols = monthly_columns_from_load(tariff=t, year=2026, kwh=kwh, steps_per_hour=steps_per_hour)
        res = rate_columns(tariff=t, cols=cols)
        ts = year_steps(steps_per_hour)
        row = 0
        for a in range(2):
            for det in monthly_determinants(tariff=t, timestamps=ts, kwh=kwh[a]):
                built = cols.determinants(row)
                assert (built.kwh_by_period, built.start) == (det.kwh_by_period, det.start)
                bill = rate(tariff=t, det=det)
                assert res.lines(row) == tuple((ln.code, ln.amount) for ln in bill.lines)
                assert res.total(row) == bill.total
                row += 1
        assert row == 24 and date(2026, 12, 1) == cols.determinants(23).start


class TestIntervalAlignment:
    def test_data_straddling_the_half_hour_is_refused(self) -> None:
        # 30-minute intervals starting at :15 would each hold energy of two half-hour slots
        ts = np.datetime64("2026-01-05T00:15", "m") + np.arange(4) * 30
        with pytest.raises(LoadError, match="30-minute intervals"):
            monthly_determinants(tariff=tariff(), timestamps=ts, kwh=np.ones(4))

    def test_hourly_schedules_keep_the_start_hour_rule(self) -> None:
        hourly = tariff(weekday=[1] * 8 + [0] * 14 + [1] * 2)
        ts = np.datetime64("2026-01-05T07:30", "m") + np.arange(2) * 60  # 07:30 (valley), 08:30 (peak)
        (det,) = monthly_determinants(tariff=hourly, timestamps=ts, kwh=np.array([2.0, 3.0]))
        assert det.kwh_by_period == (D(3), D(2))
