"""PySAM Utilityrate5 as the oracle for URDB tariffs (NREL's reference bill calculator)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

YEAR_START = np.datetime64("2018-01-01T00:00")  # 2018-01-01 is a Monday: PySAM's calendar agrees


def pysam_monthly_bills(record: Mapping[str, Any], kw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Monthly bills (utility_bill_w_sys_ym, year 1) for a load in kW averaged over each step."""
    import PySAM.Utilityrate5 as ur
    from PySAM.UtilityRateTools import URDBv8_to_ElectricityRates

    m = ur.new()
    m.Lifetime.analysis_period = 1
    m.Lifetime.system_use_lifetime_output = 0
    m.Lifetime.inflation_rate = 0
    m.SystemOutput.gen = [0.0] * len(kw)
    m.SystemOutput.degradation = [0]
    m.Load.load = [float(x) for x in kw]
    m.Load.load_escalation = [0]
    m.ElectricityRates.assign(URDBv8_to_ElectricityRates(copy.deepcopy(dict(record))))
    m.ElectricityRates.rate_escalation = [0]
    m.execute()
    return np.asarray(m.Outputs.utility_bill_w_sys_ym, dtype=np.float64)[1]


def timestamps(steps_per_hour: int) -> npt.NDArray[np.datetime64]:
    n = 8760 * steps_per_hour
    return YEAR_START + np.arange(n) * np.timedelta64(60 // steps_per_hour, "m")


def residential_kwh(seed: int = 7, steps_per_hour: int = 1) -> npt.NDArray[np.float64]:
    """~0.8-2.5 kWh/h with an evening peak and summer/winter swing: 500-1500 kWh per month."""
    rng = np.random.default_rng(seed)
    n = 8760 * steps_per_hour
    hour = (np.arange(n) / steps_per_hour) % 24
    day = np.arange(n) / (24 * steps_per_hour)
    daily = 1.05 + 0.9 * np.exp(-(((hour - 19.5) / 2.5) ** 2)) + 0.4 * np.exp(-(((hour - 7.5) / 1.5) ** 2))
    season = 1 + 0.35 * np.cos(2 * np.pi * (day - 200) / 365)
    kwh_h = daily * season * (0.85 + 0.3 * rng.random(n))
    return np.round(kwh_h / steps_per_hour, 4)


def industrial_kwh(seed: int = 11, steps_per_hour: int = 1) -> npt.NDArray[np.float64]:
    """Two-shift plant, ~500 kW peak on weekdays, lower at weekends and nights."""
    rng = np.random.default_rng(seed)
    n = 8760 * steps_per_hour
    hour = (np.arange(n) / steps_per_hour) % 24
    dow = (np.arange(n) // (24 * steps_per_hour)) % 7  # 2018-01-01 is a Monday
    shift = ((hour >= 7) & (hour < 23)).astype(float)
    kw = 120 + 300 * shift * np.where(dow < 5, 1.0, 0.45) + 60 * rng.random(n)
    kw += 40 * np.exp(-(((hour - 14) / 2) ** 2))
    return np.round(kw / steps_per_hour, 4)


@pytest.fixture(scope="session")
def loads() -> dict[str, tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64], int]]:
    return {
        "residential": (timestamps(1), residential_kwh(), 1),
        "industrial": (timestamps(1), industrial_kwh(), 1),
        "industrial_15min": (timestamps(4), industrial_kwh(seed=5, steps_per_hour=4), 4),
    }
