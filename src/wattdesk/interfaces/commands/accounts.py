"""`wattdesk accounts import FILE`: batch onboarding (批量开户) of customers, accounts, service points, meters
and tariff assignments from a CSV or Excel file. The columns are documented in
``wattdesk.application.customers.onboarding`` and docs/master-data.md. A bad file writes nothing and lists every bad row.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wattdesk.interfaces.cli import UserError

NAME = "accounts"
HELP = "batch onboarding of customers, accounts, service points and meters (批量开户)"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="import an onboarding file (CSV or .xlsx)")
    imp.add_argument("file", type=Path)


def run(args: argparse.Namespace) -> int:
    from wattdesk.application.customers.onboarding import import_accounts
    from wattdesk.application.tabular import ImportRejected

    if not args.file.is_file():
        raise UserError(f"{args.file}: no such file")
    try:
        result = import_accounts(path=args.file)
    except ImportRejected as exc:
        for err in exc.errors:
            print(err)
        raise UserError(exc.summary) from exc
    print(result.message)
    return 0
