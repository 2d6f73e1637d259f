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


def acting_user(username: str | None, *, needs: tuple[str, ...] = ()) -> Any | None:
    """The active user named by ``--user`` / ``WATTDESK_USER``; None when neither is given. With ``needs``, the
    user must hold one of those capabilities (what the API and the pages require for the same action; the bill
    review use cases check their own)."""
    from django.contrib.auth import get_user_model

    from wattdesk.domain.access.queries import capabilities

    name = (username or os.environ.get(ENV, "")).strip()
    if not name:
        return None
    user = get_user_model().objects.filter(username=name, is_active=True).first()
    if user is None:
        raise UserError(f"no active user {name!r} (--user / {ENV})")
    if needs and not capabilities(user) & set(needs):
        raise UserError(f"user {name!r} may not do this: it needs the {' or '.join(needs)} capability")
    return user
