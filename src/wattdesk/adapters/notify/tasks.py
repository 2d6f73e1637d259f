"""Call and visit tasks: handed to the collectors' worklist (a person delivers them), so ``send`` only
accepts the task; the outcome is recorded by the collector later. No receipts."""

from __future__ import annotations

from datetime import datetime

from wattdesk.adapters.notify import Outgoing, Receipt, SendError


class TaskQueue:
    def __init__(self, *, channel: str) -> None:
        self.channel = channel

    def send(self, message: Outgoing, *, now: datetime) -> str:
        if not message.recipient:
            raise SendError(f"{self.channel}: no phone number / address to work with")
        return f"{self.channel}-{message.message_id}"

    def receipts(self) -> list[Receipt]:
        return []
