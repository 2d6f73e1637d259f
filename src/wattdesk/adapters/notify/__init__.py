"""Notification adapters for the dunning outbox.

Every adapter has ``send(message) -> provider id`` (raises :class:`SendError` on failure; the dispatcher
retries) and ``receipts() -> list[Receipt]`` (delivery receipts reported by the gateway since it started;
adapters without receipts return ``[]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol


class SendError(Exception):
    """The gateway refused or failed to take the message (temporary or permanent)."""


@dataclass(frozen=True)
class Outgoing:
    message_id: int
    channel: str
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True)
class Receipt:
    provider_id: str
    status: Literal["delivered", "failed"]
    at: datetime
    error: str = ""


class Adapter(Protocol):
    def send(self, message: Outgoing, *, now: datetime) -> str: ...

    def receipts(self) -> list[Receipt]: ...
