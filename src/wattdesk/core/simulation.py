"""Tariff-change simulation (电价调整测算): re-rate many account-periods under two tariffs. Pure.

``rate_pair(cols, tariff_from=..., tariff_to=...)`` takes the monthly determinants of many rows (one row per
service point and billed period, as exported from the billing database: validated register consumption,
reactive energy, maximum demand, capacity) as plain numpy columns, maps the registers onto each tariff's
energy periods, and prices every row under both tariffs with the vectorised engine
(``core.rating.vector.rate_columns``, equal to the exact path to the fen). It returns int64 fen columns:
the bill under each tariff and the energy charge per tier. The local engine and the Spark engine both call
this one function on Arrow batches (``application.simulation.engine``); nothing here knows about Arrow,
files or Spark.

Input columns (quantities int64 in 0.0001 units, -1 (``vector.ABSENT``) = not read / not set):

* ``account_id`` int64, ``start`` / ``end`` datetime64[D] (the billed period ``[start, end)``);
* ``active_total``, ``active_<k>`` for k in critical, peak, flat, valley, deep_valley (kWh per register);
* ``kvarh``, ``max_kw``, ``max_demand_<k>`` (kW per TOU demand period), ``capacity_kva``, ``contract_kw``;
* ``pf_standard`` int64 in hundredths (90 = 0.90), -1 when the point is not assessed for PF.

Registers map onto a tariff's periods by the billing run's rules (``application.billing.determinants``:
``energy_by_period``): one period bills the total; TOU period ``k`` bills ``active_<k>``, one missing period
gets total minus the others; a seasonal tariff bills the total in the one period its months use. A row that
the run would not bill under a tariff (a missing register, a demand charge without a demand reading) gets
``status`` 1 (not billable under FROM), 2 (under TO) or 3 (both) and zero amounts.

Annual tiers: ``ytd_kwh_before`` is the kWh of the same account's earlier rows of the same tier year
*within the rows given* (the caller passes an account's whole window together, e.g. Spark partitions by
account). 一户多人口 uplifts, 定量定比 sub-uses and transformer losses are not applied: both tariffs see the
same metered quantities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from wattdesk.core.rating.vector import DeterminantColumns, rate_columns
from wattdesk.core.tariff import Tariff

I64 = npt.NDArray[np.int64]
Cols = Mapping[str, npt.NDArray[Any]]

TOU_KEYS = ("critical", "peak", "flat", "valley", "deep_valley")
REGISTER_COLUMNS = ("active_total", *(f"active_{k}" for k in TOU_KEYS))
DEMAND_COLUMNS = tuple(f"max_demand_{k}" for k in TOU_KEYS)
QUANTITY_COLUMNS = (*REGISTER_COLUMNS, "kvarh", "max_kw", *DEMAND_COLUMNS, "capacity_kva", "contract_kw")
INPUT_COLUMNS = ("account_id", "start", "end", *QUANTITY_COLUMNS, "pf_standard")

NOT_BILLABLE_FROM = 1
NOT_BILLABLE_TO = 2

__all__ = [
    "INPUT_COLUMNS",
    "NOT_BILLABLE_FROM",
    "NOT_BILLABLE_TO",
    "QUANTITY_COLUMNS",
    "SimulationError",
    "output_columns",
    "rate_pair",
    "tier_count",
]


class SimulationError(ValueError):
    """The input columns do not fit (a missing column, rows of different lengths, a bad PF standard)."""


def tier_count(*tariffs: Tariff) -> int:
    """Number of energy tier columns the output has: the most tiers of any energy period of the tariffs."""
    return max(len(p.tiers) for t in tariffs for p in t.energy.periods)


def output_columns(n_tiers: int) -> tuple[str, ...]:
    """Names of the int64 columns :func:`rate_pair` returns, in order."""
    tiers = tuple(f"tier{t}_{side}_fen" for side in ("from", "to") for t in range(1, n_tiers + 1))
    return ("bill_from_fen", "bill_to_fen", "status", *tiers)


def _seasonal_period(tariff: Tariff, start: np.datetime64, end: np.datetime64) -> int | None:
    """The one energy period used at every hour of the months of ``[start, end)`` (``seasonal_period``)."""
    first = start.astype("datetime64[M]")
    last = (end - np.timedelta64(1, "D")).astype("datetime64[M]")
    used: set[int] = set()
    m = first
    while m <= last:
        month = int(m.astype(np.int64) % 12)
        for day_type in tariff.energy.schedule.table:
            used.update(day_type[month])
        m = m + np.timedelta64(1, "M")
    return used.pop() if len(used) == 1 else None


def _energy(tariff: Tariff, cols: Cols, idx: I64) -> tuple[I64, npt.NDArray[np.bool_]]:
    """kWh per energy period (rows ``idx``) and the rows the run could not bill (``energy_by_period``)."""
    n = idx.size
    periods = tariff.energy.periods
    reg = {c: cols[c][idx] for c in REGISTER_COLUMNS}
    tou_read = [reg[f"active_{k}"] >= 0 for k in TOU_KEYS]
    any_tou = np.any(np.stack(tou_read), axis=0)
    has_total = reg["active_total"] >= 0
    tou_sum = np.zeros(n, dtype=np.int64)
    for k in TOU_KEYS:
        r = reg[f"active_{k}"]
        tou_sum += np.where(r >= 0, r, 0)
    total = np.where(has_total, reg["active_total"], tou_sum)
    readable = has_total | any_tou
    out = np.zeros((n, len(periods)), dtype=np.int64)
    bad = np.zeros(n, dtype=np.bool_)
    if len(periods) == 1:
        out[:, 0] = total
        return out, ~readable
    own = [reg.get(f"active_{p.key}") for p in periods]
    own_read = np.stack([o >= 0 if o is not None else np.zeros(n, dtype=np.bool_) for o in own], axis=1)
    missing = (~own_read).sum(axis=1)
    for j, o in enumerate(own):
        if o is not None:
            out[:, j] = np.where(own_read[:, j], o, 0)
    # seasonal: no register of the tariff's own periods was read, one period covers the whole window
    seasonal = np.flatnonzero(~np.any(own_read, axis=1) & readable)
    cache: dict[tuple[int, int], int | None] = {}
    for i in seasonal:
        s_, e_ = cols["start"][idx[i]], cols["end"][idx[i]]
        key = (int(s_.astype("datetime64[M]").astype(np.int64)), int(e_.astype(np.int64)))
        if key not in cache:
            cache[key] = _seasonal_period(tariff, s_, e_)
        only = cache[key]
        if only is not None:
            out[i, only] = total[i]
            missing[i] = -1  # billed in the one period
    one = (missing == 1) & has_total
    rest = reg["active_total"] - out.sum(axis=1)
    bad |= one & (rest < 0)
    for j in range(len(periods)):
        fill = one & ~own_read[:, j] & (rest >= 0)
        out[:, j] = np.where(fill, rest, out[:, j])
    bad |= (missing > 1) | ((missing == 1) & ~has_total)
    return out, bad


def _needs_demand(tariff: Tariff) -> bool:
    return (
        tariff.flat_demand is not None
        or (tariff.basic is not None and tariff.basic.method == "demand")
        or tariff.energy.tier_basis == "kwh_per_kw"
    )


def _tier_year(start: npt.NDArray[np.datetime64], start_month: int) -> I64:
    months = start.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return (months - (start_month - 1)) // 12


def _ytd_before(account: I64, start: npt.NDArray[np.datetime64], kwh: I64, tier_year: I64) -> I64:
    """kWh of the same account's rows of the same tier year that start earlier (the run's ``past`` bills)."""
    day = start.astype(np.int64)
    order = np.lexsort((day, tier_year, account))
    a, y, d, k = account[order], tier_year[order], day[order], kwh[order]
    n = a.size
    out_sorted = np.zeros(n, dtype=np.int64)
    if n:
        group_start = np.r_[True, (a[1:] != a[:-1]) | (y[1:] != y[:-1])]
        csum = np.cumsum(k)
        base = np.maximum.accumulate(np.where(group_start, np.arange(n), 0))
        before_incl = csum - np.where(base > 0, csum[base - 1], 0)
        # rows of the same account, tier year and start day (several service points) are not "before"
        same_start = np.r_[True, (d[1:] != d[:-1]) | group_start[1:]]
        first_of_day = np.maximum.accumulate(np.where(same_start, np.arange(n), 0))
        out_sorted = before_incl[first_of_day] - k[first_of_day]
    out = np.empty(n, dtype=np.int64)
    out[order] = out_sorted
    return out


def _side(tariff: Tariff, cols: Cols, n_tiers: int) -> tuple[I64, npt.NDArray[np.bool_], I64]:
    """(bill fen, not billable, energy fen per tier) of every row under one tariff."""
    n = cols["account_id"].size
    bill = np.zeros(n, dtype=np.int64)
    tiers = np.zeros((n, n_tiers), dtype=np.int64)
    kwh_all, bad = _energy(tariff, cols, np.arange(n, dtype=np.int64))
    max_kw = cols["max_kw"].copy()
    max_by: I64 | None = None
    if tariff.tou_demand is not None:
        keys = [p.key for p in tariff.tou_demand.periods]
        names = [f"max_demand_{k}" for k in keys]
        if any(c not in cols for c in names):
            bad[:] = True
            return bill, bad, tiers
        max_by = np.stack([cols[c] for c in names], axis=1)
        bad |= np.any(max_by < 0, axis=1)
        max_by = np.where(max_by < 0, 0, max_by)
        max_kw = np.where(max_kw < 0, max_by.max(axis=1), max_kw)
    if _needs_demand(tariff):
        bad |= max_kw < 0
    if tariff.basic is not None and tariff.basic.method == "capacity":
        bad |= cols["capacity_kva"] <= 0
    ytd: I64 | None = None
    if tariff.energy.tier_basis == "annual":
        # the run's ytd is the kWh of the account's earlier live bills: rows not billable have no bill
        ty = _tier_year(cols["start"], tariff.energy.tier_year_start_month)
        ytd = _ytd_before(cols["account_id"], cols["start"], np.where(bad, 0, kwh_all.sum(axis=1)), ty)
    pf_std = cols["pf_standard"]
    ok = ~bad
    for std in np.unique(pf_std[ok]):
        sel = np.flatnonzero(ok & (pf_std == std))
        t = tariff
        assessed = std >= 0 and tariff.power_factor is not None
        if assessed and tariff.power_factor is not None:
            s = Decimal(int(std)).scaleb(-2)
            if s != tariff.power_factor.standard:
                if s not in tariff.power_factor.table.rows:
                    bad[sel] = True  # the run: not billable (tariff_error), no adjustment table for it
                    continue
                t = replace(tariff, power_factor=replace(tariff.power_factor, standard=s))

        def opt(c: I64, sel: I64 = sel) -> I64 | None:
            v = c[sel]
            return None if bool(np.all(v < 0)) else v

        kvarh = opt(cols["kvarh"]) if assessed else None
        det = DeterminantColumns(
            start=cols["start"][sel],
            end=cols["end"][sel],
            kwh_by_period=kwh_all[sel],
            kvarh=kvarh,
            max_kw=opt(max_kw),
            max_kw_by_period=None if max_by is None else max_by[sel],
            capacity_kva=opt(cols["capacity_kva"]),
            contract_kw=opt(cols["contract_kw"]),
            ytd_kwh_before=None if ytd is None else ytd[sel],
        )
        rated = rate_columns(tariff=t, cols=det)
        bill[sel] = rated.total_fen
        amounts = np.where(rated.present, rated.amount_fen, 0)
        for j, code in enumerate(rated.codes):
            parts = code.split(".")
            if parts[0] != "energy":
                continue
            tier = int(parts[2][1:]) if len(parts) > 2 else 1
            tiers[sel, tier - 1] += amounts[:, j]
    return bill, bad, tiers


def rate_pair(
    cols: Mapping[str, npt.NDArray[np.generic]], *, tariff_from: Tariff, tariff_to: Tariff
) -> dict[str, I64]:
    """Every row's bill (fen) under ``tariff_from`` and ``tariff_to``, with the energy charge per tier.

    Returns the int64 columns named by :func:`output_columns` (``tier_count(tariff_from, tariff_to)``
    tiers). Rows not billable under one tariff have ``status`` set and 0 in that tariff's amounts.
    """
    missing = [c for c in INPUT_COLUMNS if c not in cols]
    if missing:
        raise SimulationError(f"missing input column(s): {', '.join(missing)}")
    n = int(cols["account_id"].shape[0])
    if any(int(cols[c].shape[0]) != n for c in INPUT_COLUMNS):
        raise SimulationError("input columns differ in length")
    typed: dict[str, npt.NDArray[Any]] = {
        c: np.asarray(cols[c], dtype=np.int64) for c in ("account_id", *QUANTITY_COLUMNS, "pf_standard")
    }
    typed["start"] = np.asarray(cols["start"], dtype="datetime64[D]")
    typed["end"] = np.asarray(cols["end"], dtype="datetime64[D]")
    n_tiers = tier_count(tariff_from, tariff_to)
    out: dict[str, I64] = {}
    status = np.zeros(n, dtype=np.int64)
    tier_cols: dict[str, I64] = {}
    for side, tariff, flag in (("from", tariff_from, NOT_BILLABLE_FROM), ("to", tariff_to, NOT_BILLABLE_TO)):
        if n:
            bill, bad, tiers = _side(tariff, typed, n_tiers)
        else:
            bill, bad, tiers = (
                np.zeros(0, np.int64),
                np.zeros(0, np.bool_),
                np.zeros((0, n_tiers), np.int64),
            )
        out[f"bill_{side}_fen"] = bill
        status |= np.where(bad, flag, 0)
        for t in range(n_tiers):
            tier_cols[f"tier{t + 1}_{side}_fen"] = tiers[:, t]
    # a row not billable under either tariff counts under neither: both amounts are zeroed
    either = status != 0
    for side in ("from", "to"):
        out[f"bill_{side}_fen"] = np.where(either, 0, out[f"bill_{side}_fen"])
    for k, v in tier_cols.items():
        tier_cols[k] = np.where(either, 0, v)
    out["status"] = status
    out.update(tier_cols)
    return {c: out[c] for c in output_columns(n_tiers)}
