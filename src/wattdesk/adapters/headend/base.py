"""The AMI head-end (主站) port: what WattDesk needs from a head-end to cut and restore supply remotely.

``send`` delivers one relay command and returns the head-end's acknowledgement id. The command id is the
idempotency key: a head-end answers a repeated command id with the acknowledgement of the first one and
operates the relay once. ``TransientError`` (timeout, 5xx, connection refused) means "try again later";
``PermanentError`` (the head-end refused the command: unknown meter, bad action) means retrying is useless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

RelayAction = Literal["disconnect", "restore"]


class HeadEndError(Exception):
    """A head-end call failed."""


class TransientError(HeadEndError):
    """The command may or may not have reached the meter; send it again (same id) later."""


class PermanentError(HeadEndError):
    """The head-end refused the command; retrying will not help."""


@dataclass(frozen=True)
class RelayCommand:
    command_id: str
    meter_serial: str
    action: RelayAction


class HeadEnd(Protocol):
    def send(self, command: RelayCommand) -> str:
        """Deliver ``command``; return the acknowledgement id. Raises TransientError / PermanentError."""
        ...
