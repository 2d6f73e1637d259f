"""The gateway callback log keeps a malformed body readable and storable: never U+FFFD, never a NUL (which
PostgreSQL refuses in text: a 500 for anyone who posts one), whatever bytes an outsider posts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from wattdesk.core.gateway_signing import sign
from wattdesk.domain.gateway.models import CallbackLog

pytestmark = pytest.mark.django_db
SECRET = "test-gateway-secret"


@pytest.fixture(autouse=True)
def _secret(settings: Any) -> None:
    settings.WATTDESK_GATEWAY_SECRET = SECRET


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (b'{"order_no": "\x00WD1"}', '{"order_no": "\\x00WD1"}'),
        (b'{"order_no": "\xff\xfeWD1"}', '{"order_no": "\\xff\\xfeWD1"}'),
        ('{"order_no": "张三"}'.encode("gb18030"), '{"order_no": "\\xd5\\xc5\\xc8\\xfd"}'),
        (b"\x00" * 10, "\\x00" * 10),
    ],
)
def test_a_malformed_signed_body_is_a_400_and_logged_without_nul_or_replacement(
    raw: bytes, stored: str
) -> None:
    r = Client().post(
        "/gateway/callback/",
        raw,
        content_type="application/json",
        headers={"X-Signature": sign(secret=SECRET, body=raw)},
    )
    assert r.status_code == 400
    log = CallbackLog.objects.get()
    assert log.body == stored
    assert "\ufffd" not in log.body and "\x00" not in log.body


def test_a_malformed_unsigned_body_is_logged_the_same_way() -> None:
    raw = b"\x00\xff"
    r = Client().post(
        "/gateway/callback/", raw, content_type="application/json", headers={"X-Signature": "00"}
    )
    assert r.status_code == 400
    assert CallbackLog.objects.get().body == "\\x00\\xff"
