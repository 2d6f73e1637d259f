"""Benchmark: payments posted per second through the REST API on PostgreSQL, against peers in the same run.

    python benchmarks/bench_payments_api.py --pg-url postgresql://wattdesk@127.0.0.1:55432/postgres
    python benchmarks/bench_payments_api.py --pg-url URL --db-name h4_payapi --reuse-seed \
        --accounts 100000 --clients 16 --single 4000 --batch-items 20000 --batch-sizes 100,1000

Steps: a seed database ``<db-name>_seed`` (default db-name ``wd_payapi_<N>``, created through --pg-url /
WATTDESK_BENCH_POSTGRES_URL) loaded in a child process: migrate, bulk-load N accounts with the loader of
``bench_billing_run.py``, bill 2026-03 (``run_billing``: every account gets a ledger charge) and issue the
bills, create the demo logins and an API token for ``demo_billing_clerk`` (a company-wide role holding
``payments.counter``, as a bank integration's login would). With ``--reuse-seed`` the seed is kept (what it
holds is in its COMMENT) and later runs copy it (``CREATE DATABASE ... TEMPLATE``) instead of loading again;
otherwise it is dropped at the end. The run itself uses a fresh copy ``<db-name>`` (dropped unless --keep-db):

(a0) the baseline: the previous ``post_payment`` (``_payments_baseline.py``), called serially in-process;
(a) the in-process peer: the current ``post_payment`` called serially (no HTTP); ``--serial`` payments each.

Then ``wattdesk serve`` as a user runs it (with its task-queue worker; ``--workers`` when this checkout's
``serve`` has the option, else one process, said in the output) on a free loopback port, and ``--clients``
client threads in this process, each with its own keep-alive HTTP/1.1 connection (http.client):

(b) the HTTP ceiling: ``GET /health/`` for ``--health-seconds`` (middleware, no query);
(c) ``POST /api/payments``: ``--single`` distinct payments, each for a distinct account;
(d) ``POST /api/payments/batch``: ``--batch-items`` distinct payments in requests of each of ``--batch-sizes``.

Every payment is for its own account (no lock waits between clients) and is a partial payment of the account's
bill (an allocation is written). It prints, per phase as it ends, payments/s, p50/p95 request latency, the
CPU time per payment of the app (every process of the server; for (a0)/(a) the peer's own process), of the
PostgreSQL backends of the database and of this client (psutil), and the peak resident memory of the server
(of this client): on a shared machine CPU per payment is steadier than wall time, and 2,000 / (app +
PostgreSQL ms) bounds what two idle cores could do. Then the ratios to the baseline and the peers, and the
number of payments and payment ledger entries in the database against the number posted (a check printed,
not asserted), with the machine and the load average. Timing is never a pass/fail test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _common import machine  # noqa: E402

PASSWORD = "bench-Payments-9"
AMOUNT = "1.00"  # below every bill: a partial payment, one allocation each


def _setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    django.setup()


# ------------------------------------------------------------------------------------------------ setup (child)


def seed_worker(n: int) -> dict[str, Any]:
    """Child process (WATTDESK_DATABASE_URL = the seed database): migrate, load, bill + issue, logins, token."""
    _setup_django()
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from bench_billing_run import PERIOD, load_company
    from django.core.management import call_command
    from django.utils import timezone

    from wattdesk.application.billing.review import issue_bills
    from wattdesk.application.billing.run import run_billing
    from wattdesk.domain.access.operations import create_demo_users
    from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
    from wattdesk.interfaces.api.tokens import create_token

    sh = ZoneInfo("Asia/Shanghai")
    call_command("migrate", verbosity=0)
    info = load_company(n)
    t0 = time.perf_counter()
    billed = run_billing(period=PERIOD, run_at=datetime(2026, 4, 2, 8, tzinfo=sh))
    issued = issue_bills(
        period=PERIOD, user=None, issued_at=datetime(2026, 4, 3, 8, tzinfo=sh), issued_on=date(2026, 4, 3)
    )
    bill_s = time.perf_counter() - t0
    create_demo_users(password=PASSWORD)
    token = create_token(username="demo_billing_clerk", name="bench_payments_api", created_at=timezone.now())
    charged = LedgerEntry.objects.filter(kind=LedgerEntryKind.CHARGE).values("account_id").distinct().count()
    return {
        "accounts": n,
        "load_s": info["load_s"],
        "bill_s": bill_s,
        "billed": billed.bills,
        "issued": issued.issued,
        "charged_accounts": charged,
        "token": token.secret,
    }


def peers_worker(serial: int) -> dict[str, Any]:
    """Child process (WATTDESK_DATABASE_URL = the copy of the seed): migrations the seed lacks, then the
    in-process peers: (a0) the previous ``post_payment`` (``_payments_baseline``) and (a) the current one,
    ``serial`` payments each, on distinct accounts."""
    _setup_django()
    from _payments_baseline import post_payment_baseline
    from django.core.management import call_command

    from wattdesk.application.payments.posting import post_payment

    call_command("migrate", verbosity=0)
    base = serial_peer(serial, post_payment_baseline, first=1, prefix="baseline")
    new = serial_peer(serial, post_payment, first=serial + 1, prefix="serial")
    return {
        **{f"baseline_{k}": v for k, v in base.items()},
        **new,
    }


def serial_peer(count: int, post: Any, *, first: int, prefix: str) -> dict[str, Any]:
    """An in-process peer: ``post`` (a ``post_payment``) called serially in this process for accounts
    first..first+count-1 (real commits)."""
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = [int(cur.fetchone()[0])]
    lat: list[float] = []
    cpu0 = cpu_of([os.getpid()]), cpu_of(backend)
    t0 = time.perf_counter()
    for k in range(first, first + count):
        t = time.perf_counter()
        post(
            account_number=account_number(k),
            amount=AMOUNT,
            channel="counter",
            channel_txn_id=f"{prefix}-{k}",
            received_at=timezone.now(),
        )
        lat.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - t0
    count = max(count, 1)
    import resource

    load = os.getloadavg()[0]
    return {
        "serial_load": load,
        "serial_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "serial_count": count,
        "serial_s": elapsed,
        "serial_lat": percentiles(lat),
        "serial_cpu": {
            "app": (cpu_of([os.getpid()]) - cpu0[0]) / count * 1000,
            "pg": (cpu_of(backend) - cpu0[1]) / count * 1000,
        },
    }


def cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes (those still running)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def rss_of(pids: list[int]) -> int:
    """Resident memory (bytes) of these processes together."""
    import psutil

    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            continue
    return total


def pg_backends(dbname: str) -> list[int]:
    """The PostgreSQL backend processes connected to ``dbname`` (server on this machine)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        title = " ".join(proc.info["cmdline"] or ())
        if title.startswith("postgres: ") and f" {dbname} " in title:
            found.append(proc.pid)
    return found


