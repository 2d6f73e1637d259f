"""`wattdesk tariffs`: the tariff catalog (电价目录).

    wattdesk tariffs import FILE [FILE ...] [--effective-from YYYY-MM-DD]
    wattdesk tariffs import --examples          # the example tariffs shipped in wattdesk/config/tariffs
    wattdesk tariffs list [--on YYYY-MM-DD]
    wattdesk tariffs show CODE [--on YYYY-MM-DD]

Files are WattDesk tariffs (YAML/JSON, docs/tariffs.md) or URDB v8 records. A bad file stores nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wattdesk.interfaces.cli import UserError
from wattdesk.interfaces.commands._types import iso_date

NAME = "tariffs"
HELP = "import, list and show tariff versions (电价目录)"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="validate and publish tariff files")
    imp.add_argument("files", nargs="*", type=Path, help="WattDesk tariff YAML/JSON or URDB v8 JSON")
    imp.add_argument("--examples", action="store_true", help="also import the shipped example tariffs")
    imp.add_argument("--effective-from", type=iso_date, help="for URDB records without a start date")
    lst = sub.add_parser("list", help="list tariff versions")
    lst.add_argument("--on", type=iso_date, help="only versions in force on this date")
    show = sub.add_parser("show", help="print a tariff version's document as JSON")
    show.add_argument("code")
    show.add_argument("--on", type=iso_date, help="the version in force on this date (default: the latest)")


def run(args: argparse.Namespace) -> int:
    from wattdesk.application.tariffs import catalog as uc
    from wattdesk.application.tariffs.reference_data import example_tariff_paths
    from wattdesk.domain.tariffs.queries import version_in_force

    if args.action == "import":
        paths = list(args.files) + (list(example_tariff_paths()) if args.examples else [])
        if not paths:
            raise UserError("give tariff files to import, or --examples")
        for p in uc.import_tariff_files(paths=paths, effective_from=args.effective_from):
            closed = " (closed the previous version)" if p.closed_previous else ""
            print(f"{p.outcome:9} {p.code} from {p.effective_from}{closed}")
        return 0
    if args.action == "list":
        for v in uc.catalog(on=args.on):
            print(f"{v.code:24} {v.effective_from} → {v.effective_to or '…':10} {v.name}")
        return 0
    if args.on is not None:
        version = version_in_force(code=args.code, on=args.on)
    else:
        version = uc.catalog_latest(code=args.code)
    if version is None:
        raise UserError(f"no tariff {args.code!r}" + (f" in force on {args.on}" if args.on else ""))
    json.dump(version.document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0
