"""The one bulk writer: plain tuples straight into a model's table, COPY on PostgreSQL, multi-row INSERT on SQLite.

Django's ``bulk_create`` builds a model instance per row and prepares every value through the field
machinery; at a million bills (several million lines, half a million synthetic readings) that is the slowest
part of a write. These helpers write tuples to the table the model maps to (table and column names are taken
from the model's ``_meta``, so a renamed column cannot silently drift). Everything that bulk-inserts uses
this module: the billing run, the nightly dunning pass, late fees, the synthetic county and the benchmark
loaders. Ledger rows are the exception that proves the rule: the ledger table is *protected* and only
``wattdesk.domain.ledger.operations`` opens it (:func:`opened`), after checking every entry.

Ids: :func:`reserve_ids` reserves primary keys up front, so rows of one batch can reference each other
(bills, their lines, their ledger entries) without re-querying. PostgreSQL: ``nextval`` of the table's own
sequence, which is safe under any concurrency, so later ORM inserts never collide. SQLite: ``max(id) + 1``
(and ``sqlite_sequence`` for AUTOINCREMENT tables) under the write lock that the settings' ``BEGIN
IMMEDIATE`` transactions hold from their start — which is why every call must run inside
``transaction.atomic()``. :func:`reserve_block` is the same with a guarantee that the ids are contiguous
(loaders that compute ids by offset).

Values must already be in database form (psycopg adapts Decimal, date, aware datetime; on SQLite
datetimes go through ``connection.ops.adapt_datetimefield_value`` or :func:`moment`). Database errors of
both engines come out as Django's (``IntegrityError``, ``DataError``...), as from the ORM.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection, models

SQLITE_MAX_VARIABLES = 32766  # SQLITE_MAX_VARIABLE_NUMBER of SQLite >= 3.32
SQLITE_ROWS_PER_STATEMENT = 500
SQLITE_STATEMENTS_PER_CALL = 64
BLOCK_ATTEMPTS = 5


class BulkWriteError(Exception):
    """A bulk write that is not allowed (protected table, outside a transaction, no contiguous block)."""


# --- protected tables ------------------------------------------------------------------------------------------

_PROTECTED: set[str] = set()
_OPEN: ContextVar[frozenset[str]] = ContextVar("wattdesk_bulk_open_tables", default=frozenset())


def protect(model: type[models.Model]) -> None:
    """Refuse bulk writes to ``model``'s table unless the caller is inside :func:`opened` for it."""
    _PROTECTED.add(model._meta.db_table)


def is_protected(model: type[models.Model]) -> bool:
    return model._meta.db_table in _PROTECTED


def is_open(model: type[models.Model]) -> bool:
    """Whether the current thread / task is inside :func:`opened` for ``model``."""
    return model._meta.db_table in _OPEN.get()


@contextlib.contextmanager
def opened(model: type[models.Model]) -> Iterator[None]:
    """Allow writes to a protected table for the duration of the block (this thread / task only).

    Only the owner of the table calls this (the ledger: ``domain.ledger.operations``, after validating)."""
    token = _OPEN.set(_OPEN.get() | {model._meta.db_table})
    try:
        yield
    finally:
        _OPEN.reset(token)


# --- names ------------------------------------------------------------------------------------------------------


