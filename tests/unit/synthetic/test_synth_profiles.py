"""Pure load shapes and population draws of the synthetic county."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from wattdesk.synthetic import population as pop
from wattdesk.synthetic import profiles as prof


def _monthly_means(axis: prof.HourAxis, comps: np.ndarray) -> np.ndarray:
    month = (axis.hours.astype("datetime64[M]") - np.datetime64(axis.start, "M")).astype(np.int64)
    return prof.group_sums(comps, month, 12) / np.bincount(month, minlength=12)


class TestHourAxis:
    def test_counts_hours_of_a_leap_year(self) -> None:
        ax = prof.hour_axis(date(2024, 1, 1), date(2025, 1, 1))
        assert ax.size == 366 * 24
        assert ax.hour_of_day[:3].tolist() == [0, 1, 2]
        assert ax.weekday[0] == 0  # 2024-01-01 was a Monday
        assert ax.month[-1] == 12
        assert ax.day_of_year[-1] == 365

    def test_rejects_an_empty_range(self) -> None:
        with pytest.raises(ValueError):
            prof.hour_axis(date(2024, 1, 2), date(2024, 1, 2))


class TestComponents:
    def test_each_component_has_mean_one_over_the_reference_year(self) -> None:
        ax = prof.hour_axis(prof.REFERENCE_START, prof.REFERENCE_END)
        comps = prof.components(ax, seed=7)
        np.testing.assert_allclose(comps.mean(axis=1), 1.0, rtol=1e-12)

    def test_residential_peaks_in_the_evening(self) -> None:
        ax = prof.hour_axis(date(2024, 4, 1), date(2024, 5, 1))
        base = prof.components(ax, seed=1)[prof.COMPONENT_INDEX["res_base"]]
        by_hour = np.bincount(ax.hour_of_day, weights=base) / np.bincount(ax.hour_of_day)
        assert int(by_hour.argmax()) in (19, 20, 21)
        assert by_hour[20] > 3 * by_hour[3]

    def test_cooling_is_a_summer_load_and_heating_a_winter_load(self) -> None:
        ax = prof.hour_axis(date(2024, 1, 1), date(2025, 1, 1))
        m = _monthly_means(ax, prof.components(ax, seed=3))
        cool, heat = m[prof.COMPONENT_INDEX["res_cooling"]], m[prof.COMPONENT_INDEX["res_heating"]]
        assert cool[6:8].min() > 1.5  # July, August
        assert cool[[0, 1, 2, 10, 11]].max() < 0.05
        assert heat[[0, 1, 11]].min() > 1.5
        assert heat[5:9].max() < 0.05

    def test_factories_shut_down_around_the_spring_festival(self) -> None:
        ax = prof.hour_axis(date(2025, 1, 1), date(2026, 1, 1))  # 春节 2025-01-29
        m = _monthly_means(ax, prof.components(ax, seed=3))
        two = m[prof.COMPONENT_INDEX["ind_2shift"]]
        assert two[0] < 0.8 * two[4]  # January < May
        assert two[1] < 0.8 * two[4]  # February < May

    def test_irrigation_concentrates_in_summer(self) -> None:
        ax = prof.hour_axis(date(2024, 1, 1), date(2025, 1, 1))
        m = _monthly_means(ax, prof.components(ax, seed=3))
        irr = m[prof.COMPONENT_INDEX["agr_irrigation"]]
        assert int(irr.argmax()) in (6, 7)
        assert irr[:3].sum() < 0.05 * irr.sum()

    def test_same_seed_gives_the_same_weather_and_another_seed_other_weather(self) -> None:
        ax = prof.hour_axis(date(2024, 7, 1), date(2024, 8, 1))
        a, b, c = (prof.temperature(ax, seed=s) for s in (5, 5, 6))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        assert 22.0 < a.mean() < 34.0

    def test_overlapping_windows_see_the_same_weather(self) -> None:
        long = prof.temperature(prof.hour_axis(date(2024, 1, 1), date(2024, 3, 1)), seed=5)
        short = prof.temperature(prof.hour_axis(date(2024, 2, 1), date(2024, 3, 1)), seed=5)
        np.testing.assert_array_equal(long[31 * 24 :], short)


class TestEnergyByGroup:
    def test_matrix_energy_equals_the_sum_of_hourly_load(self) -> None:
        ax = prof.hour_axis(date(2024, 1, 1), date(2024, 4, 1))
        comps = prof.components(ax, seed=2)
        rng = np.random.default_rng(0)
        shares = rng.dirichlet(np.ones(len(prof.COMPONENTS)), size=5)
        mean_kw = rng.uniform(0.1, 5.0, 5)
        k = prof.period_index(ax, [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1)])
        energy = prof.energy_by_group(shares, mean_kw, prof.group_sums(comps, k, 3))
        hourly = prof.hourly_load(shares, mean_kw, comps)
        expected = np.stack([hourly[:, k == j].sum(axis=1) for j in range(3)], axis=1)
        np.testing.assert_allclose(energy, expected, rtol=1e-12)

    def test_tou_index_reads_weekday_and_weekend_tables(self) -> None:
        ax = prof.hour_axis(date(2024, 6, 1), date(2024, 6, 3))  # Saturday, Sunday
        weekday = np.zeros((12, 24), dtype=np.int64)
        weekend = np.ones((12, 24), dtype=np.int64)
        weekend[5, 10] = 2
        idx = prof.tou_index(ax, weekday, weekend)
        assert idx.tolist().count(2) == 2
        assert set(idx.tolist()) == {1, 2}


@pytest.fixture(scope="module")
def county() -> pop.Population:
    return pop.draw_population(n=20_000, rng=np.random.default_rng(11), reference_year=2025)


class TestPopulation:
    def test_class_mix_is_exact_by_largest_remainder(self, county: pop.Population) -> None:
        assert county.class_counts() == {
            "residential": 17040,
            "commercial": 2000,
            "industrial": 300,
            "agricultural": 660,
        }

    def test_residential_median_consumption_is_about_200_kwh_a_month(self, county: pop.Population) -> None:
        kwh = county.mean_kw[county.customer_class == pop.RES] * pop.HOURS_PER_MONTH
        assert 180.0 <= float(np.median(kwh)) <= 215.0
        assert 480.0 <= float(np.percentile(kwh, 95)) <= 620.0

    def test_large_industry_is_two_part_with_pf_and_ct(self, county: pop.Population) -> None:
        ind = county.customer_class == pop.IND
        kwh = county.mean_kw[ind] * pop.HOURS_PER_MONTH
        assert kwh.min() >= 100_000.0 and kwh.max() <= 2_000_000.0
        assert county.capacity_kva[ind].min() >= 315 and county.capacity_kva[ind].max() <= 5000
        assert county.multiplier[ind].min() >= 30 and county.multiplier[ind].max() <= 200
        assert np.all((county.pf[ind] >= 0.80) & (county.pf[ind] <= 0.97))
        assert np.all(county.pf_standard[ind] == 0.90)
        with_contract = ~np.isnan(county.contract_kw[ind])
        assert 0.35 < with_contract.mean() < 0.65
        assert np.all(county.contract_kw[ind][with_contract] >= 0.4 * county.capacity_kva[ind][with_contract])
        assert np.all(county.multiplier[county.customer_class == pop.RES] == 1)

    def test_elderly_prefer_counter_and_collector_the_young_mobile(self, county: pop.Population) -> None:
        res = county.customer_class == pop.RES
        age = 2025 - county.birth_year
        young, old = res & (age < 40), res & (age >= 75)
        mobile, counter, collector = (pop.CHANNELS.index(c) for c in ("mobile", "counter", "collector"))
        assert (county.channel[young] == mobile).mean() > 0.7
        assert np.isin(county.channel[old], [counter, collector]).mean() > 0.65
        assert np.all(county.birth_year[~res] == 0)

    def test_chronic_late_payers_carry_the_highest_risk(self, county: pop.Population) -> None:
        means = [county.risk[county.punctuality == k].mean() for k in range(3)]
        assert means[0] < means[1] < means[2]
        assert county.risk.min() >= 0.0 and county.risk.max() <= 1.0

    def test_routes_hold_200_to_400_accounts_within_one_region(self, county: pop.Population) -> None:
        sizes = np.bincount(county.route)
        assert sizes.max() <= 400 and np.percentile(sizes, 10) >= 200
        assert np.all(county.route_region[county.route] == county.region)
        lv = county.customer_class != pop.IND
        assert np.all(county.transformer_area[lv] >= 0)
        assert np.all(county.transformer_area[~lv] == -1)

    def test_same_seed_same_population(self) -> None:
        a = pop.draw_population(n=300, rng=np.random.default_rng(4), reference_year=2025)
        b = pop.draw_population(n=300, rng=np.random.default_rng(4), reference_year=2025)
        assert a.names == b.names
        np.testing.assert_array_equal(a.mean_kw, b.mean_kw)
