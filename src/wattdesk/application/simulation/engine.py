"""The two engines of a tariff-change simulation (电价调整测算): local (Arrow/Polars) and Apache Spark.

Both read the same determinants export (Parquet, one row per service point and billed period, see
``export.SCHEMA``), rate it with the one pure function ``core.simulation.rate_pair`` through
:func:`rate_stream`, and produce the same per-account table (:func:`account_schema`); the summary
(:func:`summarize`, revenue by class, region and tier, the distribution of bill changes, the most affected
accounts) is computed from that table by the same Polars code whichever engine produced it. Every amount is
int64 fen; nothing is a float.

No Django here: Spark executors import this module (and the pure core) only.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from wattdesk.core.simulation import (
    INPUT_COLUMNS,
    QUANTITY_COLUMNS,
    TOU_KEYS,
    output_columns,
    rate_pair,
    tier_count,
)
from wattdesk.core.tariff import Tariff

#: the determinants export (the boundary between the database and both engines)
INPUT_SCHEMA = pa.schema(
    [
        ("account_id", pa.int64()),
        ("account_number", pa.string()),
        ("customer_class", pa.string()),
        ("region", pa.string()),
        ("period", pa.string()),
        ("start", pa.date32()),
        ("end", pa.date32()),
        *[(c, pa.int64()) for c in QUANTITY_COLUMNS],
        ("pf_standard", pa.int64()),
        ("billed_fen", pa.int64()),
    ]
)

#: bill-change bands (yuan per account over the window) of the distribution, lower bounds inclusive
BANDS_YUAN: tuple[int, ...] = (-1000, -100, -10, -1, 0, 1, 10, 100, 1000)


def account_schema(n_tiers: int) -> pa.Schema:
    """One row per account: its window's bills under both tariffs (fen) and energy charge per tier."""
    return pa.schema(
        [
            ("account_id", pa.int64()),
            ("account_number", pa.string()),
            ("customer_class", pa.string()),
            ("region", pa.string()),
            ("months", pa.int64()),
            ("kwh_units", pa.int64()),
            ("not_billable", pa.int64()),
            ("billed_fen", pa.int64()),
            *[(c, pa.int64()) for c in output_columns(n_tiers) if c != "status"],
        ]
    )


