"""`wattdesk quote`: price an interval load on a tariff (电费试算), no database.

    wattdesk quote --tariff FILE --load FILE [--json] [--calendar real|pysam]
                   [--capacity-kva KVA] [--contract-kw KW]

--tariff is a WattDesk tariff (YAML or JSON, docs/tariffs.md) or a URDB v8 rate record (a JSON object with
``energyratestructure``), detected from the content. --load is CSV or Parquet with columns
``timestamp,kwh`` (+ optional ``kvarh``, ``account``). The default calendar is PySAM's for URDB records
(so bills agree with NREL PySAM) and the real calendar (with public holidays) for WattDesk tariffs.
This module only translates arguments and output; the work is ``wattdesk.application.billing.quote``.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from wattdesk.application.errors import InputError
from wattdesk.interfaces.cli import UserError

NAME = "quote"
HELP = "quote bills for an interval load on a tariff, without the database (电费试算)"
NEEDS_DJANGO = False


def _decimal(text: str) -> Decimal:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not d.is_finite() or d < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number: {text!r}")
    return d


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tariff", required=True, type=Path, help="WattDesk tariff (YAML/JSON) or URDB v8 JSON"
    )
    parser.add_argument("--load", required=True, type=Path, help="interval load, CSV or Parquet")
    parser.add_argument("--json", action="store_true", help="print the bills as JSON")
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


def run(args: argparse.Namespace) -> int:
    from wattdesk.application.billing import quote as uc
    from wattdesk.application.tariffs.reference_data import load_holidays

    try:
        loaded = uc.load_tariff(path=args.tariff)
        loads = uc.read_load(path=args.load)
        semantics = args.calendar or uc.default_semantics(kind=loaded.kind)
        holidays = load_holidays() if semantics == "real" and loaded.tariff.calendar.holidays else None
        quotes = uc.quote(
            tariff=loaded.tariff,
            loads=loads,
            semantics=semantics,
            holidays=holidays,
            capacity_kva=args.capacity_kva,
            contract_kw=args.contract_kw,
            load_name=args.load.name,
        )
    except InputError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        json.dump(uc.quote_to_json(quotes), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    _print_table(quotes, loaded.tariff.name, loaded.tariff.currency, semantics)
    return 0


def _print_table(quotes: tuple[object, ...], tariff_name: str, currency: str, semantics: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from wattdesk.application.billing.quote import AccountQuote

    console = Console()
    for q in quotes:
        assert isinstance(q, AccountQuote)
        title = f"{tariff_name} — account {q.account or '-'} ({semantics} calendar, {currency})"
        table = Table(title=title, show_lines=False)
        for col, justify in (
            ("period", "left"),
            ("line", "left"),
            ("quantity", "right"),
            ("unit", "left"),
            ("rate", "right"),
            ("amount", "right"),
        ):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for p in q.periods:
            label = f"{p.start:%Y-%m}"
            for ln in p.bill.lines:
                table.add_row(
                    label, ln.description, f"{ln.quantity:f}", ln.unit, f"{ln.rate:f}", f"{ln.amount:f}"
                )
                label = ""
            table.add_row(
                "", f"[bold]total ({p.kwh:f} kWh)[/bold]", "", "", "", f"[bold]{p.bill.total:f}[/bold]"
            )
            table.add_section()
        table.add_row("", "[bold]account total[/bold]", "", "", "", f"[bold]{q.total:f}[/bold]")
        console.print(table)
