"""Rating-kernel throughput: customer-years per second on hourly 8760 loads, against NREL PySAM Utilityrate5.

One real URDB tariff with TOU energy + flat and TOU demand (default sce_gs2_toub.json: 5 energy periods, flat
demand + 3 TOU demand periods, fixed charge), priced by three engines measured in this run:

* PySAM ``Utilityrate5`` (one ``execute`` per customer-year, set up as in NREL's UtilityRatesExample.py);
* WattDesk exact path: ``monthly_determinants`` + ``exact.rate`` per month (Decimal);
* WattDesk vector path: ``monthly_columns_from_load`` on the dense (customers x 8760) matrix + ``rate_columns``
  (int64), timed with and without the determinants step.

Then the three are compared on the customers PySAM priced (max abs monthly difference). Timing is reported,
never asserted. Usage: ``python benchmarks/bench_rating_kernel.py [--n-vector 20000 --n-pysam 100 ...]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import URDB_DIR, hourly_loads, machine

from wattdesk.core.rating.determinants import monthly_determinants
from wattdesk.core.rating.exact import rate
from wattdesk.core.rating.vector import monthly_columns_from_load, rate_columns
from wattdesk.core.urdb import tariff_from_urdb

YEAR = 2018  # non-leap, Jan 1 is a Monday: PySAM's calendar and the real one agree


def run_pysam(record: dict[str, object], loads: np.ndarray) -> tuple[float, np.ndarray]:
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


def run_exact(tariff: object, loads: np.ndarray) -> tuple[float, np.ndarray]:
    n, steps = loads.shape
    ts = np.datetime64(f"{YEAR}-01-01T00:00", "m") + np.arange(steps) * 60
    bills = np.zeros((n, 12))
    t0 = time.perf_counter()
    for i in range(n):
        dets = monthly_determinants(tariff=tariff, timestamps=ts, kwh=loads[i])  # type: ignore[arg-type]
        for m, det in enumerate(dets):
            bills[i, m] = float(rate(tariff=tariff, det=det).total)  # type: ignore[arg-type]
    return time.perf_counter() - t0, bills


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tariff", default="sce_gs2_toub.json", help="URDB record in the fixtures directory")
    ap.add_argument("--n-vector", type=int, default=20_000, help="customers for the vector path")
    ap.add_argument("--n-pysam", type=int, default=100, help="customers for PySAM (and the comparison)")
    ap.add_argument("--n-exact", type=int, default=100, help="customers for the exact path")
    ap.add_argument("--repeat", type=int, default=3, help="vector timings: best of this many runs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    record = json.loads((URDB_DIR / args.tariff).read_text())
    tariff = tariff_from_urdb(record=record)
    steps = 365 * 24
    n = max(args.n_vector, args.n_pysam, args.n_exact)
    t0 = time.perf_counter()
    loads = hourly_loads(n=n, steps=steps, seed=args.seed)
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"tariff: {args.tariff} ({tariff.name}); {n} synthetic hourly loads generated in "
        f"{time.perf_counter() - t0:.1f} s (not timed)"
    )

    pysam_s, pysam_bills = run_pysam(record, loads[: args.n_pysam])
    exact_s, exact_bills = run_exact(tariff, loads[: args.n_exact])

    vec = loads[: args.n_vector]
    best_det = best_rate = float("inf")
    res = None
    for _ in range(args.repeat):
        t1 = time.perf_counter()
        cols = monthly_columns_from_load(tariff=tariff, year=YEAR, kwh=vec, steps_per_hour=1)
        t2 = time.perf_counter()
        res = rate_columns(tariff=tariff, cols=cols)
        t3 = time.perf_counter()
        best_det, best_rate = min(best_det, t2 - t1), min(best_rate, t3 - t2)
    assert res is not None
    vec_bills = res.total_fen.reshape(args.n_vector, 12) / 100.0

    pysam_cy = args.n_pysam / pysam_s
    rows = [
        ("PySAM Utilityrate5", args.n_pysam, pysam_s, pysam_cy),
        ("exact (determinants + Decimal rate)", args.n_exact, exact_s, args.n_exact / exact_s),
        (
            "vector (determinants + rate)",
            args.n_vector,
            best_det + best_rate,
            args.n_vector / (best_det + best_rate),
        ),
        ("vector (rate only)", args.n_vector, best_rate, args.n_vector / best_rate),
        ("vector (determinants only)", args.n_vector, best_det, args.n_vector / best_det),
    ]
    print()
    print(f"{'engine':40s} {'customers':>9s} {'seconds':>9s} {'cust-yr/s':>11s} {'vs PySAM':>9s}")
    for name, cnt, secs, cy in rows:
        print(f"{name:40s} {cnt:9d} {secs:9.3f} {cy:11,.0f} {cy / pysam_cy:8.1f}x")
    print(
        f"(vector timings: best of {args.repeat}; {res.exact_rows.sum()} of {res.exact_rows.size} rows "
        "went to the exact fallback)"
    )

    k = min(args.n_pysam, args.n_exact, args.n_vector)
    d_ev = np.abs(exact_bills[:k] - vec_bills[:k]).max()
    d_ep = np.abs(exact_bills[:k] - pysam_bills[:k]).max()
    d_vp = np.abs(vec_bills[:k] - pysam_bills[:k]).max()
    print()
    print(f"agreement on {k} customers x 12 months (monthly bill, $):")
    print(f"  max |exact - vector| = {d_ev:.4f}   (must be 0: same rounded bill)")
    print(f"  max |exact - PySAM|  = {d_ep:.4f}   (PySAM does not round: <= 0.005 expected)")
    print(f"  max |vector - PySAM| = {d_vp:.4f}")
    mean_bill = Decimal(str(round(float(pysam_bills[:k].mean()), 2)))
    print(f"  mean monthly bill (PySAM) = {mean_bill}")


if __name__ == "__main__":
    main()
