"""Signing rules of the payment-gateway callback protocol (docs/payments-gateway.md). Pure: no clock, no I/O.

The gateway signs the raw request body: ``X-Signature = hex(HMAC-SHA256(secret, body))``. The body carries a
``timestamp`` (Unix seconds) and a ``nonce``; a callback is accepted only within ``WINDOW_SECONDS`` of the time
WattDesk received it, so a message captured and replayed later is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

#: The fixed secret the sandbox gateway and a DEBUG WattDesk share; never used in production.
DEV_SECRET: Final = "wattdesk-sandbox-gateway-dev-secret"
#: How far (seconds) a callback's timestamp may be from the moment it is received, either way.
WINDOW_SECONDS: Final = 300
SIGNATURE_HEADER: Final = "X-Signature"


def sign(*, secret: str, body: bytes) -> str:
    """hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(*, secret: str, body: bytes, signature: str) -> bool:
    """True if ``signature`` is the body's HMAC under ``secret`` (constant-time comparison)."""
    if not secret or not signature or not signature.isascii():
        return False  # compare_digest refuses non-ASCII text (TypeError): such a header is simply wrong
    expected = sign(secret=secret, body=body)
    return hmac.compare_digest(expected, signature.strip().lower())


def within_window(*, timestamp: int, now: int, window: int = WINDOW_SECONDS) -> bool:
    """True if ``timestamp`` is at most ``window`` seconds before or after ``now``."""
    return abs(now - timestamp) <= window


def body_digest(body: bytes) -> str:
    """sha256 hex of the body: a nonce is bound to exactly one message."""
    return hashlib.sha256(body).hexdigest()
