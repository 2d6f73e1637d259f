"""`wattdesk accounts import FILE`: batch onboarding (批量开户) of customers, accounts, service points, meters
and tariff assignments from a CSV or Excel file. The columns are documented in
``wattdesk.application.customers.onboarding`` and docs/master-data.md. A bad file writes nothing and lists every bad row.

    wattdesk accounts opening-values FILE [--as-of YYYY-MM-DD] [--user NAME]   # 期初示数 from a legacy system
    wattdesk accounts tariff-changes FILE [--user NAME]                        # 批量调整电价, effective-dated

(columns: ``application.metering.opening_values`` and ``application.tariffs.reassign``;
docs/billing-cases/onboarding-and-coverage.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wattdesk.interfaces.cli import UserError
from wattdesk.interfaces.commands._actor import acting_user, add_user_argument
from wattdesk.interfaces.commands._types import iso_date

NAME = "accounts"
HELP = "batch onboarding of customers, accounts, service points and meters (批量开户)"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="import an onboarding file (CSV or .xlsx)")
    imp.add_argument("file", type=Path)
    ov = sub.add_parser(
        "opening-values", help="opening register values and last bill dates from a legacy system"
    )
    ov.add_argument("file", type=Path)
    ov.add_argument(
        "--as-of", type=iso_date, help="today's date for the 'in the future' check (default: today)"
    )
    add_user_argument(ov)
    tc = sub.add_parser("tariff-changes", help="bulk tariff-assignment changes with an effective date")
    tc.add_argument("file", type=Path)
    add_user_argument(tc)


def run(args: argparse.Namespace) -> int:
    from wattdesk.application.customers.onboarding import import_accounts
    from wattdesk.application.tabular import ImportRejected

    if not args.file.is_file():
        raise UserError(f"{args.file}: no such file")
    if args.action == "opening-values":
        return _opening_values(args)
    if args.action == "tariff-changes":
        return _tariff_changes(args)
    try:
        result = import_accounts(path=args.file)
    except ImportRejected as exc:
        for err in exc.errors:
            print(err)
        raise UserError(exc.summary) from exc
    print(result.message)
    return 0


def _opening_values(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from wattdesk.application.metering.opening_values import import_opening_values
    from wattdesk.application.tabular import ImportRejected

    actor = acting_user(args.user, needs=("readings.import",))
    try:
        result = import_opening_values(
            path=args.file,
            as_of=args.as_of or timezone.localdate(),
            imported_at=timezone.now(),
            actor=actor,
        )
    except ImportRejected as exc:
        for err in exc.errors:
            print(err)
        raise UserError(exc.summary) from exc
    print(result.message)
    return 0


def _tariff_changes(args: argparse.Namespace) -> int:
    from wattdesk.application.tabular import ImportRejected
    from wattdesk.application.tariffs.reassign import reassign_tariffs

    actor = acting_user(args.user, needs=("tariffs.edit",))
    try:
        result = reassign_tariffs(path=args.file, actor=actor)
    except ImportRejected as exc:
        for err in exc.errors:
            print(err)
        raise UserError(exc.summary) from exc
    print(result.message)
    return 0
