"""Database-level append-only guard on ledger_ledgerentry: UPDATE and DELETE are refused by triggers.

Vendor-aware: SQLite gets two BEFORE UPDATE/DELETE triggers with RAISE(ABORT), PostgreSQL a plpgsql
function and a BEFORE UPDATE OR DELETE row trigger. The SQL is frozen here (not imported) so that later
edits to wattdesk.domain.ledger.guard cannot change what this migration did.
"""

from collections.abc import Callable
from typing import Any

from django.db import migrations

MESSAGE = "ledger_ledgerentry is append-only: post a reversal instead"

SQLITE_INSTALL = [
    "CREATE TRIGGER IF NOT EXISTS ledger_entry_no_update BEFORE UPDATE ON ledger_ledgerentry "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_entry_no_delete BEFORE DELETE ON ledger_ledgerentry "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS ledger_entry_no_update",
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete",
]
POSTGRESQL_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION ledger_entry_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS ledger_entry_no_update_delete ON ledger_ledgerentry",
    """
    CREATE TRIGGER ledger_entry_no_update_delete BEFORE UPDATE OR DELETE ON ledger_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only()
    """,
]
POSTGRESQL_UNINSTALL = [
    "DROP TRIGGER IF EXISTS ledger_entry_no_update_delete ON ledger_ledgerentry",
    "DROP FUNCTION IF EXISTS ledger_entry_append_only()",
]


def _run(statements_by_vendor: dict[str, list[str]]) -> Callable[[Any, Any], None]:
    def run(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor not in statements_by_vendor:
            raise RuntimeError(f"ledger append-only guard: unsupported database vendor {vendor!r}")
        for statement in statements_by_vendor[vendor]:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_INSTALL, "postgresql": POSTGRESQL_INSTALL}),
            _run({"sqlite": SQLITE_UNINSTALL, "postgresql": POSTGRESQL_UNINSTALL}),
            elidable=False,
        ),
    ]
