from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest

from wattdesk.core.calendar import HOLIDAY, WEEKDAY, WEEKEND, HolidayCalendar, day_type, day_types
from wattdesk.core.pf import PfTable, power_factor
from wattdesk.core.rating.determinants import LoadError, detect_step, monthly_determinants
from wattdesk.core.tariff import TariffError, parse_tariff
from wattdesk.core.urdb import tariff_from_urdb

DOC: dict[str, Any] = {
    "code": "T",
    "name": "t",
    "effective_from": "2026-01-01",
    "customer_class": "commercial",
    "energy": {
        "periods": [
            {"key": "peak", "tiers": [{"rate": "0.9"}]},
            {"key": "flat", "tiers": [{"rate": "0.6"}]},
            {"key": "valley", "tiers": [{"rate": "abc"}]},
        ],
        "schedule": {"weekday": [2] * 8 + [0] * 12 + [1] * 4},
    },
}


class TestParseTariff:
    def test_names_the_json_path_of_a_bad_field(self) -> None:
        with pytest.raises(TariffError) as err:
            parse_tariff(doc=DOC)
        assert str(err.value) == "energy.periods[2].tiers[0].rate: not a decimal: 'abc'"

    def test_rejects_unknown_fields(self) -> None:
        d = copy.deepcopy(DOC)
        d["energy"]["periods"][2]["tiers"][0] = {"rate": "0.3", "uptoo": 5}
        with pytest.raises(TariffError, match=r"energy\.periods\[2\]\.tiers\[0\]\.uptoo: unknown field"):
            parse_tariff(doc=d)

    def test_schedule_index_out_of_range(self) -> None:
        d = copy.deepcopy(DOC)
        d["energy"]["periods"][2]["tiers"][0]["rate"] = "0.3"
        d["energy"]["schedule"]["weekday"][5] = 3
        with pytest.raises(TariffError, match=r"energy\.schedule\.weekday\[5\]: must be between 0 and 2"):
            parse_tariff(doc=d)

    def test_expands_base_price_times_multiplier(self) -> None:
        d = copy.deepcopy(DOC)
        d["energy"] = {
            "base_tiers": [{"rate": "0.65"}],
            "periods": [
                {"key": "critical", "multiplier": "2.05"},
                {"key": "deep_valley", "multiplier": "0.2"},
            ],
            "schedule": {"weekday": [1] * 12 + [0] * 12},
        }
        t = parse_tariff(doc=d)
        assert [p.tiers[0].rate for p in t.energy.periods] == [D("1.3325"), D("0.130")]
        assert [p.name for p in t.energy.periods] == ["尖峰", "深谷"]

    def test_power_factor_needs_a_table(self) -> None:
        d = copy.deepcopy(DOC)
        d["energy"]["periods"][2]["tiers"][0]["rate"] = "0.3"
        d["power_factor"] = {"standard": "0.90"}
        with pytest.raises(TariffError, match=r"^power_factor: no power-factor adjustment table"):
            parse_tariff(doc=d)

    def test_tiers_must_increase(self) -> None:
        d = copy.deepcopy(DOC)
        d["energy"]["periods"][2]["tiers"] = [{"upto": 400, "rate": 1}, {"upto": 240, "rate": 1}, {"rate": 1}]
        with pytest.raises(TariffError, match=r"energy\.periods\[2\]\.tiers\[1\]\.upto: must be greater"):
            parse_tariff(doc=d)


class TestUrdb:
    def test_bad_unit_names_the_field(self) -> None:
        rec = {
            "energyratestructure": [[{"rate": 0.1, "unit": "kWh daily"}]],
            "energyweekdayschedule": [[0] * 24] * 12,
        }
        with pytest.raises(TariffError, match=r"^energyratestructure\[0\]\[0\]\.unit: unsupported"):
            tariff_from_urdb(record=rec)

    def test_ratchets_are_refused(self) -> None:
        rec = {"energyratestructure": [[{"rate": 0.1}]], "lookbackpercent": 0.8}
        with pytest.raises(TariffError, match=r"^lookbackpercent: not supported"):
            tariff_from_urdb(record=rec)

    def test_rate_plus_adj_and_defaults(self) -> None:
        rec = {
            "energyratestructure": [[{"rate": 0.1, "adj": 0.0125, "max": 1000}, {"rate": 0.2}]],
            "energyweekdayschedule": [[0] * 24 for _ in range(12)],
        }
        t = tariff_from_urdb(record=rec)
        assert t.energy.periods[0].tiers[0].rate == D("0.1125")
        assert t.energy.periods[0].tiers[0].upto == D(1000)
        assert (t.rounding, t.calendar.semantics) == ("per_bill", "pysam")


class TestCalendar:
    def test_pysam_calendar_starts_every_year_on_monday(self) -> None:
        # 2025-01-01 is a Wednesday; PySAM calls Jan 6-7 (day 5, 6) the weekend
        assert day_type(day=date(2025, 1, 4), semantics="pysam") == WEEKDAY
        assert day_type(day=date(2025, 1, 6), semantics="pysam") == WEEKEND
        assert day_type(day=date(2025, 1, 4), semantics="real") == WEEKEND

    def test_holidays_and_make_up_working_days(self) -> None:
        cal = HolidayCalendar(
            holidays=frozenset({date(2025, 10, 1)}), workdays=frozenset({date(2025, 9, 28)})
        )
        days = np.array(["2025-10-01", "2025-09-28", "2025-09-27", "2025-09-29"], dtype="datetime64[D]")
        assert day_types(days=days, semantics="real", holidays=cal).tolist() == [
            HOLIDAY,
            WEEKDAY,
            WEEKEND,
            WEEKDAY,
        ]


class TestDeterminants:
    def test_fifteen_minute_load_gives_kw_as_four_times_kwh(self) -> None:
        t = parse_tariff(doc={**DOC, "energy": {"periods": [{"key": "flat", "tiers": [{"rate": 1}]}]}})
        ts = np.datetime64("2026-01-31T23:00") + np.arange(8) * np.timedelta64(15, "m")
        kwh = np.array([1, 2, 3, 4, 5, 6, 7, 8.5])
        jan, feb = monthly_determinants(tariff=t, timestamps=ts, kwh=kwh)
        assert jan.kwh_by_period == (D(10),) and jan.max_kw == D(16)
        assert (feb.start, feb.end, feb.max_kw) == (date(2026, 2, 1), date(2026, 3, 1), D(34))

    def test_periods_follow_the_schedule(self) -> None:
        d = copy.deepcopy(DOC)
        d["energy"]["periods"][2]["tiers"][0]["rate"] = "0.3"
        t = parse_tariff(doc=d)
        ts = np.datetime64("2026-01-05T00:00") + np.arange(24) * np.timedelta64(1, "h")  # a Monday
        (det,) = monthly_determinants(tariff=t, timestamps=ts, kwh=np.ones(24))
        assert det.kwh_by_period == (D(12), D(4), D(8))

    def test_irregular_or_duplicate_steps_are_refused(self) -> None:
        ts = np.array(["2026-01-01T00:00", "2026-01-01T00:00"], dtype="datetime64[m]")
        with pytest.raises(LoadError):
            detect_step(timestamps=ts)


class TestPowerFactor:
    def test_rounds_half_up_to_two_decimals(self, pf_table: PfTable) -> None:
        assert power_factor(kwh=D(1000), kvarh=D(750)) == D("0.80")
        assert power_factor(kwh=D(0), kvarh=D(0)) == D("1.00")
        assert pf_table.percent(standard=D("0.90"), power_factor=D("0.30")) == D(85)  # +2 per 0.01 below 0.40
