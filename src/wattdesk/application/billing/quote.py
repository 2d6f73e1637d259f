"""Use case: quote bills (电费试算) for interval loads on one tariff, without the database.

Loading files belongs here (core parses dicts): the tariff file (WattDesk YAML/JSON or a URDB v8 record),
the interval load (CSV or Parquet, long format, many accounts), the power-factor table and the public-holiday
calendar from ``wattdesk/config``. Every input error is a :class:`QuoteInputError` naming the file and the
field / row / column, which the CLI prints as one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from wattdesk.application.errors import InputError
from wattdesk.application.tariffs.reference_data import read_tariff_documents
from wattdesk.core.calendar import HolidayCalendar, Semantics
from wattdesk.core.rating.determinants import LoadError, monthly_determinants
from wattdesk.core.rating.exact import Determinants, RatedBill, RatingError, rate_periods
from wattdesk.core.tariff import Tariff, with_semantics


class QuoteInputError(InputError):
    """A bad input file; the message is one line naming the file and the place."""


@dataclass(frozen=True)
class LoadedTariff:
    tariff: Tariff
    kind: str  # "wattdesk" | "urdb"


@dataclass(frozen=True)
class AccountLoad:
    account: str | None
    timestamps: np.ndarray[Any, np.dtype[np.datetime64]]
    kwh: np.ndarray[Any, np.dtype[np.float64]]
    kvarh: np.ndarray[Any, np.dtype[np.float64]] | None


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


# ------------------------------------------------------------------------------------------ tariff file


def load_tariff(*, path: Path) -> LoadedTariff:
    """Read a WattDesk tariff (YAML or JSON) or a URDB v8 record (JSON with ``energyratestructure``)."""
    docs = read_tariff_documents(path=path)
    if len(docs) != 1:
        raise QuoteInputError(f"{path.name}: holds {len(docs)} tariffs; quote needs exactly one")
    return LoadedTariff(tariff=docs[0].tariff, kind=docs[0].kind)


# ------------------------------------------------------------------------------------------ load file


def _row(i: int, csv_file: bool) -> int:
    """Row number shown to the user: the file line for CSV (header = row 1), 1-based data row for Parquet."""
    return i + 2 if csv_file else i + 1


def _numbers(df: pl.DataFrame, col: str, name: str, csv_file: bool) -> np.ndarray[Any, np.dtype[np.float64]]:
    s = df[col]
    if s.dtype == pl.String:
        parsed = s.str.strip_chars().cast(pl.Float64, strict=False)
        bad = (parsed.is_null() & s.is_not_null()) | (s.str.strip_chars() == "")
        if bad.any():
            i = int(bad.arg_true()[0])
            raw = s[i]
            what = "missing value" if raw is None or not raw.strip() else f"not a number {raw!r}"
            raise QuoteInputError(f"{name} row {_row(i, csv_file)} column {col}: {what}")
        s = parsed
    elif s.dtype.is_numeric():
        s = s.cast(pl.Float64)
    else:
        raise QuoteInputError(f"{name} column {col}: not numeric ({s.dtype})")
    if s.null_count():
        i = int(s.is_null().arg_true()[0])
        raise QuoteInputError(f"{name} row {_row(i, csv_file)} column {col}: missing value")
    arr = s.to_numpy()
    bad_idx = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
    if bad_idx.size:
        i = int(bad_idx[0])
        what = "negative" if np.isfinite(arr[i]) else "not a finite number"
        raise QuoteInputError(f"{name} row {_row(i, csv_file)} column {col}: {what} {s[i]!r}")
    return arr.astype(np.float64)


def _timestamps(df: pl.DataFrame, name: str, csv_file: bool) -> pl.Series:
    s = df["timestamp"]
    if s.dtype == pl.String:
        raw = s.str.strip_chars().str.replace("T", " ")
        parsed = raw.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
        parsed = parsed.fill_null(raw.str.to_datetime("%Y-%m-%d %H:%M", strict=False))
        bad = parsed.is_null()
        if bad.any():
            i = int(bad.arg_true()[0])
            raise QuoteInputError(
                f"{name} row {_row(i, csv_file)} column timestamp: not a timestamp (YYYY-MM-DD HH:MM) {s[i]!r}"
            )
        return parsed
    if isinstance(s.dtype, pl.Datetime):
        if s.dtype.time_zone is not None:
            s = s.dt.replace_time_zone(None)  # keep the local wall-clock time
        if s.null_count():
            i = int(s.is_null().arg_true()[0])
            raise QuoteInputError(f"{name} row {_row(i, csv_file)} column timestamp: missing value")
        return s
    raise QuoteInputError(f"{name} column timestamp: not a timestamp column ({s.dtype})")


def read_load(*, path: Path) -> tuple[AccountLoad, ...]:
    """Read an interval load: columns ``timestamp, kwh`` (+ optional ``kvarh``, ``account``), long format.

    Timestamps are local interval starts; the step (hourly, 15-minute ...) is detected per account.
    """
    name = path.name
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pl.read_parquet(path)
            csv_file = False
        elif suffix in (".csv", ".txt"):
            df = pl.read_csv(path, infer_schema=False)
            csv_file = True
        else:
            raise QuoteInputError(f"{name}: unsupported load file type {suffix!r} (CSV or Parquet)")
    except FileNotFoundError:
        raise QuoteInputError(f"{name}: no such file") from None
    except (OSError, pl.exceptions.PolarsError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise QuoteInputError(f"{name}: cannot read: {first}") from None
    df = df.rename({c: c.strip().lower() for c in df.columns})
    for col in ("timestamp", "kwh"):
        if col not in df.columns:
            raise QuoteInputError(f"{name}: missing column {col} (need timestamp,kwh[,kvarh][,account])")
    if df.height == 0:
        raise QuoteInputError(f"{name}: no rows")
    ts = _timestamps(df, name, csv_file)
    kwh = _numbers(df, "kwh", name, csv_file)
    kvarh = _numbers(df, "kvarh", name, csv_file) if "kvarh" in df.columns else None
    accounts: pl.Series | None = None
    if "account" in df.columns:
        accounts = df["account"].cast(pl.String)
        if accounts.null_count():
            i = int(accounts.is_null().arg_true()[0])
            raise QuoteInputError(f"{name} row {_row(i, csv_file)} column account: missing value")
    frame = pl.DataFrame(
        {
            "row": np.arange(df.height),
            "account": accounts if accounts is not None else pl.Series([None] * df.height, dtype=pl.String),
            "ts": ts,
            "kwh": kwh,
            "kvarh": kvarh if kvarh is not None else np.zeros(df.height),
        }
    )
    dup = frame.select(pl.struct("account", "ts").is_duplicated().alias("d"))["d"]
    if dup.any():
        i = int(dup.arg_true()[-1])
        raise QuoteInputError(f"{name} row {_row(i, csv_file)} column timestamp: duplicate interval {ts[i]}")
    out = []
    for key, part in frame.sort(["account", "ts"], nulls_last=False).group_by("account", maintain_order=True):
        acct = key[0]
        out.append(
            AccountLoad(
                account=None if acct is None else str(acct),
                timestamps=part["ts"].to_numpy().astype("datetime64[m]"),
                kwh=part["kwh"].to_numpy(),
                kvarh=part["kvarh"].to_numpy() if kvarh is not None else None,
            )
        )
    return tuple(out)


# ------------------------------------------------------------------------------------------ the use case


def default_semantics(*, kind: str) -> Semantics:
    """PySAM's calendar for URDB tariffs (so bills agree with PySAM), the real calendar otherwise."""
    return "pysam" if kind == "urdb" else "real"


