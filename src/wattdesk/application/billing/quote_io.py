"""Files of ``wattdesk quote``: the interval load in (CSV / Parquet / Arrow IPC), the bills out (JSON / CSV / Parquet).

Loading is column-wise (Polars), never a Python loop over intervals. A load whose accounts all cover one whole
calendar year on the same regular grid (the usual case: a year of hourly or 15-minute data per customer)
becomes a dense ``accounts x steps`` matrix (:class:`DenseLoad`), which ``core.rating.vector`` rates at once;
anything else (partial years, gaps, different grids per account) becomes one :class:`AccountLoad` per account.

Layouts (docs/tariffs.md, "Load files"):

* **long**: one row per interval, columns ``timestamp, kwh`` (+ ``kvarh``, ``account``), any order;
* **wide** (Parquet / Arrow only): one row per account, ``kwh`` a list column of the account's interval values,
  ``start`` the first interval's timestamp, optional ``step_minutes`` (default 60), ``kvarh`` (list),
  ``account``.

Output amounts are exact: int64 fen turned into decimal strings, or Parquet ``decimal128``; never a float.
Every input error is a :class:`QuoteInputError` naming the file and the row / column.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import polars as pl

from wattdesk.application.errors import InputError

if TYPE_CHECKING:
    from wattdesk.application.billing.quote import QuoteResult

F64 = np.ndarray[Any, np.dtype[np.float64]]


class QuoteInputError(InputError):
    """A bad input file; the message is one line naming the file and the place."""


@dataclass(frozen=True)
class AccountLoad:
    """One account's interval series (any grid: gaps, partial years, several years)."""

    account: str | None
    timestamps: np.ndarray[Any, np.dtype[np.datetime64]]
    kwh: F64
    kvarh: F64 | None


@dataclass(frozen=True)
class DenseLoad:
    """Every account on the same grid: the whole calendar year ``year`` at ``steps_per_hour`` steps per hour
    from ``year``-01-01 00:00; ``kwh[a, s]`` is account ``a``'s energy in step ``s``."""

    accounts: tuple[str | None, ...]
    year: int
    steps_per_hour: int
    kwh: F64
    kvarh: F64 | None


LoadData = DenseLoad | tuple[AccountLoad, ...]

# ------------------------------------------------------------------------------------------ reading


def _row(i: int, csv_file: bool) -> int:
    """Row number shown to the user: the file line for CSV (header = row 1), 1-based data row otherwise."""
    return i + 2 if csv_file else i + 1


def _numbers(s: pl.Series, where: str, col: str, csv_file: bool) -> F64:
    """A numeric column as float64, every value present, finite and non-negative (else row / column)."""
    if s.dtype == pl.String:
        stripped = s.str.strip_chars()
        parsed = stripped.cast(pl.Float64, strict=False)
        bad = (parsed.is_null() & s.is_not_null()) | (stripped == "")
        if bad.any():
            i = int(bad.arg_true()[0])
            raw = s[i]
            what = "missing value" if raw is None or not raw.strip() else f"not a number {raw!r}"
            raise QuoteInputError(f"{where} row {_row(i, csv_file)} column {col}: {what}")
        s = parsed
    elif s.dtype.is_numeric():
        s = s.cast(pl.Float64)
    else:
        raise QuoteInputError(f"{where} column {col}: not numeric ({s.dtype})")
    if s.null_count():
        i = int(s.is_null().arg_true()[0])
        raise QuoteInputError(f"{where} row {_row(i, csv_file)} column {col}: missing value")
    arr = s.to_numpy()
    ok = np.isfinite(arr) & (arr >= 0)
    if not ok.all():
        i = int(np.argmin(ok))
        what = "negative" if np.isfinite(arr[i]) else "not a finite number"
        raise QuoteInputError(f"{where} row {_row(i, csv_file)} column {col}: {what} {s[i]!r}")
    return np.asarray(arr, dtype=np.float64)


