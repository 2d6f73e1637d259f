"""An HTTP head-end client (the sandbox head-end speaks this protocol).

    POST {base}/commands  {"id": ..., "meter": ..., "action": "disconnect"|"restore"}
         200 {"ack": "...", "state": "on"|"off"}   503 / 5xx: transient   4xx: refused
    GET  {base}/meters/{serial}  -> {"serial": ..., "state": "on"|"off"}
    GET  {base}/log              -> {"operations": [{"id", "meter", "action", "ack"}, ...]}

Every call has a timeout: a head-end that does not answer in time is a TransientError (the command may have
been executed; the retry with the same id is answered with the first acknowledgement).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from wattdesk.adapters.headend.base import PermanentError, RelayCommand, TransientError


class HttpHeadEnd:
    def __init__(self, base_url: str, *, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload: dict[str, Any] = json.loads(resp.read() or b"{}")
                return payload
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode("utf-8", "replace")
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(f"head-end HTTP {exc.code}: {detail}") from exc
            raise PermanentError(f"head-end refused (HTTP {exc.code}): {detail}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise TransientError(f"head-end unreachable: {exc}") from exc
        except ValueError as exc:  # a garbled answer: the command's fate is unknown, retry with the same id
            raise TransientError(f"head-end answered garbage: {exc}") from exc

    def send(self, command: RelayCommand) -> str:
        answer = self._call(
            "POST",
            "/commands",
            {"id": command.command_id, "meter": command.meter_serial, "action": command.action},
        )
        ack = answer.get("ack")
        if not isinstance(ack, str) or not ack:
            raise TransientError("head-end answer without an acknowledgement id")
        return ack

    def meter_state(self, serial: str) -> str:
        return str(self._call("GET", f"/meters/{serial}").get("state", "on"))

    def operations(self) -> list[dict[str, Any]]:
        ops = self._call("GET", "/log").get("operations", [])
        return list(ops) if isinstance(ops, list) else []


def configured_headend() -> HttpHeadEnd | None:
    """The head-end named by ``WATTDESK_HEADEND_URL`` (timeout ``WATTDESK_HEADEND_TIMEOUT`` seconds, default
    2), or None when none is configured (commands then wait in the queue)."""
    url = os.environ.get("WATTDESK_HEADEND_URL", "").strip()
    if not url:
        return None
    try:
        timeout = float(os.environ.get("WATTDESK_HEADEND_TIMEOUT", "") or 2.0)
    except ValueError:
        timeout = 2.0
    return HttpHeadEnd(url, timeout=timeout if timeout > 0 else 2.0)
