"""Benchmark: the platform (web pages and API) under 50 concurrent users on PostgreSQL, against 1 user, for
``wattdesk serve`` (granian, several processes) and the servers it was chosen against.

    python benchmarks/bench_platform.py                                   # skips: no PostgreSQL given
    python benchmarks/bench_platform.py --start-pg                        # throwaway PostgreSQL 15, 100,000 accounts
    python benchmarks/bench_platform.py --pg-url postgresql://postgres@127.0.0.1:55441/postgres \
        --accounts 1000000 --keep-db                                      # keep wd_platform_1000000 for --reuse-db
    ... --reuse-db --servers serve waitress gunicorn granian --workers 2 4 --scenarios health 360

Steps: a fresh database ``<--db-prefix>_<N>`` (default ``wd_platform_<N>``, created through --pg-url /
WATTDESK_BENCH_PG_URL, or on a throwaway cluster started with --start-pg: initdb as the non-root user
``pgbench_u``, pg_ctl on a free loopback port, stopped at the end); in a child process: migrate, bulk-load N
accounts with the loader of ``bench_billing_run.py`` (three issued history months), bill one period
(``run_billing``, 2026-03), create the demo logins, 200 portal logins with signed-in sessions (customers
spread over the company) and an API token for ``demo_billing_clerk``, collect the static files.

Then (``--single R``, default 5) each page once at a time in-process (Django test client, SQL timed with
``connection.execute_wrapper``, median of R), with the bill list's previous query shape (exact COUNT(*) +
OFFSET at the same depth) as its peer. Then, for each of ``--servers`` (default: ``serve``, i.e. ``wattdesk
serve --workers W``, and ``waitress``, the previous ``wattdesk serve``: one process, 8 threads; also
``gunicorn`` (gthread), ``gunicorn-sync``, ``granian`` run directly with the same W processes x T threads) on a
free 127.0.0.1 port, a locust driver (headless, library mode, in its own process because locust
monkey-patches with gevent) runs each scenario with 1 user (the peer: unloaded latency) and then with
``--users`` users, closed loop with no think time (``--think S``: a mean pause of S seconds between a
user's requests; the 1-user peer never pauses):

1. ``360``: a logged-in billing clerk opens random customers' 360° pages ``/customers/<account>/``;
2. ``portal``: a customer's portal home ``/portal/`` (one of the 200 portal sessions per request);
3. ``search``: ``/customers/?q=`` with a random name fragment (``客户1234``) or account-number prefix;
4. ``bills``: the bill list ``/bills/?period=<one of the 4 billed months>&after=<random account>.0`` (the
   keyset page after a random account: any depth), 1 in 10 the first page;
5. ``api``: ``GET /api/bills/{id}`` and ``GET /api/accounts/{number}`` with a bearer token;
6. ``health``: Django's ``/health/`` (the framework floor: middleware, no query).

It prints p50/p95/p99 (ms), requests/s, errors and the load average per scenario and user count, the peak
RSS of each server's processes, the ratio of the loaded to the 1-user latency, of each page's 1-user p50 to
/health/'s, and of each server's req/s and p95 to waitress's. The staff users share one session (one login,
so 50 PBKDF2 hashes are not part of the measurement). Everything listens on 127.0.0.1 only; each run is
bounded by --duration; the script stops the servers, the driver and the cluster it started.
Timing is never a pass/fail test.
"""

from __future__ import annotations

import sys

if "--drive" in sys.argv:  # the locust driver: gevent must patch before ssl / socket are imported
    from gevent import monkey

    monkey.patch_all()

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "pgbench_u"
PERIODS = ("2025-12", "2026-01", "2026-02", "2026-03")  # the loader's three history months + the billed one
PASSWORD = "bench-Platform-9"
SCENARIOS = ("health", "360", "portal", "search", "bills", "api")
PORTAL_USERS = 200  # portal logins spread over the customers (the `portal` scenario picks one per request)
SERVERS = ("serve", "waitress", "gunicorn", "gunicorn-sync", "granian")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------------ setup (child)


