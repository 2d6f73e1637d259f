"""Top-up -> restore latency through the fee-control use case against the sandbox head-end, versus the
sandbox's own response time (a single POST /commands) as the peer. Prints percentiles; not a test.

    WATTDESK_DATABASE_URL=... .venv/bin/python benchmarks/bench_fee_control_restore.py [N]

Needs a migrated database with one prepaid account per top-up whose meter is off (the script sets them up
with throwaway numbers BENCH-FC-*).
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000


def main(n: int = 50) -> None:
    import django

    django.setup()
    from django.utils import timezone

    from wattdesk.adapters.headend.base import RelayCommand
    from wattdesk.adapters.headend.http_headend import HttpHeadEnd
    from wattdesk.application.fee_control import on_top_up
    from wattdesk.application.payments import post_payment
    from wattdesk.sandbox.headend_server import start_in_thread

    server, _ = start_in_thread(fail_rate=0.2, delay=0.05, max_delay=0.5, seed=1)
    headend = HttpHeadEnd(server.url)
    peer = []
    for i in range(n):
        t = time.perf_counter()
        try:
            headend.send(RelayCommand(f"peer-{uuid.uuid4()}", f"PEER{i}", "restore"))
        except Exception:  # noqa: BLE001 - a failed call is timed too
            pass
        peer.append(time.perf_counter() - t)
    from bench_fee_control_setup import prepaid_accounts_off  # type: ignore[import-not-found]

    numbers = prepaid_accounts_off(n)
    lat = []
    for number in numbers:
        now = timezone.now()
        post_payment(account_number=number, amount="500.00", channel="prepaid",
                     channel_txn_id=f"BENCH-{uuid.uuid4().hex[:20]}", received_at=now)
        t = time.perf_counter()
        on_top_up(account_number=number, now=now, headend=headend)
        lat.append(time.perf_counter() - t)
    server.shutdown()
    for name, xs in (("top-up->restore", lat), ("sandbox POST", peer)):
        print(f"{name:16s} n={len(xs)} mean {statistics.mean(xs)*1000:.0f} ms  p50 {pct(xs, .5):.0f}  "
              f"p90 {pct(xs, .9):.0f}  p99 {pct(xs, .99):.0f} ms")
    print(f"ratio p50 {pct(lat, .5) / pct(peer, .5):.2f}x the sandbox's own response time")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
