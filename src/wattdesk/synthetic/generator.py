"""Register readings and interval data of a synthetic county (pure numpy: no Django, no clock, no I/O).

Input: a :class:`~wattdesk.synthetic.population.Population`, the reading dates (the first day of
each month: the opening read plus one read closing each billing month, as a 用电信息采集系统 freezes the
registers at 00:00 on the 1st), and for each tariff the hour -> TOU period table. Output: per account the
true energy per reading period and TOU period, the register values the meters show (cumulative, in
register units = kWh / multiplier, rolled over at 10**digits), the injected anomalies, meter exchanges and,
for the interval accounts, hourly kWh that add up exactly to the register advances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from wattdesk.synthetic import profiles as prof
from wattdesk.synthetic.population import AGR, COM, IND, RES, Population

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DIGITS = 6  # integer digits of every synthetic meter's registers (rolls over at 1,000,000)
FULL_SCALE = 10.0**DIGITS
VALUE_DECIMALS = 2  # a smart meter shows 0.01 register units

#: anomaly rates (share of account-periods, or of meters for rollovers/exchanges)
ANOMALY_RATES = {
    "missing": 0.005,
    "spike": 0.001,
    "zero": 0.001,
    "negative": 0.001,
    "rollover": 0.002,
    "exchange": 0.002,
}


@dataclass(frozen=True)
class TouTable:
    """Energy TOU periods of one tariff: period keys and ``table[day_type][month - 1][hour]``."""

    keys: tuple[str, ...]
    table: npt.NDArray[np.int64]  # (3, 12, 24)


@dataclass(frozen=True)
class Anomaly:
    account: int
    kind: str  # missing | spike | zero | negative | rollover | exchange
    date_index: int  # index into the reading dates (for exchanges: the first read of the new meter)


@dataclass(frozen=True)
class Exchange:
    """换表 in reading period k (between dates[k] and dates[k + 1]) on `on`."""

    account: int
    period: int
    on: date
    final_values: dict[str, float]  # old meter, register units
    initial_values: dict[str, float]  # new meter, register units


@dataclass
class Readings:
    """All register values of the county (register units), and what was injected.

    ``dates`` are the period boundaries (the 1st of each month, 00:00); the register values are frozen at
    those instants (月末24点冻结) and dated ``read_dates``: the last day of the month they close, so that a
    reading lies inside the half-open billing window [1st, 1st of next month) of the month it measures.
    """

    dates: list[date]
    read_dates: list[date]
    kinds: list[tuple[str, ...]]  # per account: register kinds of its meter(s)
    values: list[FloatArray]  # per account: (len(dates), n_kinds); nan = no reading that day
    new_meter_from: IntArray  # per account: first date index read on the replacement meter, -1 = none
    energy: FloatArray  # (n, periods) true kWh per reading period
    kvarh: FloatArray  # (n, periods) true kvarh per period (0 when not metered)
    max_kw: FloatArray  # (n, periods) true maximum demand (kW), nan when not metered
    anomalies: list[Anomaly] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    hourly: HourlyModel | None = None


@dataclass(frozen=True)
class IntervalChunk:
    accounts: IntArray
    kwh: FloatArray  # (len(accounts), hours)
    kvarh: FloatArray | None  # same shape; nan where the account has no reactive metering


def month_starts(end_month: date, months: int) -> list[date]:
    """The `months` + 1 reading dates: the 1st of each month from the first billed month to the month after
    `end_month` (whose 1st closes `end_month`)."""
    if months < 1:
        raise ValueError("months must be >= 1")
    first = (end_month.year * 12 + end_month.month - 1) - months + 1
    return [date((first + i) // 12, (first + i) % 12 + 1, 1) for i in range(months + 1)]


def register_kinds(*, tou_keys: tuple[str, ...], reactive: bool, demand: bool) -> tuple[str, ...]:
    kinds = ["active_total"]
    if len(tou_keys) > 1:
        kinds += [f"active_{k}" for k in tou_keys]
    if reactive:
        kinds.append("reactive")
    if demand:
        kinds.append("max_demand")
    return tuple(kinds)


def _tou_per_hour(axis: prof.HourAxis, day_type: npt.NDArray[np.int8], tou: TouTable) -> IntArray:
    return tou.table[day_type.astype(np.int64), axis.month - 1, axis.hour_of_day].astype(np.int64)


def _pick(rng: np.random.Generator, pool: IntArray, rate: float, n_total: int) -> IntArray:
    """Accounts for one anomaly kind: `rate` of `n_total`, at least one when the county has >= 100 accounts."""
    want = round(rate * n_total)
    if n_total >= 100:
        want = max(want, 1)
    want = min(want, pool.size)
    if want <= 0:
        return np.empty(0, dtype=np.int64)
    return np.sort(rng.choice(pool, size=want, replace=False)).astype(np.int64)


def generate_readings(
    *,
    pop: Population,
    dates: list[date],
    tou_tables: dict[str, TouTable],
    day_type_of: Callable[[prof.HourAxis, str], npt.NDArray[np.int8]],
    reactive: npt.NDArray[np.bool_],
    demand: npt.NDArray[np.bool_],
    interval: npt.NDArray[np.bool_],
    seed: int,
    weather_seed: int,
    error_dates: int = 1,
) -> Readings:
    """Energy, register values and anomalies of every account.

    `tou_tables` maps each tariff key in ``pop.tariff_key`` to its TOU table; `day_type_of(axis, key)` gives
    the day type (0 weekday, 1 weekend, 2 holiday) of each hour under that tariff's calendar.
    ``readings.hourly`` rebuilds the hourly load of any account (interval data).
    Reading errors (spikes, stuck and negative values, missing reads) are injected only into the latest
    `error_dates` reading dates (those the caller validates with VEE); rollovers and meter exchanges can
    happen anywhere in the window.
    """
    rng = np.random.default_rng([seed, 0x5EAD])
    n, months = pop.n, len(dates) - 1
    first_err = max(1, months + 1 - max(error_dates, 1))  # first date index that may carry a reading error
    n_err = months + 1 - first_err
    axis = prof.hour_axis(dates[0], dates[-1])
    comps = prof.components(axis, seed=weather_seed)
    k_of_hour = prof.period_index(axis, dates)

    # --- true energy per (account, period, TOU period) --------------------------------------------------
    noise_sd = np.select(
        [pop.customer_class == RES, pop.customer_class == COM, pop.customer_class == IND],
        [0.14, 0.10, 0.06],
        0.20,
    )
    period_noise = np.exp(
        rng.normal(0.0, 1.0, (n, months)) * noise_sd[:, None] - 0.5 * noise_sd[:, None] ** 2
    )
    tou_energy: dict[int, FloatArray] = {}  # account -> (months, P)
    tou_of_account: list[str] = pop.tariff_key
    hour_groups: dict[str, IntArray] = {}
    for key, tou in tou_tables.items():
        members = np.flatnonzero(np.array([t == key for t in tou_of_account]))
        if members.size == 0:
            continue
        p = len(tou.keys)
        tou_h = _tou_per_hour(axis, day_type_of(axis, key), tou)
        gid = k_of_hour * p + tou_h
        hour_groups[key] = gid
        sums = prof.group_sums(comps, gid, months * p)  # (C, months * P)
        e = prof.energy_by_group(pop.shares[members], pop.mean_kw[members], sums).reshape(
            members.size, months, p
        )
        e *= period_noise[members][:, :, None]
        for j, a in enumerate(members.tolist()):
            tou_energy[int(a)] = e[j]

    anomalies: list[Anomaly] = []
    everyone = np.arange(n, dtype=np.int64)
    # Spikes (the meter really advanced a lot: a leak, a new machine, theft stopped): x6-12 in one period.
    spike_acc = _pick(rng, everyone[~pop.vacant], ANOMALY_RATES["spike"] * n_err, n)
    for a in spike_acc.tolist():
        k = int(rng.integers(first_err - 1, months))
        tou_energy[int(a)][k] *= rng.uniform(6.0, 12.0)
        anomalies.append(Anomaly(int(a), "spike", k + 1))

    energy = np.stack([tou_energy[a].sum(axis=1) for a in range(n)])  # (n, months)
    pf_month = np.clip(pop.pf[:, None] + rng.normal(0.0, 0.012, (n, months)), 0.6, 0.995)
    pf_month = np.where(np.isnan(pf_month), 0.95, pf_month)  # commercial without a PF standard
    kvarh = np.where(reactive[:, None], energy * np.tan(np.arccos(pf_month)), 0.0)

    # --- register values --------------------------------------------------------------------------------
    mult = pop.multiplier.astype(np.float64)
    years = np.clip(dates[0].year - pop.opened_year, 0, 12) + rng.uniform(0.2, 1.0, n)  # smart meters <= 12 y
    start_total = np.minimum(years * energy.mean(axis=1) * 12.0 / mult, 0.85 * FULL_SCALE)
    taken = set(spike_acc.tolist())
    roll_pool = np.array([a for a in everyone if a not in taken and not interval[a]], dtype=np.int64)
    roll_acc = _pick(rng, roll_pool, ANOMALY_RATES["rollover"], n)
    advance_window = energy.sum(axis=1) / mult
    for a in roll_acc.tolist():
        # start just below full scale so that the register wraps about half-way through the window
        start_total[a] = FULL_SCALE - advance_window[a] * rng.uniform(0.3, 0.7)
        taken.add(int(a))
        wrap = int(np.searchsorted(np.cumsum(energy[a] / mult[a]) + start_total[a], FULL_SCALE)) + 1
        anomalies.append(Anomaly(int(a), "rollover", min(wrap, months)))

    kinds_all: list[tuple[str, ...]] = []
    values_all: list[FloatArray] = []
    for a in range(n):
        tou = tou_tables[tou_of_account[a]]
        kinds = register_kinds(tou_keys=tou.keys, reactive=bool(reactive[a]), demand=bool(demand[a]))
        kinds_all.append(kinds)
        e = tou_energy[a] / mult[a]  # (months, P) register units
        vals = np.full((months + 1, len(kinds)), np.nan)
        cum_total = np.concatenate([[0.0], np.cumsum(e.sum(axis=1))])
        vals[:, 0] = start_total[a] + cum_total
        if len(tou.keys) > 1:
            split = rng.dirichlet(np.ones(len(tou.keys)) * 4.0) * start_total[a]
            cum_p = np.vstack([np.zeros(len(tou.keys)), np.cumsum(e, axis=0)])
            vals[:, 1 : 1 + len(tou.keys)] = split[None, :] + cum_p
        if reactive[a]:
            r = kinds.index("reactive")
            vals[:, r] = start_total[a] * 0.35 + np.concatenate([[0.0], np.cumsum(kvarh[a] / mult[a])])
        values_all.append(vals)

    # --- maximum demand and interval data need the hourly load -------------------------------------------
    max_kw = np.full((n, months), np.nan)
    hourly_accounts = np.flatnonzero(demand | interval)
    new_from = np.full(n, -1, dtype=np.int64)
    readings = Readings(
        dates=dates,
        read_dates=[d - timedelta(days=1) for d in dates],
        kinds=kinds_all,
        values=values_all,
        new_meter_from=new_from,
        energy=energy,
        kvarh=kvarh,
        max_kw=max_kw,
        anomalies=anomalies,
    )
    hourly = HourlyModel(
        pop, axis, comps, k_of_hour, hour_groups, tou_energy, period_noise, pf_month, reactive, seed
    )
    readings.hourly = hourly
    for chunk in hourly.chunks(hourly_accounts):
        starts = np.searchsorted(k_of_hour, np.arange(months))
        peak = np.maximum.reduceat(chunk.kwh, starts, axis=1)  # hourly kWh == mean kW of the hour
        factor = rng.uniform(1.04, 1.16, peak.shape)  # a 15-minute peak is above the hourly mean
        max_kw[chunk.accounts] = peak * factor
    for a in np.flatnonzero(demand).tolist():
        r = kinds_all[a].index("max_demand")
        values_all[a][1:, r] = max_kw[a] / mult[a]
        values_all[a][0, r] = np.nan  # the opening read has no demand of its own

    # --- meter exchanges (换表): a new meter mid-period ---------------------------------------------------
    ex_pool = np.array(
        [a for a in everyone if a not in taken and not interval[a] and not demand[a]], dtype=np.int64
    )
    ex_acc = _pick(rng, ex_pool, ANOMALY_RATES["exchange"], n) if months >= 2 else np.empty(0, np.int64)
    exchanges: list[Exchange] = []
    for a in ex_acc.tolist():
        taken.add(int(a))
        k = int(rng.integers(0, months))
        span = (dates[k + 1] - dates[k]).days
        day = int(rng.integers(3, span - 2))
        frac = day / span
        vals = values_all[a]
        old_final = vals[k] + frac * (vals[k + 1] - vals[k])
        new_init = np.round(rng.uniform(0.0, 3.0, vals.shape[1]), VALUE_DECIMALS)
        if "max_demand" in kinds_all[a]:
            new_init[kinds_all[a].index("max_demand")] = 0.0
        new_vals = vals.copy()
        new_vals[k + 1 :] = new_init[None, :] + (vals[k + 1 :] - old_final[None, :])
        old_final = np.round(np.mod(old_final, FULL_SCALE), VALUE_DECIMALS)
        vals[k + 1 :] = new_vals[k + 1 :]
        new_from[a] = k + 1
        on = dates[k] + timedelta(days=day)
        exchanges.append(
            Exchange(
                int(a),
                k,
                on,
                {kd: float(v) for kd, v in zip(kinds_all[a], old_final, strict=True) if kd != "max_demand"},
                {kd: float(v) for kd, v in zip(kinds_all[a], new_init, strict=True) if kd != "max_demand"},
            )
        )
        anomalies.append(Anomaly(int(a), "exchange", k + 1))
    readings.exchanges = exchanges

    # wrap at full scale and round to what the display shows
    for a in range(n):
        vals = values_all[a]
        cum = [i for i, kd in enumerate(kinds_all[a]) if kd != "max_demand"]
        vals[:, cum] = np.mod(vals[:, cum], FULL_SCALE)
        np.round(vals, VALUE_DECIMALS, out=vals)
        if "max_demand" in kinds_all[a]:
            r = kinds_all[a].index("max_demand")
            vals[1:, r] = np.round(max_kw[a] / mult[a], 4)

    # --- reading errors (values that are not what the meter holds) -----------------------------------------
    err_pool = np.array([a for a in everyone if a not in taken], dtype=np.int64)
    for kind in ("zero", "negative"):
        acc = _pick(rng, err_pool, ANOMALY_RATES[kind] * n_err, n)
        err_pool = np.setdiff1d(err_pool, acc)
        for a in acc.tolist():
            j = int(rng.integers(first_err, months + 1))
            vals = values_all[a]
            cum = [i for i, kd in enumerate(kinds_all[a]) if kd != "max_demand"]
            if kind == "zero":  # the collector repeated the previous value (表码未走)
                vals[j, cum] = vals[j - 1, cum]
            else:  # a transcription error below the previous value
                if np.any(np.isnan(vals[j - 1, cum])) or np.any(vals[j - 1, cum] < 2.0):
                    continue
                adv = np.maximum(vals[j, cum] - vals[j - 1, cum], 0.0)
                drop = np.round(np.minimum(adv * rng.uniform(0.5, 3.0) + 1.0, vals[j - 1, cum] - 0.01), 2)
                vals[j, cum] = vals[j - 1, cum] - drop
            anomalies.append(Anomaly(int(a), kind, j))
    # missing reads: the whole meter is missing on that date (collection failure)
    miss_pool = np.array([a for a in err_pool if a not in taken], dtype=np.int64)
    miss_acc = _pick(rng, miss_pool, ANOMALY_RATES["missing"] * n_err, n)
    for a in miss_acc.tolist():
        j = int(rng.integers(first_err, months + 1))
        values_all[a][j, :] = np.nan
        anomalies.append(Anomaly(int(a), "missing", j))
    anomalies.sort(key=lambda x: (x.account, x.date_index, x.kind))
    return readings


@dataclass(frozen=True)
class HourlyModel:
    """What it takes to rebuild any account's hourly load (same numbers every time: per-account seeds)."""

    pop: Population
    axis: prof.HourAxis
    comps: FloatArray
    k_of_hour: IntArray
    hour_groups: dict[str, IntArray]
    tou_energy: dict[int, FloatArray]
    period_noise: FloatArray
    pf_month: FloatArray
    reactive: npt.NDArray[np.bool_]
    seed: int

    def chunks(self, accounts: IntArray, chunk: int = 128) -> Iterator[IntervalChunk]:
        """Hourly kWh of `accounts` in chunks, scaled so each (period, TOU period) sum is the true energy."""
        pop = self.pop
        for lo in range(0, accounts.size, chunk):
            acc = accounts[lo : lo + chunk]
            load = prof.hourly_load(pop.shares[acc], pop.mean_kw[acc], self.comps)
            load *= self.period_noise[acc][:, self.k_of_hour]
            for j, a in enumerate(acc):
                c = pop.customer_class[a]
                sd = 0.06 if c == IND else 0.3 if c == AGR else 0.25
                eps = np.random.default_rng([self.seed, 0x1A7E, int(a)]).normal(0.0, 1.0, self.axis.size)
                load[j] *= np.exp(eps * sd - 0.5 * sd * sd)
                gid = self.hour_groups[pop.tariff_key[a]]
                target = self.tou_energy[int(a)].reshape(-1)  # (months * P)
                got = np.bincount(gid, weights=load[j], minlength=target.size)
                scale = np.divide(target, got, out=np.zeros_like(target), where=got > 0)
                load[j] *= scale[gid]
            kvarh = None
            if self.reactive[acc].any():
                tan = np.tan(np.arccos(self.pf_month[acc]))  # (chunk, months)
                kvarh = np.where(self.reactive[acc][:, None], load * tan[:, self.k_of_hour], np.nan)
            yield IntervalChunk(acc, load, kvarh)
