"""Database-level append-only guard for ``ledger_ledgerentry``: triggers that abort UPDATE and DELETE.

Both engines report the violation as an integrity error (SQLite: RAISE(ABORT) -> SQLITE_CONSTRAINT;
PostgreSQL: SQLSTATE 23000), so Django raises ``django.db.IntegrityError`` on either.

Truncation is not guarded on PostgreSQL (row triggers do not fire on TRUNCATE); that is what test
database flushes use. The migration ``0002_append_only_guard`` installs these; if the SQL here ever changes,
freeze the old text into that migration and add a new migration.
"""

from __future__ import annotations

from typing import Any

TABLE = "ledger_ledgerentry"
MESSAGE = "ledger_ledgerentry is append-only: post a reversal instead"

SQLITE_TRIGGERS = {
    "ledger_entry_no_update": (
        f"CREATE TRIGGER IF NOT EXISTS ledger_entry_no_update BEFORE UPDATE ON {TABLE} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    ),
    "ledger_entry_no_delete": (
        f"CREATE TRIGGER IF NOT EXISTS ledger_entry_no_delete BEFORE DELETE ON {TABLE} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    ),
}

POSTGRESQL_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION ledger_entry_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    f"DROP TRIGGER IF EXISTS ledger_entry_no_update_delete ON {TABLE}",
    f"""
    CREATE TRIGGER ledger_entry_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only()
    """,
]

POSTGRESQL_UNINSTALL = [
    f"DROP TRIGGER IF EXISTS ledger_entry_no_update_delete ON {TABLE}",
    "DROP FUNCTION IF EXISTS ledger_entry_append_only()",
]


def install_sql(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return list(SQLITE_TRIGGERS.values())
    if vendor == "postgresql":
        return list(POSTGRESQL_INSTALL)
    raise NotImplementedError(f"no ledger guard for database vendor {vendor!r}")


def uninstall_sql(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]
    if vendor == "postgresql":
        return list(POSTGRESQL_UNINSTALL)
    raise NotImplementedError(f"no ledger guard for database vendor {vendor!r}")


def install(connection: Any) -> None:
    with connection.cursor() as cursor:
        for statement in install_sql(connection.vendor):
            cursor.execute(statement)


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        for statement in uninstall_sql(connection.vendor):
            cursor.execute(statement)
