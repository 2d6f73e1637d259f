"""`wattdesk worker`: run the task queue's worker (billing runs, outlet plans, nightly passes from pages / API).

    wattdesk worker [--queue default] [--interval 1] [--batch] [--max-tasks N] [--worker-id ID]

The queue is Django's tasks framework (``django-tasks`` backport) with its database backend
(``django-tasks-db``): tasks are rows in the WattDesk database, so any number of workers on any number of
hosts take them (one task is claimed by one worker, with a row lock). ``wattdesk serve`` starts one worker
by default. ``--batch`` runs what is queued and exits (cron, tests). Ctrl+C / SIGTERM finishes the current
task first; a second one stops it (a billing run stopped so resumes: ``wattdesk bill resume RUN_ID``).
"""

from __future__ import annotations

import argparse
import math
import re

from wattdesk.interfaces.cli import UserError

NAME = "worker"
HELP = "run the task-queue worker (queued billing runs, outlet plans, nightly passes)"
NEEDS_DJANGO = True

_QUEUE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_WORKER_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", default="default", help="queue name (default: default)")
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="seconds to wait between polls of an empty queue (default 1)",
    )
    parser.add_argument("--batch", action="store_true", help="run the queued tasks, then exit")
    parser.add_argument("--max-tasks", type=int, default=None, help="exit after this many tasks")
    parser.add_argument("--worker-id", default=None, help="unique id of this worker (default: random)")


def check(args: argparse.Namespace) -> None:
    """Validate the arguments (UserError: exit 2 and one line)."""
    if not _QUEUE_RE.match(args.queue):
        raise UserError(f"--queue must be 1-64 letters, digits, '_', '.' or '-', got {args.queue!r}")
    if not math.isfinite(args.interval) or not 0 <= args.interval <= 3600:
        raise UserError(f"--interval must be 0-3600 seconds, got {args.interval}")
    if args.max_tasks is not None and args.max_tasks < 1:
        raise UserError(f"--max-tasks must be at least 1, got {args.max_tasks}")
    if args.worker_id is not None and not _WORKER_ID_RE.match(args.worker_id):
        raise UserError("--worker-id must be 1-64 letters, digits or '_.:@-'")


def run(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.utils.crypto import get_random_string
    from django_tasks_db.management.commands.db_worker import Worker

    check(args)
    queues = settings.TASKS["default"].get("QUEUES", ["default"])
    if args.queue not in queues:
        raise UserError(f"unknown queue {args.queue!r} (configured: {', '.join(queues)})")
    worker = Worker(
        queue_names=[args.queue],
        interval=args.interval,
        batch=args.batch,
        backend_name="default",
        startup_delay=not args.batch,
        max_tasks=args.max_tasks,
        worker_id=args.worker_id or get_random_string(32),
        excluded_queue_names=[],
    )
    import signal

    names = [n for n in ("SIGINT", "SIGTERM", "SIGQUIT") if hasattr(signal, n)]
    previous = {n: signal.getsignal(getattr(signal, n)) for n in names}
    worker.configure_signals()
    try:
        worker.run()
    finally:
        for n, handler in previous.items():
            signal.signal(getattr(signal, n), handler)
    return 0
