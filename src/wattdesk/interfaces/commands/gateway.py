"""`wattdesk gateway ...`: the mobile / online payment channel.

    wattdesk gateway reconcile --file statement-2026-11-27.csv --date 2026-11-27 [--json]
    wattdesk gateway expire [--hours 24]      unpaid orders older than that become expired

Lists every difference between the gateway's daily statement (对账单) and the mobile payments WattDesk posted
that day; exit code 0 when they agree, 1 when there are mismatches, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wattdesk.interfaces.cli import UserError
from wattdesk.interfaces.commands._types import iso_date

NAME = "gateway"
HELP = "mobile / online payments: reconcile the gateway's daily statement (对账)"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="gateway_command", metavar="ACTION", required=True)
    p = sub.add_parser("reconcile", help="compare the gateway's statement file for a day with WattDesk")
    p.add_argument("--file", type=Path, required=True, help="statement CSV: txn_id,order_no,amount,paid_at")
    p.add_argument("--date", type=iso_date, required=True, help="the statement's day, YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print the mismatches as JSON")
    p = sub.add_parser("expire", help="expire payment orders left unpaid for more than --hours")
    p.add_argument("--hours", type=int, default=24, help="age in hours (default 24)")


def run(args: argparse.Namespace) -> int:
    from wattdesk.application.payments.channels.gateway import expire_orders, reconcile

    if args.gateway_command == "expire":
        from datetime import timedelta

        from django.utils import timezone

        if args.hours < 1:
            raise UserError(f"--hours must be >= 1, got {args.hours}")
        n = expire_orders(before=timezone.now() - timedelta(hours=args.hours))
        print(f"{n} order(s) expired")
        return 0
    mismatches = reconcile(statement_path=args.file, day=args.date)
    if args.json:
        rows = [
            {
                "kind": m.kind,
                "txn_id": m.txn_id,
                "order_no": m.order_no,
                "statement_amount": None if m.statement_amount is None else str(m.statement_amount),
                "wattdesk_amount": None if m.wattdesk_amount is None else str(m.wattdesk_amount),
                "detail": m.detail,
            }
            for m in mismatches
        ]
        print(json.dumps({"date": args.date.isoformat(), "mismatches": rows}, ensure_ascii=False))
    else:
        for m in mismatches:
            print(
                f"{m.kind}\t{m.txn_id}\t{m.order_no}\tstatement {m.statement_amount}\twattdesk {m.wattdesk_amount}\t{m.detail}"
            )
        print(f"{args.date}: {len(mismatches)} mismatch(es)")
    return 1 if mismatches else 0
