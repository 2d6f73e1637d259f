"""Helpers for the few hot reads written in SQL (the consumption query, the billing run's fetch): quoted
table and column names, an exact SUM of a 4-place quantity column, and reading what the driver returns.

SQLite keeps ``DECIMAL`` as 64-bit floats: a quantity SUM is taken in integer 0.0001 units there
(:func:`qty_sum`) and read back with :func:`read_qty_units`; PostgreSQL returns ``Decimal`` as it is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Model

from wattdesk.domain import bulk

QTY = Decimal("0.0001")


def table(model: type[Model]) -> str:
    """The quoted table name of ``model``."""
    return connection.ops.quote_name(model._meta.db_table)


def col(model: type[Model], name: str) -> str:
    """The quoted column name of one field of ``model`` (``"register"`` -> ``"register_id"``)."""
    return connection.ops.quote_name(bulk.column(model, name))


def is_sqlite() -> bool:
    return connection.vendor == "sqlite"


def qty_sum(expr: str) -> str:
    """SUM of a 4-place quantity column, exact on both engines (SQLite: in integer 0.0001 units)."""
    return f"SUM(CAST(ROUND({expr} * 10000) AS INTEGER))" if is_sqlite() else f"SUM({expr})"


def read_qty(x: Any) -> Decimal | None:
    """A 4-place quantity as read by the driver (SQLite: float or int; PostgreSQL: Decimal)."""
    if x is None:
        return None
    if isinstance(x, Decimal):
        return x
    if isinstance(x, int):
        return Decimal(x)
    return Decimal(repr(x)).quantize(QTY)


def read_qty_units(x: Any) -> Decimal | None:
    """The result of :func:`qty_sum`: integer 0.0001 units on SQLite, Decimal on PostgreSQL."""
    if x is None:
        return None
    if isinstance(x, Decimal):
        return x
    return Decimal(int(x)).scaleb(-4)
