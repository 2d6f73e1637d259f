"""Test infrastructure shared by the whole suite.

Dual-database runs
------------------
Every database test runs on SQLite and, when ``WATTDESK_TEST_POSTGRES_URL`` is set, also on PostgreSQL.
``make test`` does that by running pytest twice (see the Makefile's ``test`` target):

1. SQLite: ``WATTDESK_DATABASE_URL`` unset -> embedded SQLite (test database in memory, one per xdist worker);
2. PostgreSQL: ``WATTDESK_DATABASE_URL=$WATTDESK_TEST_POSTGRES_URL pytest -m db`` -> only the tests that
   touch the database; pytest-django creates ``test_<db>_gw0``, ``test_<db>_gw1`` … per worker.

A test is a database test if it uses the ``django_db`` mark or a database fixture; such tests are given
the ``db`` mark automatically, so nobody has to remember it.

Fail, never skip: if ``WATTDESK_TEST_POSTGRES_URL`` is set but PostgreSQL cannot be reached, or CI=true and
no PostgreSQL URL was given, the session stops with an error before any test runs. If
``WATTDESK_TEST_EXPECT_VENDOR`` is set (the Makefile sets it), the configured database must be that vendor,
so a PostgreSQL pass can never silently run on SQLite.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest

DB_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
        "admin_client",
        "admin_user",
        "django_user_model",
    }
)


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _check_postgres_reachable(url: str) -> None:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a runtime dependency
        raise pytest.UsageError(f"WATTDESK_TEST_POSTGRES_URL is set but psycopg is missing: {exc}") from exc
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise pytest.UsageError(
            f"WATTDESK_TEST_POSTGRES_URL={url} is set but PostgreSQL cannot be reached: {first_line}. "
            "Start PostgreSQL (see docs/development.md) or unset the variable to test on SQLite only."
        ) from exc


def pytest_configure(config: pytest.Config) -> None:
    if _is_xdist_worker(config):
        return
    url = os.environ.get("WATTDESK_TEST_POSTGRES_URL", "").strip()
    if (
        not url
        and os.environ.get("CI", "").lower() == "true"
        and os.environ.get("WATTDESK_TEST_POSTGRES") != "0"
    ):
        raise pytest.UsageError(
            "CI=true but WATTDESK_TEST_POSTGRES_URL is not set: CI must test on PostgreSQL too "
            "(.ci/run starts one). Set WATTDESK_TEST_POSTGRES=0 to opt out explicitly."
        )
    if url:
        _check_postgres_reachable(url)


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return "wattdesk database: sqlite3 (test databases in memory, one per xdist worker)"
    return f"wattdesk database: {engine} ({db.get('HOST')}:{db.get('PORT')}, test_{db.get('NAME')}[_gwN])"


def pytest_sessionstart(session: pytest.Session) -> None:
    expected = os.environ.get("WATTDESK_TEST_EXPECT_VENDOR", "").strip()
    if not expected:
        return
    from django.db import connection

    if connection.vendor != expected:
        raise pytest.UsageError(
            f"WATTDESK_TEST_EXPECT_VENDOR={expected} but the configured database is {connection.vendor} "
            f"(WATTDESK_DATABASE_URL={os.environ.get('WATTDESK_DATABASE_URL', '<unset>')})"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixturenames = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("django_db") is not None or fixturenames & DB_FIXTURES:
            item.add_marker(pytest.mark.db)


# --- SQLite: let test-database flushes pass the ledger's append-only triggers ----------------------------
# Tests using ``transactional_db`` are cleaned up with ``flush`` (DELETE FROM every table on SQLite; TRUNCATE
# on PostgreSQL, which row triggers do not see). The ledger's BEFORE DELETE trigger would abort that, so in
# the test process only, the flush drops the guard, empties the tables and puts the guard back in the same
# transaction.
def _patch_sqlite_flush() -> None:
    from django.db.backends.sqlite3.base import DatabaseWrapper

    from wattdesk.domain.ledger import guard

    DatabaseOperations = DatabaseWrapper.ops_class
    if getattr(DatabaseOperations.sql_flush, "_wattdesk_ledger_aware", False):
        return
    original = DatabaseOperations.sql_flush

    def sql_flush(
        self: Any, style: Any, tables: Any, *, reset_sequences: bool = False, allow_cascade: bool = False
    ) -> list[str]:
        statements = original(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if statements and guard.TABLE in tables:
            statements = guard.uninstall_sql("sqlite") + list(statements) + guard.install_sql("sqlite")
        return list(statements)

    sql_flush._wattdesk_ledger_aware = True  # type: ignore[attr-defined]
    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]


_patch_sqlite_flush()


# --- small factories for database tests ------------------------------------------------------------------
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def make_account(db: None) -> Callable[..., Any]:
    """Create a region, route, customer, account and service point; returns the Account."""
    from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint

    seq = count(1)

    def make(**account_fields: Any) -> Account:
        n = next(seq)
        region, _ = Region.objects.get_or_create(code="R01", defaults={"name": "城关供电所"})
        route, _ = ReadingRoute.objects.get_or_create(
            code="RT01", defaults={"name": "抄表段1", "region": region}
        )
        customer = Customer.objects.create(
            number=f"C{n:06d}",
            name=f"客户{n}",
            kind="individual",
            customer_class="residential",
            created_at=datetime(2024, 1, 1, tzinfo=SHANGHAI),
        )
        fields: dict[str, Any] = {"number": f"A{n:08d}", "customer": customer, "opened_on": date(2024, 1, 1)}
        fields.update(account_fields)
        account = Account.objects.create(**fields)
        ServicePoint.objects.create(
            number=f"SP{n:06d}",
            account=account,
            address=f"幸福路{n}号",
            region=region,
            route=route,
            voltage_kv=Decimal("0.22"),
            capacity_kva=Decimal("8"),
        )
        return account

    return make


@pytest.fixture
def account(make_account: Callable[..., Any]) -> Any:
    return make_account()


@pytest.fixture
def posted_at() -> Iterator[datetime]:
    yield datetime(2024, 3, 5, 9, 30, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _private_data_dir(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test writes its files (Parquet interval batches, uploads, job records) to a directory of its own.

    Interval files are named after the import batch id, and every test database starts its ids at 1, so a
    shared directory would let parallel xdist workers (or a live server thread) overwrite each other's
    files."""
    base = tmp_path_factory.mktemp("wattdesk-data")
    settings.WATTDESK_DATA_DIR = base
    settings.WATTDESK_INTERVAL_DIR = base / "intervals"
