"""SMS through the local sandbox gateway (``<data dir>/notify-sandbox/sms.jsonl``)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from wattdesk.adapters.notify.sandbox import SandboxGateway


def sms_gateway(directory: Path | None = None) -> SandboxGateway:
    return SandboxGateway(
        channel="sms", directory=directory or Path(settings.WATTDESK_DATA_DIR) / "notify-sandbox"
    )
