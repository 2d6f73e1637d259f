"""One checked path into the ledger: no code under src/ inserts ledger rows except domain/ledger/operations.py.

A static scan of every Python file under ``src/wattdesk`` (migrations excepted) for the ways a row can reach
``ledger_ledgerentry``: the ORM (``LedgerEntry(...)`` instances, ``LedgerEntry.objects.create`` /
``bulk_create`` / ``get_or_create``), raw SQL (``INSERT INTO`` / ``COPY`` naming the table, literally or as
``LedgerEntry._meta.db_table`` in an f-string), the bulk writer with the ledger model, and opening the
protected table (``bulk.opened(LedgerEntry)``). Not seen: a table name first stored in a variable and used in
SQL elsewhere (no data flow here). The runtime guard (``LedgerWriteRefused``, ``BulkWriteError``) is tested in
tests/integration/ledger/test_ledger_posting.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "wattdesk"
OWNER = SRC / "domain" / "ledger" / "operations.py"
TABLE = "ledger_ledgerentry"
RAW_SQL = re.compile(rf"\b(INSERT\s+(OR\s+\w+\s+)?INTO|COPY)\s+[\"'`]?{TABLE}\b", re.IGNORECASE)
INSERT_SQL = re.compile(r"\b(INSERT\s+(OR\s+\w+\s+)?INTO|COPY)\b", re.IGNORECASE)
ORM_WRITES = {"create", "bulk_create", "get_or_create", "update_or_create"}
BULK_WRITES = {"insert_rows", "opened"}


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _mentions_ledger_model(node: ast.AST) -> bool:
    """``LedgerEntry`` or ``<module>.LedgerEntry``, or the table's name as a string."""
    if isinstance(node, ast.Name):
        return node.id == "LedgerEntry"
    if isinstance(node, ast.Attribute):
        return node.attr == "LedgerEntry"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value in {TABLE, "ledger.LedgerEntry", "ledger.ledgerentry"}
    return False


def _literal_text(node: ast.JoinedStr) -> str:
    return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))


def ledger_writes(source: str) -> list[tuple[int, str]]:
    """(line, what) of every way ``source`` inserts ledger rows."""
    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and RAW_SQL.search(node.value):
            found.append((node.lineno, "raw SQL insert into the ledger table"))
        if isinstance(node, ast.JoinedStr) and INSERT_SQL.search(_literal_text(node)):
            named = [v for v in node.values if isinstance(v, ast.FormattedValue)]
            if any(_mentions_ledger_model(n) for v in named for n in ast.walk(v.value)):
                found.append((node.lineno, "raw SQL insert into the ledger table (its name from the model)"))
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            if RAW_SQL.search(text):
                found.append((node.lineno, "raw SQL insert into the ledger table"))
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if _mentions_ledger_model(node.func):
            found.append((node.lineno, "LedgerEntry(...) instance"))
        parts = name.split(".")
        if (
            len(parts) >= 3
            and parts[-1] in ORM_WRITES
            and parts[-2] == "objects"
            and parts[-3] == "LedgerEntry"
        ):
            found.append((node.lineno, f"LedgerEntry.objects.{parts[-1]}"))
        if parts[-1] in BULK_WRITES and node.args and _mentions_ledger_model(node.args[0]):
            found.append((node.lineno, f"bulk writer {parts[-1]}(LedgerEntry, ...)"))
    return found


def test_only_the_ledger_operations_insert_ledger_rows() -> None:
    offenders = []
    for path in _sources():
        if path == OWNER:
            continue
        for line, what in ledger_writes(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(SRC.parent)}:{line}: {what}")
    assert not offenders, (
        "ledger rows are posted only through wattdesk.domain.ledger.operations (post_entries / post_entry / "
        "reverse_entry), which checks every entry:\n" + "\n".join(offenders)
    )


def test_the_owner_is_where_the_writes_are() -> None:
    # If the scan found nothing in the owner either, it would not be looking at the right thing.
    assert any("bulk writer" in what for _line, what in ledger_writes(OWNER.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "snippet",
    [
        "LedgerEntry.objects.create(account_id=1, kind='charge', amount=a, posted_at=t)",
        "m.LedgerEntry.objects.bulk_create(objs)",
        "LedgerEntry.objects.get_or_create(account_id=1)",
        "objs = [LedgerEntry(account_id=1) for _ in x]",
        "bulk.insert_rows(LedgerEntry, FIELDS, rows)",
        "insert_rows(models.LedgerEntry, FIELDS, rows)",
        "with bulk.opened(LedgerEntry):\n    pass",
        "cur.execute('INSERT INTO ledger_ledgerentry (account_id) VALUES (%s)', [1])",
        "cur.execute(f'insert into \"ledger_ledgerentry\" ({cols}) VALUES {vals}')",
        "raw.copy('COPY ledger_ledgerentry (account_id) FROM STDIN')",
        "sql = 'INSERT OR IGNORE INTO ledger_ledgerentry SELECT * FROM x'",
        "cur.execute(f'INSERT INTO {qn(LedgerEntry._meta.db_table)} ({cols}) VALUES (%s)', [1])",
        "raw.copy(f'COPY {m.LedgerEntry._meta.db_table} ({cols}) FROM STDIN')",
    ],
)
def test_the_scan_finds_each_way_in(snippet: str) -> None:
    assert ledger_writes(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "LedgerEntry.objects.filter(account_id=1).values('amount')",
        "post_entries(entries=[Posting(1, 'charge', a, t)])",
        "bulk.insert_rows(Bill, FIELDS, rows)",
        "cur.execute('SELECT * FROM ledger_ledgerentry')",
        "x = LedgerEntry._meta.db_table",
        "cur.execute(f'SELECT amount FROM {LedgerEntry._meta.db_table} WHERE id = %s', [1])",
        "cur.execute(f'INSERT INTO {Bill._meta.db_table} (a) VALUES (%s)', [1])",
    ],
)
def test_reads_and_other_tables_are_not_flagged(snippet: str) -> None:
    assert not ledger_writes(snippet), snippet
