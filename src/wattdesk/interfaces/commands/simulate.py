"""`wattdesk simulate`: re-rate every account's last months under the current and a proposed tariff
(电价调整测算) and report the revenue change by class, region and tier, the distribution of bill changes and the
most affected customers.

    wattdesk simulate --tariff-from CURRENT --tariff-to PROPOSED [--months 12] [--up-to YYYY-MM]
                      [--engine local|spark] [--spark-master local[2]] [--json] [--excel FILE] [--user U]

A tariff is a code of the database (``CODE`` = the version in force after the window, ``CODE@VERSION``) or
a tariff file (YAML/JSON, as ``wattdesk quote`` reads). The command runs inline (the page queues the same
use case as a task); the run, its summary and its per-account Parquet file stay for the simulation page.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wattdesk.interfaces.cli import UserError
from wattdesk.interfaces.commands._actor import acting_user, add_user_argument

NAME = "simulate"
HELP = "tariff-change simulation: re-rate the last months under two tariffs (电价调整测算)"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tariff-from", required=True, help="current tariff: CODE, CODE@VERSION or a file")
    parser.add_argument("--tariff-to", required=True, help="proposed tariff: CODE, CODE@VERSION or a file")
    parser.add_argument("--months", type=int, default=12, help="issued periods to re-rate (default 12)")
    parser.add_argument("--up-to", help="last period YYYY-MM of the window (default: latest issued)")
    parser.add_argument("--engine", choices=("local", "spark"), default="local", help="default local")
    parser.add_argument("--spark-master", help="Spark master for --engine spark, e.g. local[2]")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--excel", type=Path, help="also write the report as an Excel workbook")
    add_user_argument(parser)


def _print(run: object) -> None:
    from wattdesk.application.simulation.simulate import yuan

    s = run.summary  # type: ignore[attr-defined]
    change = s["bill_to_fen"] - s["bill_from_fen"]
    print(
        f"simulation {run.pk}: {s['accounts']} accounts, {len(s['periods'])} periods "  # type: ignore[attr-defined]
        f"{s['periods'][0]}..{s['periods'][-1]}"
    )
    print(
        f"revenue current {yuan(s['bill_from_fen'])}  proposed {yuan(s['bill_to_fen'])}  change {yuan(change)}"
    )
    if s["not_billable_rows"]:
        print(f"not billable under one of the tariffs (left out): {s['not_billable_rows']} account-periods")
    for title, key, label in (
        ("by class", "by_class", "customer_class"),
        ("by region", "by_region", "region"),
    ):
        print(title + ":")
        for r in s[key]:
            print(
                f"  {r[label] or '-':<16} {r['accounts']:>9}  {yuan(r['bill_from_fen']):>16} -> "
                f"{yuan(r['bill_to_fen']):>16}  {yuan(r['change_fen']):>14}"
            )
    print("energy by tier:")
    for r in s["by_tier"]:
        print(
            f"  tier {r['tier']}  {yuan(r['from_fen']):>16} -> {yuan(r['to_fen']):>16}  {yuan(r['change_fen']):>14}"
        )
    print("accounts by change (yuan):")
    for r in s["distribution"]:
        print(f"  {r['band']:<16} {r['accounts']:>9}")
    for title, key in (("largest increases", "top_increase"), ("largest decreases", "top_decrease")):
        if s[key]:
            print(title + ":")
            for r in s[key][:10]:
                print(f"  {r['account_number']:<14} {r['customer_class']:<12} {yuan(r['change_fen']):>12}")


def run(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from wattdesk.application.errors import InputError
    from wattdesk.application.simulation import simulate as uc
    from wattdesk.domain.access import roles

    user = acting_user(args.user, needs=(roles.TARIFFS_SIMULATE,))
    try:
        sim = uc.start_simulation(
            tariff_from=args.tariff_from,
            tariff_to=args.tariff_to,
            months=args.months,
            up_to=args.up_to,
            engine=args.engine,
            actor=user,
            now=timezone.now(),
        )
        sim = uc.execute_simulation(
            run_id=sim.pk,
            clock=timezone.now,
            spark_master=args.spark_master,
            progress=None if args.json else (lambda m: print(m, file=sys.stderr)),
        )
    except InputError as exc:
        raise UserError(str(exc)) from None
    except Exception as exc:  # the run is recorded as failed with the error; one line here
        raise UserError(
            f"simulation failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        ) from None
    if args.excel:
        args.excel.write_bytes(uc.excel(sim))
    if args.json:
        json.dump({"run": sim.pk, **sim.summary}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        _print(sim)
    return 0
