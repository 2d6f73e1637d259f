"""Bulk writes for the synthetic county: explicit primary keys and plain tuples straight to the tables.

``bulk_create`` builds and prepares one model instance per row; for half a million readings that is most of
the time. Here table and column names come from the model's ``_meta`` (a renamed column cannot drift), ids
are computed up front (``max(id) + 1`` under the transaction's write lock, then the PostgreSQL sequence is
moved past them) so foreign keys are linked without re-querying, and rows go in as
``COPY ... FROM STDIN`` on PostgreSQL or as prepared multi-row ``INSERT`` statements on SQLite.
Values must already be in database form: use :func:`dec`, :func:`day`, :func:`moment` and :func:`js`.

Call inside ``transaction.atomic()``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection, models

SQLITE_MAX_VARIABLES = 32766


def _pk_column(model: type[models.Model]) -> str:
    pk = model._meta.pk
    assert pk is not None and pk.column is not None
    return str(pk.column)


def first_id(model: type[models.Model]) -> int:
    """The first free primary key of `model`'s table (max + 1; SQLite also honours sqlite_sequence)."""
    table = model._meta.db_table
    pk = _pk_column(model)
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(f"SELECT COALESCE(MAX({qn(pk)}), 0) FROM {qn(table)}")
        start = int(cur.fetchone()[0]) + 1
        if connection.vendor == "postgresql":
            cur.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk])
            seq = cur.fetchone()[0]
            if seq:
                cur.execute(f"SELECT last_value, is_called FROM {seq}")
                last, called = cur.fetchone()
                start = max(start, int(last) + 1 if called else int(last))
    return start


def advance_sequence(model: type[models.Model]) -> None:
    """After explicit-id inserts on PostgreSQL, move the id sequence past the largest id."""
    if connection.vendor != "postgresql":
        return
    table = model._meta.db_table
    pk = _pk_column(model)
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE((SELECT MAX({qn(pk)}) FROM {qn(table)}), 1))",
            [table, pk],
        )


def insert(model: type[models.Model], field_names: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows (tuples in `field_names` order, in database form) into `model`'s table; returns the count."""
    table = model._meta.db_table
    qn = connection.ops.quote_name
    cols = [str(getattr(model._meta.get_field(f), "column", f)) for f in field_names]
    col_sql = ", ".join(qn(c) for c in cols)
    n = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cur, cur.cursor.copy(f"COPY {qn(table)} ({col_sql}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        return n
    width = len(cols)
    per_stmt = max(1, min(400, SQLITE_MAX_VARIABLES // width))
    one = "(" + ", ".join(["?"] * width) + ")"
    head = f"INSERT INTO {qn(table)} ({col_sql}) VALUES "
    full_sql = head + ", ".join([one] * per_stmt)
    with connection.cursor() as cur:
        raw = cur.cursor  # the sqlite3 cursor ('?' placeholders)
        flat: list[Any] = []
        batches: list[list[Any]] = []
        in_chunk = 0
        for row in rows:
            flat.extend(row)
            in_chunk += 1
            n += 1
            if in_chunk == per_stmt:
                batches.append(flat)
                flat, in_chunk = [], 0
                if len(batches) >= 32:
                    raw.executemany(full_sql, batches)
                    batches = []
        if batches:
            raw.executemany(full_sql, batches)
        if in_chunk:
            raw.execute(head + ", ".join([one] * in_chunk), flat)
    return n


def dec(x: float | None, places: int = 4) -> str | None:
    """A quantity in database form (decimal string, `places` decimals)."""
    if x is None or x != x:  # None or NaN
        return None
    return f"{x:.{places}f}"


def day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def moment(dt: datetime) -> str:
    """An aware datetime in the form Django stores it (UTC; SQLite without offset)."""
    utc = dt.astimezone(UTC)
    if connection.vendor == "postgresql":
        return utc.isoformat()
    return utc.replace(tzinfo=None).isoformat(sep=" ")


def js(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


def flag(b: bool) -> bool | int:
    return bool(b) if connection.vendor == "postgresql" else int(bool(b))
