"""Bulk writes for the billing run: id reservation plus COPY (PostgreSQL) or multi-row INSERT (SQLite).

Django's ``bulk_create`` builds a model instance per row and prepares every value through the field
machinery; at a million bills (and several million lines) that is the slowest part of a run. These helpers
write plain tuples straight to the table the model maps to (table and column names are taken from the
model's ``_meta``, so a renamed column cannot silently drift), with ids reserved up front so bills, their
lines and their ledger entries can reference each other inside one batch.

They must run inside ``transaction.atomic()``: on SQLite the settings open every transaction with
``BEGIN IMMEDIATE`` (the write lock is held from the start), which is what makes ``max(id) + 1`` safe; on
PostgreSQL ids come from the table's own sequence, which is safe under any concurrency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models

SQLITE_MAX_VARIABLES = 32766  # SQLITE_MAX_VARIABLE_NUMBER of SQLite >= 3.32


def columns(model: type[models.Model], field_names: Sequence[str]) -> list[str]:
    """Database column names of ``field_names`` (``"bill"`` -> ``"bill_id"``)."""
    return [column(model, name) for name in field_names]


def column(model: type[models.Model], name: str) -> str:
    """Database column of one field of ``model``."""
    f = model._meta.get_field(name)
    if not isinstance(f, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return str(f.column)


def reserve_ids(model: type[models.Model], count: int) -> range:
    """Reserve ``count`` consecutive-or-not primary keys for rows about to be inserted; returns them.

    PostgreSQL: ``nextval`` of the pk sequence (identity or serial) ``count`` times, so a concurrent writer
    can never collide; the ids come back sorted and, for one call, are contiguous unless another session
    drew from the sequence at the same moment — hence the list, not an assumed range.
    SQLite: ``max(id) + 1 ...`` under the write lock the surrounding IMMEDIATE transaction holds.
    """
    if count <= 0:
        return range(0)
    table = model._meta.db_table
    assert model._meta.pk is not None
    pk = str(model._meta.pk.column)
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, count],
            )
            ids = sorted(r[0] for r in cur.fetchall())
            if ids[-1] - ids[0] + 1 == count:
                return range(ids[0], ids[-1] + 1)
            return _IdList(ids)  # type: ignore[return-value]
        cur.execute(f"SELECT COALESCE(MAX({qn(pk)}), 0) FROM {qn(table)}")
        start = int(cur.fetchone()[0]) + 1
        # AUTOINCREMENT tables remember the highest id ever used, even after a delete.
        cur.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if cur.fetchone():
            cur.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cur.fetchone()
            if row and int(row[0]) + 1 > start:
                start = int(row[0]) + 1
        return range(start, start + count)


class _IdList(list):  # type: ignore[type-arg]
    """Reserved ids that are not one contiguous range (PostgreSQL under concurrent inserts)."""


def insert_rows(model: type[models.Model], field_names: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (tuples in ``field_names`` order, already adapted) into ``model``'s table.

    PostgreSQL: ``COPY ... FROM STDIN`` (binary-free text COPY through psycopg 3, values adapted by psycopg).
    SQLite: ``executemany`` of one prepared multi-row ``INSERT`` (the statement cache makes this the fastest
    path the sqlite3 module offers). Returns the number of rows written.
    """
    table = model._meta.db_table
    qn = connection.ops.quote_name
    cols = columns(model, field_names)
    col_sql = ", ".join(qn(c) for c in cols)
    n = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            raw = cur.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {qn(table)} ({col_sql}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
        return n
    # SQLite
    width = len(cols)
    per_stmt = max(1, min(500, SQLITE_MAX_VARIABLES // width))
    one = "(" + ", ".join(["?"] * width) + ")"
    buf: list[Any] = []
    full_sql = f"INSERT INTO {qn(table)} ({col_sql}) VALUES " + ", ".join([one] * per_stmt)
    with connection.cursor() as cur:
        raw = cur.cursor  # the sqlite3 cursor: '?' placeholders, no Django %s rewriting per call
        chunk: list[Sequence[Any]] = []
        batches: list[list[Any]] = []
        for row in rows:
            chunk.append(row)
            n += 1
            if len(chunk) == per_stmt:
                flat: list[Any] = []
                for r in chunk:
                    flat.extend(r)
                batches.append(flat)
                chunk = []
                if len(batches) >= 64:
                    raw.executemany(full_sql, batches)
                    batches = []
        if batches:
            raw.executemany(full_sql, batches)
        if chunk:
            for r in chunk:
                buf.extend(r)
            raw.execute(f"INSERT INTO {qn(table)} ({col_sql}) VALUES " + ", ".join([one] * len(chunk)), buf)
    return n
