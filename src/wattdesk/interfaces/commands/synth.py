"""`wattdesk synth`: generate a synthetic county into the configured database — the same living company as
the demo (``wattdesk.synthetic.demo.build_living_county``): customers, meters, tariffs, readings and interval
data, payment outlets and candidate sites, prepaid accounts, a bill history paid by each customer's payment
behaviour with late fees, collectors and visits. ``--no-outlets``, ``--no-prepaid`` and ``--no-payments``
leave parts out. The latest month is left for ``wattdesk bill run`` (the demo bills it)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from wattdesk.interfaces.commands._types import iso_date

NAME = "synth"
HELP = (
    "generate a synthetic county (customers, meters, tariffs, readings, interval data, outlets, prepaid "
    "accounts, bill and payment history) into the database"
)
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
    parser.add_argument(
        "--through",
        type=iso_date,
        default=None,
        help="customers pay their bills through this day YYYY-MM-DD (default: today)",
    )
    parser.add_argument("--no-outlets", action="store_true", help="no payment outlets nor candidate sites")
    parser.add_argument("--no-prepaid", action="store_true", help="no accounts on prepaid fee control (费控)")
    parser.add_argument(
        "--no-payments",
        action="store_true",
        help="no bill history, payments, late fees, collectors nor visits (readings only)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def last_full_month(today: date) -> date:
    """The first day of the month before `today`'s month."""
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)


@contextmanager
def stage_bars(console: Any, *, disable: bool) -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar per stage of a generation (synth, demo): yields the ``progress(stage, done, total)``
    callback the generators report to."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<16}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, disable=disable) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress


def run_synth(args: argparse.Namespace, console: Any) -> Any:
    """Migrate, then build the living company (the demo's code path). Returns the LivingCounty."""
    from django.core.management import call_command
    from django.utils import timezone

    from wattdesk.application.errors import InputError
    from wattdesk.interfaces.cli import UserError
    from wattdesk.synthetic import SynthError
    from wattdesk.synthetic.demo import LivingParts, build_living_county
    from wattdesk.synthetic.outlets import SeedError

    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    end_month = args.end_month or last_full_month(today)
    through = args.through or today
    if through < end_month:
        raise UserError(f"--through {through} is before the latest month {end_month:%Y-%m}")
    parts = LivingParts(
        outlets=not args.no_outlets, prepaid=not args.no_prepaid, payments=not args.no_payments
    )
    with stage_bars(console, disable=bool(getattr(args, "no_progress", False))) as progress:
        try:
            return build_living_county(
                accounts=args.accounts,
                months=args.months,
                seed=args.seed,
                end_month=end_month,
                through=through,
                interval_share=args.interval_share,
                parts=parts,
                progress=progress,
            )
        except (SynthError, SeedError, InputError) as exc:
            raise UserError(str(exc)) from None


def print_summary(living: Any, console: Any) -> None:
    from rich.table import Table

    summary = living.county
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
    if living.outlets is not None:
        table.add_row(
            "payment outlets / candidate sites", f"{living.outlets.outlets} / {living.outlets.candidates}"
        )
    table.add_row("prepaid accounts (费控)", f"{living.prepaid_accounts:,}")
    if living.history is not None:
        periods = f"{living.history.periods[0]}..{living.history.periods[-1]}"
        table.add_row(
            f"bills {periods} billed / issued", f"{living.history.billed:,} / {living.history.issued:,}"
        )
    if living.payments is not None:
        p = living.payments
        table.add_row("payments", f"{p.payments:,} ({p.amount} 元)")
        table.add_row("late fees: bills / total", f"{p.late_fee_bills:,} / {p.late_fee_total} 元")
        table.add_row("collector assignments / visits", f"{p.assignments:,} / {p.visits:,}")
    for stage, seconds in living.timings.items():
        table.add_row(f"time {stage}", f"{seconds:.1f} s")
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=False)
    summary = run_synth(args, console)
    print_summary(summary, console)
    return 0
