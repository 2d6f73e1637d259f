"""`wattdesk serve`: the platform (back office, customer portal, API, Django admin) on a local port.

    wattdesk serve [--host 127.0.0.1] [--port 8000] [--threads 8] [--no-migrate] [--no-worker]

Applies pending migrations, collects the static files into STATIC_ROOT (served by WhiteNoise, so DEBUG stays
off), then serves the WSGI application with waitress, a production-grade pure-Python server: fine for a
workstation or a small office. For a larger deployment run ``wattdesk.wsgi:application`` under any WSGI
server behind a reverse proxy (set WATTDESK_HTTPS=1 there). ``wattdesk demo`` creates demo logins; otherwise
create one with ``python -m django createsuperuser`` (DJANGO_SETTINGS_MODULE=wattdesk.settings).

It also starts one task-queue worker process (``wattdesk worker``: billing runs launched from the page or
the API, outlet plans, nightly passes) and stops it on exit; ``--no-worker`` when workers run elsewhere.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from wattdesk.interfaces.cli import UserError

NAME = "serve"
HELP = "serve the platform (back office, portal, API, admin) on a local port"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
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
    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    serve(host=args.host, port=args.port, threads=args.threads, console=Console(), worker=not args.no_worker)
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


def serve(*, host: str, port: int, console: Any, threads: int = 8, worker: bool = True) -> None:
    """Collect static files, start a worker (unless ``worker`` is false), then serve until interrupted."""
    from django.conf import settings
    from django.core.management import call_command
    from waitress import serve as waitress_serve

    call_command("collectstatic", interactive=False, verbosity=0)
    from wattdesk.wsgi import application  # after collectstatic: WhiteNoise indexes STATIC_ROOT at start-up

    proc = start_worker() if worker else None
    _stop_on_sigterm()  # a process manager's SIGTERM runs the `finally` below: the worker is not orphaned
    console.print(
        f"WattDesk serving on [bold]http://{host}:{port}[/bold] (static files from {settings.STATIC_ROOT}); "
        + (f"task worker pid {proc.pid}; " if proc else "no task worker (--no-worker); ")
        + "Ctrl+C stops"
    )
    try:
        waitress_serve(application, host=host, port=port, threads=threads, ident="WattDesk")
    except OSError as exc:  # address in use, permission denied
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:  # pragma: no cover - interactive
        console.print("stopped")
    finally:
        if proc is not None:
            stop_worker(proc)
