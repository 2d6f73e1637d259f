"""Use case: quote bills (电费试算) for interval loads on one tariff, without the database.

Files are read and written by :mod:`wattdesk.application.billing.quote_io` (the load as a dense accounts x
intervals matrix when it can be, CSV / Parquet / JSON out). Rating is the vectorized engine
(``core.rating.vector``) on every bill of every account at once; rows the engine cannot hold in int64 are priced
by the exact path inside it (``exact_rows``). :func:`quote_exact` is the exact per-account Decimal path, the
reference the vector quote is tested against to the fen (tests/unit/core/test_quote_vector.py).
Every input error is a :class:`QuoteInputError` naming the file and the field / row / column.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from wattdesk.application.billing.quote_io import (
    AccountLoad,
    DenseLoad,
    LoadData,
    QuoteInputError,
    quote_json,
    read_load,
    write_json,
    write_lines,
    write_output,
)
from wattdesk.application.tariffs.reference_data import read_tariff_documents
from wattdesk.core.calendar import HolidayCalendar, Semantics
from wattdesk.core.rating.determinants import LoadError, monthly_determinants
from wattdesk.core.rating.exact import Determinants, Line, RatedBill, RatingError, rate_periods
from wattdesk.core.rating.vector import (
    DeterminantColumns,
    LineDetail,
    RatedColumns,
    columns_from_determinants,
    monthly_columns_from_load,
    rate_columns,
)
from wattdesk.core.tariff import Tariff, with_semantics

I64 = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class LoadedTariff:
    tariff: Tariff
    kind: str  # "wattdesk" | "urdb"


@dataclass(frozen=True)
class QuoteResult:
    """Every bill of every account, column-wise. Row ``i`` is one calendar month ``[start[i], end[i])`` of
    account ``accounts[account_of_row[i]]`` (rows account-major, months in order); ``amount_fen[i, j]`` is
    its rounded amount of line ``codes[j]`` where ``present[i, j]``; ``kwh_units`` in 0.0001 kWh. ``details[j]``
    is how slot ``j``'s line reads besides its amount (description, quantity, unit, unit rate, rule; see
    ``core.rating.vector.LineDetail``); the rows in ``exact_rows`` have their exact bill in ``exact_bills``."""

    accounts: tuple[str | None, ...]
    account_of_row: I64
    start: np.ndarray[Any, np.dtype[np.datetime64]]
    end: np.ndarray[Any, np.dtype[np.datetime64]]
    kwh_units: I64
    codes: tuple[str, ...]
    present: np.ndarray[Any, np.dtype[np.bool_]]
    amount_fen: I64
    total_fen: I64
    exact_rows: np.ndarray[Any, np.dtype[np.bool_]]
    details: tuple[LineDetail, ...]
    exact_bills: dict[int, RatedBill]

    def bill_lines(self, i: int) -> tuple[Line, ...]:
        """Row ``i``'s full lines (code, description, quantity, unit, rate, amount, rule), as the exact path's."""
        return self._rated().bill_lines(i)

    def _rated(self) -> RatedColumns:
        return RatedColumns(
            codes=self.codes,
            present=self.present,
            amount_fen=self.amount_fen,
            total_fen=self.total_fen,
            exact_rows=self.exact_rows,
            details=self.details,
            exact_bills=self.exact_bills,
        )

    def lines(self, i: int) -> tuple[tuple[str, Decimal], ...]:
        """Row ``i``'s lines as ``(code, amount)`` in the exact path's order."""
        return tuple(
            (c, Decimal(int(a)).scaleb(-2))
            for c, p, a in zip(self.codes, self.present[i], self.amount_fen[i], strict=True)
            if p
        )

    def total(self, i: int) -> Decimal:
        return Decimal(int(self.total_fen[i])).scaleb(-2)


# ------------------------------------------------------------------------------------------ tariff file


def load_tariff(*, path: Path) -> LoadedTariff:
    """Read a WattDesk tariff (YAML or JSON) or a URDB v8 record (JSON with ``energyratestructure``)."""
    docs = read_tariff_documents(path=path)
    if len(docs) != 1:
        raise QuoteInputError(f"{path.name}: holds {len(docs)} tariffs; quote needs exactly one")
    return LoadedTariff(tariff=docs[0].tariff, kind=docs[0].kind)


def default_semantics(*, kind: str) -> Semantics:
    """PySAM's calendar for URDB tariffs (so bills agree with PySAM), the real calendar otherwise."""
    return "pysam" if kind == "urdb" else "real"


