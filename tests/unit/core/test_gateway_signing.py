"""HMAC signing of gateway callbacks (core.gateway_signing)."""

from __future__ import annotations

import hashlib
import hmac

from wattdesk.core.gateway_signing import WINDOW_SECONDS, body_digest, sign, verify, within_window


class TestSign:
    def test_is_hex_hmac_sha256_of_the_raw_body(self) -> None:
        # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        assert sign(secret="Jefe", body=b"what do ya want for nothing?") == (
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        )

    def test_verify_accepts_upper_case_and_refuses_any_change(self) -> None:
        sig = sign(secret="s", body=b'{"amount":"1.00"}')
        assert verify(secret="s", body=b'{"amount":"1.00"}', signature=sig.upper())
        assert not verify(secret="s", body=b'{"amount":"1.01"}', signature=sig)
        assert not verify(secret="t", body=b'{"amount":"1.00"}', signature=sig)
        assert not verify(secret="", body=b"", signature=hmac.new(b"", b"", hashlib.sha256).hexdigest())
        assert not verify(secret="s", body=b"x", signature="")

    def test_verify_refuses_a_non_ascii_signature_instead_of_raising(self) -> None:
        body = b'{"a":1}'
        good = sign(secret="s", body=body)
        assert not verify(secret="s", body=body, signature="é" + good[1:])
        assert not verify(secret="s", body=body, signature="签名")
        assert not verify(secret="s", body=body, signature=good[:-1] + "\u0660")


class TestWindow:
    def test_is_inclusive_both_ways(self) -> None:
        assert WINDOW_SECONDS == 300
        assert within_window(timestamp=1000, now=1300) and within_window(timestamp=1300, now=1000)
        assert not within_window(timestamp=1000, now=1301) and not within_window(timestamp=1301, now=1000)

    def test_digest_is_sha256(self) -> None:
        assert body_digest(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
