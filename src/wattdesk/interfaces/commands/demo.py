"""`wattdesk demo`: a fresh embedded database with a synthetic county, billed for its latest month.

It ends by creating one login per role (password from WATTDESK_DEMO_PASSWORD, or generated and printed
once), printing the address and the logins, and serving the platform (``--no-serve`` stops after that).

Serving, the demo also starts the sandbox payment gateway (``wattdesk sandbox gateway``, its own process) with a
secret generated for this run and shared with the served app (WATTDESK_GATEWAY_SECRET, WATTDESK_GATEWAY_PAY_URL),
so the demo customer can pay a bill online in the portal end to end. Both ports are checked before anything is
built: a busy port is one line and exit 2, not minutes of building first.

The demo never touches the main database: it lives in ``<data dir>/demo/`` (SQLite file and interval
files), which is deleted and rebuilt on every run. With WATTDESK_DATABASE_URL pointing at PostgreSQL the
command refuses unless ``--force`` is given, in which case that database is flushed and used.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

NAME = "demo"
HELP = "build a fresh demo database: synthetic county (20,000 accounts, 13 months) + one billing run"
NEEDS_DJANGO = False  # the database is chosen here, before Django is set up


def register(parser: argparse.ArgumentParser) -> None:
    from wattdesk.interfaces.commands.synth import _month, _positive, _share

    parser.add_argument("--accounts", type=_positive, default=20_000, help="accounts (default 20000)")
    parser.add_argument("--months", type=_positive, default=13, help="months of readings (default 13)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--interval-share", type=_share, default=0.05, help="share with interval data (0.05)")
    parser.add_argument(
        "--end-month", type=_month, default=None, help="month to bill, YYYY-MM (default: last full)"
    )
    parser.add_argument(
        "--force", action="store_true", help="allow a PostgreSQL WATTDESK_DATABASE_URL (it is flushed!)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--no-serve", action="store_true", help="stop after the report and the logins")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
    parser.add_argument(
        "--gateway-port",
        type=int,
        default=None,
        help="port of the sandbox payment gateway started with the demo (default: 8700, or any free port)",
    )


def _data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(os.environ.get("WATTDESK_DATA_DIR") or user_data_dir("wattdesk")).expanduser()


def _choose_database(force: bool) -> tuple[str, Path | None]:
    """Point the environment at the demo database before Django is set up; returns (where, demo dir)."""
    from wattdesk.interfaces.cli import UserError

    url = os.environ.get("WATTDESK_DATABASE_URL", "").strip()
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        if not force:
            raise UserError(
                "WATTDESK_DATABASE_URL points to PostgreSQL: the demo builds its own SQLite database; "
                "unset the variable, or pass --force to flush and use that PostgreSQL database"
            )
        return url.split("@")[-1], None
    demo_dir = _data_dir() / "demo"
    if demo_dir.exists():
        shutil.rmtree(demo_dir)
    demo_dir.mkdir(parents=True)
    db = demo_dir / "wattdesk.db"
    os.environ["WATTDESK_DATA_DIR"] = str(demo_dir)
    os.environ["WATTDESK_DATABASE_URL"] = f"sqlite:///{db}"
    return str(db), demo_dir


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from wattdesk.interfaces.cli import UserError, setup_django

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    if args.gateway_port is not None and not 0 < args.gateway_port < 65536:
        raise UserError(f"--gateway-port must be 1-65535, got {args.gateway_port}")
    gateway_port = 0
    if not args.no_serve:  # before minutes of building, not after
        check_port_free(args.host, args.port, option="--port")
        gateway_port = _gateway_port(args.host, args.gateway_port)
    console = Console()
    where, demo_dir = _choose_database(args.force)
    if not args.no_serve:
        configure_gateway(host=args.host, gateway_port=gateway_port)  # before Django reads its settings
    setup_django()

    from django.core.management import call_command
    from django.utils import timezone

    from wattdesk.application.billing.run import BillingInputError
    from wattdesk.interfaces.commands.synth import last_full_month, stage_bars
    from wattdesk.synthetic import SynthError
    from wattdesk.synthetic.demo import run_demo

    console.print(f"[bold]WattDesk demo[/bold] database: {where}")
    call_command("migrate", verbosity=0)
    if demo_dir is None:
        call_command("flush", interactive=False, verbosity=0)
    now = timezone.now()
    end_month: date = args.end_month or last_full_month(timezone.localdate(now))
    with stage_bars(console, disable=args.no_progress) as progress:
        try:
            report = run_demo(
                accounts=args.accounts,
                months=args.months,
                seed=args.seed,
                end_month=end_month,
                run_at=now,
                interval_share=args.interval_share,
                progress=progress,
                clock=timezone.now,
            )
        except (SynthError, BillingInputError) as exc:
            raise UserError(str(exc)) from None
    print_report(report, console)

    from wattdesk.synthetic.demo import create_demo_logins

    password, generated = demo_password()
    logins = create_demo_logins(password=password)
    address = f"http://{args.host}:{args.port}"
    print_logins(logins, console, address=address, password=password, generated=generated)
    if demo_dir is not None:
        console.print(
            f"Later: [bold]WATTDESK_DATA_DIR={demo_dir} wattdesk serve[/bold] "
            f"(or any wattdesk command with that WATTDESK_DATA_DIR)"
        )
    if args.no_serve:
        return 0
    from wattdesk.interfaces.commands.serve import serve

    statements = (demo_dir or _data_dir() / "demo") / "gateway-statements"
    gateway = start_gateway(
        host=args.host, port=gateway_port, app_port=args.port, statement_dir=statements, log=statements.parent
    )
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # `kill PID` stops the gateway too, as Ctrl+C does
    try:
        console.print(
            f"online payments: sandbox gateway at [bold]{os.environ['WATTDESK_GATEWAY_PAY_URL']}[/bold] "
            f"(log {statements.parent / 'gateway.log'}); log in to the portal as [bold]demo_customer[/bold] "
            "and pay a bill (在线缴费)"
        )
        serve(host=args.host, port=args.port, console=console)
    finally:
        stop_gateway(gateway)
    return 0


# --- ports and the sandbox payment gateway -------------------------------------------------------------------

DEFAULT_GATEWAY_PORT = 8700


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _port_error(host: str, port: int) -> OSError | None:
    """None if ``host:port`` can be listened on now (SO_REUSEADDR, without SO_REUSEPORT: a port another
    server listens on, even with SO_REUSEPORT as granian does, is refused), else the error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return exc
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            return exc
    return None