# ------------------------------------------------------------------------------------------ the use case


def _series_determinants(
    *,
    tariff: Tariff,
    loads: tuple[AccountLoad, ...],
    holidays: HolidayCalendar | None,
    capacity_kva: Decimal | None,
    contract_kw: Decimal | None,
    load_name: str,
) -> tuple[list[Determinants], list[int]]:
    dets: list[Determinants] = []
    owner: list[int] = []
    for a, load in enumerate(loads):
        who = f"{load_name} account {load.account}" if load.account is not None else load_name
        try:
            mine = monthly_determinants(
                tariff=tariff,
                timestamps=load.timestamps,
                kwh=load.kwh,
                kvarh=load.kvarh,
                holidays=holidays,
                capacity_kva=capacity_kva,
                contract_kw=contract_kw,
            )
        except LoadError as exc:
            raise QuoteInputError(f"{who}: {exc}") from None
        dets.extend(mine)
        owner.extend([a] * len(mine))
    return dets, owner


def _ytd_amounts(res_amount: I64, codes: tuple[str, ...], owner: I64, start: np.ndarray[Any, Any]) -> I64:
    """Per row: fen of the non-minimum lines already billed in the same account and calendar year (what
    ``exact.rate_periods`` carries as ``ytd_amount_before``)."""
    keep = np.asarray([c != "minimum" for c in codes], dtype=np.bool_)
    own = res_amount[:, keep].sum(axis=1) if keep.any() else np.zeros(owner.size, dtype=np.int64)
    year = start.astype("datetime64[Y]").astype(np.int64)
    new_group = np.ones(owner.size, dtype=np.bool_)
    new_group[1:] = (owner[1:] != owner[:-1]) | (year[1:] != year[:-1])
    csum = np.cumsum(own)
    before = csum - own
    group_base = np.maximum.accumulate(np.where(new_group, np.arange(owner.size), 0))
    return np.asarray(before - before[group_base], dtype=np.int64)


def quote(
    *,
    tariff: Tariff,
    load: LoadData,
    semantics: Semantics,
    holidays: HolidayCalendar | None = None,
    capacity_kva: Decimal | None = None,
    contract_kw: Decimal | None = None,
    load_name: str = "load",
    workers: int | None = None,
) -> QuoteResult:
    """Rate every account's load per calendar month ``[first of month, first of next month)``, all at once.
    ``workers`` threads build the determinants of a dense load (default: one per core)."""
    priced = with_semantics(tariff=tariff, semantics=semantics)
    hol = holidays if priced.calendar.holidays else None
    if isinstance(load, DenseLoad):
        n_acc = len(load.accounts)
        try:
            cols = monthly_columns_from_load(
                tariff=priced,
                year=load.year,
                kwh=load.kwh,
                steps_per_hour=load.steps_per_hour,
                kvarh=load.kvarh,
                semantics=semantics,
                holidays=hol,
                capacity_kva=None if capacity_kva is None else [capacity_kva] * n_acc,
                contract_kw=None if contract_kw is None else [contract_kw] * n_acc,
                workers=workers or os.cpu_count() or 1,
            )
        except RatingError as exc:
            raise QuoteInputError(f"{load_name}: {exc}") from None
        accounts = load.accounts
        owner = np.repeat(np.arange(n_acc, dtype=np.int64), 12)
        kwh_units = cols.kwh_by_period.sum(axis=1)
    else:
        dets, owner_l = _series_determinants(
            tariff=priced,
            loads=load,
            holidays=hol,
            capacity_kva=capacity_kva,
            contract_kw=contract_kw,
            load_name=load_name,
        )
        cols = columns_from_determinants(dets)
        accounts = tuple(a.account for a in load)
        owner = np.asarray(owner_l, dtype=np.int64)
        kwh_units = cols.kwh_by_period.sum(axis=1)
        assert cols.force_exact is not None
        for i in np.flatnonzero(cols.force_exact):
            kwh_units[i] = int(dets[int(i)].kwh.scaleb(4))
    try:
        res = rate_columns(tariff=priced, cols=cols)
        if priced.minimum is not None and priced.minimum.per == "year":
            # a per-year minimum tops up December against the year's earlier charges: rate once, carry the
            # year-to-date charges as the exact path does, rate again with them
            ytd = _ytd_amounts(res.amount_fen, res.codes, owner, cols.start)
            cols = _with_ytd(cols, ytd)
            res = rate_columns(tariff=priced, cols=cols)
    except RatingError as exc:
        raise QuoteInputError(f"{load_name}: {exc}") from None
    return QuoteResult(
        accounts=accounts,
        account_of_row=owner,
        start=cols.start,
        end=cols.end,
        kwh_units=np.asarray(kwh_units, dtype=np.int64),
        codes=res.codes,
        present=res.present,
        amount_fen=res.amount_fen,
        total_fen=res.total_fen,
        exact_rows=res.exact_rows,
        details=res.details,
        exact_bills=res.exact_bills,
    )


