"""Argument types shared by the sub-commands (argparse turns their ArgumentTypeError into exit code 2 and one
line). The leading underscore keeps this module out of command discovery."""

from __future__ import annotations

import argparse
from datetime import date


def iso_date(text: str) -> date:
    """YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None
