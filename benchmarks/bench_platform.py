"""Benchmark: the platform (web pages and API) under 50 concurrent users on PostgreSQL, against 1 user.

    python benchmarks/bench_platform.py                                   # skips: no PostgreSQL given
    python benchmarks/bench_platform.py --start-pg                        # throwaway PostgreSQL 15, 100,000 accounts
    python benchmarks/bench_platform.py --pg-url postgresql://postgres@127.0.0.1:55441/postgres \
        --accounts 1000000 --keep-db                                      # keep wd_platform_1000000 for --reuse-db

Steps: a fresh database ``wd_platform_<N>`` (created through --pg-url / WATTDESK_BENCH_PG_URL, or on a
throwaway cluster started with --start-pg: initdb as the non-root user ``pgbench_u``, pg_ctl on a free loopback
port, stopped at the end); in a child process: migrate, bulk-load N accounts with the loader of
``bench_billing_run.py`` (three issued history months), bill one period (``run_billing``, 2026-03), create the
demo logins and an API token for ``demo_billing_clerk``. Then ``wattdesk serve`` (waitress + WhiteNoise,
DEBUG off) on a free 127.0.0.1 port, and a locust driver (headless, library mode, in its own process because
locust monkey-patches with gevent) runs each scenario with 1 user (the peer: unloaded latency) and then with
``--users`` users, closed loop with no think time (``--think S``: a mean pause of S seconds between a
user's requests; the 1-user peer never pauses):

1. ``360``: a logged-in billing clerk opens random customers' 360° pages ``/customers/<account>/``;
2. ``search``: ``/customers/?q=`` with a random name fragment (``客户1234``) or account-number prefix;
3. ``bills``: the bill list ``/bills/?period=<one of the 4 billed months>&page=<random page>``;
4. ``api``: ``GET /api/bills/{id}`` and ``GET /api/accounts/{number}`` with a bearer token;
5. ``health``: Django's ``/health/`` (the framework floor: middleware, no query).

It prints p50/p95/p99 (ms), requests/s and errors per scenario and user count, the ratio of the loaded to the
1-user latency, and of each page's 1-user p50 to /health/'s. The web users share one session (one login,
so 50 PBKDF2 hashes are not part of the measurement). Everything listens on 127.0.0.1 only; each run is
bounded by --duration; the script stops the server, the driver and the cluster it started.
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
SCENARIOS = ("health", "360", "search", "bills", "api")


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
    issued = create_token(username="demo_billing_clerk", name="bench_platform", created_at=timezone.now())
    agg = Bill.objects.aggregate(lo=Min("id"), hi=Max("id"))
    out.update(
        accounts=n, bill_min=agg["lo"], bill_max=agg["hi"], bills=Bill.objects.count(), token=issued.secret
    )
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
    pages = max(1, -(-n // 50))
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

    class Search(FastHttpUser):
        wait_time = wait

        @task
        def t(self) -> None:
            self.client.get("/customers/", params={"q": query()}, headers=web, name="search")

    class Bills(FastHttpUser):
        wait_time = wait

        @task
        def t(self) -> None:
            page = rnd.randint(1, pages)
            self.client.get(f"/bills/?period={rnd.choice(PERIODS)}&page={page}", headers=web, name="bills")

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

    classes = {"health": Health, "360": C360, "search": Search, "bills": Bills, "api": Api}
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


def start_server(stack: ExitStack, env: dict[str, str], threads: int) -> str:
    port = free_port()
    wattdesk = Path(sys.executable).parent / "wattdesk"
    log = open(Path(env["WATTDESK_DATA_DIR"]) / "serve.log", "w")  # noqa: SIM115 - closed at exit
    stack.callback(log.close)
    proc = subprocess.Popen(
        [
            str(wattdesk),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--threads",
            str(threads),
            "--no-migrate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    stack.callback(stop)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900  # collectstatic compresses ~60 MB of static files first
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"wattdesk serve exited ({proc.returncode}); see {log.name}")
        try:
            with urllib.request.urlopen(f"{base}/health/", timeout=2) as resp:
                if resp.status == 200:
                    return base
        except OSError:
            time.sleep(0.5)
    raise SystemExit("wattdesk serve did not answer /health/ within 900 s")


def machine() -> str:
    sys.path.insert(0, str(BENCH))
    from _common import machine as m

    return str(m())


def report(res: dict[str, Any], users: int) -> list[str]:
    floor = res.get("health/1", {}).get("p50") or None
    lines = [
        "| scenario | users | requests | errors | req/s | p50 ms | p95 ms | p99 ms | p50 vs 1 user | "
        "p95 vs 1 user | 1-user p50 vs /health/ | p95 <= 200 ms | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name in SCENARIOS:
        one, many = res.get(f"{name}/1"), res.get(f"{name}/{users}")
        if not one or not many:
            continue
        for r in (one, many):
            lines.append(
                f"| {name} | {r['users']} | {r['requests']:,} | {r['errors']} | {r['rps']:,.1f} | "
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
    p.add_argument("--threads", type=int, default=8, help="waitress threads of `wattdesk serve`")
    p.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    p.add_argument("--keep-db", action="store_true", help="keep wd_platform_<N> (for --reuse-db)")
    p.add_argument("--reuse-db", action="store_true", help="use an existing wd_platform_<N> as loaded")
    p.add_argument("--setup", type=int, help=argparse.SUPPRESS)
    p.add_argument("--drive", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.setup:
        print(json.dumps(setup_worker(args.setup)))
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
        dbname = f"wd_platform_{args.accounts}"
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
        base = start_server(stack, env, args.threads)
        print(
            f"# wattdesk serve at {base} ({args.threads} waitress threads); {args.users} users x "
            f"{args.duration:.0f} s, 1 user x {args.peer_duration:.0f} s per scenario, "
            + (f"think time {args.think:g} s (uniform 0.5-1.5x)" if args.think else "no think time"),
            flush=True,
        )
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
        stack.callback(lambda: drv.poll() is None and os.killpg(drv.pid, signal.SIGKILL))
        budget = len(cfg["scenarios"]) * (args.duration + args.peer_duration + 30) + 120
        out, _ = drv.communicate(timeout=budget)
        if drv.returncode:
            raise SystemExit(f"driver failed ({drv.returncode})")
        res = json.loads(out.strip().splitlines()[-1])
        print("\n".join(report(res, args.users)), flush=True)
        for r in res.values():
            if r["errors"]:
                print(f"# {r['scenario']}/{r['users']}: {r['errors']} errors, e.g. {r['error_samples']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
