"""Indexes for customer search at a million accounts (PostgreSQL only; SQLite data sets are small).

Search matches an account number or a meter serial by prefix and a customer name or an address anywhere in the
text, ignoring case. B-tree indexes on ``UPPER(col)`` with the pattern operator class serve
``UPPER(col) LIKE 'X%'`` (Django's ``istartswith``) whatever the database collation;
trigram GIN indexes (pg_trgm, a trusted extension since PostgreSQL 13) serve ``UPPER(col) LIKE '%X%'``, the
SQL Django writes for ``icontains``. At 1M accounts the old single OR query took 12.6 s (docs/performance.md);
the search now runs one capped, indexable query per key (application/customer_360.search_accounts).
"""

from typing import Any

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS account_number_prefix_idx ON customers_account (UPPER(number::text) text_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS customer_name_trgm_idx ON customers_customer USING gin (UPPER(name::text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS servicepoint_address_trgm_idx ON customers_servicepoint "
    "USING gin (UPPER(address::text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS meter_serial_prefix_idx ON metering_meter (UPPER(serial::text) text_pattern_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS meter_serial_prefix_idx",
    "DROP INDEX IF EXISTS servicepoint_address_trgm_idx",
    "DROP INDEX IF EXISTS customer_name_trgm_idx",
    "DROP INDEX IF EXISTS account_number_prefix_idx",
]


def forward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in FORWARD:
            schema_editor.execute(sql)


def backward(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("metering", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
