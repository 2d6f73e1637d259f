"""Writes of smart fee control (智能费控) that the daily pass makes in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from wattdesk.domain.fee_control.models import FeeControlState

#: the columns of a state row after (account_id, day), in this order; ``computed_at`` comes last
STATE_COLUMNS = (
    "ledger_balance",
    "estimated_charge",
    "kwh_since",
    "measured",
    "estimated_balance",
    "days_left",
    "decision",
    "reason",
)
ROWS_PER_STATEMENT = 500

StateValues = tuple[int, Decimal, Decimal, Decimal, bool, Decimal, Decimal | None, str, str]


def upsert_states(*, day: date, computed_at: datetime, rows: Sequence[StateValues]) -> int:
    """Write one ``FeeControlState`` per (account, ``day``): insert, or rewrite the day's row in place (UNIQUE
    (account, day)). ``rows``: (account_id, *STATE_COLUMNS). One multi-row ``INSERT ... ON CONFLICT DO
    UPDATE`` per 500 rows (SQLite >= 3.24 and PostgreSQL): the ORM's ``bulk_create(update_conflicts=...)``
    prepared every value through its field and cost more than the estimate itself. PostgreSQL: one
    ``INSERT ... SELECT FROM unnest(arrays) ... ON CONFLICT`` per 10,000 rows."""
    if not rows:
        return 0
    qn = connection.ops.quote_name
    table = qn(FeeControlState._meta.db_table)
    cols = ("account_id", "day", *STATE_COLUMNS, "computed_at")
    day_v = connection.ops.adapt_datefield_value(day)
    at_v = connection.ops.adapt_datetimefield_value(computed_at)
    one = "(" + ", ".join(["%s"] * len(cols)) + ")"
    updates = ", ".join(f"{qn(c)} = excluded.{qn(c)}" for c in (*STATE_COLUMNS, "computed_at"))
    head = f"INSERT INTO {table} ({', '.join(qn(c) for c in cols)}) VALUES "
    tail = f" ON CONFLICT ({qn('account_id')}, {qn('day')}) DO UPDATE SET {updates}"
    if connection.vendor == "postgresql":
        # one statement per 10,000 rows, each column bound as one array: psycopg parses a statement of
        # thousands of placeholders in Python on every call (11 s of 37 at 50,000 accounts)
        cast = ("bigint", "numeric", "numeric", "numeric", "boolean", "numeric", "numeric", "text", "text")
        names = ("a", *STATE_COLUMNS)
        sql = (
            f"INSERT INTO {table} ({', '.join(qn(c) for c in cols)}) "
            f"SELECT u.a, %s::date, {', '.join('u.' + c for c in STATE_COLUMNS)}, %s::timestamptz "
            f"FROM unnest({', '.join(f'%s::{t}[]' for t in cast)}) AS u({', '.join(names)})" + tail
        )
        with connection.cursor() as cur:
            for lo in range(0, len(rows), 10_000):
                part = rows[lo : lo + 10_000]
                cur.execute(sql, [day_v, at_v, *(list(col) for col in zip(*part, strict=True))])
        return len(rows)
    with connection.cursor() as cur:
        for lo in range(0, len(rows), ROWS_PER_STATEMENT):
            part = rows[lo : lo + ROWS_PER_STATEMENT]
            params: list[Any] = []
            for r in part:
                params.append(r[0])
                params.append(day_v)
                params.extend(r[1:])
                params.append(at_v)
            cur.execute(head + ", ".join([one] * len(part)) + tail, params)
    return len(rows)