def serve_options() -> set[str]:
    """The options of this checkout's ``wattdesk serve`` (``--workers`` where multi-process serving exists)."""
    wattdesk = Path(sys.executable).parent / "wattdesk"
    out = subprocess.run(
        [str(wattdesk), "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    return {w.strip("[],") for w in out.split() if w.startswith(("--", "[--"))}


def start_server(stack: ExitStack, env: dict[str, str], workers: int | None, threads: int) -> tuple[str, int]:
    """``wattdesk serve`` (with its task-queue worker, as a user runs it) on a free loopback port; waits for
    /health/. Returns (base URL, process group id: the server's processes and its worker)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    wattdesk = Path(sys.executable).parent / "wattdesk"
    cmd = [str(wattdesk), "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)]
    cmd += ["--no-migrate"] + (["--workers", str(workers)] if workers else [])
    log = open(Path(env["WATTDESK_DATA_DIR"]) / "serve.log", "w")  # noqa: SIM115 - closed at exit
    stack.callback(log.close)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    stack.callback(stop)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900  # the first start collects static files
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"wattdesk serve exited ({proc.returncode}); see {log.name}")
        try:
            with urllib.request.urlopen(f"{base}/health/", timeout=2) as resp:
                if resp.status == 200:
                    return base, proc.pid
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"wattdesk serve did not answer /health/ in time; see {log.name}")


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group (the server's master, its workers and its task worker)."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                found.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def account_number(k: int) -> str:
    return f"A{k:09d}"  # the loader's account numbers, 1-based


def percentiles(lat: list[float]) -> dict[str, float]:
    if not lat:
        return {"p50": 0.0, "p95": 0.0}
    s = sorted(lat)
    return {"p50": s[len(s) // 2] * 1000, "p95": s[min(len(s) - 1, int(len(s) * 0.95))] * 1000}


# ------------------------------------------------------------------------------------------------ driver


class Client:
    """One keep-alive HTTP/1.1 connection (reconnects if the server closes it)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(host, port, timeout=120)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def run_phase(
    clients: list[Client], jobs: list[tuple[str, str, Any]], expect: set[int], *, seconds: float | None = None
) -> dict[str, Any]:
    """Each client thread takes the next job (method, path, body) until none is left (or ``seconds`` pass,
    when the jobs are cycled). Returns requests, wall time, latencies and unexpected answers."""
    lock = threading.Lock()
    state = {"next": 0}
    lat: list[float] = []
    bad: list[tuple[int, bytes]] = []
    deadline = time.perf_counter() + seconds if seconds else None

    def take() -> tuple[str, str, Any] | None:
        with lock:
            i = state["next"]
            if deadline is None and i >= len(jobs):
                return None
            state["next"] = i + 1
        return jobs[i % len(jobs)]

    def work(client: Client) -> None:
        mine: list[float] = []
        while deadline is None or time.perf_counter() < deadline:
            job = take()
            if job is None:
                break
            t = time.perf_counter()
            status, content = client.call(*job)
            mine.append(time.perf_counter() - t)
            if status not in expect:
                with lock:
                    bad.append((status, content[:300]))
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "requests": len(lat),
        "seconds": elapsed,
        **percentiles(lat),
        "errors": len(bad),
        "samples": bad[:3],
    }


def payment(k: int, prefix: str) -> dict[str, Any]:
    return {
        "account": account_number(k),
        "amount": AMOUNT,
        "channel": "bank",
        "channel_txn_id": f"{prefix}-{k}",
    }


# ------------------------------------------------------------------------------------------------ orchestration


def child(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def count_check(env: dict[str, str]) -> dict[str, Any]:
    """Child process: payments and payment ledger entries in the database, by channel."""
    _setup_django()
    from django.db.models import Count

    from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
    from wattdesk.domain.payments.models import Payment, PaymentAllocation

    by_channel = dict(Payment.objects.values("channel").annotate(n=Count("id")).values_list("channel", "n"))
    return {
        "payments": sum(by_channel.values()),
        "by_channel": by_channel,
        "ledger_payments": LedgerEntry.objects.filter(kind=LedgerEntryKind.PAYMENT).count(),
        "allocations": PaymentAllocation.objects.count(),
    }


HEADER = (
    "| what | payments/s (requests/s for /health/) | requests | errors | p50 ms | p95 ms | CPU ms per payment: "
    "app + PostgreSQL (+ client) | peak RSS MB: server (client) | load avg |\n|---|---:|---:|---:|---:|---:|---|---|---:|"
)


def row(r: dict[str, Any]) -> str:
    return (
        f"| {r['name']} | **{r['rate']:,.0f}** | {r['requests']:,} | {r['errors']} | {r['p50']:.1f} | "
        f"{r['p95']:.1f} | {r['cpu_server']:.2f} + {r['cpu_pg']:.2f} (+ {r['cpu_client']:.2f}) | "
        f"{r.get('rss_server', 0):,.0f} ({r.get('rss_client', 0):,.0f}) | {r['load']:.1f} |"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--pg-url",
        default=os.environ.get("WATTDESK_BENCH_POSTGRES_URL"),
        help="a PostgreSQL server's maintenance URL; the script creates (and drops) wd_payapi_<N> there",
    )
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--clients", type=int, default=16, help="concurrent client threads (connections)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="`wattdesk serve --workers` (default: its own default), when this checkout has the option",
    )
    p.add_argument("--threads", type=int, default=4, help="`wattdesk serve --threads`")
    p.add_argument("--serial", type=int, default=500, help="payments of the in-process serial peer")
    p.add_argument("--single", type=int, default=2000, help="payments through POST /api/payments")
    p.add_argument(
        "--batch-items", type=int, default=10_000, help="payments through POST /api/payments/batch"
    )
    p.add_argument(
        "--batch-sizes",
        default="100,1000",
        help="payments per batch request, one phase of --batch-items payments per size (comma-separated)",
    )
    p.add_argument("--health-seconds", type=float, default=15)
    p.add_argument("--db-name", default=None, help="database to run in (default wd_payapi_<N>)")
    p.add_argument("--keep-db", action="store_true", help="keep the database of the run")
    p.add_argument(
        "--reuse-seed",
        action="store_true",
        help="keep the loaded, billed database <db-name>_seed and copy it on the next run instead of loading",
    )
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--peers", type=int, help=argparse.SUPPRESS)
    p.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.seed is not None:
        print(json.dumps(seed_worker(args.seed)))
        return 0
    if args.peers is not None:
        print(json.dumps(peers_worker(args.peers)))
        return 0
    if args.count:
        print(json.dumps(count_check(dict(os.environ))))
        return 0
    if not args.pg_url:
        print("bench_payments_api: skipped - needs PostgreSQL: --pg-url URL (or WATTDESK_BENCH_POSTGRES_URL)")
        return 0
    warm = args.clients * 5
    try:
        sizes = [int(x) for x in args.batch_sizes.split(",")]
    except ValueError:
        p.error(f"--batch-sizes: comma-separated integers, got {args.batch_sizes!r}")
    if not sizes or not all(1 <= x <= 1000 for x in sizes):
        p.error("--batch-sizes: each size 1 to 1000 (the endpoint's limit)")
    need = 2 * args.serial + warm + args.single + args.batch_items * len(sizes)
    if need > args.accounts:
        p.error(f"{need:,} payments need as many accounts: raise --accounts or lower the counts")

    import psycopg
    from psycopg import sql

    print(f"# {machine()}", flush=True)
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with ExitStack() as stack:
        dbname = args.db_name or f"wd_payapi_{args.accounts}"
        seedname = f"{dbname}_seed"
        server_url = args.pg_url.rsplit("/", 1)[0]
        env = dict(os.environ)
        env.pop("WATTDESK_DEBUG", None)
        env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
        tmp = tempfile.mkdtemp(prefix="wd-payapi-")
        stack.callback(shutil.rmtree, tmp, True)
        env["WATTDESK_DATA_DIR"] = tmp
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
            seeded = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [seedname]
            ).fetchone()
            info = json.loads(seeded[0]) if args.reuse_seed and seeded and seeded[0] else None
            if info is None or info.get("accounts") != args.accounts:
                conn.execute(f"DROP DATABASE IF EXISTS {seedname} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {seedname}")
                info = None
        print(f"# PostgreSQL {version[0] if version else '?'}, database {dbname}", flush=True)
        t0 = time.perf_counter()
        if info is None:
            info = child(
                {**env, "WATTDESK_DATABASE_URL": f"{server_url}/{seedname}"}, "--seed", str(args.accounts)
            )
            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                        sql.Identifier(seedname), sql.Literal(json.dumps(info))
                    )
                )
            print(
                f"# setup {time.perf_counter() - t0:.0f} s: {info['accounts']:,} accounts (load {info['load_s']:.0f} s), "
                f"{info['billed']:,} bills run and {info['issued']:,} issued in {info['bill_s']:.0f} s, "
                f"{info['charged_accounts']:,} accounts with a ledger charge",
                flush=True,
            )
        else:
            print(
                f"# reusing {seedname}: {info['accounts']:,} accounts, {info['issued']:,} issued bills",
                flush=True,
            )
        with psycopg.connect(args.pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {dbname} TEMPLATE {seedname}")

        def drop(name: str) -> None:
            with psycopg.connect(args.pg_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

        if not args.reuse_seed:
            stack.callback(drop, seedname)
        if not args.keep_db:
            stack.callback(drop, dbname)
        env["WATTDESK_DATABASE_URL"] = f"{server_url}/{dbname}"
        info.update(child(env, "--peers", str(args.serial)))
        multi = "--workers" in serve_options()
        workers = args.workers if multi else None
        base, pgid = start_server(stack, env, workers, args.threads)
        host, port = base.removeprefix("http://").split(":")
        clients = [Client(host, int(port), info["token"]) for _ in range(args.clients)]

        def close_clients() -> None:
            for c in clients:
                c.conn.close()

        stack.callback(close_clients)
        print(
            f"# wattdesk serve at {base}: "
            + (
                (f"--workers {workers} " if workers else "its default --workers ")
                if multi
                else "one process (no --workers in this checkout) "
            )
            + f"--threads {args.threads}, with its task-queue worker; {args.clients} client threads",
            flush=True,
        )

        def phase(
            name: str,
            jobs: list[tuple[str, str, Any]],
            expect: set[int],
            payments: int,
            seconds: float | None = None,
        ) -> dict[str, Any]:
            """One measured phase, its row printed at once; CPU ms per payment (or request) of the server, the
            PostgreSQL backends and this client."""
            pg0 = {pid: cpu_of([pid]) for pid in pg_backends(dbname)}
            server = group_pids(pgid)
            srv0, me0 = cpu_of(server), cpu_of([os.getpid()])
            # backends come and go (CONN_MAX_AGE): sample their CPU while the phase runs, keep the last value
            pg1 = dict(pg0)
            done = threading.Event()
            peak = {"server": 0, "client": 0}

            def sample() -> None:
                while True:
                    for pid in pg_backends(dbname):
                        pg1[pid] = max(pg1.get(pid, 0.0), cpu_of([pid]))
                    peak["server"] = max(peak["server"], rss_of(group_pids(pgid)))
                    peak["client"] = max(peak["client"], rss_of([os.getpid()]))
                    if done.wait(0.5):
                        return

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            r = run_phase(clients, jobs, expect, seconds=seconds)
            done.set()
            sampler.join()
            n = payments or r["requests"]
            r.update(
                name=name,
                rate=n / r["seconds"],
                cpu_server=(cpu_of(server) - srv0) / n * 1000,
                rss_server=peak["server"] / 2**20,
                rss_client=peak["client"] / 2**20,
                cpu_pg=sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items()) / n * 1000,
                cpu_client=(cpu_of([os.getpid()]) - me0) / n * 1000,
                load=os.getloadavg()[0],
            )
            print(row(r), flush=True)
            if r["errors"]:
                print(f"#   {r['errors']} unexpected answers, e.g. {r['samples']}", flush=True)
            return r

        k = 2 * args.serial  # accounts 1..2*serial were paid by the peers
        # warm-up: every connection opened, the API's first-call imports done (posted, counted, not timed)
        run_phase(
            clients, [("POST", "/api/payments", payment(k + i, "warm")) for i in range(1, warm + 1)], {201}
        )
        k += warm
        print(HEADER, flush=True)

        def in_process(name: str, pre: str) -> dict[str, Any]:
            return {
                "name": name,
                "rate": info[f"{pre}serial_count"] / info[f"{pre}serial_s"],
                "requests": info[f"{pre}serial_count"],
                "errors": 0,
                **info[f"{pre}serial_lat"],
                "cpu_server": info[f"{pre}serial_cpu"]["app"],
                "cpu_pg": info[f"{pre}serial_cpu"]["pg"],
                "cpu_client": 0.0,
                "load": info[f"{pre}serial_load"],
                "rss_server": info[f"{pre}serial_rss"],
            }

        baseline = in_process("(a0) previous post_payment in-process, serial (baseline)", "baseline_")
        serial = in_process("(a) post_payment in-process, serial (peer)", "")
        print(row(baseline), flush=True)
        print(row(serial), flush=True)
        health = phase(
            "(b) GET /health/ (HTTP ceiling)", [("GET", "/health/", None)], {200}, 0, args.health_seconds
        )
        single_jobs = [("POST", "/api/payments", payment(k + i, "api")) for i in range(1, args.single + 1)]
        k += args.single
        single = phase("POST /api/payments", single_jobs, {201}, args.single)
        batches = []
        for bs in sizes:
            batch_jobs = [
                (
                    "POST",
                    "/api/payments/batch",
                    [payment(k + i, f"batch{bs}") for i in range(lo, min(lo + bs, args.batch_items + 1))],
                )
                for lo in range(1, args.batch_items + 1, bs)
            ]
            k += args.batch_items
            name = f"POST /api/payments/batch ({bs} per request)"
            batches.append(phase(name, batch_jobs, {201}, args.batch_items))
        check = child(env, "--count")

    print()
    print(
        f"post_payment in-process: {serial['rate'] / baseline['rate']:.2f}x the previous implementation; "
        f"CPU per payment {(baseline['cpu_server'] + baseline['cpu_pg']) / (serial['cpu_server'] + serial['cpu_pg']):.2f}x less"
    )
    print(
        f"POST /api/payments: {single['rate'] / baseline['rate']:.2f}x the previous post_payment in-process, "
        f"{single['rate'] / serial['rate']:.2f}x the serial in-process peer, "
        f"{single['rate'] / health['rate']:.3f}x /health/ requests/s"
    )
    for batch in batches:
        print(
            f"{batch['name']}: {batch['rate'] / baseline['rate']:.2f}x the previous post_payment in-process, "
            f"{batch['rate'] / serial['rate']:.2f}x the peer, {batch['rate'] / single['rate']:.2f}x the single endpoint"
        )
    for r in (baseline, serial, single, *batches):
        cpu = r["cpu_server"] + r["cpu_pg"]
        print(
            f"CPU per payment, {r['name']}: {cpu:.2f} ms (app {r['cpu_server']:.2f} + PostgreSQL {r['cpu_pg']:.2f})"
            f" -> at most {2000 / cpu:,.0f} payments/s if 2 cores did nothing else"
        )
    expected = (
        info["baseline_serial_count"]
        + info["serial_count"]
        + warm
        + args.single
        + args.batch_items * len(sizes)
    )
    ok = check["payments"] == check["ledger_payments"] == expected
    print(
        f"count check: {check['payments']:,} payments in the database ({check['by_channel']}), "
        f"{check['ledger_payments']:,} payment ledger entries, {check['allocations']:,} allocations; "
        f"expected {expected:,} -> {'OK' if ok else 'MISMATCH'}"
    )
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