def _timestamps(s: pl.Series, where: str, col: str, csv_file: bool) -> pl.Series:
    if s.dtype == pl.String:
        raw = s.str.strip_chars().str.replace("T", " ")
        parsed = raw.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
        parsed = parsed.fill_null(raw.str.to_datetime("%Y-%m-%d %H:%M", strict=False))
        bad = parsed.is_null()
        if bad.any():
            i = int(bad.arg_true()[0])
            raise QuoteInputError(
                f"{where} row {_row(i, csv_file)} column {col}: not a timestamp (YYYY-MM-DD HH:MM) {s[i]!r}"
            )
        return parsed
    if isinstance(s.dtype, pl.Datetime):
        if s.dtype.time_zone is not None:
            s = s.dt.replace_time_zone(None)  # keep the local wall-clock time
        if s.null_count():
            i = int(s.is_null().arg_true()[0])
            raise QuoteInputError(f"{where} row {_row(i, csv_file)} column {col}: missing value")
        return s
    raise QuoteInputError(f"{where} column {col}: not a timestamp column ({s.dtype})")


_PER_MINUTE = {"ns": 60_000_000_000, "us": 60_000_000, "ms": 60_000}


def _minutes(ts: pl.Series) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Timestamps as int64 minutes since 1970 (floored, as ``datetime64[m]``), in one pass."""
    assert isinstance(ts.dtype, pl.Datetime)
    per = _PER_MINUTE[ts.dtype.time_unit or "us"]
    return np.asarray((ts.cast(pl.Int64) // per).to_numpy(), dtype=np.int64)


def _year_grid(first: int, step: int, n: int) -> tuple[int, int] | None:
    """``(year, steps_per_hour)`` when ``n`` steps of ``step`` minutes from minute ``first`` are one whole
    calendar year from its 1 January 00:00, else None."""
    if step <= 0 or step > 60 or 60 % step:
        return None
    day = np.datetime64(first, "m").astype("datetime64[D]")
    year = int(day.astype("datetime64[Y]").astype(np.int64)) + 1970
    jan1 = np.datetime64(f"{year:04d}-01-01T00:00", "m").astype(np.int64)
    nxt = np.datetime64(f"{year + 1:04d}-01-01T00:00", "m").astype(np.int64)
    if first != jan1 or (nxt - jan1) != n * step:
        return None
    return year, 60 // step


def _read_frame(path: Path) -> tuple[pl.DataFrame, bool]:
    name = path.name
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path), False
        if suffix in (".arrow", ".feather", ".ipc"):
            import pyarrow as pa

            # memory-mapped: an uncompressed file's columns are used in place, not copied
            # (the map stays open as long as the table's buffers refer to it)
            table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            return frame, False
        if suffix in (".csv", ".txt"):
            return pl.read_csv(path, infer_schema=False), True
    except FileNotFoundError:
        raise QuoteInputError(f"{name}: no such file") from None
    except (OSError, pl.exceptions.PolarsError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise QuoteInputError(f"{name}: cannot read: {first}") from None
    raise QuoteInputError(f"{name}: unsupported load file type {suffix!r} (CSV, Parquet or Arrow IPC)")


def read_load(*, path: Path) -> LoadData:
    """Read an interval load (long or wide layout, see the module doc); timestamps are local interval starts."""
    df, csv_file = _read_frame(path)
    df = df.rename({c: c.strip().lower() for c in df.columns})
    name = path.name
    if "kwh" not in df.columns:
        raise QuoteInputError(f"{name}: missing column kwh (need timestamp,kwh[,kvarh][,account])")
    if df.height == 0:
        raise QuoteInputError(f"{name}: no rows")
    if isinstance(df["kwh"].dtype, pl.List | pl.Array):
        return _read_wide(df, name)
    if "timestamp" not in df.columns:
        raise QuoteInputError(f"{name}: missing column timestamp (need timestamp,kwh[,kvarh][,account])")
    return _read_long(df, name, csv_file)


def _accounts(df: pl.DataFrame, name: str, csv_file: bool) -> pl.Series | None:
    if "account" not in df.columns:
        return None
    accounts = df["account"].cast(pl.String)
    if accounts.null_count():
        i = int(accounts.is_null().arg_true()[0])
        raise QuoteInputError(f"{name} row {_row(i, csv_file)} column account: missing value")
    return accounts


def _read_long(df: pl.DataFrame, name: str, csv_file: bool) -> LoadData:
    ts = _timestamps(df["timestamp"], name, "timestamp", csv_file)
    kwh = _numbers(df["kwh"], name, "kwh", csv_file)
    kvarh = _numbers(df["kvarh"], name, "kvarh", csv_file) if "kvarh" in df.columns else None
    accounts = _accounts(df, name, csv_file)
    minutes = _minutes(ts)
    dense = _dense_long(accounts, minutes, kwh, kvarh)
    if dense is not None:
        return dense
    frame = pl.DataFrame(
        {
            "account": accounts if accounts is not None else pl.Series([None] * df.height, dtype=pl.String),
            "ts": minutes,
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


def _dense_long(
    accounts: pl.Series | None, minutes: np.ndarray[Any, np.dtype[np.int64]], kwh: F64, kvarh: F64 | None
) -> DenseLoad | None:
    """The long rows as a dense matrix when every account's rows are contiguous, in time order and cover the
    same whole calendar year on a regular grid; None otherwise (the caller sorts and groups)."""
    n_rows = minutes.size
    if accounts is None:
        n_acc, names = 1, (None,)
    else:
        runs = np.asarray(accounts.rle_id().to_numpy(), dtype=np.int64)  # 0, 0, ..., 1, 1, ... per run
        n_acc = int(runs[-1]) + 1
        if n_rows % n_acc:
            return None
        by_account = runs.reshape(n_acc, n_rows // n_acc)
        expected = np.arange(n_acc)
        if not (np.array_equal(by_account[:, 0], expected) and np.array_equal(by_account[:, -1], expected)):
            return None  # runs of different lengths
        first = accounts.gather(np.arange(n_acc) * (n_rows // n_acc))
        if first.n_unique() != n_acc:
            return None
        names = tuple(first.to_list())
    width = n_rows // n_acc
    if width < 2:
        return None
    grid = minutes[:width]
    step = int(grid[1] - grid[0])
    shape = _year_grid(int(grid[0]), step, width)
    if shape is None or not np.array_equal(grid, grid[0] + np.arange(width) * step):
        return None
    if n_acc > 1 and not bool((minutes.reshape(n_acc, width) == grid[None, :]).all()):
        return None
    year, steps_per_hour = shape
    return DenseLoad(
        accounts=names,
        year=year,
        steps_per_hour=steps_per_hour,
        kwh=kwh.reshape(n_acc, width),
        kvarh=None if kvarh is None else kvarh.reshape(n_acc, width),
    )


def _list_values(s: pl.Series, name: str, col: str) -> tuple[F64, np.ndarray[Any, np.dtype[np.int64]]]:
    """A list column's values (flat, validated) and each row's offset into them."""
    if s.null_count():
        i = int(s.is_null().arg_true()[0])
        raise QuoteInputError(f"{name} row {i + 1} column {col}: missing value")
    fixed = isinstance(s.dtype, pl.Array)
    inner = s.dtype.inner if isinstance(s.dtype, pl.Array | pl.List) else None
    if inner is None or not inner.is_numeric():
        raise QuoteInputError(f"{name} column {col}: not a list of numbers ({s.dtype})")
    if fixed:  # fixed-size lists: one (rows x width) block, no copy for float64
        matrix = s.to_numpy()
        arr = np.asarray(matrix, dtype=np.float64).reshape(-1)
        width = arr.size // max(s.len(), 1)
        offsets = np.arange(s.len() + 1, dtype=np.int64) * width
    else:
        lengths = s.list.len().to_numpy().astype(np.int64)
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            raise QuoteInputError(f"{name} row {int(empty[0]) + 1} column {col}: no values")
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        arr = np.asarray(s.explode().cast(pl.Float64).to_numpy(), dtype=np.float64)
    # min >= 0 and max finite <=> every value is a non-negative finite number (a NaN or null makes min NaN)
    if not (arr.size and arr.min() >= 0 and np.isfinite(arr.max())):
        ok = np.isfinite(arr) & (arr >= 0)
        j = int(np.argmin(ok))
        row = int(np.searchsorted(offsets, j, side="right")) - 1
        k = j - int(offsets[row])
        v = (s.arr.explode() if fixed else s.explode())[j]
        what = (
            "missing value" if v is None else ("negative" if np.isfinite(arr[j]) else "not a finite number")
        )
        raise QuoteInputError(
            f"{name} row {row + 1} column {col}[{k}]: {what}" + ("" if v is None else f" {v!r}")
        )
    return arr, offsets


def _read_wide(df: pl.DataFrame, name: str) -> LoadData:
    if "start" not in df.columns:
        raise QuoteInputError(
            f"{name}: missing column start (wide layout: account,start,kwh list[,kvarh list])"
        )
    start = _minutes(_timestamps(df["start"], name, "start", False))
    if "step_minutes" in df.columns:
        step_f = _numbers(df["step_minutes"], name, "step_minutes", False)
        bad = (step_f != np.floor(step_f)) | (step_f <= 0) | (step_f > 60) | (60 % np.maximum(step_f, 1) != 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise QuoteInputError(f"{name} row {i + 1} column step_minutes: must divide 60 ({step_f[i]:g})")
        step = step_f.astype(np.int64)
    else:
        step = np.full(df.height, 60, dtype=np.int64)
    kwh, offsets = _list_values(df["kwh"], name, "kwh")
    kvarh = None
    if "kvarh" in df.columns:
        if not isinstance(df["kvarh"].dtype, pl.List | pl.Array):
            raise QuoteInputError(f"{name} column kvarh: wide layout needs a list column like kwh")
        kvarh, r_off = _list_values(df["kvarh"], name, "kvarh")
        if not np.array_equal(r_off, offsets):
            i = int(np.argmax(np.diff(r_off) != np.diff(offsets)))
            raise QuoteInputError(f"{name} row {i + 1} column kvarh: not as many values as kwh")
    accounts = _accounts(df, name, False)
    names: tuple[str | None, ...] = tuple(accounts.to_list()) if accounts is not None else (None,) * df.height
    if accounts is not None and accounts.n_unique() != df.height:
        i = int(accounts.is_duplicated().arg_true()[-1])
        raise QuoteInputError(f"{name} row {i + 1} column account: duplicate account {names[i]!r}")
    if accounts is None and df.height > 1:
        raise QuoteInputError(f"{name}: {df.height} rows need an account column")
    lengths = np.diff(offsets)
    width = int(lengths[0])
    shape = _year_grid(int(start[0]), int(step[0]), width)
    if (
        shape is not None
        and (start == start[0]).all()
        and (step == step[0]).all()
        and (lengths == width).all()
    ):
        year, sph = shape
        n = df.height
        return DenseLoad(
            accounts=names,
            year=year,
            steps_per_hour=sph,
            kwh=kwh.reshape(n, width),
            kvarh=None if kvarh is None else kvarh.reshape(n, width),
        )
    out = []
    for i in range(df.height):
        a, b = int(offsets[i]), int(offsets[i + 1])
        ts = (start[i] + np.arange(b - a, dtype=np.int64) * step[i]).astype("datetime64[m]")
        out.append(
            AccountLoad(
                account=names[i],
                timestamps=ts,
                kwh=kwh[a:b],
                kvarh=None if kvarh is None else kvarh[a:b],
            )
        )
    return tuple(out)


# ------------------------------------------------------------------------------------------ writing


def _fen_text(e: pl.Expr) -> pl.Expr:
    """int64 fen -> exact decimal string with two places ("-0.05", "1234.50")."""
    a = e.abs()
    return pl.concat_str(
        pl.when(e < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (a // 100).cast(pl.String),
        pl.lit("."),
        (a % 100).cast(pl.String).str.zfill(2),
    )


def _units_text(e: pl.Expr, places: int) -> pl.Expr:
    """int64 in ``10**-places`` units -> plain decimal without trailing zeros ("300", "12.5", "-0.0075"), as
    ``format(Decimal, "f")`` with the trailing zeros (and a bare point) stripped."""
    one = 10**places
    a = e.abs()
    frac = (a % one).cast(pl.String).str.zfill(places).str.strip_chars_end("0")
    return pl.concat_str(
        pl.when(e < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (a // one).cast(pl.String),
        pl.when(frac == "").then(pl.lit("")).otherwise(pl.lit(".") + frac),
    )


def _qty_text(e: pl.Expr) -> pl.Expr:
    """int64 0.0001 units -> plain decimal without trailing zeros ("300", "12.5")."""
    return _units_text(e, 4)


def _dec_str(d: Decimal) -> str:
    """A quantity or rate as a plain decimal string without trailing zeros ("240", "0.4883")."""
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


LINE_FIELDS = ("code", "description", "quantity", "unit", "rate", "amount", "rule")
"""A JSON line's keys, in order (``rate`` is the unit rate; ``amount`` the rounded line amount)."""


