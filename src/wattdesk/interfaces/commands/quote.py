"""`wattdesk quote`: price an interval load on a tariff (电费试算), no database.

    wattdesk quote --tariff FILE --load FILE [--json] [--output FILE.{json,csv,parquet}] [--lines FILE.{csv,parquet}]
                   [--calendar real|pysam] [--capacity-kva KVA] [--contract-kw KW] [--workers N]

--tariff is a WattDesk tariff (YAML or JSON, docs/tariffs.md) or a URDB v8 rate record (a JSON object with
``energyratestructure``), detected from the content. --load is CSV, Parquet or Arrow IPC, long
(``timestamp,kwh`` + optional ``kvarh``, ``account``) or wide (one row per account, ``kwh`` a list column and
``start``); see docs/tariffs.md "Load files". The default calendar is PySAM's for URDB records (so bills agree
with NREL PySAM) and the real calendar (with public holidays) for WattDesk tariffs.
This module only translates arguments and output; the work is ``wattdesk.application.billing.quote``.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from wattdesk.application.errors import InputError
from wattdesk.interfaces.cli import UserError

NAME = "quote"
HELP = "quote bills for an interval load on a tariff, without the database (电费试算)"
NEEDS_DJANGO = False
TABLE_LIMIT = 20
"""Accounts printed as tables without --json/--output (the rest are summarised)."""


def _decimal(text: str) -> Decimal:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not d.is_finite() or d < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number: {text!r}")
    return d


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return n


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tariff", required=True, type=Path, help="WattDesk tariff (YAML/JSON) or URDB v8 JSON"
    )
    parser.add_argument(
        "--load", required=True, type=Path, help="interval load: CSV, Parquet or Arrow IPC (long or wide)"
    )
    parser.add_argument("--json", action="store_true", help="print the bills as JSON")
    parser.add_argument(
        "--output",
        type=Path,
        help="write the bills to FILE: .json (as --json), .csv or .parquet (one row per bill)",
    )
    parser.add_argument(
        "--lines",
        type=Path,
        help="write every bill line to FILE: .csv or .parquet (account, start, end, code, description, "
        "quantity, unit, rate, amount, rule)",
    )
    parser.add_argument(
        "--calendar",
        choices=("real", "pysam"),
        help="day types: real calendar with holidays, or PySAM's (Jan 1 = Monday); "
        "default pysam for URDB tariffs, real for WattDesk tariffs",
    )
    parser.add_argument(
        "--capacity-kva", type=_decimal, help="contract capacity kVA (基本电费按容量, 260 rule)"
    )
    parser.add_argument("--contract-kw", type=_decimal, help="contract maximum demand kW (合同最大需量)")
    parser.add_argument(
        "--workers",
        type=_positive_int,
        help="threads for the monthly determinants of a whole-year load (default: one per core)",
    )


def run(args: argparse.Namespace) -> int:
    from wattdesk.application.billing import quote as uc

    try:
        if args.output is not None and args.output.suffix.lower() not in (".json", ".csv", ".parquet"):
            raise uc.QuoteInputError(
                f"{args.output.name}: unsupported output type {args.output.suffix!r} (.json, .csv or .parquet)"
            )
        if args.lines is not None and args.lines.suffix.lower() not in (".csv", ".parquet"):
            raise uc.QuoteInputError(
                f"{args.lines.name}: unsupported lines output type {args.lines.suffix!r} (.csv or .parquet)"
            )
        loaded = uc.load_tariff(path=args.tariff)
        load = uc.read_load(path=args.load)
        semantics = args.calendar or uc.default_semantics(kind=loaded.kind)
        holidays = None
        if semantics == "real" and loaded.tariff.calendar.holidays:
            from wattdesk.application.tariffs.reference_data import load_holidays

            holidays = load_holidays()
        result = uc.quote(
            tariff=loaded.tariff,
            load=load,
            semantics=semantics,
            holidays=holidays,
            capacity_kva=args.capacity_kva,
            contract_kw=args.contract_kw,
            load_name=args.load.name,
            workers=args.workers,
        )
        if args.output is not None:
            uc.write_output(result, args.output)
        if args.lines is not None:
            uc.write_lines(result, args.lines)
    except InputError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a text-only stream (redirected in-process)
            sys.stdout.write(uc.quote_json(result))
            return 0
        sys.stdout.flush()
        uc.write_json(result, binary)
        binary.flush()
        return 0
    if args.output is None and args.lines is None:
        _print_table(result, loaded.tariff.name, loaded.tariff.currency, semantics)
    return 0


def _print_table(result: object, tariff_name: str, currency: str, semantics: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from wattdesk.application.billing.quote import QuoteResult

    assert isinstance(result, QuoteResult)
    console = Console()
    rows_of: dict[int, list[int]] = {}
    for i, a in enumerate(result.account_of_row.tolist()):
        rows_of.setdefault(a, []).append(i)
    for a, acct in enumerate(result.accounts[:TABLE_LIMIT]):
        title = f"{tariff_name} — account {acct or '-'} ({semantics} calendar, {currency})"
        table = Table(title=title, show_lines=False)
        table.add_column("period")
        table.add_column("line")
        table.add_column("amount", justify="right")
        total = Decimal("0.00")
        for i in rows_of.get(a, []):
            label = f"{str(result.start[i])[:7]}"
            for code, amount in result.lines(i):
                table.add_row(label, code, f"{amount:f}")
                label = ""
            kwh = Decimal(int(result.kwh_units[i])).scaleb(-4).normalize()
            table.add_row("", f"[bold]total ({kwh:f} kWh)[/bold]", f"[bold]{result.total(i):f}[/bold]")
            table.add_section()
            total += result.total(i)
        table.add_row("", "[bold]account total[/bold]", f"[bold]{total:f}[/bold]")
        console.print(table)
    if len(result.accounts) > TABLE_LIMIT:
        console.print(
            f"… {len(result.accounts) - TABLE_LIMIT} more accounts: use --json or --output FILE for all of them"
        )