def check_port_free(host: str, port: int, *, option: str) -> None:
    from wattdesk.interfaces.cli import UserError

    error = _port_error(host, port)
    if error is not None:
        reason = error.strerror or str(error)
        raise UserError(
            f"cannot listen on {host}:{port} ({reason}): another program uses it — stop it or pass {option} N"
        )


def _gateway_port(host: str, asked: int | None) -> int:
    """The asked port (must be free), else 8700 if free, else any free port."""
    if asked is not None:
        check_port_free(host, asked, option="--gateway-port")
        return asked
    if _port_error(host, DEFAULT_GATEWAY_PORT) is None:
        return DEFAULT_GATEWAY_PORT
    family, kind, proto, _name, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as s:
        s.bind(address)
        return int(s.getsockname()[1])


def _browser_host(host: str) -> str:
    """The address a browser on this machine uses for a server listening on ``host``."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def configure_gateway(*, host: str, gateway_port: int) -> None:
    """A fresh shared secret for this demo and the sandbox's pay page, in the environment the served app's
    settings are read from (and the sandbox process inherits)."""
    import secrets

    os.environ["WATTDESK_GATEWAY_SECRET"] = secrets.token_hex(32)
    os.environ["WATTDESK_GATEWAY_PAY_URL"] = f"http://{_browser_host(host)}:{gateway_port}/pay"


def start_gateway(
    *, host: str, port: int, app_port: int, statement_dir: Path, log: Path, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """`wattdesk sandbox gateway` as a child process calling back to the served app; returns once it answers
    its health check. The secret goes through the environment, never the command line (``ps`` shows that)."""
    from wattdesk.interfaces.cli import UserError

    callback = f"http://{_browser_host(host)}:{app_port}/gateway/callback/"
    cmd = [sys.executable, "-m", "wattdesk", "sandbox", "gateway", "--host", host, "--port", str(port),
           "--callback-url", callback, "--statement-dir", str(statement_dir)]  # fmt: skip
    log.mkdir(parents=True, exist_ok=True)
    log_file = log / "gateway.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    health = f"http://{_browser_host(host)}:{port}/health"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(health, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:  # not listening yet
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_gateway(proc)
            tail = log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
            raise UserError(f"the sandbox payment gateway did not start on port {port}: {' '.join(tail)}")
        time.sleep(0.1)


def stop_gateway(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def demo_password() -> tuple[str, bool]:
    """(password, generated?): WATTDESK_DEMO_PASSWORD if set, otherwise a fresh random one."""
    import secrets

    given = os.environ.get("WATTDESK_DEMO_PASSWORD", "").strip()
    if given:
        return given, False
    return "wd-" + secrets.token_urlsafe(9), True


def print_logins(logins: Any, console: Any, *, address: str, password: str, generated: bool) -> None:
    from rich.table import Table

    from wattdesk.domain.access.roles import ROLE_LABELS

    table = Table(title=f"Demo logins (one per role) at {address}")
    for col in ("role", "username", "scope / note"):
        table.add_column(col)
    for login in logins:
        table.add_row(ROLE_LABELS.get(login.role, login.role), login.username, login.note or "-")
    console.print(table)
    where = "generated for this demo, shown once" if generated else "from WATTDESK_DEMO_PASSWORD"
    console.print(f"password for every demo login: [bold]{password}[/bold] ({where})")
    console.print(f"open [bold]{address}[/bold]")


def print_report(report: Any, console: Any) -> None:
    from rich.table import Table

    c = report.county
    console.print(
        f"\n[bold]{c.accounts:,} accounts[/bold], readings {c.periods[0]} .. {c.periods[-1]} "
        f"({c.readings:,} register readings, {c.interval_rows:,} interval rows), billed period "
        f"[bold]{report.period}[/bold]"
    )
    if report.history_periods:
        console.print(
            f"history: bills issued for {report.history_periods[0]} .. {report.history_periods[-1]}; "
            f"{report.payments:,} payments of {report.payments_amount:,.2f} 元 by each customer's behaviour"
        )
    console.print(
        f"{report.outlets} payment outlets and {report.candidate_sites} candidate sites (网点规划); "
        f"{report.prepaid_accounts:,} accounts on prepaid fee control (费控)"
    )
    bills = Table(title=f"Bills {report.period} (from the database)")
    for col, just in (("class", "left"), ("bills", "right"), ("kWh", "right"), ("revenue (元)", "right")):
        bills.add_column(col, justify=just)  # type: ignore[arg-type]
    for line in report.by_class:
        bills.add_row(line.customer_class, f"{line.bills:,}", f"{line.kwh:,.0f}", f"{line.revenue:,.2f}")
    bills.add_row("[bold]total[/bold]", f"{report.bills:,}", f"{report.kwh:,.0f}", f"{report.revenue:,.2f}")
    console.print(bills)
    console.print(
        f"bills issued (电费发行): {report.issued:,}; "
        f"bills held for review: [bold]{report.held:,}[/bold]; estimated reads: {report.run.estimated:,}; "
        f"skipped: {dict(report.run.skipped) or 0}"
    )
    if report.held_reasons:
        held = Table(title="Held bills by reason (top 10)")
        held.add_column("reason")
        held.add_column("bills", justify="right")
        for reason, n in report.held_reasons:
            held.add_row(reason[:100], f"{n:,}")
        console.print(held)
    exc = Table(title="Reading exceptions of the latest collection, by check")
    for col in ("check", "severity", "found", "open"):
        exc.add_column(col, justify="right" if col in ("found", "open") else "left")
    for check, severity, n, still_open in report.exceptions_by_check:
        exc.add_row(check, severity, f"{n:,}", f"{still_open:,}")
    console.print(exc)
    times = Table(title="Elapsed")
    times.add_column("step")
    times.add_column("seconds", justify="right")
    for step, seconds in report.timings.items():
        times.add_row(step, f"{seconds:.1f}")
    console.print(times)
