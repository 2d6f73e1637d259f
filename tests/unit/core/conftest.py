"""Fixtures for the pure-core rating tests: a minimal tariff document builder and the shipped PF table."""

from __future__ import annotations

import pytest

from wattdesk.application.tariffs.reference_data import load_pf_table
from wattdesk.core.pf import PfTable


@pytest.fixture(scope="session")
def pf_table() -> PfTable:
    return load_pf_table()
