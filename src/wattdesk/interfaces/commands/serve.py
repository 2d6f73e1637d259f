"""`wattdesk serve`: the staff back office (Django admin) on a local port.

    wattdesk serve [--host 127.0.0.1] [--port 8000] [--no-migrate]

A single-process WSGI server for a workstation or a small office. For a multi-user deployment run
``wattdesk.wsgi:application`` under a production WSGI server (gunicorn, uWSGI) behind a reverse proxy.
Create a staff login first with ``python -m django createsuperuser`` (DJANGO_SETTINGS_MODULE=wattdesk.settings).
"""

from __future__ import annotations

import argparse

from wattdesk.interfaces.cli import UserError

NAME = "serve"
HELP = "serve the staff back office (Django admin) on a local port"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations first")


def run(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    from django.core.management import call_command

    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    # runserver serves static files only when DEBUG; the admin still works with WATTDESK_DEBUG=1 locally.
    call_command("runserver", f"{args.host}:{args.port}", use_reloader=False, use_threading=True)
    return 0