def _numpy_columns(batch: pa.RecordBatch) -> dict[str, np.ndarray[Any, Any]]:
    cols: dict[str, np.ndarray[Any, Any]] = {}
    for name in INPUT_COLUMNS:
        arr = batch.column(name)
        if name in ("start", "end"):
            cols[name] = arr.to_numpy(zero_copy_only=False).astype("datetime64[D]")
        else:
            cols[name] = pc.fill_null(arr, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return cols


def rate_rows(batch: pa.RecordBatch, *, tariff_from: Tariff, tariff_to: Tariff) -> pa.RecordBatch:
    """Per row (service point x period): (account_id, period, bill_from_fen, bill_to_fen, status, tiers...)."""
    rated = rate_pair(_numpy_columns(batch), tariff_from=tariff_from, tariff_to=tariff_to)
    arrays = [batch.column("account_id"), batch.column("period")]
    names = ["account_id", "period"]
    for name, values in rated.items():
        arrays.append(pa.array(values, type=pa.int64()))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _per_account(batch: pa.RecordBatch, rated: pa.RecordBatch, n_tiers: int) -> pa.RecordBatch:
    """Sum an account's rows (its months and service points); rows are ordered by account."""
    inputs = pl.DataFrame(pa.Table.from_batches([batch]))
    amounts = pl.DataFrame(pa.Table.from_batches([rated])).drop("account_id", "period")
    df = inputs.with_columns(amounts)
    tou = [pl.col(f"active_{k}").fill_null(0) for k in TOU_KEYS]
    df = df.with_columns(kwh_units=pl.coalesce(pl.col("active_total"), pl.sum_horizontal(tou)))
    money = [c for c in output_columns(n_tiers) if c != "status"]
    out = df.group_by("account_id", maintain_order=True).agg(
        pl.col("account_number").first(),
        pl.col("customer_class").first(),
        pl.col("region").first(),
        pl.col("period").n_unique().cast(pl.Int64).alias("months"),
        pl.col("kwh_units").sum().cast(pl.Int64),
        (pl.col("status") != 0).sum().cast(pl.Int64).alias("not_billable"),
        pl.col("billed_fen").fill_null(0).sum().cast(pl.Int64),
        *[pl.col(c).sum().cast(pl.Int64) for c in money],
    )
    return (
        out.to_arrow().cast(account_schema(n_tiers)).to_batches()[0]
        if out.height
        else (pa.RecordBatch.from_pylist([], schema=account_schema(n_tiers)))
    )


def rate_stream(
    batches: Iterable[pa.RecordBatch], *, tariff_from: Tariff, tariff_to: Tariff
) -> Iterator[pa.RecordBatch]:
    """Per-account results of a stream of determinant batches ordered by account.

    An account's rows may straddle two batches (Spark's and Parquet's batch sizes know nothing of accounts):
    the rows of the last account of a batch are held back and rated with the next batch, so an account is
    always rated whole (its annual-tier year-to-date kWh needs all its months).
    """
    n_tiers = tier_count(tariff_from, tariff_to)
    carry: pa.RecordBatch | None = None

    def rate(b: pa.RecordBatch) -> pa.RecordBatch:
        return _per_account(b, rate_rows(b, tariff_from=tariff_from, tariff_to=tariff_to), n_tiers)

    for raw in batches:
        batch = raw.select(INPUT_SCHEMA.names).cast(INPUT_SCHEMA) if raw.num_rows else None
        if batch is None:
            continue
        if carry is not None:
            batch = pa.Table.from_batches([carry, batch]).combine_chunks().to_batches()[0]
            carry = None
        ids = batch.column("account_id").to_numpy()
        if ids.size > 1 and bool(np.any(ids[1:] < ids[:-1])):
            raise ValueError("determinant rows are not ordered by account")
        last = ids[-1]
        cut = int(np.searchsorted(ids, last, side="left"))
        if cut == 0:
            carry = batch
            continue
        carry = batch.slice(cut)
        yield rate(batch.slice(0, cut))
    if carry is not None and carry.num_rows:
        yield rate(carry)


# ------------------------------------------------------------------------------------------ local engine


def run_local(
    *, determinants: Path, out: Path, tariff_from: Tariff, tariff_to: Tariff, batch_rows: int = 200_000
) -> Path:
    """Rate the export with Arrow batches in this process; write the per-account Parquet file ``out``."""
    n_tiers = tier_count(tariff_from, tariff_to)
    dataset = pq.ParquetDataset(str(determinants))
    files = sorted(dataset.files)
    out.parent.mkdir(parents=True, exist_ok=True)

    def batches() -> Iterator[pa.RecordBatch]:
        for f in files:  # each file holds a range of accounts, sorted; files in account order
            yield from pq.ParquetFile(f).iter_batches(batch_size=batch_rows)

    with pq.ParquetWriter(str(out), account_schema(n_tiers)) as writer:
        for b in rate_stream(batches(), tariff_from=tariff_from, tariff_to=tariff_to):
            writer.write_batch(b)
    return out


# ------------------------------------------------------------------------------------------ Spark engine


def run_spark(
    *,
    determinants: Path | str,
    out: Path | str,
    tariff_from: Tariff,
    tariff_to: Tariff,
    master: str | None = None,
    partitions: int | None = None,
) -> Path:
    """Rate the export on Apache Spark: ``mapInArrow`` over partitions of accounts, same :func:`rate_stream`.

    Reads the Parquet export (never the database), repartitions it by account and sorts each partition, so
    every account's rows reach one call in order. Writes the per-account Parquet file ``out`` (collected
    through Arrow on the driver for a local path; on a cluster pass a shared ``out`` directory URI).
    ``master``: ``local[2]`` in tests; None = what ``spark-submit`` / ``SPARK_MASTER`` configured.
    """
    from pyspark.sql import SparkSession

    n_tiers = tier_count(tariff_from, tariff_to)
    schema = account_schema(n_tiers)
    builder = SparkSession.builder.appName("wattdesk-simulate")
    if master or os.environ.get("SPARK_MASTER"):
        builder = builder.master(master or os.environ["SPARK_MASTER"])
    # Python workers run this interpreter (where wattdesk is installed) unless told otherwise; on a cluster
    # spark-submit ships an environment and sets PYSPARK_PYTHON (docs/scale.md). Read when Spark starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    df = spark.read.parquet(str(determinants))
    n = partitions or max(2, spark.sparkContext.defaultParallelism)
    df = df.repartition(n, "account_id").sortWithinPartitions("account_id", "start")

    def fn(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from rate_stream(batches, tariff_from=tariff_from, tariff_to=tariff_to)

    rated = df.mapInArrow(fn, _spark_schema(schema)).orderBy("account_id")
    out_path = Path(str(out))
    if "://" in str(out):
        rated.write.mode("overwrite").parquet(str(out))
        return out_path
    out_path.parent.mkdir(parents=True, exist_ok=True)
    table = rated.toArrow().cast(schema)
    pq.write_table(table, str(out_path))
    return out_path


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    return StructType(
        [
            StructField(f.name, StringType() if pa.types.is_string(f.type) else LongType(), True)
            for f in schema
        ]
    )


# ------------------------------------------------------------------------------------------ summary


@dataclass(frozen=True)
class Summary:
    """What the page, the Excel export and the CLI show; every amount in fen (int)."""

    accounts: int
    not_billable_rows: int
    bill_from_fen: int
    bill_to_fen: int
    by_class: list[dict[str, Any]]
    by_region: list[dict[str, Any]]
    by_tier: list[dict[str, Any]]
    distribution: list[dict[str, Any]]
    top_increase: list[dict[str, Any]]
    top_decrease: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _group(df: pl.DataFrame, key: str) -> list[dict[str, Any]]:
    g = (
        df.group_by(key)
        .agg(
            pl.len().alias("accounts"),
            pl.col("bill_from_fen").sum(),
            pl.col("bill_to_fen").sum(),
        )
        .with_columns(change_fen=pl.col("bill_to_fen") - pl.col("bill_from_fen"))
        .sort(key)
    )
    return [{k: (int(v) if isinstance(v, int) else v) for k, v in r.items()} for r in g.iter_rows(named=True)]


def _band_labels() -> list[str]:
    edges = BANDS_YUAN
    labels = [f"< {edges[0]}"]
    labels += [f"[{lo}, {hi})" for lo, hi in itertools.pairwise(edges)]
    labels.append(f">= {edges[-1]}")
    return labels


def summarize(accounts: Path | pl.DataFrame, *, top: int = 20) -> Summary:
    """Revenue change by class, region and tier, the distribution of changes and the most affected accounts."""
    df = pl.read_parquet(accounts) if isinstance(accounts, Path) else accounts
    df = df.with_columns(change_fen=pl.col("bill_to_fen") - pl.col("bill_from_fen"))
    tiers = sorted(
        {int(c[4 : c.index("_")]) for c in df.columns if c.startswith("tier") and c.endswith("_from_fen")}
    )
    by_tier = [
        {
            "tier": t,
            "from_fen": int(df[f"tier{t}_from_fen"].sum()),
            "to_fen": int(df[f"tier{t}_to_fen"].sum()),
            "change_fen": int(df[f"tier{t}_to_fen"].sum()) - int(df[f"tier{t}_from_fen"].sum()),
        }
        for t in tiers
    ]
    edges_fen = [e * 100 for e in BANDS_YUAN]
    idx = np.searchsorted(np.array(edges_fen, dtype=np.int64), df["change_fen"].to_numpy(), side="right")
    counts = np.bincount(idx, minlength=len(edges_fen) + 1)
    distribution = [
        {"band": label, "accounts": int(c)} for label, c in zip(_band_labels(), counts, strict=True)
    ]
    cols = ["account_number", "customer_class", "region", "bill_from_fen", "bill_to_fen", "change_fen"]
    inc = df.filter(pl.col("change_fen") > 0).sort(["change_fen", "account_id"], descending=[True, False])
    dec = df.filter(pl.col("change_fen") < 0).sort(["change_fen", "account_id"], descending=[False, False])
    return Summary(
        accounts=df.height,
        not_billable_rows=int(df["not_billable"].sum()) if df.height else 0,
        bill_from_fen=int(df["bill_from_fen"].sum()) if df.height else 0,
        bill_to_fen=int(df["bill_to_fen"].sum()) if df.height else 0,
        by_class=_group(df, "customer_class"),
        by_region=_group(df, "region"),
        by_tier=by_tier,
        distribution=distribution,
        top_increase=inc.head(top).select(cols).to_dicts(),
        top_decrease=dec.head(top).select(cols).to_dicts(),
    )


def read_accounts(path: Path, *, columns: Sequence[str] | None = None) -> pl.DataFrame:
    return pl.read_parquet(path, columns=list(columns) if columns else None)
