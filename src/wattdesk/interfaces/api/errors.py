"""Errors the API turns into 4xx responses with a JSON ``{"detail": reason}`` body."""

from __future__ import annotations

from collections.abc import Sequence


class ItemsRejected(Exception):
    """Some items of a request list are bad: 422 with ``errors: [{index, field, reason}]``; nothing written."""

    def __init__(self, errors: Sequence[tuple[int | None, str, str]]) -> None:
        self.errors = list(errors)
        bad = len({i for i, _, _ in self.errors})
        super().__init__(f"{bad} bad item(s), nothing stored")
