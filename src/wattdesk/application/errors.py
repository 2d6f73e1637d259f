"""Errors that use cases raise for bad input.

``InputError`` carries one line that names the file (or argument), the place (field, row, column) and what
is wrong. Interfaces turn it into exit code 2 (CLI) or a 4xx with the reason (API); it never reaches a user
as a traceback.

A use case may also give a ``reason_code`` and its ``params``: a page then shows the refusal in its own language
through the catalogs (``interfaces/web/errors.py``); the English message stays for the API and the CLI.
"""

from typing import Any


class InputError(ValueError):
    """Bad input from outside (a file, an argument, a request body): the message is one line."""

    def __init__(self, message: str = "", reason_code: str = "", **params: Any) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.params = params