def column(model: type[models.Model], name: str) -> str:
    """Database column of one field of ``model`` (``"bill"`` -> ``"bill_id"``)."""
    f = model._meta.get_field(name)
    if not isinstance(f, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return str(f.column)


def columns(model: type[models.Model], field_names: Sequence[str]) -> list[str]:
    """Database column names of ``field_names``."""
    return [column(model, name) for name in field_names]


# --- ids --------------------------------------------------------------------------------------------------------


class IdList(list):  # type: ignore[type-arg]
    """Reserved ids that are not one contiguous range (PostgreSQL under concurrent inserts)."""


def _pk_column(model: type[models.Model]) -> str:
    pk = model._meta.pk
    assert pk is not None and pk.column is not None
    return str(pk.column)


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise BulkWriteError("bulk writes run inside transaction.atomic()")


def reserve_ids(model: type[models.Model], count: int) -> Sequence[int]:
    """Reserve ``count`` primary keys for rows about to be inserted into ``model``'s table, ascending.

    A ``range`` when the ids are contiguous (always on SQLite; on PostgreSQL unless another session drew
    from the sequence at the same moment), otherwise an :class:`IdList`.
    """
    _require_transaction()
    if count <= 0:
        return range(0)
    table = model._meta.db_table
    pk = _pk_column(model)
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # One round trip. The sequence is looked up once (pg_get_serial_sequence per row cost 75 ms per
            # 10,000 ids); one row (first, last) comes back when the ids are one range, else every id.
            cur.execute(
                "WITH q AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq), "
                "s AS MATERIALIZED (SELECT nextval(q.seq) AS v FROM q, generate_series(1, %s)), "
                "a AS (SELECT min(v) AS lo, max(v) AS hi, count(*) AS n FROM s) "
                "SELECT lo, hi FROM a WHERE hi - lo + 1 = n "
                "UNION ALL SELECT v, NULL FROM s, a WHERE hi - lo + 1 <> n",
                [table, pk, count],
            )
            rows = cur.fetchall()
            if len(rows) == 1 and rows[0][1] is not None:
                return range(int(rows[0][0]), int(rows[0][1]) + 1)
            return IdList(sorted(int(r[0]) for r in rows))
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


def reserve_block(model: type[models.Model], count: int) -> range:
    """Like :func:`reserve_ids`, but always one contiguous range (loaders that compute ids by offset).

    PostgreSQL: if a concurrent session drew from the sequence in between, the ids are let go (a sequence
    has gaps anyway) and drawn again, a few times at most."""
    for _ in range(BLOCK_ATTEMPTS):
        ids = reserve_ids(model, count)
        if isinstance(ids, range):
            return ids
    raise BulkWriteError(f"could not reserve {count} contiguous ids for {model._meta.db_table}")


# --- rows -------------------------------------------------------------------------------------------------------


def _pg_type(model: type[models.Model], name: str) -> str:
    """The PostgreSQL type name of a field's column as psycopg knows it (``varchar(64)`` -> ``varchar``)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    target = getattr(field, "target_field", None) if field.is_relation else None
    db_type = target.rel_db_type(connection) if target is not None else field.db_type(connection)
    base = str(db_type).split("(", 1)[0].strip().lower()
    return {"serial": "integer", "bigserial": "bigint", "smallserial": "smallint"}.get(base, base)


def insert_rows(
    model: type[models.Model],
    field_names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    binary: bool = False,
) -> int:
    """Insert ``rows`` (tuples in ``field_names`` order, in database form) into ``model``'s table.

    PostgreSQL: ``COPY ... FROM STDIN`` through psycopg 3 (values adapted by psycopg). ``binary``: the binary
    COPY format, the column types declared from the model (no text formatting on the client, no parsing on
    the server); the values must then be Python values of the columns' types (int, Decimal, date, aware
    datetime, str, bool, None), not strings in database form. SQLite:
    ``executemany`` of one prepared multi-row ``INSERT`` (the statement cache makes this the fastest path the
    sqlite3 module offers). Returns the number of rows written. Refuses a protected table (the ledger)
    outside :func:`opened`.
    """
    table = model._meta.db_table
    if table in _PROTECTED and table not in _OPEN.get():
        raise BulkWriteError(f"{table} is written only through its domain operation, not the bulk writer")
    _require_transaction()
    qn = connection.ops.quote_name
    cols = columns(model, field_names)
    col_sql = ", ".join(qn(c) for c in cols)
    head = f"INSERT INTO {qn(table)} ({col_sql}) VALUES "
    n = 0
    # The raw driver cursors below bypass Django's wrapper: translate driver errors as the ORM does.
    with connection.wrap_database_errors, connection.cursor() as cur:
        raw = cur.cursor  # the psycopg / sqlite3 cursor under Django's wrapper
        if connection.vendor == "postgresql":
            fmt = " (FORMAT BINARY)" if binary else ""
            with raw.copy(f"COPY {qn(table)} ({col_sql}) FROM STDIN{fmt}") as copy:
                if binary:
                    copy.set_types([_pg_type(model, name) for name in field_names])
                for row in rows:
                    copy.write_row(row)
                    n += 1
            return n
        width = len(cols)
        per_stmt = max(1, min(SQLITE_ROWS_PER_STATEMENT, SQLITE_MAX_VARIABLES // width))
        one = "(" + ", ".join(["?"] * width) + ")"
        full_sql = head + ", ".join([one] * per_stmt)
        flat: list[Any] = []
        in_chunk = 0
        batches: list[list[Any]] = []
        for row in rows:
            if len(row) != width:
                raise ValueError(f"row of {len(row)} values for {width} columns of {table}")
            flat.extend(row)
            in_chunk += 1
            n += 1
            if in_chunk == per_stmt:
                batches.append(flat)
                flat, in_chunk = [], 0
                if len(batches) >= SQLITE_STATEMENTS_PER_CALL:
                    raw.executemany(full_sql, batches)
                    batches = []
        if batches:
            raw.executemany(full_sql, batches)
        if in_chunk:
            raw.execute(head + ", ".join([one] * in_chunk), flat)
    return n


# --- values in database form (loaders that build rows from numbers) ----------------------------------------------


def dec(x: float | None, places: int = 4) -> str | None:
    """A quantity in database form (decimal string, ``places`` decimals); None and NaN are NULL."""
    if x is None or x != x:
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
