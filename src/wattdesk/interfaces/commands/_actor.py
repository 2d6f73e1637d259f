"""The acting user of a command (``--user``, or ``WATTDESK_USER``): named in the audit entries of the use cases
it calls and checked for the capability they need, exactly as the signed-in user of a page or an API token."""

from __future__ import annotations

import argparse
import os
from typing import Any

from wattdesk.interfaces.cli import UserError

ENV = "WATTDESK_USER"


def add_user_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        default=None,
        help=f"username acting (audited, needs the action's capability); default ${ENV}, else none",
    )


def acting_user(username: str | None) -> Any | None:
    """The active user named by ``--user`` / ``WATTDESK_USER``; None when neither is given."""
    from django.contrib.auth import get_user_model

    name = (username or os.environ.get(ENV, "")).strip()
    if not name:
        return None
    user = get_user_model().objects.filter(username=name, is_active=True).first()
    if user is None:
        raise UserError(f"no active user {name!r} (--user / {ENV})")
    return user
