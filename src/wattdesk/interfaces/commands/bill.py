"""`wattdesk bill ...`: run a billing cycle, review held bills, issue, cancel.

    wattdesk bill run     --period YYYY-MM [--route R] [--batch-size N] [--allow-empty]
    wattdesk bill status  RUN_ID
    wattdesk bill resume  RUN_ID        (a stalled run: its process died; same run, next attempt)
    wattdesk bill restart RUN_ID        (abandon a stalled run, start a new run of its period)
    wattdesk bill review  --period YYYY-MM
    wattdesk bill approve BILL_ID [--note TEXT] [--user U]
    wattdesk bill hold    BILL_ID --reason TEXT [--user U]
    wattdesk bill issue   --period YYYY-MM [--route R] [--include-held-approved] [--due-days N] [--user U]
    wattdesk bill cancel  (--bill ID | --account N --period YYYY-MM) --reason TEXT [--user U]

This module only translates: it reads the clock (the one place that does), names the acting user (``--user``
or ``WATTDESK_USER``), calls one use case (``application.billing.launch`` for runs,
``application.billing.review`` for review, approve, hold, issue and cancel — which take the lock and write the
audit entry, exactly as for the web page and the API) and prints the result. A rich progress bar is shown on a
terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wattdesk.interfaces.cli import UserError
from wattdesk.interfaces.commands._actor import acting_user, add_user_argument

NAME = "bill"
HELP = "billing: run a period, review held bills, issue, cancel (核算 / 审核 / 发行 / 作废)"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bill_command", metavar="ACTION", required=True)

    p = sub.add_parser("run", help="compute, rate and post the bills of a period (resumable)")
    p.add_argument("--period", required=True, help="billing period YYYY-MM")
    p.add_argument("--route", help="reading route code (抄表段); default: all routes")
    p.add_argument("--batch-size", type=int, default=None, help="accounts per transaction (default 10000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    p.add_argument(
        "--allow-empty", action="store_true", help="run even if the period has no meter readings at all"
    )
    add_user_argument(p)

    p = sub.add_parser("status", help="a billing run's state (stalled when its process died) and progress")
    p.add_argument("run_id", type=int, help="billing run id")
    p = sub.add_parser("resume", help="resume a stalled billing run in this process (committed batches stay)")
    p.add_argument("run_id", type=int, help="billing run id")
    p.add_argument("--batch-size", type=int, default=None, help="accounts per transaction (default 10000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    add_user_argument(p)
    p = sub.add_parser(
        "restart", help="abandon a stalled billing run and run its period anew in this process"
    )
    p.add_argument("run_id", type=int, help="billing run id")
    p.add_argument("--batch-size", type=int, default=None, help="accounts per transaction (default 10000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    add_user_argument(p)

    p = sub.add_parser("review", help="list the bills held for review in a period")
    p.add_argument("--period", required=True, help="billing period YYYY-MM")
    p.add_argument("--limit", type=int, default=200, help="at most this many rows (default 200)")

    p = sub.add_parser("approve", help="approve a held bill after review (it becomes issuable)")
    p.add_argument("bill_id", type=int, help="bill id")
    p.add_argument("--note", default="", help="the reviewer's note (audited)")
    add_user_argument(p)

    p = sub.add_parser(
        "hold", help="hold a draft bill for review, or keep a held bill on hold, with a reason"
    )
    p.add_argument("bill_id", type=int, help="bill id")
    p.add_argument("--reason", required=True, help="why the bill is held (audited)")
    add_user_argument(p)

    p = sub.add_parser("issue", help="issue (freeze) the draft bills of a period")
    p.add_argument("--period", required=True, help="billing period YYYY-MM")
    p.add_argument("--route", help="reading route code; default: all routes")
    p.add_argument(
        "--include-held-approved",
        action="store_true",
        help="also issue bills that were held and then approved by a reviewer",
    )
    p.add_argument("--due-days", type=int, default=None, help="days from issue to due date (policy default)")
    add_user_argument(p)

    p = sub.add_parser("cancel", help="cancel a bill: reversal entry on the ledger; rerun bills it again")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--bill", type=int, help="bill id")
    target.add_argument("--account", help="account number (with --period)")
    p.add_argument("--period", help="billing period YYYY-MM (with --account)")
    p.add_argument("--reason", required=True, help="why the bill is cancelled (kept on the reversal)")
    add_user_argument(p)


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Any]:
    """Yield a progress callback ``(done, total)``; a rich bar on a terminal, nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def callback(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield callback


def run(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from wattdesk.application.billing import launch, review
    from wattdesk.application.billing import run as uc

    try:
        if args.bill_command in ("run", "resume", "restart"):
            return _run(args)
        if args.bill_command == "status":
            st = launch.run_status(run_id=args.run_id, now=timezone.now())
            scope = f" route {st.route}" if st.route else ""
            print(
                f"billing run {st.run_id} for {st.period}{scope}: {st.state}, {st.done} / {st.total} accounts "
                f"({st.percent}%), attempt {st.attempt}"
            )
            if st.heartbeat_at is not None:
                print(f"  heartbeat  {timezone.localtime(st.heartbeat_at):%Y-%m-%d %H:%M:%S}")
            if st.error:
                print(f"  error      {st.error}")
            if st.state == launch.STALLED:
                print(
                    f"  its process stopped: `wattdesk bill resume {st.run_id}` or `bill restart {st.run_id}`"
                )
            return 0
        if args.bill_command == "review":
            held = review.list_held_bills(period=args.period, limit=args.limit)
            if not held:
                print(f"no bills held for review in {args.period}")
                return 0
            print(f"{'bill':>10}  {'account':<16} {'total':>12} {'median':>12}  reason")
            for h in held:
                median = "" if h.history_median is None else f"{h.history_median:.2f}"
                print(f"{h.bill_id:>10}  {h.account_number:<16} {h.total:>12} {median:>12}  {h.hold_reason}")
            print(f"{len(held)} held bill(s)")
            return 0
        if args.bill_command == "approve":
            approved = review.approve_bill(
                bill_id=args.bill_id, user=acting_user(args.user), approved_at=timezone.now(), note=args.note
            )
            print(
                f"bill {approved.bill_id} ({approved.account_number} {approved.period}) approved: {approved.total}"
            )
            return 0
        if args.bill_command == "hold":
            held_one = review.hold_bill(
                bill_id=args.bill_id, user=acting_user(args.user), held_at=timezone.now(), reason=args.reason
            )
            kept = " (kept on hold)" if held_one.status_before == "held" else ""
            print(f"bill {held_one.bill_id} ({held_one.account_number} {held_one.period}) held{kept}")
            return 0
        if args.bill_command == "issue":
            if args.due_days is not None and args.due_days < 0:
                raise UserError("--due-days must not be negative")
            now = timezone.now()
            policy = (
                review.IssuePolicy(due_days=args.due_days)
                if args.due_days is not None
                else review.IssuePolicy()
            )
            issued = review.issue_bills(
                period=args.period,
                user=acting_user(args.user),
                route=args.route,
                issued_at=now,
                issued_on=timezone.localdate(now),
                include_held_approved=args.include_held_approved,
                policy=policy,
            )
            print(
                f"issued {issued.issued} bill(s) for {args.period}, total {issued.total}, due on {issued.due_on}; "
                f"still held: {issued.still_held}"
            )
            return 0
        if args.bill_command == "cancel":
            if args.account and not args.period:
                raise UserError("--account needs --period")
            if args.bill and args.period:
                raise UserError("--period goes with --account, not with --bill")
            user = acting_user(args.user)
            bill_id = args.bill
            if bill_id is None:
                bill_id = review.find_live_bill(account_number=args.account, period=args.period)
            cancelled = review.cancel_bill(
                bill_id=bill_id, user=user, cancelled_at=timezone.now(), reason=args.reason
            )
            rev = (
                f", reversal {cancelled.reversal_amount}"
                if cancelled.reversal_id
                else ", no ledger charge to reverse"
            )
            print(
                f"bill {cancelled.bill_id} ({cancelled.account_number} {cancelled.period} v{cancelled.version}) "
                f"cancelled{rev}; run `wattdesk bill run --period {cancelled.period}` to bill it again"
            )
            return 0
    except uc.BillingInputError as exc:
        raise UserError(str(exc)) from exc
    raise UserError(f"unknown action {args.bill_command!r}")  # pragma: no cover - argparse prevents it


def _run(args: argparse.Namespace) -> int:
    """Launch (``run``), take over (``resume``) or replace (``restart``) a run, then execute it here.

    The same use cases as the web page and the API (``application.billing.launch``: the period's database
    guard and one audit entry); only the execution happens in this process instead of a queued task.
    """
    from django.utils import timezone

    from wattdesk.application.billing import launch
    from wattdesk.application.billing.run import BillingInputError

    if args.batch_size is not None and args.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    now = timezone.now()
    actor = acting_user(args.user)
    if args.bill_command == "run":
        run = launch.launch_run(
            period=args.period, route=args.route, actor=actor, now=now, allow_empty=args.allow_empty
        )
    elif args.bill_command == "resume":
        run = launch.resume_run(run_id=args.run_id, actor=actor, now=now)
    else:
        run = launch.restart_run(run_id=args.run_id, actor=actor, now=now)
    try:
        with _progress(not args.no_progress, f"billing {run.period}") as cb:
            result = launch.execute_run(
                run_id=run.pk,
                attempt=run.attempt,
                clock=timezone.now,
                progress=cb,
                batch_size=args.batch_size,
            )
    except BillingInputError:
        raise
    except Exception as exc:
        # Not bad input: say what happened and that nothing is half-written (each batch commits whole).
        print(
            f"wattdesk bill: billing run {run.pk} for {run.period} failed: {type(exc).__name__}: {exc}; "
            f"committed batches are complete, run the same command again (or `wattdesk bill resume {run.pk}`) "
            "to finish",
            file=sys.stderr,
        )
        return 1
    _print_run(result)
    return 0


def _print_run(r: Any) -> None:
    scope = f" route {r.route}" if r.route else ""
    print(f"billing run {r.run_id} for {r.period}{scope}: {r.status}")
    print(f"  accounts considered  {r.accounts:>10}")
    print(f"  already billed       {r.already_billed:>10}")
    print(f"  bills written        {r.bills:>10}  (to issue {r.billed}, held for review {r.held})")
    print(f"  estimated reads      {r.estimated:>10}")
    for reason, n in sorted(r.skipped.items()):
        print(f"  skipped: {reason:<20} {n:>6}")
    print(f"  kWh                  {r.kwh:>16}")
    print(f"  amount               {r.total:>16}")
    for cls, amount in sorted(r.revenue_by_class.items()):
        print(f"    {cls:<18} {amount:>16}")
    rate = r.bills / r.elapsed_s if r.elapsed_s > 0 else 0.0
    print(f"  elapsed              {r.elapsed_s:>10.2f} s  ({rate:,.0f} bills/s)")
