"""Integration tests: use cases and domain operations against a real database (SQLite, and PostgreSQL in CI).

The folders mirror ``src/wattdesk/application`` (billing, metering, customers, tariffs, ledger, payments and its
channels, collection, dunning, fee_control, outlets) plus ``synthetic``; tests that cut across areas (models,
settings, import encodings, the holiday calendar) stay here. This conftest puts this folder on ``sys.path`` so
every test can import the shared helpers next to it (``payments_helpers``).
"""
