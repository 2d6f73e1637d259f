"""`wattdesk synth`: generate a synthetic county into the configured database."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

NAME = "synth"
HELP = "generate a synthetic county (customers, meters, tariffs, readings, interval data) into the database"
NEEDS_DJANGO = True


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {value}")
    return value


def _month(text: str) -> date:
    try:
        y, m = text.split("-")
        return date(int(y), int(m), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a month YYYY-MM: {text!r}") from None


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--accounts", type=_positive, default=20_000, help="number of accounts (default 20000)"
    )
    parser.add_argument(
        "--months", type=_positive, default=13, help="billing months to generate (default 13)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1): same seed, same county")
    parser.add_argument(
        "--interval-share",
        type=_share,
        default=0.05,
        help="share of accounts with hourly interval data (0.05)",
    )
    parser.add_argument(
        "--end-month",
        type=_month,
        default=None,
        help="latest billing month YYYY-MM (default: the last full month before today)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def last_full_month(today: date) -> date:
    """The first day of the month before `today`'s month."""
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)


def run_synth(args: argparse.Namespace, console: Any) -> Any:
    """Migrate, then generate; shared with `wattdesk demo`. Returns the CountySummary."""
    from django.core.management import call_command
    from django.utils import timezone
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from wattdesk.interfaces.cli import UserError
    from wattdesk.synthetic import SynthError, generate_county

    call_command("migrate", verbosity=0)
    end_month = args.end_month or last_full_month(timezone.localdate())
    columns = (TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, disable=bool(getattr(args, "no_progress", False))) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            return generate_county(
                accounts=args.accounts,
                months=args.months,
                seed=args.seed,
                end_month=end_month,
                interval_share=args.interval_share,
                progress=progress,
            )
        except SynthError as exc:
            raise UserError(str(exc)) from None


def print_summary(summary: Any, console: Any) -> None:
    from rich.table import Table

    table = Table(
        title=f"synthetic county: {summary.accounts} accounts, {summary.periods[0]} .. {summary.periods[-1]}"
    )
    table.add_column("what")
    table.add_column("count", justify="right")
    for klass, n in summary.by_class.items():
        table.add_row(f"accounts {klass}", f"{n:,}")
    table.add_row("meters / registers", f"{summary.meters:,} / {summary.registers:,}")
    table.add_row("register readings", f"{summary.readings:,}")
    table.add_row("readings held by VEE", f"{summary.readings_held:,}")
    table.add_row("interval meters / rows", f"{summary.interval_meters:,} / {summary.interval_rows:,}")
    for kind, n in sorted(summary.anomaly_counts.items()):
        table.add_row(f"injected {kind}", f"{n:,}")
    for stage, seconds in summary.timings.items():
        table.add_row(f"time {stage}", f"{seconds:.1f} s")
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=False)
    summary = run_synth(args, console)
    print_summary(summary, console)
    return 0
