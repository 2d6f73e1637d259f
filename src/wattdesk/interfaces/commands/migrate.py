"""`wattdesk migrate`: create or upgrade the database schema (SQLite file or PostgreSQL).

    wattdesk migrate [--check] [--plan]

Uses WATTDESK_DATABASE_URL (unset: the embedded SQLite file in the data directory). --check exits 1 if
migrations are pending (for deploy scripts); --plan lists them without applying.
"""

from __future__ import annotations

import argparse

NAME = "migrate"
HELP = "create or upgrade the database schema"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 if any migration is not applied")
    group.add_argument("--plan", action="store_true", help="show what would be applied, apply nothing")


def run(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    if args.check:
        try:
            call_command("migrate", check_unapplied=True, plan=True, verbosity=1)
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0
    call_command("migrate", plan=args.plan, interactive=False, verbosity=1)
    return 0
