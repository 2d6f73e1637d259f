"""E-mail through an SMTP server (host / port from settings: WATTDESK_SMTP_HOST / WATTDESK_SMTP_PORT).

Uses Django's SMTP backend explicitly (not ``settings.EMAIL_BACKEND``, which tests replace by a memory box):
the message really goes over SMTP. SMTP has no delivery receipts: an accepted message is ``sent``.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend

from wattdesk.adapters.notify import Outgoing, Receipt, SendError


class SmtpAdapter:
    def __init__(
        self, *, host: str | None = None, port: int | None = None, sender: str | None = None
    ) -> None:
        self.host = host or settings.EMAIL_HOST
        self.port = int(port or settings.EMAIL_PORT)
        self.sender = sender or settings.DEFAULT_FROM_EMAIL

    def send(self, message: Outgoing, *, now: datetime) -> str:
        if "@" not in message.recipient:
            raise SendError(f"not an e-mail address: {message.recipient!r}")
        provider_id = f"wattdesk-{message.message_id}@{self.sender.split('@')[-1]}"
        mail = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=self.sender,
            to=[message.recipient],
            headers={"Message-ID": f"<{provider_id}>"},
        )
        backend = EmailBackend(
            host=self.host, port=self.port, timeout=settings.EMAIL_TIMEOUT, fail_silently=False
        )
        try:
            sent = backend.send_messages([mail])
        except OSError as exc:  # smtplib.SMTPException is an OSError
            raise SendError(f"SMTP {self.host}:{self.port}: {exc}") from exc
        if sent != 1:
            raise SendError(f"SMTP {self.host}:{self.port}: message not accepted")
        return provider_id

    def receipts(self) -> list[Receipt]:
        return []
