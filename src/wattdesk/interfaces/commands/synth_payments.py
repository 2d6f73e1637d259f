"""`wattdesk synth-payments`: a year of bills and payment behaviour for the demo county.

    wattdesk synth-payments --seed S [--through YYYY-MM-DD] [--bill-months N] [--no-late-fees]

Bills and issues the N months before the latest billed one (``bill_history``; 0 skips it), then pays them by
each customer's payment profile in bulk, accrues late fees for ``--through`` and writes collector assignments,
visits and complaints (``generate_payment_history``). This module only translates arguments and prints.
"""

from __future__ import annotations

import argparse

from wattdesk.interfaces.commands._types import iso_date

NAME = "synth-payments"
HELP = "demo: a year of bills, payments by customer profile, collector assignments and visits (缴费行为模拟)"
NEEDS_DJANGO = True


def _months(text: str) -> int:
    try:
        n = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if not 0 <= n <= 36:
        raise argparse.ArgumentTypeError("must be 0 to 36")
    return n


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, required=True, help="random seed (same seed, same payments)")
    parser.add_argument(
        "--through", type=iso_date, default=None, help="pay through this day (default: today)"
    )
    parser.add_argument(
        "--bill-months",
        type=_months,
        default=12,
        help="months of bill history before paying (default 12, 0: none)",
    )
    parser.add_argument("--no-late-fees", action="store_true", help="do not accrue late fees for --through")


def run(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from wattdesk.application.errors import InputError
    from wattdesk.interfaces.cli import UserError
    from wattdesk.synthetic.payments import bill_history, generate_payment_history

    through = args.through or timezone.localdate()
    try:
        if args.bill_months:
            h = bill_history(months=args.bill_months)
            print(
                f"bill history {h.periods[0]}..{h.periods[-1]}: {h.billed} billed, {h.issued} issued "
                f"in {h.elapsed_s:.1f} s"
            )
        r = generate_payment_history(seed=args.seed, through=through, late_fees=not args.no_late_fees)
    except InputError as exc:
        raise UserError(str(exc)) from exc
    channels = ", ".join(f"{k} {v}" for k, v in r.by_channel.items())
    print(f"payments: {r.payments} ({r.amount} 元; {channels}), allocations {r.allocations}")
    print(f"late fees through {through}: {r.late_fee_bills} bills, {r.late_fee_total} 元")
    print(f"collectors: {r.assignments} assignments, {r.visits} visits, {r.complaints} complaints")
    print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items()))
    return 0
