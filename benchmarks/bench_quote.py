"""`wattdesk quote` as a user runs it (whole process), against NREL PySAM ``Utilityrate5``'s compute alone.

N hourly customer-years (default 5,000, ``_common.hourly_loads``) on a URDB v8 tariff of the issue's shape —
TOU energy 3 periods x 2 tiers + flat demand (two seasons) + a fixed charge per month — built here
(``synthetic_record``) or given with ``--tariff``. The loads are written once (not timed) as:

* wide Parquet (one row per account, ``kwh`` a fixed-size list, Polars defaults: zstd) — the headline — and
  the same with lz4 compression (faster to decode);
* wide Arrow IPC / Feather (uncompressed, memory-mapped by the reader);
* long Parquet (``account, timestamp, kwh``: one row per interval), and long CSV on ``--csv-accounts``
  customers, for information.

Each is timed as ``python -m wattdesk quote --tariff T --load F --output bills.parquet`` (and ``--json >
file`` for the wide Parquet: every line with code, description, quantity, unit, rate, amount and rule; and
``--workers 1`` for the zstd file, the determinants on one thread instead of one per core), a fresh process every time: start-up, imports, loading, rating, writing. Peak
RSS is the child's (``os.wait4`` rusage). PySAM is timed per customer (as in ``bench_rating_kernel.py``) on
``--n-pysam`` customers; its customer-years/s is the peer. Every bill of those customers is checked equal to
PySAM to the cent (PySAM does not round), and the JSON output equal to the Parquet output for every bill.
The previous implementation (exact Decimal path per account + per-object JSON encoding, kept below as
``previous_quote``) is timed in-process on ``--n-baseline`` customers. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import ROOT, hourly_loads, machine

YEAR = 2018  # Jan 1 is a Monday: PySAM's calendar and the real one agree


def synthetic_record() -> dict[str, Any]:
    """A URDB v8 record: weekdays off-peak 0-7h / shoulder 7-16h and 21-24h / peak 16-21h, weekends off-peak;
    each period two tiers (5,000 kWh per month, block tiers on the month's total); flat demand $/kW with a
    summer season (June-September); a fixed charge of $42.50 per month."""
    weekday = [[0] * 7 + [1] * 9 + [2] * 5 + [1] * 3 for _ in range(12)]
    weekend = [[0] * 24 for _ in range(12)]
    return {
        "label": "synthetic-tou3x2",
        "name": "Synthetic TOU 3 periods x 2 tiers + flat demand + fixed",
        "utility": "benchmark",
        "country": "USA",
        "energyweekdayschedule": weekday,
        "energyweekendschedule": weekend,
        "energyratestructure": [
            [{"max": 5000, "rate": 0.0712, "unit": "kWh"}, {"rate": 0.0853, "unit": "kWh"}],
            [{"max": 5000, "rate": 0.1104, "unit": "kWh"}, {"rate": 0.1251, "unit": "kWh"}],
            [{"max": 5000, "rate": 0.1837, "unit": "kWh"}, {"rate": 0.2049, "unit": "kWh"}],
        ],
        "flatdemandstructure": [[{"rate": 11.27}], [{"rate": 14.63}]],
        "flatdemandmonths": [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0],
        "flatdemandunit": "kW",
        "fixedchargefirstmeter": 42.5,
        "fixedchargeunits": "$/month",
    }


def run_pysam(record: dict[str, Any], loads: np.ndarray) -> tuple[float, np.ndarray]:
    """PySAM's compute alone, one ``execute`` per customer-year (set up as in bench_rating_kernel.py)."""
    import PySAM.Utilityrate5 as Utilityrate5
    import PySAM.UtilityRateTools as UtilityRateTools

    rates = UtilityRateTools.URDBv8_to_ElectricityRates(copy.deepcopy(record))  # it changes its input
    n = loads.shape[0]
    bills = np.zeros((n, 12))
    gen = [0.0] * loads.shape[1]
    t0 = time.perf_counter()
    for i in range(n):
        ur = Utilityrate5.new()
        for k, v in rates.items():
            ur.value(k, v)
        ur.value("analysis_period", 1)
        ur.value("system_use_lifetime_output", 0)
        ur.value("inflation_rate", 0)
        ur.value("degradation", [0])
        ur.value("gen", gen)
        ur.value("load", loads[i].tolist())  # hourly kW = hourly kWh
        ur.execute()
        bills[i] = np.asarray(ur.Outputs.utility_bill_wo_sys_ym)[1]
    return time.perf_counter() - t0, bills


def previous_quote(tariff_path: Path, kwh: np.ndarray) -> str:
    """The implementation before issue 10, in-process: exact Decimal determinants and rating per account,
    then the per-object JSON document (with quantity, unit, rate and description per line)."""
    from wattdesk.application.billing.quote import AccountLoad, load_tariff, quote_exact

    loaded = load_tariff(path=tariff_path)
    ts = np.datetime64(f"{YEAR}-01-01T00:00", "m") + np.arange(kwh.shape[1]) * 60
    loads = tuple(
        AccountLoad(account=f"C{i:05d}", timestamps=ts, kwh=kwh[i], kvarh=None) for i in range(len(kwh))
    )
    quotes = quote_exact(tariff=loaded.tariff, load=loads, semantics="pysam")

    def dec(d: Decimal) -> str:
        s = format(d, "f")
        return s.rstrip("0").rstrip(".") if "." in s else s

    doc = {
        "bills": [
            {
                "account": q.account,
                "periods": [
                    {
                        "start": p.start.isoformat(),
                        "end": p.end.isoformat(),
                        "kwh": dec(p.kwh),
                        "lines": [
                            {
                                "code": ln.code,
                                "description": ln.description,
                                "quantity": dec(ln.quantity),
                                "unit": ln.unit,
                                "rate": dec(ln.rate),
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
    return json.dumps(doc, ensure_ascii=False, indent=2)


def timed_child(cmd: list[str], stdout_path: Path | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB of this child, exit code); the child's own rusage via ``os.wait4``."""
    out = stdout_path.open("wb") if stdout_path else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode:
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    finally:
        if stdout_path and not isinstance(out, int):
            out.close()
    return wall, usage.ru_maxrss / 1024, proc.returncode


def load_avg() -> str:
    return "load avg " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def generate(work: Path, n: int, seed: int, csv_accounts: int, long: bool) -> None:
    """Write the load files (wide Parquet, wide Arrow IPC, long Parquet, long CSV) of ``n`` customers."""
    import polars as pl

    kwh = hourly_loads(n=n, steps=8760, seed=seed)
    names = [f"C{i:05d}" for i in range(n)]
    start = np.full(n, np.datetime64(f"{YEAR}-01-01T00:00", "us"))
    wide = pl.DataFrame({"account": names, "start": start, "kwh": kwh})
    wide.write_parquet(work / "wide.parquet")
    wide.write_parquet(work / "wide-lz4.parquet", compression="lz4")
    wide.write_ipc(work / "wide.arrow", compression="uncompressed")
    del wide
    grid = np.datetime64(f"{YEAR}-01-01T00:00", "m") + np.arange(8760) * 60

    def long_frame(k: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "account": np.repeat(np.asarray(names[:k]), 8760),
                "timestamp": np.tile(grid, k).astype("datetime64[us]"),
                "kwh": kwh[:k].ravel(),
            }
        )

    if long:
        long_frame(n).write_parquet(work / "long.parquet")
    if csv_accounts:
        long_frame(min(csv_accounts, n)).write_csv(work / "long.csv", datetime_format="%Y-%m-%d %H:%M")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=5_000, help="hourly customer-years to quote")
    ap.add_argument("--n-pysam", type=int, default=300, help="customers priced by PySAM (peer and check)")
    ap.add_argument("--n-baseline", type=int, default=100, help="customers for the previous implementation")
    ap.add_argument("--csv-accounts", type=int, default=300, help="customers in the long CSV (information)")
    ap.add_argument("--no-long", action="store_true", help="skip the long Parquet run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per file (best of)")
    ap.add_argument(
        "--tariff", type=Path, help="a URDB v8 JSON record (default: the synthetic TOU 3x2 record)"
    )
    ap.add_argument("--workdir", type=Path, help="where the files go (default: a temporary directory)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        generate(args.generate, args.accounts, args.seed, args.csv_accounts, not args.no_long)
        return

    import polars as pl
    import pyarrow.parquet as pq

    tmp = tempfile.TemporaryDirectory(prefix="bench_quote_") if args.workdir is None else None
    work = args.workdir or Path(tmp.name if tmp else ".")
    work.mkdir(parents=True, exist_ok=True)
    record = json.loads(args.tariff.read_text()) if args.tariff else synthetic_record()
    tariff_path = work / "tariff.json"
    tariff_path.write_text(json.dumps(record))
    n = args.accounts
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    t0 = time.perf_counter()
    # The files are written by a child process: a child's peak RSS (ru_maxrss) starts from its parent's
    # resident size at fork, so this process must never hold the N x 8760 matrix.
    gen = [sys.executable, __file__, "--generate", str(work), "--accounts", str(n), "--seed", str(args.seed)]
    gen += ["--csv-accounts", str(args.csv_accounts)] + (["--no-long"] if args.no_long else [])
    subprocess.run(gen, check=True)
    files: list[tuple[str, Path, int]] = [
        ("wide Parquet (zstd)", work / "wide.parquet", n),
        ("wide Parquet (lz4)", work / "wide-lz4.parquet", n),
        ("wide Arrow IPC", work / "wide.arrow", n),
    ]
    if not args.no_long:
        files.append(("long Parquet", work / "long.parquet", n))
    if args.csv_accounts:
        files.append(("long CSV", work / "long.csv", min(args.csv_accounts, n)))
    print(
        f"tariff: {record.get('name')}; {n} synthetic hourly customer-years written in "
        f"{time.perf_counter() - t0:.1f} s (not timed): "
        + ", ".join(f"{p.name} {p.stat().st_size / 2**20:,.0f} MB" for _, p, _ in files)
    )
    sample = max(min(args.n_pysam, n), min(args.n_baseline, n))
    kwh = pl.read_ipc(work / "wide.arrow", n_rows=sample)["kwh"].to_numpy()

    k = min(args.n_pysam, n)
    print(f"\nPySAM Utilityrate5 on {k} customers ... ({load_avg()})", flush=True)
    pysam_s, pysam_bills = run_pysam(record, kwh[:k])
    pysam_cy = k / pysam_s
    print(f"  {pysam_s:.2f} s, {pysam_cy:,.0f} customer-years/s ({load_avg()})")

    b = min(args.n_baseline, n)
    t1 = time.perf_counter()
    previous_quote(tariff_path, kwh[:b])
    base_s = time.perf_counter() - t1
    base_cy = b / base_s
    print(
        f"previous implementation (exact per account + JSON), in-process, {b} customers: {base_s:.2f} s, "
        f"{base_cy:,.0f} customer-years/s ({load_avg()})"
    )

    # As installed (pip compiles a package's modules): byte-code for src/wattdesk, which an environment with
    # PYTHONDONTWRITEBYTECODE=1 would otherwise compile from source in every process.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "wattdesk")], check=True)
    py = (
        str(ROOT / ".venv" / "bin" / "python")
        if (ROOT / ".venv" / "bin" / "python").exists()
        else sys.executable
    )
    base_cmd = [py, "-m", "wattdesk", "quote", "--tariff", str(tariff_path)]
    rows = []
    outputs: dict[str, Path] = {}
    plans: list[tuple[str, Path, int, list[str], Path | None]] = []
    for label, path, cnt in files:
        out = work / f"bills-{path.stem}-{path.suffix[1:]}.parquet"
        outputs[label] = out
        plans.append(
            (f"{label} -> --output .parquet", path, cnt, ["--load", str(path), "--output", str(out)], None)
        )
        if label.startswith("wide Parquet"):
            plans.append(
                (f"{label} -> --json > file", path, cnt, ["--load", str(path), "--json"], work / "bills.json")
            )
        if label == "wide Parquet (zstd)":  # determinants on one thread (default: one per core)
            one = ["--load", str(path), "--output", str(work / "bills-1thread.parquet"), "--workers", "1"]
            plans.append((f"{label} -> .parquet, --workers 1", path, cnt, one, None))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n(this process's peak RSS: {own:,.0f} MB; a child's peak cannot read below its parent's size at fork)"
    )
    print(
        f"{'whole process':48s} {'cust-yrs':>8s} {'best s':>7s} {'cust-yr/s':>10s} {'vs PySAM':>8s} "
        f"{'vs prev':>8s} {'peak RSS':>9s}  load avg"
    )
    for label, _path, cnt, extra, stdout_path in plans:
        best, rss = float("inf"), 0.0
        for _ in range(args.repeat):
            wall, mb, _ = timed_child(base_cmd + extra, stdout_path)
            best, rss = min(best, wall), max(rss, mb)
        cy = cnt / best
        rows.append((label, cy))
        print(
            f"{label:48s} {cnt:8d} {best:7.2f} {cy:10,.0f} {cy / pysam_cy:7.1f}x {cy / base_cy:7.1f}x "
            f"{rss:7,.0f} MB  {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )

    # every bill of the PySAM customers equal to PySAM to the cent; JSON == Parquet for every bill
    table = pq.read_table(outputs["wide Parquet (zstd)"]).to_pydict()
    totals = np.array([float(x) for x in table["total"]]).reshape(n, 12)
    diff = np.abs(totals[:k] - pysam_bills)
    off = int(np.sum(diff > 0.005 + 1e-6))
    ties = int(np.sum((diff > 0.005) & (diff <= 0.005 + 1e-6)))
    print(
        f"\nagreement with PySAM on {k} customers x 12 months: max |ours - PySAM| = {diff.max():.7f} $; "
        f"{off} bills off by more than half a cent + 1e-6 (must be 0); {ties} at a half-cent tie: the two "
        "unrounded bills are within 1e-6 $ of x.xx5 on either side of it (WattDesk splits a period's kWh over "
        "the tiers at 0.0001 kWh, docs/tariffs.md rule 3; PySAM in floats)"
    )
    doc = json.loads((work / "bills.json").read_text())
    json_totals = [p["total"] for bill in doc["bills"] for p in bill["periods"]]
    parquet_totals = [str(x) for x in table["total"]]
    print(
        f"--json vs --output .parquet: {sum(a != b for a, b in zip(json_totals, parquet_totals, strict=True))} "
        f"of {len(json_totals)} bill totals differ (must be 0)"
    )
    for label, out in outputs.items():
        other = pq.read_table(out).to_pydict()
        m = len(other["total"])
        same = [str(x) for x in other["total"]] == parquet_totals[:m]
        print(f"  {label}: {m} bills, {'same' if same else 'DIFFERENT'} totals as the wide Parquet run")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