def _with_ytd(cols: DeterminantColumns, ytd: I64) -> DeterminantColumns:
    amounts = tuple(Decimal(int(v)).scaleb(-2) for v in ytd)
    source = None
    if cols.source is not None:
        source = tuple(
            dataclasses.replace(d, ytd_amount_before=a) for d, a in zip(cols.source, amounts, strict=True)
        )
    return dataclasses.replace(cols, ytd_amount_before=amounts, source=source)


# ------------------------------------------------------------------------------------------ the reference


@dataclass(frozen=True)
class PeriodQuote:
    start: date
    end: date
    kwh: Decimal
    bill: RatedBill


@dataclass(frozen=True)
class AccountQuote:
    account: str | None
    periods: tuple[PeriodQuote, ...]
    total: Decimal


def account_loads(load: LoadData) -> tuple[AccountLoad, ...]:
    """The load as one series per account (a dense matrix split into its rows)."""
    if not isinstance(load, DenseLoad):
        return load
    n_steps = load.kwh.shape[1]
    step = 60 // load.steps_per_hour
    ts = np.datetime64(f"{load.year:04d}-01-01T00:00", "m") + np.arange(n_steps) * step
    return tuple(
        AccountLoad(
            account=acct,
            timestamps=ts,
            kwh=load.kwh[a],
            kvarh=None if load.kvarh is None else load.kvarh[a],
        )
        for a, acct in enumerate(load.accounts)
    )


def quote_exact(
    *,
    tariff: Tariff,
    load: LoadData,
    semantics: Semantics,
    holidays: HolidayCalendar | None = None,
    capacity_kva: Decimal | None = None,
    contract_kw: Decimal | None = None,
    load_name: str = "load",
) -> tuple[AccountQuote, ...]:
    """The exact reference: each account's monthly determinants and ``exact.rate_periods`` (Decimal)."""
    priced = with_semantics(tariff=tariff, semantics=semantics)
    hol = holidays if priced.calendar.holidays else None
    out = []
    for acct in account_loads(load):
        who = f"{load_name} account {acct.account}" if acct.account is not None else load_name
        dets, _ = _series_determinants(
            tariff=priced,
            loads=(acct,),
            holidays=hol,
            capacity_kva=capacity_kva,
            contract_kw=contract_kw,
            load_name=load_name,
        )
        try:
            bills = rate_periods(tariff=priced, dets=dets)
        except RatingError as exc:
            raise QuoteInputError(f"{who}: {exc}") from None
        periods = tuple(
            PeriodQuote(start=d.start, end=d.end, kwh=d.kwh, bill=b) for d, b in zip(dets, bills, strict=True)
        )
        out.append(
            AccountQuote(
                account=acct.account,
                periods=periods,
                total=sum((p.bill.total for p in periods), Decimal("0.00")),
            )
        )
    return tuple(out)


__all__ = [
    "AccountLoad",
    "AccountQuote",
    "DenseLoad",
    "LoadData",
    "LoadedTariff",
    "PeriodQuote",
    "QuoteInputError",
    "QuoteResult",
    "account_loads",
    "default_semantics",
    "load_tariff",
    "quote",
    "quote_exact",
    "quote_json",
    "read_load",
    "write_json",
    "write_lines",
    "write_output",
]
