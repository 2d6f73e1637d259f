"""`wattdesk outlets`: payment-outlet coverage and planning (网点规划).

    wattdesk outlets coverage --radius-km D [--json]
    wattdesk outlets plan --k K --radius-km D [--relocate R] [--objective coverage|median] [--cell-km C] [--json]
    wattdesk outlets seed [--seed N]

``plan --json`` prints {"before": {"coverage", "mean_km", ...}, "after": {...}, "sites": [...], ...}.
Numbers are validated here and by the use case; bad values exit 2 with one line. The work is
``wattdesk.application.outlets.planning``; ``seed`` is ``wattdesk.synthetic.outlets.seed_outlets``.
"""

from __future__ import annotations

import argparse
import json
import math

from wattdesk.interfaces.cli import UserError

NAME = "outlets"
HELP = "payment-outlet coverage and planning (网点规划): coverage, plan, seed"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    cov = sub.add_parser("coverage", help="share of customers within D km of an outlet, mean distance")
    cov.add_argument("--radius-km", required=True, help="coverage radius D in km")
    cov.add_argument("--json", action="store_true", help="print JSON")

    plan = sub.add_parser("plan", help="best k new sites (or a relocation) by MCLP / p-median (HiGHS)")
    plan.add_argument("--k", required=True, help="number of new outlets to open")
    plan.add_argument("--radius-km", required=True, help="coverage radius D in km")
    plan.add_argument("--relocate", default="0", help="close up to R existing outlets and open R more (0)")
    plan.add_argument(
        "--objective",
        default="coverage",
        help="coverage (MCLP, ties by mean distance; default) or median (p-median: mean distance)",
    )
    plan.add_argument("--cell-km", default="0.5", help="demand grid cell in km (0.5; 0 = exact premises)")
    plan.add_argument("--json", action="store_true", help="print JSON")

    seed = sub.add_parser("seed", help="outlets and candidate sites for the synthetic county")
    seed.add_argument("--seed", default="1", help="random seed (1)")


def _int(name: str, text: str, lo: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{name} must be an integer: {text!r}") from None
    if value < lo:
        raise UserError(f"{name} must be at least {lo}: {value}")
    return value


def _km(name: str, text: str, *, zero: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name} must be a number of km: {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise UserError(f"{name} must be a {'non-negative' if zero else 'positive'} number of km: {text!r}")
    return value


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _km_text(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} km"


def run(args: argparse.Namespace) -> int:
    from wattdesk.application.outlets import planning as uc

    if args.action == "coverage":
        report = uc.coverage(radius_km=_km("--radius-km", args.radius_km))
        if args.json:
            out = {"radius_km": report.radius_km, **report.figures.to_json(), "outlets": len(report.outlets)}
            print(json.dumps(out, ensure_ascii=False))
            return 0
        f = report.figures
        print(
            f"{len(report.outlets)} outlets, {f.customers} customers: {_pct(f.coverage)} within "
            f"{report.radius_km:g} km ({f.covered}), mean distance {_km_text(f.mean_km)}"
        )
        return 0
    if args.action == "plan":
        objective = args.objective
        if objective not in ("coverage", "median"):
            raise UserError(f"--objective must be coverage or median: {objective!r}")
        plan = uc.plan(
            k=_int("--k", args.k, 0),
            radius_km=_km("--radius-km", args.radius_km),
            relocate=_int("--relocate", args.relocate, 0),
            objective=objective,
            cell_km=_km("--cell-km", args.cell_km, zero=True),
        )
        if args.json:
            print(json.dumps(plan.to_json(), ensure_ascii=False))
            return 0
        d = plan.radius_km
        print(f"before: {_pct(plan.before.coverage)} within {d:g} km, mean {_km_text(plan.before.mean_km)}")
        print(f"after:  {_pct(plan.after.coverage)} within {d:g} km, mean {_km_text(plan.after.mean_km)}")
        for s in plan.sites:
            print(f"  open  {s.code} {s.name} ({s.lat:.5f}, {s.lon:.5f})")
        for s in plan.closed:
            print(f"  close {s.code} {s.name} ({s.lat:.5f}, {s.lon:.5f})")
        return 0
    if args.action == "seed":
        from wattdesk.synthetic.outlets import seed_outlets

        summary = seed_outlets(seed=_int("--seed", args.seed, 0))
        print(f"seeded {summary.outlets} payment outlets and {summary.candidates} candidate sites")
        return 0
    raise UserError("choose an action: coverage, plan or seed")
