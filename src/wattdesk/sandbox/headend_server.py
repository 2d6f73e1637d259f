"""A sandbox AMI head-end (主站仿真): its own small web service for development, tests and benchmarks.

It keeps the relay state of every meter it has been told about in a JSON file (a meter never commanded is
"on"), answers every call after a random delay (``delay`` .. ``max_delay`` seconds) and fails a share of the
commands (``fail_rate``) with HTTP 503. Half of the failures happen *before* the relay is operated, half
*after* it (the acknowledgement is lost on the way back), like a real head-end behind a flaky network.

It is idempotent on the command id: a command id already executed is answered with its first
acknowledgement and does not operate the relay again; ``GET /log`` lists the relay operations.

    wattdesk sandbox headend --port 8701 --fail-rate 0.2 --delay 0.05 --max-delay 0.5 --state-file s.json
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ACTIONS = {"disconnect": "off", "restore": "on"}


class HeadEndState:
    """Relay states, acknowledgements and the operation log, persisted to ``path`` (if given)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.meters: dict[str, str] = {}
        self.acks: dict[str, dict[str, str]] = {}
        self.log: list[dict[str, str]] = []
        if path is not None and path.exists():
            doc = json.loads(path.read_text(encoding="utf-8"))
            self.meters, self.acks, self.log = doc["meters"], doc["acks"], doc["log"]

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"meters": self.meters, "acks": self.acks, "log": self.log}), encoding="utf-8"
        )
        tmp.replace(self.path)

    def execute(self, command_id: str, meter: str, action: str) -> dict[str, str]:
        """Operate the relay once per command id; a repeat returns the first answer."""
        with self.lock:
            done = self.acks.get(command_id)
            if done is not None:
                return done
            self.meters[meter] = ACTIONS[action]
            answer = {"ack": f"ACK-{len(self.acks) + 1:06d}", "state": self.meters[meter]}
            self.acks[command_id] = answer
            self.log.append({"id": command_id, "meter": meter, "action": action, "ack": answer["ack"]})
            self._save()
            return answer


class HeadEndServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        state_file: Path | None = None,
        fail_rate: float = 0.0,
        delay: float = 0.0,
        max_delay: float | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.state = HeadEndState(state_file)
        self.fail_rate = fail_rate
        self.delay = delay
        self.max_delay = delay if max_delay is None else max(max_delay, delay)
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def draw(self) -> tuple[float, float]:
        with self.rng_lock:
            return self.rng.uniform(self.delay, self.max_delay), self.rng.random()


class _Handler(BaseHTTPRequestHandler):
    server: HeadEndServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        wait, _ = self.server.draw()
        time.sleep(wait)
        st = self.server.state
        if self.path.startswith("/meters/"):
            serial = self.path[len("/meters/") :]
            with st.lock:
                self._answer(200, {"serial": serial, "state": st.meters.get(serial, "on")})
        elif self.path == "/log":
            with st.lock:
                self._answer(200, {"operations": list(st.log)})
        else:
            self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/commands":
            self._answer(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            doc = json.loads(self.rfile.read(length) or b"{}")
            command_id, meter, action = str(doc["id"]), str(doc["meter"]), str(doc["action"])
        except (ValueError, KeyError, TypeError):
            self._answer(400, {"error": "body must be JSON with id, meter, action"})
            return
        if action not in ACTIONS or not command_id or not meter:
            self._answer(400, {"error": f"unknown action {action!r}"})
            return
        wait, luck = self.server.draw()
        time.sleep(wait)
        fail = luck < self.server.fail_rate
        if fail and luck < self.server.fail_rate / 2:  # fails before operating the relay
            self._answer(503, {"error": "head-end busy"})
            return
        answer = self.server.state.execute(command_id, meter, action)
        if fail:  # operated, but the acknowledgement is lost
            self._answer(503, {"error": "gateway timeout to the concentrator"})
            return
        self._answer(200, answer)


def start_in_thread(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    state_file: Path | None = None,
    fail_rate: float = 0.0,
    delay: float = 0.0,
    max_delay: float | None = None,
    seed: int | None = None,
) -> tuple[HeadEndServer, threading.Thread]:
    """Start a sandbox head-end on a background thread (port 0: a free port); stop it with ``shutdown()``
    then ``server_close()``."""
    server = HeadEndServer(
        (host, port), state_file=state_file, fail_rate=fail_rate, delay=delay, max_delay=max_delay, seed=seed
    )
    thread = threading.Thread(target=server.serve_forever, name="sandbox-headend", daemon=True)
    thread.start()
    return server, thread


def serve(
    *, port: int, host: str, state_file: Path | None, fail_rate: float, delay: float, max_delay: float | None
) -> None:
    server = HeadEndServer(
        (host, port), state_file=state_file, fail_rate=fail_rate, delay=delay, max_delay=max_delay
    )
    print(
        f"sandbox head-end on {server.url} (fail rate {fail_rate}, delay {delay}..{server.max_delay} s)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
