"""A local sandbox gateway (SMS / app push) that behaves like the real ones, without a network.

``send`` appends one JSON line to ``<dir>/<channel>.jsonl`` and answers a provider id; ``receipts`` reads the
file back and reports, for every message, a delivery receipt: ``delivered``, or ``failed`` for a recipient
the sandbox treats as unreachable. A recipient that starts with ``ERR`` makes ``send`` itself fail (a gateway
outage: the dispatcher retries), one that ends in ``0000`` is accepted but undeliverable, an empty one is refused.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from wattdesk.adapters.notify import Outgoing, Receipt, SendError


class SandboxGateway:
    def __init__(self, *, channel: str, directory: Path) -> None:
        self.channel = channel
        self.path = Path(directory) / f"{channel}.jsonl"

    def send(self, message: Outgoing, *, now: datetime) -> str:
        if not message.recipient:
            raise SendError(f"{self.channel} sandbox: no recipient")
        if message.recipient.startswith("ERR"):
            raise SendError(f"{self.channel} sandbox: gateway unavailable")
        provider_id = f"{self.channel}-{message.message_id}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = {
            "id": provider_id,
            "to": message.recipient,
            "subject": message.subject,
            "body": message.body,
            "at": now.isoformat(),
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
        return provider_id

    def sent(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def receipts(self) -> list[Receipt]:
        out = []
        for row in self.sent():
            at = datetime.fromisoformat(row["at"])
            if row["to"].endswith("0000"):
                out.append(Receipt(row["id"], "failed", at, "unreachable number"))
            else:
                out.append(Receipt(row["id"], "delivered", at))
        return out