def setup_worker(n: int) -> dict[str, Any]:
    """Child process, WATTDESK_DATABASE_URL set: migrate, load, bill, demo logins, token. Reuses a loaded db."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    django.setup()
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from django.core.management import call_command
    from django.db.models import Max, Min
    from django.utils import timezone

    sys.path.insert(0, str(BENCH))
    from bench_billing_run import PERIOD, load_company

    from wattdesk.application.billing.run import run_billing
    from wattdesk.domain.access.operations import create_demo_users
    from wattdesk.domain.billing.models import Bill
    from wattdesk.domain.customers.models import Account
    from wattdesk.interfaces.api.tokens import create_token

    out: dict[str, Any] = {"loaded": False}
    call_command("migrate", verbosity=0)
    have = Account.objects.count()
    if have == 0:
        info = load_company(n)
        t0 = time.perf_counter()
        res = run_billing(period=PERIOD, run_at=datetime(2026, 4, 2, 8, tzinfo=ZoneInfo("Asia/Shanghai")))
        out.update(loaded=True, load_s=info["load_s"], bill_s=time.perf_counter() - t0, billed=res.bills)
    elif have != n:
        raise SystemExit(
            f"database already holds {have} accounts, not {n}: drop it or pass --accounts {have}"
        )
    create_demo_users(password=PASSWORD)
    call_command("collectstatic", interactive=False, verbosity=0)  # the peers' servers start without `serve`
    out["portal_sessions"] = portal_sessions(PORTAL_USERS)
    issued = create_token(username="demo_billing_clerk", name="bench_platform", created_at=timezone.now())
    agg = Bill.objects.aggregate(lo=Min("id"), hi=Max("id"))
    out.update(
        accounts=n, bill_min=agg["lo"], bill_max=agg["hi"], bills=Bill.objects.count(), token=issued.secret
    )
    return out


def portal_sessions(k: int) -> list[str]:
    """``k`` portal logins (bench_portal_<i>) of customers spread over the company, each with a signed-in
    session made directly in the session store: the driver sends the session cookie, so no password hash
    (PBKDF2) is timed and every portal user sees their own customer's home page."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    from wattdesk.domain.access.operations import link_customer
    from wattdesk.domain.customers.models import Customer

    store = import_module(settings.SESSION_ENGINE).SessionStore
    total = Customer.objects.count()
    step = max(1, total // k)
    ids = list(Customer.objects.order_by("id").values_list("id", flat=True)[::step][:k])
    keys: list[str] = []
    for i, cid in enumerate(ids):
        user, _ = get_user_model().objects.get_or_create(username=f"bench_portal_{i}")
        user.set_unusable_password()
        user.save()
        link_customer(user=user, customer=Customer.objects.get(pk=cid))
        s = store()
        s[SESSION_KEY] = str(user.pk)
        s[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        s[HASH_SESSION_KEY] = user.get_session_auth_hash()
        s.create()
        keys.append(str(s.session_key))
    return keys


def single_worker(n: int, repeat: int) -> dict[str, Any]:
    """Child process: each page requested ``repeat`` times in-process (Django test client), its SQL timed with
    ``connection.execute_wrapper``; the median request. The peer: the bill list's previous query shape
    (exact ``COUNT(*)`` + ``ORDER BY ... OFFSET``, Django's Paginator) for the same depth."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.paginator import Paginator
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from wattdesk.domain.billing.models import Bill

    setup_test_environment()  # the test client's host "testserver" is allowed
    users = get_user_model().objects
    clerk, customer = Client(), Client()
    clerk.force_login(users.get(username="demo_billing_clerk"))
    customer.force_login(users.get(username="bench_portal_0"))
    mid, deep = f"A{n // 2:09d}", f"A{n * 9 // 10:09d}"
    deep_page = (n * 9 // 10) // 50

    def offset_bills(period: str, page: int) -> None:  # the previous /bills/ queries, for the ratio
        qs = (
            Bill.objects.filter(period=period)
            .select_related("account", "account__customer")
            .order_by("account__number", "version")
        )
        list(Paginator(qs, 50).get_page(page).object_list)

    cases: list[tuple[str, Any]] = [
        ("360 /customers/<mid>/", lambda: clerk.get(f"/customers/{mid}/")),
        ("portal /portal/", lambda: customer.get("/portal/")),
        ("search /customers/?q=<number prefix 8>", lambda: clerk.get("/customers/", {"q": mid[:8]})),
        ("search /customers/?q=客户1234", lambda: clerk.get("/customers/", {"q": "客户1234"})),
        ("bills /bills/?period=2026-03 (first page)", lambda: clerk.get("/bills/?period=2026-03")),
        (
            "bills /bills/?period=2026-02&after=<90 % deep>",
            lambda: clerk.get(f"/bills/?period=2026-02&after={deep}.0"),
        ),
        (
            f"peer: previous bills query, page {deep_page:,} (COUNT + OFFSET)",
            lambda: offset_bills("2026-02", deep_page),
        ),
    ]
    out: dict[str, Any] = {}
    for name, call in cases:
        samples = []
        for i in range(repeat + 1):
            timings: list[float] = []

            def timed(
                execute: Any, sql: str, params: Any, many: bool, context: Any, into: list[float] = timings
            ) -> Any:
                t = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    into.append((time.perf_counter() - t) * 1000)

            t0 = time.perf_counter()
            with connection.execute_wrapper(timed):
                r = call()
            total = (time.perf_counter() - t0) * 1000
            status = getattr(r, "status_code", 200)
            if status != 200:
                raise SystemExit(f"{name}: HTTP {status}")
            if i:  # the first request warms caches
                samples.append((total, len(timings), sum(timings), max(timings, default=0)))
        samples.sort()
        med = samples[len(samples) // 2]
        out[name] = {
            "total_ms": med[0],
            "queries": med[1],
            "db_ms": med[2],
            "slowest_ms": med[3],
            "min_ms": samples[0][0],
            "loadavg": os.getloadavg()[0],
        }
        print(json.dumps({name: out[name]}), file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------------------------------------ driver (child)


def drive_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """Child process: log in once, then run every scenario with 1 user and with cfg['users'] users."""
    import gevent  # locust monkey-patches on import; this process does nothing else
    import requests
    from locust import FastHttpUser, between, constant, task
    from locust.env import Environment

    base, n, users, duration = cfg["base"], cfg["accounts"], cfg["users"], cfg["duration"]
    s = requests.Session()
    s.get(f"{base}/login/", timeout=30)
    r = s.post(
        f"{base}/login/",
        data={
            "username": "demo_billing_clerk",
            "password": PASSWORD,
            "csrfmiddlewaretoken": s.cookies["csrftoken"],
        },
        timeout=60,
    )
    if "sessionid" not in s.cookies:
        raise SystemExit(f"login failed: HTTP {r.status_code}")
    cookie = f"sessionid={s.cookies['sessionid']}; csrftoken={s.cookies['csrftoken']}"
    web = {"Cookie": cookie}
    api = {"Authorization": f"Bearer {cfg['token']}"}
    import random

    rnd = random.Random(cfg.get("seed", 7))
    think = cfg["think"]
    wait = between(0.5 * think, 1.5 * think) if think else constant(0)

    def account() -> str:
        return f"A{rnd.randint(1, n):09d}"

    def query() -> str:
        if rnd.random() < 0.5:  # a name fragment: 客户 + 4 or more leading digits of a customer number
            num = str(rnd.randint(1, n))
            return "客户" + num[: max(1, min(len(num), rnd.randint(4, 7)))]
        return account()[: rnd.randint(7, 10)]  # an account-number prefix (A00012 ... full number)

    class Health(FastHttpUser):
        wait_time = wait

        @task
        def t(self) -> None:
            self.client.get("/health/", headers=web, name="health")

    class C360(FastHttpUser):
        wait_time = wait

        @task
        def t(self) -> None:
            self.client.get(f"/customers/{account()}/", headers=web, name="360")

    portal_cookies = [f"sessionid={k}" for k in cfg["portal_sessions"]]

    class Portal(FastHttpUser):
        wait_time = wait

        @task
        def t(self) -> None:
            self.client.get("/portal/", headers={"Cookie": rnd.choice(portal_cookies)}, name="portal")

    class Search(FastHttpUser):
        wait_time = wait

        @task
        def t(self) -> None:
            self.client.get("/customers/", params={"q": query()}, headers=web, name="search")

    class Bills(FastHttpUser):
        wait_time = wait

        @task
        def t(self) -> None:
            # a random depth: the keyset page after a random account number (as "next page" links carry)
            after = f"{account()}.0" if rnd.random() < 0.9 else ""
            url = f"/bills/?period={rnd.choice(PERIODS)}" + (f"&after={after}" if after else "")
            self.client.get(url, headers=web, name="bills")

    class Api(FastHttpUser):
        wait_time = wait

        @task
        def bill(self) -> None:
            self.client.get(
                f"/api/bills/{rnd.randint(cfg['bill_min'], cfg['bill_max'])}", headers=api, name="api"
            )

        @task
        def acc(self) -> None:
            self.client.get(f"/api/accounts/{account()}", headers=api, name="api")

    classes = {
        "health": Health,
        "360": C360,
        "portal": Portal,
        "search": Search,
        "bills": Bills,
        "api": Api,
    }
    results: dict[str, Any] = {}
    for name in cfg["scenarios"]:
        for u in (1, users):
            cls = classes[name]
            cls.host = base
            cls.wait_time = wait if u > 1 else constant(0)  # the 1-user peer: back to back, unloaded latency
            env = Environment(user_classes=[cls])
            runner = env.create_local_runner()
            runner.start(u, spawn_rate=u)
            warm = min(5.0, duration / 6)
            gevent.sleep(warm)  # all users running, connections open, caches warm
            env.stats.reset_all()
            secs = duration if u > 1 else cfg["peer_duration"]
            t0 = time.perf_counter()
            gevent.sleep(secs)
            st = env.stats.total
            elapsed = time.perf_counter() - t0
            row = {
                "scenario": name,
                "users": u,
                "requests": st.num_requests,
                "errors": st.num_failures,
                "rps": st.num_requests / elapsed,
                "p50": st.get_response_time_percentile(0.50),
                "p95": st.get_response_time_percentile(0.95),
                "p99": st.get_response_time_percentile(0.99),
                "mean": st.avg_response_time,
                "seconds": elapsed,
                "loadavg": os.getloadavg()[0],
                "error_samples": [str(e.error)[:200] for e in list(env.stats.errors.values())[:3]],
            }
            runner.quit()
            results[f"{name}/{u}"] = row
            print(json.dumps(row), file=sys.stderr, flush=True)
    return results


# ------------------------------------------------------------------------------------------------ orchestration


def start_cluster(stack: ExitStack) -> str:
    """initdb + pg_ctl start as ``pgbench_u`` on a free loopback port; registered to stop at exit."""
    if os.geteuid() != 0:
        raise SystemExit(
            "--start-pg runs initdb as the user pgbench_u through runuser: run as root, or give --pg-url"
        )
    if subprocess.run(["id", PG_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-m", PG_USER], check=True)
    data = Path(tempfile.mkdtemp(prefix="pgplat-", dir="/tmp"))
    shutil.chown(data, PG_USER)
    port = free_port()
    as_pg = ["runuser", "-u", PG_USER, "--"]
    subprocess.run(
        [
            *as_pg,
            str(PG_BIN / "initdb"),
            "-D",
            str(data / "d"),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    opts = (
        f"-p {port} -k /tmp -c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c max_wal_size=8GB "
        "-c checkpoint_timeout=30min"
    )
    subprocess.run(
        [
            *as_pg,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data / "d"),
            "-o",
            opts,
            "-l",
            str(data / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data / "d"), "-m", "fast", "-w", "stop"])
        shutil.rmtree(data, ignore_errors=True)

    stack.callback(stop)
    print(f"# throwaway PostgreSQL 15 on 127.0.0.1:{port} ({data})", flush=True)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def child(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], env=env, check=True, stdout=subprocess.PIPE, text=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def server_command(kind: str, port: int, workers: int, threads: int) -> list[str]:
    """The command line of one server: ``serve`` is the product (``wattdesk serve``); the others run the same
    WSGI application (WhiteNoise, DEBUG off, static files collected by the setup) under that server with the
    same number of processes and threads: ``waitress`` is the previous ``wattdesk serve`` (one process)."""
    bindir = Path(sys.executable).parent
    app = "wattdesk.wsgi:application"
    if kind == "serve":
        return [
            str(bindir / "wattdesk"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--no-migrate",
            "--no-worker",
        ]
    if kind == "waitress":
        return [
            str(bindir / "waitress-serve"),
            "--listen",
            f"127.0.0.1:{port}",
            "--threads=8",  # the previous `wattdesk serve`: one process, 8 threads
            "--ident=WattDesk",
            app,
        ]
    if kind in ("gunicorn", "gunicorn-sync"):
        worker = ["-k", "gthread", "--threads", str(threads)] if kind == "gunicorn" else ["-k", "sync"]
        return [
            str(bindir / "gunicorn"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            *worker,
            "--no-control-socket",
            app,
        ]
    if kind == "granian":
        return [
            str(bindir / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "--no-ws",
            app,
        ]
    raise ValueError(kind)


def start_server(
    stack: ExitStack, env: dict[str, str], kind: str, workers: int, threads: int
) -> tuple[str, int]:
    """Start one server on a free port, wait for /health/; returns (base URL, pid of its process group)."""
    port = free_port()
    log = open(Path(env["WATTDESK_DATA_DIR"]) / f"serve-{kind}.log", "w")  # noqa: SIM115 - closed at exit
    stack.callback(log.close)
    proc = subprocess.Popen(
        server_command(kind, port, workers, threads),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

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
    deadline = time.monotonic() + 900  # `serve` collects (and compresses) the static files first
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{kind} exited ({proc.returncode}); see {log.name}")
        try:
            with urllib.request.urlopen(f"{base}/health/", timeout=2) as resp:
                if resp.status == 200:
                    return base, proc.pid
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{kind} did not answer /health/ within 900 s")


class PeakRss:
    """Samples the summed RSS of a process group (server master + workers) every 0.5 s in a thread."""

    def __init__(self, pgid: int) -> None:
        import threading

        self.pgid, self.peak, self._stop = pgid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            total = 0
            for p in psutil.process_iter(["pid"]):
                try:
                    if os.getpgid(p.pid) == self.pgid:
                        total += p.memory_info().rss
                except (psutil.Error, ProcessLookupError, PermissionError):
                    continue
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def machine() -> str:
    sys.path.insert(0, str(BENCH))
    from _common import machine as m

    return str(m())


def report(res: dict[str, Any], users: int, server: str, rss: int) -> list[str]:
    floor = res.get("health/1", {}).get("p50") or None
    lines = [
        f"{server} (peak RSS of the server's processes {rss / 2**20:,.0f} MiB):",
        "",
        "| server | scenario | users | requests | errors | req/s | p50 ms | p95 ms | p99 ms | p50 vs 1 user | "
        "p95 vs 1 user | 1-user p50 vs /health/ | p95 <= 200 ms | load avg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name in SCENARIOS:
        one, many = res.get(f"{name}/1"), res.get(f"{name}/{users}")
        if not one or not many:
            continue
        for r in (one, many):
            lines.append(
                f"| {server} | {name} | {r['users']} | {r['requests']:,} | {r['errors']} | {r['rps']:,.1f} | "
                f"{r['p50']:,.0f} | {r['p95']:,.0f} | {r['p99']:,.0f} | "
                + (
                    f"{r['p50'] / max(one['p50'], 1):.1f}x | {r['p95'] / max(one['p95'], 1):.1f}x | "
                    if r is many
                    else "1.0x | 1.0x | "
                )
                + (f"{one['p50'] / floor:.1f}x" if floor and r is one else "")
                + f" | {'yes' if r['p95'] <= 200 else 'no'} | {r['loadavg']:.1f} |"
            )
    return lines


def peer_ratios(all_res: dict[str, dict[str, Any]], users: int) -> list[str]:
    """req/s and p95 of each server against the previous server (waitress, one process), same scenario."""
    base = all_res.get("waitress")
    if not base:
        return []
    out = ["", "ratio to waitress (the previous `wattdesk serve`), same run, " + f"{users} users:", ""]
    for server, res in all_res.items():
        if server == "waitress":
            continue
        for name in SCENARIOS:
            a, b = res.get(f"{name}/{users}"), base.get(f"{name}/{users}")
            if a and b and b["rps"] and a["p95"]:
                out.append(
                    f"- {server} {name}: {a['rps'] / b['rps']:.2f}x req/s, p95 {a['p95']:,.0f} vs "
                    f"{b['p95']:,.0f} ms ({b['p95'] / a['p95']:.2f}x faster)"
                )
    return out


def drive(env: dict[str, str], base: str, info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The locust driver in its own process (gevent), against ``base``; returns its results."""
    cfg = {
        "base": base,
        "accounts": info["accounts"],
        "users": args.users,
        "duration": args.duration,
        "peer_duration": args.peer_duration,
        "think": args.think,
        "token": info["token"],
        "bill_min": info["bill_min"],
        "bill_max": info["bill_max"],
        "portal_sessions": info["portal_sessions"],
        "scenarios": args.scenarios if "health" in args.scenarios else ["health", *args.scenarios],
    }
    drv_env = {k: v for k, v in env.items() if k != "WATTDESK_DATABASE_URL"}
    drv = subprocess.Popen(
        [sys.executable, __file__, "--drive", json.dumps(cfg)],
        env=drv_env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        budget = len(cfg["scenarios"]) * (args.duration + args.peer_duration + 30) + 120
        out, _ = drv.communicate(timeout=budget)
    finally:
        if drv.poll() is None:
            os.killpg(drv.pid, signal.SIGKILL)
    if drv.returncode:
        raise SystemExit(f"driver failed ({drv.returncode})")
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--pg-url",
        default=os.environ.get("WATTDESK_BENCH_PG_URL") or os.environ.get("WATTDESK_BENCH_POSTGRES_URL"),
        help="a PostgreSQL server's maintenance URL; the script creates (and drops) wd_platform_<N> there",
    )
    p.add_argument(
        "--start-pg", action="store_true", help="start a throwaway PostgreSQL 15 cluster (root only)"
    )
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--duration", type=float, default=60, help="seconds per scenario with --users users")
    p.add_argument("--peer-duration", type=float, default=15, help="seconds per scenario with 1 user")
    p.add_argument(
        "--think",
        type=float,
        default=0,
        help="mean think time (s) between a user's requests (default 0: closed loop)",
    )
    p.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0],
        help="server processes (`serve --workers`; default: serve's default); several: each server at each",
    )
    p.add_argument("--threads", type=int, default=0, help="threads per process (default: serve's default)")
    p.add_argument(
        "--servers",
        nargs="*",
        choices=SERVERS,
        default=["serve", "waitress"],
        help="servers to measure in turn (default: serve, and waitress in one process: the previous serve)",
    )
    p.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    p.add_argument(
        "--db-prefix",
        default="wd_platform",
        help="database name prefix (default wd_platform: wd_platform_<N>)",
    )
    p.add_argument("--keep-db", action="store_true", help="keep wd_platform_<N> (for --reuse-db)")
    p.add_argument("--reuse-db", action="store_true", help="use an existing wd_platform_<N> as loaded")
    p.add_argument("--setup", type=int, help=argparse.SUPPRESS)
    p.add_argument("--drive", help=argparse.SUPPRESS)
    p.add_argument(
        "--single",
        type=int,
        default=5,
        metavar="R",
        help="time each page R times in-process with its SQL before the load runs (0: skip; default 5)",
    )
    p.add_argument("--single-worker", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.setup:
        print(json.dumps(setup_worker(args.setup)))
        return 0
    if args.single_worker:
        print(json.dumps(single_worker(args.single_worker, args.single)))
        return 0
    if args.drive:
        print(json.dumps(drive_worker(json.loads(args.drive))))
        return 0
    if not args.pg_url and not args.start_pg:
        print(
            "bench_platform: skipped - needs PostgreSQL: --pg-url URL (or WATTDESK_BENCH_PG_URL), "
            "or --start-pg for a throwaway cluster (root)"
        )
        return 0
    try:
        import locust  # noqa: F401  (only checks it is installed; the driver child imports it)
    except ImportError:
        print("bench_platform: skipped - locust is not installed (pip install -e '.[dev]')")
        return 0

    import psycopg

    print(f"# {machine()}", flush=True)
    with ExitStack() as stack:
        pg_url = args.pg_url or start_cluster(stack)
        dbname = f"{args.db_prefix}_{args.accounts}"
        with psycopg.connect(pg_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if exists and not args.reuse_db:
                conn.execute(f"DROP DATABASE {dbname}")
            if not exists or not args.reuse_db:
                conn.execute(f"CREATE DATABASE {dbname}")
            version = conn.execute("SHOW server_version").fetchone()

        def drop() -> None:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")

        if not args.keep_db:
            stack.callback(drop)
        tmp = tempfile.mkdtemp(prefix="wd-plat-")
        stack.callback(shutil.rmtree, tmp, True)
        env = dict(os.environ)
        env.update(
            WATTDESK_DATA_DIR=tmp,
            WATTDESK_DATABASE_URL=f"{pg_url.rsplit('/', 1)[0]}/{dbname}",
            PYTHONPATH=str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
        )
        env.pop("WATTDESK_DEBUG", None)
        print(f"# PostgreSQL {version[0] if version else '?'}, database {dbname}", flush=True)
        t0 = time.perf_counter()
        info = child(env, "--setup", str(args.accounts))
        print(
            f"# setup {time.perf_counter() - t0:.0f} s: {info['accounts']:,} accounts, {info['bills']:,} bills"
            + (
                f" (load {info['load_s']:.0f} s, billing {info['bill_s']:.0f} s)"
                if info["loaded"]
                else " (reused)"
            ),
            flush=True,
        )
        if args.single:
            single = child(env, "--single-worker", str(args.accounts), "--single", str(args.single))
            print(
                f"\nOne request at a time, in-process (median of {args.single}), SQL timed:\n\n"
                "| request | total ms | min ms | queries | ms in SQL | slowest query ms | load avg |\n"
                "|---|---:|---:|---:|---:|---:|---:|",
                flush=True,
            )
            for name, r in single.items():
                print(
                    f"| {name} | {r['total_ms']:,.1f} | {r['min_ms']:,.1f} | {r['queries']} | {r['db_ms']:,.1f} | "
                    f"{r['slowest_ms']:,.1f} | {r['loadavg']:.1f} |",
                    flush=True,
                )
            print("", flush=True)
        if not args.servers:
            return 0
        sys.path.insert(0, str(ROOT / "src"))
        from wattdesk.interfaces.commands.serve import DEFAULT_THREADS, default_workers

        threads = args.threads or DEFAULT_THREADS
        runs = [("waitress", 1)] if "waitress" in args.servers else []
        runs += [
            (server, w or default_workers())
            for server in args.servers
            if server != "waitress"
            for w in args.workers
        ]
        all_res: dict[str, dict[str, Any]] = {}
        for server, workers in runs:
            label = server if server == "waitress" or len(args.workers) == 1 else f"{server} -w{workers}"
            with ExitStack() as running:
                base, pgid = start_server(running, env, server, workers, threads)
                shape = "1 process x 8" if server == "waitress" else f"{workers} processes x {threads}"
                print(
                    f"# {label} at {base} ({shape} threads; load avg "
                    f"{os.getloadavg()[0]:.1f}); {args.users} users x {args.duration:.0f} s, 1 user x "
                    f"{args.peer_duration:.0f} s per scenario, "
                    + (f"think time {args.think:g} s (uniform 0.5-1.5x)" if args.think else "no think time"),
                    flush=True,
                )
                rss = PeakRss(pgid)
                res = drive(env, base, info, args)
                peak = rss.stop()
            all_res[label] = res
            print("\n".join(report(res, args.users, label, peak)), flush=True)
            for r in res.values():
                if r["errors"]:
                    print(
                        f"# {label} {r['scenario']}/{r['users']}: {r['errors']} errors, "
                        f"e.g. {r['error_samples']}"
                    )
        print("\n".join(peer_ratios(all_res, args.users)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
