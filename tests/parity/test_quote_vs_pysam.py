"""`wattdesk quote` (the vector engine, every account at once) agrees with NREL PySAM on every monthly bill of
the 16 URDB tariffs: one wide Arrow file with a residential, an industrial and a 15-minute industrial account
(per-account series path) and the hourly two as a dense matrix, through the CLI, every bill to the cent."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from .conftest import pysam_monthly_bills
from .test_urdb_vs_pysam import FILES, Loads

START = np.datetime64("2018-01-01T00:00", "us")


def quote_cli(tariff: Path, load: Path) -> dict[str, list[Decimal]]:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from wattdesk.interfaces.cli import main; sys.exit(main())",
            "quote",
            "--tariff",
            str(tariff),
            "--load",
            str(load),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return {
        b["account"]: [Decimal(p["total"]) for p in b["periods"]] for b in json.loads(proc.stdout)["bills"]
    }


@pytest.fixture(scope="module")
def wide_files(tmp_path_factory: pytest.TempPathFactory, loads: Loads) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("wide")
    hourly = pl.DataFrame(
        {
            "account": ["RES", "IND"],
            "start": np.full(2, START),
            "kwh": np.stack([loads["residential"][1], loads["industrial"][1]]),
        }
    )
    hourly.write_ipc(d / "hourly.arrow")
    # different steps: not one grid, so each account goes through the per-account series path
    mixed = pl.DataFrame(
        {
            "account": ["RES", "IND15"],
            "start": np.full(2, START),
            "step_minutes": [60, 15],
            "kwh": [loads["residential"][1].tolist(), loads["industrial_15min"][1].tolist()],
        }
    )
    mixed.write_parquet(d / "mixed.parquet")
    return d / "hourly.arrow", d / "mixed.parquet"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector_quote_matches_pysam(path: Path, loads: Loads, wide_files: tuple[Path, Path]) -> None:
    record = json.loads(path.read_text())
    hourly, mixed = wide_files
    expected = {
        "RES": pysam_monthly_bills(record, loads["residential"][1]),
        "IND": pysam_monthly_bills(record, loads["industrial"][1]),
        "IND15": pysam_monthly_bills(record, loads["industrial_15min"][1] * 4),
    }
    dense, series = quote_cli(path, hourly), quote_cli(path, mixed)
    assert dense["RES"] == series["RES"]  # the dense matrix and the per-account path give the same bills
    got = dense | series
    assert set(got) == set(expected)
    for account, bills in got.items():
        diff = np.abs(np.array([float(x) for x in bills]) - expected[account])
        assert len(bills) == 12 and diff.max() <= 0.01, (account, diff.round(4))