def quote(
    *,
    tariff: Tariff,
    loads: tuple[AccountLoad, ...],
    semantics: Semantics,
    holidays: HolidayCalendar | None = None,
    capacity_kva: Decimal | None = None,
    contract_kw: Decimal | None = None,
    load_name: str = "load",
) -> tuple[AccountQuote, ...]:
    """Rate each account's load per calendar month ``[first of month, first of next month)``."""
    priced = with_semantics(tariff=tariff, semantics=semantics)
    out = []
    for load in loads:
        who = f"{load_name} account {load.account}" if load.account is not None else load_name
        try:
            dets = monthly_determinants(
                tariff=priced,
                timestamps=load.timestamps,
                kwh=load.kwh,
                kvarh=load.kvarh,
                holidays=holidays,
                capacity_kva=capacity_kva,
                contract_kw=contract_kw,
            )
        except LoadError as exc:
            raise QuoteInputError(f"{who}: {exc}") from None
        try:
            bills = rate_periods(tariff=priced, dets=dets)
        except RatingError as exc:
            raise QuoteInputError(f"{who}: {exc}") from None
        periods = [
            PeriodQuote(start=det.start, end=det.end, kwh=det.kwh, bill=bill)
            for det, bill in zip(dets, bills, strict=True)
        ]
        out.append(
            AccountQuote(
                account=load.account,
                periods=tuple(periods),
                total=sum((p.bill.total for p in periods), Decimal("0.00")),
            )
        )
    return tuple(out)


def _dec_str(d: Decimal) -> str:
    """A quantity or rate as a plain decimal string without trailing zeros ("240", "0.4883")."""
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def quote_to_json(quotes: tuple[AccountQuote, ...]) -> dict[str, Any]:
    """The ``wattdesk quote --json`` document; decimals as strings, ``end`` exclusive."""
    return {
        "bills": [
            {
                "account": q.account,
                "periods": [
                    {
                        "start": p.start.isoformat(),
                        "end": p.end.isoformat(),
                        "kwh": _dec_str(p.kwh),
                        "lines": [
                            {
                                "code": ln.code,
                                "description": ln.description,
                                "quantity": _dec_str(ln.quantity),
                                "unit": ln.unit,
                                "rate": _dec_str(ln.rate),
                                "amount": format(ln.amount, "f"),
                            }
                            for ln in p.bill.lines
                        ],
                        "total": format(p.bill.total, "f"),
                    }
                    for p in q.periods
                ],
                "total": format(q.total, "f"),
            }
            for q in quotes
        ]
    }


__all__ = [
    "AccountLoad",
    "AccountQuote",
    "Determinants",
    "LoadedTariff",
    "PeriodQuote",
    "QuoteInputError",
    "default_semantics",
    "load_tariff",
    "quote",
    "quote_to_json",
    "read_load",
]
