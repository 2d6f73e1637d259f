"""`wattdesk collect ...`: revenue protection (电费回收) from the command line.

    wattdesk collect nightly  --date YYYY-MM-DD          late fees, dunning + outbox, fee control, expiry of
                                                         unpaid gateway orders (idempotent for the date)
    wattdesk collect dispatch [--watch SECONDS]          send the due meter commands to the head-end
    wattdesk collect pay      --account N --amount A --channel counter --txn ID [--outlet CODE] [--user U]
    wattdesk collect reverse  (--payment ID | --txn ID [--channel C]) --reason TEXT [--user U]
    wattdesk collect aging    [--as-of YYYY-MM-DD] [--by region|route|class|collector]
    wattdesk collect recovery --period YYYY-MM [--by region|route|class|collector]

This module only translates: it reads the clock (received_at / as-of defaults), names the acting user
(``--user`` / ``WATTDESK_USER``), calls one use case or query and prints the result. Posting and reversing are
the use cases the API and the pages call (``application.payments.posting``): same lock, same audit entry.
"""

from __future__ import annotations

import argparse

from wattdesk.interfaces.cli import UserError
from wattdesk.interfaces.commands._actor import acting_user, add_user_argument
from wattdesk.interfaces.commands._types import iso_date

NAME = "collect"
HELP = "revenue protection: nightly late fees, post a payment, aging, recovery rate (违约金 / 缴费 / 账龄 / 回收率)"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="collect_command", metavar="ACTION", required=True)
    p = sub.add_parser("nightly", help="the nightly pass for a date (late-fee accrual); idempotent")
    p.add_argument("--date", type=iso_date, required=True, help="the day to accrue through, YYYY-MM-DD")
    p = sub.add_parser("dispatch", help="send the due meter commands (费控) to WATTDESK_HEADEND_URL")
    p.add_argument(
        "--watch", type=float, default=None, metavar="SECONDS", help="keep going, polling every SECONDS"
    )
    p = sub.add_parser("pay", help="post a payment (idempotent per channel and transaction id)")
    p.add_argument("--account", required=True, help="account number")
    p.add_argument("--amount", required=True, help="amount in yuan, e.g. 120.50")
    p.add_argument("--channel", default="counter", help="counter|mobile|bank|collector|prepaid")
    p.add_argument("--txn", required=True, help="channel transaction id (receipt / order number)")
    p.add_argument("--outlet", default="", help="payment outlet code")
    add_user_argument(p)
    p = sub.add_parser("reverse", help="reverse (冲正) a posted payment, with a reason (audited)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--payment", type=int, help="payment id")
    target.add_argument("--txn", help="channel transaction id (with --channel)")
    p.add_argument("--channel", default="counter", help="the channel of --txn (default counter)")
    p.add_argument("--reason", required=True, help="why the payment is reversed")
    add_user_argument(p)
    p = sub.add_parser("aging", help="outstanding debt by days past due")
    p.add_argument("--as-of", type=iso_date, default=None, help="default: today")
    p.add_argument("--by", default="region", choices=("region", "route", "class", "collector"))
    p = sub.add_parser("recovery", help="recovery rate (电费回收率) of a billing period")
    p.add_argument("--period", required=True, help="billing period YYYY-MM")
    p.add_argument("--by", default=None, choices=("region", "route", "class", "collector"))


def run(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from wattdesk.domain.payments import queries

    action = args.collect_command
    if action == "nightly":
        from wattdesk.application.collection.nightly import run_nightly

        for line in run_nightly(day=args.date, now=timezone.now()).lines():
            print(line)
        return 0
    if action == "dispatch":
        return _dispatch(args.watch)
    if action == "pay":
        from wattdesk.application.payments.posting import post_payment
        from wattdesk.domain.access import roles

        res = post_payment(
            user=acting_user(args.user, needs=(roles.PAYMENTS_COUNTER, roles.PAYMENTS_COLLECT)),
            account_number=args.account,
            amount=args.amount,
            channel=args.channel,
            channel_txn_id=args.txn,
            received_at=timezone.now(),
            outlet=args.outlet,
        )
        print(f"{res.outcome}: payment {res.payment_id} account {res.account_number} {res.amount} 元")
        for a in res.allocations:
            print(f"  bill {a.bill_id} {a.kind} {a.amount}")
        print(f"credit {res.credit}  balance {res.balance}")
        return 0
    if action == "reverse":
        from wattdesk.application.payments.posting import reverse_payment
        from wattdesk.domain.access import roles

        rev = reverse_payment(
            user=acting_user(args.user, needs=(roles.PAYMENTS_REVERSE,)),
            payment_id=args.payment,
            channel=None if args.payment else args.channel,
            channel_txn_id=None if args.payment else args.txn,
            reason=args.reason,
            reversed_at=timezone.now(),
        )
        print(f"payment {rev.payment_id} reversed: {rev.amount} 元, balance {rev.balance}")
        return 0
    if action == "aging":
        as_of = args.as_of or timezone.localdate()
        try:
            if args.by == "collector":  # the collector of each route on as_of (application.collection)
                from wattdesk.application.collection.collectors import aging_by_collector

                rows = aging_by_collector(as_of=as_of)
            else:
                rows = queries.aging(as_of=as_of, by=args.by)
        except queries.UnknownDimension as exc:
            raise UserError(str(exc)) from exc
        print("\t".join([args.by, *queries.BUCKETS, "total"]))
        for row in rows:
            print("\t".join([row.key, *(str(row.buckets[b]) for b in queries.BUCKETS), str(row.total)]))
        return 0
    if action == "recovery":
        if args.by == "collector":  # the collector of each route for the period (application.collection)
            from wattdesk.application.collection.collectors import recovery_by_collector

            recs = recovery_by_collector(period=args.period)
        else:
            recs = queries.recovery_rate(period=args.period, by=args.by)
        for rec in recs:
            print(f"{rec.key}\tbilled {rec.billed}\tcollected {rec.collected}\trate {rec.rate}")
        return 0
    raise UserError(f"unknown action {action!r}")  # pragma: no cover - argparse restricts the choices


def _dispatch(watch: float | None) -> int:
    import time

    from django.utils import timezone

    from wattdesk.adapters.headend.http_headend import configured_headend
    from wattdesk.application.fee_control.prepaid import dispatch_commands

    headend = configured_headend()
    if headend is None:
        raise UserError("no head-end: set WATTDESK_HEADEND_URL (e.g. the sandbox: wattdesk sandbox headend)")
    if watch is not None and watch <= 0:
        raise UserError(f"--watch must be > 0 seconds, got {watch}")
    while True:
        d = dispatch_commands(now=timezone.now(), headend=headend)
        if d.acknowledged or d.failed or d.expired or watch is None:
            print(
                f"meter commands: {d.acknowledged} acknowledged, {d.failed} failed (retried later), "
                f"{d.expired} expired",
                flush=True,
            )
        if watch is None:
            return 0
        time.sleep(watch)
