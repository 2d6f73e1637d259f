"""`wattdesk readings ...`: import meter readings, list reading exceptions (抄表导入 / 抄表异常).

    wattdesk readings import FILE [--kind register|interval] [--as-of YYYY-MM-DD]
    wattdesk readings exceptions [--period YYYY-MM] [--all]

Translates only: reads the clock (as_of = today, imported_at = now), calls one use case, prints the result.
A rejected file prints every bad row on stdout, then one error line (exit code 2).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from wattdesk.core.period import Period
from wattdesk.interfaces.cli import UserError

NAME = "readings"
HELP = "meter readings: import register/interval files, list reading exceptions (抄表数据)"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="readings_command", metavar="ACTION", required=True)
    p = sub.add_parser(
        "import", help="import a CSV/.xlsx of register readings or a CSV/Parquet of interval data"
    )
    p.add_argument("file", help="the file to import")
    p.add_argument(
        "--kind", choices=("register", "interval"), help="default: from the extension / CSV header"
    )
    p.add_argument("--as-of", help="today's date for the 'reading in the future' check (default: today)")
    p = sub.add_parser("estimate", help="estimate the missing readings of a period before billing (估抄)")
    p.add_argument("--period", required=True, help="YYYY-MM")
    p = sub.add_parser("exceptions", help="list open reading exceptions")
    p.add_argument("--period", help="YYYY-MM (default: all periods)")
    p.add_argument("--all", action="store_true", help="include resolved ones")


def run(args: argparse.Namespace) -> int:
    if args.readings_command == "import":
        return _import(args)
    if args.readings_command == "estimate":
        return _estimate(args)
    return _exceptions(args)


def _import(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from wattdesk.application.metering.readings_import import import_readings
    from wattdesk.application.tabular import ImportRejected

    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    if path.suffix.lower() not in {".csv", ".xlsx", ".parquet"}:
        raise UserError(f"{path.name}: unsupported file type (use .csv, .xlsx or .parquet)")
    if args.as_of:
        try:
            as_of = date.fromisoformat(args.as_of)
        except ValueError as exc:
            raise UserError(f"--as-of {args.as_of!r} is not a date YYYY-MM-DD") from exc
    else:
        as_of = timezone.localdate()
    try:
        result = import_readings(path=path, kind=args.kind, as_of=as_of, imported_at=timezone.now())
    except ImportRejected as exc:
        for err in exc.errors:
            print(err)
        raise UserError(exc.summary) from exc
    print(result.message)
    return 0


def _estimate(args: argparse.Namespace) -> int:
    from wattdesk.application.metering.estimation import estimate_period

    result = estimate_period(period=args.period)
    print(
        f"{result.period}: {result.estimated} register readings estimated over {result.meters} meters "
        f"({result.no_history} registers without history to estimate from)"
    )
    return 0


def _exceptions(args: argparse.Namespace) -> int:
    from wattdesk.domain.metering.queries import reading_exceptions

    if args.period is not None and not Period.is_valid(args.period):
        raise UserError(f"--period {args.period!r} is not YYYY-MM")
    rows = reading_exceptions(period=args.period, include_resolved=args.all)
    for r in rows:
        where = f"{r.register_kind or '-'} {r.read_on or ''}".strip()
        flag = " (resolved)" if r.resolved else ""
        print(
            f"{r.id}\t{r.period}\t{r.meter_serial}\t{where}\t{r.severity}\t{r.check_code}\t{r.reason}{flag}"
        )
    print(f"{len(rows)} exception(s)")
    return 0
