"""`wattdesk sandbox ...`: local stand-ins for outside systems, each its own small web service.

    wattdesk sandbox gateway --port 8700 --callback-url http://127.0.0.1:8000/gateway/callback/
                             [--host 127.0.0.1] [--statement-dir DIR] [--secret S]

The gateway's secret comes from --secret, else WATTDESK_GATEWAY_SECRET, else the development secret (which a
WattDesk started with WATTDESK_DEBUG=1 also uses).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from wattdesk.interfaces.cli import UserError

NAME = "sandbox"
HELP = "run a local sandbox of an outside system (payment gateway, AMI head-end)"
NEEDS_DJANGO = False


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sandbox_command", metavar="SYSTEM", required=True)
    p = sub.add_parser(
        "gateway", help="sandbox payment gateway: pay page, signed async callbacks, statements"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument(
        "--callback-url",
        required=True,
        help="WattDesk's callback URL, e.g. http://127.0.0.1:8000/gateway/callback/",
    )
    p.add_argument(
        "--statement-dir", type=Path, default=Path("gateway-statements"), help="where daily statement CSVs go"
    )
    h = sub.add_parser("headend", help="sandbox AMI head-end: meter relay states, slow and sometimes failing")
    h.add_argument("--host", default="127.0.0.1")
    h.add_argument("--port", type=int, default=8701)
    h.add_argument("--fail-rate", type=float, default=0.2, help="share of commands answered 503 (0..1)")
    h.add_argument("--delay", type=float, default=0.05, help="minimum answer delay, seconds")
    h.add_argument("--max-delay", type=float, default=0.5, help="maximum answer delay, seconds")
    h.add_argument("--state-file", type=Path, default=Path("headend-state.json"), help="relay states (JSON)")
    p.add_argument(
        "--secret",
        default=None,
        help="HMAC secret shared with WattDesk (default: $WATTDESK_GATEWAY_SECRET or the dev secret)",
    )


def run(args: argparse.Namespace) -> int:
    from wattdesk.core.gateway_signing import DEV_SECRET
    from wattdesk.sandbox.gateway_server import Gateway, make_server

    if args.sandbox_command == "headend":
        return _headend(args)
    if args.sandbox_command != "gateway":  # pragma: no cover - argparse restricts the choices
        raise UserError(f"unknown sandbox {args.sandbox_command!r}")
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    if not args.callback_url.startswith(("http://", "https://")):
        raise UserError(f"--callback-url must be an http(s) URL, got {args.callback_url!r}")
    secret = args.secret or os.environ.get("WATTDESK_GATEWAY_SECRET", "").strip() or DEV_SECRET
    gw = Gateway(callback_url=args.callback_url, secret=secret, statement_dir=args.statement_dir)
    try:
        server = make_server(host=args.host, port=args.port, gateway=gw)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(
        f"sandbox gateway on http://{args.host}:{args.port}/pay -> callbacks to {args.callback_url}; "
        f"statements in {args.statement_dir}" + (" (dev secret)" if secret == DEV_SECRET else ""),
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("stopped")
    finally:
        server.server_close()
    return 0


def _headend(args: argparse.Namespace) -> int:
    from wattdesk.sandbox.headend_server import serve

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    if not 0 <= args.fail_rate <= 1:
        raise UserError(f"--fail-rate must be between 0 and 1, got {args.fail_rate}")
    if args.delay < 0 or args.max_delay < 0:
        raise UserError("--delay and --max-delay must be >= 0")
    try:
        serve(
            port=args.port,
            host=args.host,
            state_file=args.state_file,
            fail_rate=args.fail_rate,
            delay=args.delay,
            max_delay=args.max_delay,
        )
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0