def _lines_frame(res: QuoteResult) -> pl.DataFrame:
    """One row per line, bill-major, each bill's lines in the exact path's order: ``bill``, the
    :data:`LINE_FIELDS` as text and ``fen`` (the amount in fen). Built slot by slot: a slot's constant description / unit / rate / rule is one
    literal and its quantity column is formatted by Polars; only row-dependent details (the PF adjustment,
    basic charge by demand, a minimum top-up) are asked row by row, and rows priced by the exact path take
    their exact bill's lines."""
    parts: list[pl.DataFrame] = []
    vector_rows = ~res.exact_rows
    for j, code in enumerate(res.codes):
        rows = np.flatnonzero(res.present[:, j] & vector_rows)
        if rows.size == 0:
            continue
        d = res.details[j]
        units = getattr(d.quantity, "units", None)  # a quantity column (vector._QtyColumn) in 0.0001 units
        callable_detail = units is None or not all(
            isinstance(x, str | Decimal) for x in (d.description, d.rate, d.rule)
        )
        idx = rows.tolist() if callable_detail else []

        def per_row(f: Callable[[int], Any], fmt: Callable[[Any], str], idx: list[int] = idx) -> pl.Series:
            return pl.Series([fmt(f(i)) for i in idx], dtype=pl.String)

        frame = pl.DataFrame(
            {
                "bill": rows.astype(np.int64),
                "fen": res.amount_fen[rows, j],
                "q": np.asarray(units, dtype=np.int64)[rows]
                if units is not None
                else per_row(d.quantity, _dec_str),
            }
        )
        quantity = _qty_text(pl.col("q")) if units is not None else pl.col("q")
        description = (
            pl.lit(d.description) if isinstance(d.description, str) else pl.lit(per_row(d.description, str))
        )
        rate = pl.lit(_dec_str(d.rate)) if isinstance(d.rate, Decimal) else pl.lit(per_row(d.rate, _dec_str))
        rule = pl.lit(d.rule) if isinstance(d.rule, str) else pl.lit(per_row(d.rule, str))
        parts.append(
            frame.select(
                "bill",
                pl.lit(code).alias("code"),
                description.alias("description"),
                quantity.alias("quantity"),
                pl.lit(d.unit).alias("unit"),
                rate.alias("rate"),
                _fen_text(pl.col("fen")).alias("amount"),
                rule.alias("rule"),
                "fen",
            )
        )
    if res.exact_bills:
        exact = [
            (
                i,
                ln.code,
                ln.description,
                _dec_str(ln.quantity),
                ln.unit,
                _dec_str(ln.rate),
                "",
                ln.rule,
                int(ln.amount.scaleb(2)),
            )
            for i, bill in sorted(res.exact_bills.items())
            for ln in bill.lines
        ]
        parts.append(
            pl.DataFrame(
                exact,
                schema=[("bill", pl.Int64)] + [(c, pl.String) for c in LINE_FIELDS] + [("fen", pl.Int64)],
                orient="row",
            ).with_columns(_fen_text(pl.col("fen")).alias("amount"))  # as the vector rows: never "-0.00"
        )
    if not parts:
        return pl.DataFrame(
            schema=[("bill", pl.Int64)] + [(c, pl.String) for c in LINE_FIELDS] + [("fen", pl.Int64)]
        )
    # slots were appended in line order: a stable sort by bill keeps each bill's lines in that order
    return pl.concat(parts).sort("bill", maintain_order=True)


