"""`wattdesk serve`: the platform (back office, customer portal, API, Django admin) on a local port.

    wattdesk serve [--host 127.0.0.1] [--port 8000] [--workers N] [--threads 4] [--no-migrate] [--no-worker]

Applies pending migrations, collects the static files into STATIC_ROOT (served by WhiteNoise, so DEBUG stays
off), then serves the WSGI application with granian (a Rust HTTP server): one main process and ``--workers`` worker
processes (default: one per CPU core), each running the application on ``--threads`` threads.
Several processes are what lets pages render on every core (one Python process renders on one core at a
time); the threads let a process wait on the database for one request while it renders another.
docs/performance.md ("Platform") has the measurement behind the defaults. Behind a reverse proxy set
WATTDESK_HTTPS=1. ``wattdesk demo`` creates demo logins; otherwise create one with
``python -m django createsuperuser`` (DJANGO_SETTINGS_MODULE=wattdesk.settings).

It also starts one task-queue worker process (``wattdesk worker``: billing runs launched from the page or
the API, outlet plans, nightly passes) and stops it on exit (Ctrl+C or SIGTERM: the server stops its worker
processes, then the task worker finishes its current task); ``--no-worker`` when workers run elsewhere.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

from wattdesk.interfaces.cli import UserError

NAME = "serve"
HELP = "serve the platform (back office, portal, API, admin) on a local port"
NEEDS_DJANGO = True

#: Threads per worker process (granian's WSGI blocking threads). See docs/performance.md ("Platform").
DEFAULT_THREADS = 4


def default_workers() -> int:
    """One worker process per CPU core: each process renders on one core at a time, its threads overlap the
    database waits. More processes than cores measured no better on 2 cores and cost ~150 MiB each
    (docs/performance.md, "Platform")."""
    return max(1, os.cpu_count() or 1)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"server processes (default one per CPU core: {default_workers()} here)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"requests each process answers at a time (default {DEFAULT_THREADS})",
    )
    parser.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")
    parser.add_argument(
        "--no-worker", action="store_true", help="do not start a task-queue worker (run `wattdesk worker`)"
    )


def run(args: argparse.Namespace) -> int:
    from django.core.management import call_command
    from rich.console import Console

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    if not 0 < args.threads <= 64:
        raise UserError(f"--threads must be 1-64, got {args.threads}")
    workers = default_workers() if args.workers is None else args.workers
    if not 0 < workers <= 64:
        raise UserError(f"--workers must be 1-64, got {workers}")
    # granian listens with SO_REUSEPORT: a second server on a busy port would share it silently, not fail.
    from wattdesk.interfaces.commands.demo import check_port_free

    check_port_free(args.host, args.port, option="--port")
    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    serve(
        host=args.host,
        port=args.port,
        workers=workers,
        threads=args.threads,
        console=Console(),
        worker=not args.no_worker,
    )
    return 0


def start_worker() -> subprocess.Popen[bytes]:
    """One ``wattdesk worker`` process with this process's environment (same database)."""
    return subprocess.Popen([sys.executable, "-m", "wattdesk.interfaces.cli", "worker"])


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the worker finishes its current task), then kill after 30 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # pragma: no cover - a task longer than the grace period
        proc.kill()
        proc.wait()


def _stop_on_sigterm() -> None:
    """SIGTERM stops the server as Ctrl+C does (Python's default would exit without cleaning up)."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def serve(
    *,
    host: str,
    port: int,
    console: Any,
    workers: int | None = None,
    threads: int = DEFAULT_THREADS,
    worker: bool = True,
) -> None:
    """Collect static files, start a task worker (unless ``worker`` is false), then serve with granian until
    SIGINT / SIGTERM; the task worker is stopped on the way out."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    call_command("collectstatic", interactive=False, verbosity=0)
    import wattdesk.wsgi  # noqa: F401  after collectstatic: WhiteNoise indexes STATIC_ROOT at start-up

    # The worker processes are forked from this one: none may inherit its database connections (migrate's).
    connections.close_all()
    workers = workers or default_workers()
    server = Server(
        "wattdesk.wsgi:application",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,  # WSGI: the Python threads of a process that run requests
        websockets=False,
        log_level=LogLevels.warning,
    )
    _stop_on_sigterm()  # until granian installs its handlers: SIGTERM still runs the `finally` below
    proc = start_worker() if worker else None
    console.print(
        f"WattDesk serving on [bold]http://{host}:{port}[/bold] "
        f"({workers} processes x {threads} threads; static files from {settings.STATIC_ROOT}); "
        + (f"task worker pid {proc.pid}; " if proc else "no task worker (--no-worker); ")
        + "Ctrl+C stops"
    )
    try:
        server.serve()  # returns after SIGINT / SIGTERM, once its worker processes have stopped
    except OSError as exc:  # address in use, permission denied
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:  # pragma: no cover - a signal before granian took over
        pass
    except SystemExit as exc:  # granian exits non-zero when a worker process died (e.g. could not start)
        raise UserError(f"the server stopped with status {exc.code}: see the messages above") from None
    finally:
        if proc is not None:
            stop_worker(proc)
    console.print("stopped")
