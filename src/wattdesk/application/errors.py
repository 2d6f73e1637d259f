"""Errors that use cases raise for bad input.

``InputError`` carries one line that names the file (or argument), the place (field, row, column) and what
is wrong. Interfaces turn it into exit code 2 (CLI) or a 4xx with the reason (API); it never reaches a user
as a traceback.
"""


class InputError(ValueError):
    """Bad input from outside (a file, an argument, a request body): the message is one line."""