def quote_json(res: QuoteResult) -> str:
    """The ``--json`` document as text (see :func:`write_json`)."""
    buf = io.BytesIO()
    write_json(res, buf)
    return buf.getvalue().decode("utf-8")


def write_json(res: QuoteResult, out: BinaryIO) -> None:
    """Write the ``--json`` document, UTF-8: ``{"bills": [{account, periods: [{start, end, kwh, lines:
    [{code, description, quantity, unit, rate, amount, rule}], total}], total}]}``; decimals as exact strings
    (quantity and rate without trailing zeros, amounts with two places), ``end`` exclusive. Built column-wise
    (Arrow list offsets, Polars' JSON writer), no Python object per bill."""
    import pyarrow as pa

    n_bills = res.total_fen.size
    lines = _lines_frame(res)
    line_off = np.searchsorted(lines["bill"].to_numpy(), np.arange(n_bills + 1)).astype(np.int32)
    line_struct = lines.select(LINE_FIELDS).to_arrow().to_struct_array().combine_chunks()
    bills = pl.DataFrame(
        {
            "start": res.start.astype("datetime64[D]"),
            "end": res.end.astype("datetime64[D]"),
            "kwh": res.kwh_units,
            "total": res.total_fen,
        }
    ).select(
        pl.col("start").cast(pl.String),
        pl.col("end").cast(pl.String),
        _qty_text(pl.col("kwh")).alias("kwh"),
        _fen_text(pl.col("total")).alias("total"),
    )
    tbl = bills.to_arrow()
    periods = pa.StructArray.from_arrays(
        [
            tbl.column("start").combine_chunks(),
            tbl.column("end").combine_chunks(),
            tbl.column("kwh").combine_chunks(),
            pa.ListArray.from_arrays(pl.Series(line_off).to_arrow(), line_struct),
            tbl.column("total").combine_chunks(),
        ],
        names=["start", "end", "kwh", "lines", "total"],
    )
    n_acc = len(res.accounts)
    acc_off = np.searchsorted(res.account_of_row, np.arange(n_acc + 1)).astype(np.int32)
    acc_total = np.add.reduceat(res.total_fen, acc_off[:-1]) if n_bills else np.zeros(n_acc, np.int64)
    acc_total = np.where(np.diff(acc_off) > 0, acc_total, 0)
    totals = pl.DataFrame({"t": acc_total}).select(_fen_text(pl.col("t")).alias("t"))["t"].to_arrow()
    doc = pa.table(
        {
            "account": pl.Series(res.accounts, dtype=pl.String).to_arrow(),
            "periods": pa.ListArray.from_arrays(pl.Series(acc_off).to_arrow(), periods),
            "total": totals,
        }
    )
    body = pl.from_arrow(doc)
    assert isinstance(body, pl.DataFrame)
    out.write(b'{"bills":')
    body.write_json(out)  # type: ignore[call-overload]  # any binary file object works
    out.write(b"}\n")


