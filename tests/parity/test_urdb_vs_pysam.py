"""Our exact path on URDB tariffs agrees with NREL PySAM Utilityrate5 on every monthly bill to 0.01."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from wattdesk.core.rating.determinants import monthly_determinants
from wattdesk.core.rating.exact import rate_periods
from wattdesk.core.urdb import tariff_from_urdb

from .conftest import pysam_monthly_bills, timestamps

# A committed copy of shared/data/urdb-tariffs (16 real URDB v8 records; SOURCES.md says where each is from).
TARIFFS = Path(__file__).resolve().parents[1] / "fixtures" / "urdb-tariffs"
FILES = sorted(TARIFFS.glob("*.json"))
Loads = dict[str, tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64], int]]


def ours(
    record: dict[str, Any], ts: npt.NDArray[np.datetime64], kwh: npt.NDArray[np.float64]
) -> list[Decimal]:
    t = tariff_from_urdb(record=record)
    dets = monthly_determinants(tariff=t, timestamps=ts, kwh=kwh)
    return [b.total for b in rate_periods(tariff=t, dets=dets)]


def test_all_sixteen_fixtures_are_present() -> None:
    assert len(FILES) == 16


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
@pytest.mark.parametrize("load", ["residential", "industrial"])
def test_monthly_bills_match_pysam(path: Path, load: str, loads: Loads) -> None:
    record = json.loads(path.read_text())
    ts, kwh, sph = loads[load]
    expected = pysam_monthly_bills(record, kwh * sph)
    got = np.array([float(x) for x in ours(record, ts, kwh)])
    assert len(got) == 12
    assert np.max(np.abs(got - expected)) <= 0.01, (got - expected).round(4)
    assert expected.sum() > 0


@pytest.mark.parametrize("name", ["fpl_gsld1", "sce_tou8_d", "pge_e19_s", "scppd_lp1", "entergy_ar_pst"])
def test_fifteen_minute_load_matches_pysam(name: str, loads: Loads) -> None:
    record = json.loads((TARIFFS / f"{name}.json").read_text())
    ts, kwh, sph = loads["industrial_15min"]
    expected = pysam_monthly_bills(record, kwh * sph)
    got = np.array([float(x) for x in ours(record, ts, kwh)])
    assert np.max(np.abs(got - expected)) <= 0.01


def test_quote_cli_json_matches_pysam(tmp_path: Path, loads: Loads) -> None:
    ts, kwh, _ = loads["industrial"]
    load_file = tmp_path / "load.csv"
    with load_file.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account", "timestamp", "kwh"])
        for t, k in zip(ts, kwh, strict=True):
            w.writerow(["PLANT-1", str(t).replace("T", " "), f"{k:.4f}"])
    tariff_file = TARIFFS / "sce_tou8_d.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from wattdesk.interfaces.cli import main; sys.exit(main())",
            "quote",
            "--tariff",
            str(tariff_file),
            "--load",
            str(load_file),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    (bill,) = doc["bills"]
    assert bill["account"] == "PLANT-1"
    assert [p["start"] for p in bill["periods"]][:2] == ["2018-01-01", "2018-02-01"]
    assert bill["periods"][-1]["end"] == "2019-01-01"
    totals = np.array([float(p["total"]) for p in bill["periods"]])
    expected = pysam_monthly_bills(json.loads(tariff_file.read_text()), kwh)
    assert np.max(np.abs(totals - expected)) <= 0.01
    for p in bill["periods"]:
        assert Decimal(p["total"]) == sum(Decimal(ln["amount"]) for ln in p["lines"])
    assert Decimal(bill["total"]) == sum(Decimal(p["total"]) for p in bill["periods"])


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_unrounded_fifteen_minute_load_matches_pysam(path: Path) -> None:
    """Interval values with full float precision (as a meter-data export or another program writes them):
    our 0.0001 quantization of kWh and of kW must stay inside PySAM's 0.01 on every month."""
    rng = np.random.default_rng(2029)
    ts = timestamps(4)
    hour = (np.arange(ts.size) / 4) % 24
    kwh = (60 + 200 * ((hour >= 8) & (hour < 20)) + rng.gamma(2.0, 15.0, ts.size)) / 4 / 3.0
    record = json.loads(path.read_text())
    expected = pysam_monthly_bills(record, kwh * 4)
    got = np.array([float(x) for x in ours(record, ts, kwh)])
    assert np.max(np.abs(got - expected)) <= 0.01, (got - expected).round(4)
