"""The `wattdesk` command line.

Each sub-command lives in its own module under `wattdesk.interfaces.commands` and exposes:

    NAME: str                      # the sub-command name, e.g. "quote"
    HELP: str                      # one line for `wattdesk --help`
    NEEDS_DJANGO: bool             # True if it touches the database (django.setup() is called first)
    def register(parser: argparse.ArgumentParser) -> None   # add its arguments / nested sub-commands
    def run(args: argparse.Namespace) -> int                # do the work, return the exit code

Modules are discovered automatically, so adding a command never edits this file.

Error contract (DEVELOPERS.md): bad input -> exit code 2 and one line on stderr, never a traceback.
A command signals bad input by raising `UserError` (or a use case raises
`wattdesk.application.errors.InputError`); argparse usage errors already exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

from wattdesk.application.errors import InputError
from wattdesk.interfaces import commands as _commands_pkg


class UserError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def _command_modules() -> list[ModuleType]:
    mods = []
    for info in sorted(pkgutil.iter_modules(_commands_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"{_commands_pkg.__name__}.{info.name}"))
    return mods


def _invoked_module(argv: list[str]) -> ModuleType | None:
    """The module of the command named first on the command line, imported alone, or None.

    A command module is named after its command (``synth-payments`` -> ``synth_payments.py``). Importing only that
    one keeps start-up to what the command needs (`wattdesk quote` is timed as a whole process, issue 10: importing
    and registering all the commands cost 0.35-0.7 s on a loaded machine). Anything else (no command, an option
    first, an unknown name) builds the full parser, so help and "invalid choice" read as before.
    """
    if not argv or argv[0].startswith("-"):
        return None
    name = argv[0].replace("-", "_")
    if name.startswith("_") or not any(
        info.name == name for info in pkgutil.iter_modules(_commands_pkg.__path__)
    ):
        return None
    mod = importlib.import_module(f"{_commands_pkg.__name__}.{name}")
    return mod if argv[0] == mod.NAME else None


def build_parser(argv: list[str] | None = None) -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = argparse.ArgumentParser(prog="wattdesk", description="WattDesk electricity marketing management")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    by_name: dict[str, ModuleType] = {}
    only = _invoked_module(argv) if argv is not None else None
    for mod in [only] if only is not None else _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.register(p)
        by_name[mod.NAME] = mod
    return parser, by_name


def setup_django() -> None:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser, by_name = build_parser(argv)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    mod = by_name[args.command]
    try:
        if getattr(mod, "NEEDS_DJANGO", False):
            setup_django()
        code = mod.run(args)
    except (UserError, InputError) as exc:
        print(f"wattdesk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wattdesk {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`wattdesk quote --json | head`): not an error worth a traceback.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    # Run as `python -m wattdesk.interfaces.cli`: this file is then `__main__`, a different module from the
    # `wattdesk.interfaces.cli` the commands import UserError from, so delegate to the real module.
    from wattdesk.interfaces.cli import main as _main

    sys.exit(_main())