def _decimal128(units: np.ndarray[Any, np.dtype[np.int64]], scale: int, valid: Any = None) -> Any:
    """int64 in ``10**-scale`` units -> Arrow decimal128(38, scale), exact (two's complement, little endian)."""
    import pyarrow as pa

    n = units.size
    words = np.empty((n, 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63
    validity = None
    nulls = 0
    if valid is not None and not bool(np.all(valid)):
        validity = pa.py_buffer(np.packbits(np.asarray(valid, dtype=np.bool_), bitorder="little"))
        nulls = int(n - np.count_nonzero(valid))
    return pa.Array.from_buffers(
        pa.decimal128(38, scale), n, [validity, pa.py_buffer(words)], null_count=nulls
    )


def bills_table(res: QuoteResult) -> Any:
    """One row per bill: account, start, end, kwh, one column per line code (null when absent), total;
    amounts as Arrow decimal128 (exact)."""
    import pyarrow as pa

    # Arrow arrays via Polars: pyarrow.array() would import pandas (half a second of start-up)
    accounts = pl.Series(res.accounts, dtype=pl.String).gather(res.account_of_row)
    cols: dict[str, Any] = {
        "account": accounts.to_arrow(),
        "start": pl.Series(res.start.astype("datetime64[D]")).to_arrow(),
        "end": pl.Series(res.end.astype("datetime64[D]")).to_arrow(),
        "kwh": _decimal128(res.kwh_units, 4),
    }
    slots: dict[str, list[int]] = {}
    for j, code in enumerate(res.codes):  # a code can own several slots (one per demand structure ...)
        slots.setdefault(code, []).append(j)
    for code, js in slots.items():
        present = res.present[:, js].any(axis=1)
        if present.any():
            amount = np.where(res.present[:, js], res.amount_fen[:, js], 0).sum(axis=1)
            cols[code] = _decimal128(np.ascontiguousarray(amount, dtype=np.int64), 2, present)
    cols["total"] = _decimal128(res.total_fen, 2)
    return pa.table(cols)


def lines_table(res: QuoteResult) -> pl.DataFrame:
    """One row per bill line: ``account, start, end`` of its bill and the :data:`LINE_FIELDS`; ``amount`` as
    ``decimal128(38, 2)``, quantity and unit rate as exact decimal strings (their scale varies by line)."""
    lines = _lines_frame(res)
    bill = lines["bill"].to_numpy()
    amount = pl.from_arrow(_decimal128(np.ascontiguousarray(lines["fen"].to_numpy(), dtype=np.int64), 2))
    assert isinstance(amount, pl.Series)
    bills = pl.DataFrame(
        {
            "account": pl.Series(res.accounts, dtype=pl.String).gather(res.account_of_row[bill]),
            "start": pl.Series(res.start.astype("datetime64[D]")[bill]),
            "end": pl.Series(res.end.astype("datetime64[D]")[bill]),
        }
    )
    return pl.concat(
        [bills, lines.select(LINE_FIELDS).with_columns(amount.alias("amount"))], how="horizontal"
    )


def write_lines(res: QuoteResult, path: Path) -> None:
    """Write every bill line to ``path`` (``.csv`` or ``.parquet``, :func:`lines_table`; CSV amounts as exact
    decimal strings)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            lines_table(res).write_parquet(path)
        elif suffix == ".csv":
            lines_table(res).with_columns(pl.col("amount").cast(pl.String)).write_csv(path)
        else:
            raise QuoteInputError(f"{path.name}: unsupported lines output type {suffix!r} (.csv or .parquet)")
    except OSError as exc:
        raise QuoteInputError(f"{path.name}: cannot write: {exc.strerror or exc}") from None


def write_output(res: QuoteResult, path: Path) -> None:
    """Write the bills to ``path``: ``.json`` (the ``--json`` document), ``.csv`` or ``.parquet`` (one row per
    bill, :func:`bills_table`; CSV amounts as exact decimal strings)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            with path.open("wb") as fh:
                write_json(res, fh)
        elif suffix in (".parquet", ".csv"):
            frame = pl.from_arrow(bills_table(res))  # zero-copy; Polars' writers start faster than pyarrow's
            assert isinstance(frame, pl.DataFrame)
            if suffix == ".parquet":
                frame.write_parquet(path)
            else:
                frame.with_columns(pl.col(pl.Decimal).cast(pl.String)).write_csv(path)
        else:
            raise QuoteInputError(
                f"{path.name}: unsupported output type {suffix!r} (.json, .csv or .parquet)"
            )
    except OSError as exc:
        raise QuoteInputError(f"{path.name}: cannot write: {exc.strerror or exc}") from None
