"""`wattdesk bank ...`: bank withholding (代扣) files.

    wattdesk bank export --date YYYY-MM-DD --out FILE     the deduction file of the day (same day = same file)
    wattdesk bank import FILE                              the bank's return file (idempotent; bad file: exit 2)

Layouts: docs/bank-withholding.md. The work is ``wattdesk.application.payments.channels.bank_withholding``; this module reads
the clock and the file, calls one use case and prints one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wattdesk.interfaces.cli import UserError
from wattdesk.interfaces.commands._types import iso_date

NAME = "bank"
HELP = "bank withholding (代扣): export the deduction file, import the bank's return file"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bank_command", metavar="ACTION", required=True)
    p = sub.add_parser("export", help="write the deduction file of a day")
    p.add_argument("--date", type=iso_date, required=True, help="the day, YYYY-MM-DD")
    p.add_argument("--out", required=True, help="file to write")
    p = sub.add_parser("import", help="import the bank's return file")
    p.add_argument("file", help="the return file (CSV)")


def run(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from wattdesk.application.payments.channels import bank_withholding as uc

    now = timezone.now()
    if args.bank_command == "export":
        out = Path(args.out)
        if not out.parent.is_dir():
            raise UserError(f"--out: directory {out.parent} does not exist")
        result = uc.export_deductions(day=args.date, file_name=out.name, created_at=now)
        out.write_bytes(result.content)
        again = "" if result.created else " (already exported: same file)"
        print(f"batch {result.batch_no}: {result.lines} lines, total {result.total} -> {out}{again}")
        return 0
    content = uc.read_file(args.file)
    r = uc.import_return(content=content, file_name=Path(args.file).name, imported_at=now)
    if r.outcome == "already_imported":
        print(f"{args.file}: already imported (batch {r.batch_id}); nothing changed")
        return 0
    print(
        f"{args.file}: {r.outcome}: {r.lines} lines, {r.succeeded} succeeded ({r.amount}), {r.failed} failed; "
        f"{r.posted} payments posted, {r.duplicates} already posted"
    )
    return 0
