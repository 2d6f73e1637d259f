"""Fixtures shared by the web page tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from readings_support import UPLOAD_DAY


@pytest.fixture
def uploads(settings: Any, tmp_path: Path, monkeypatch: Any) -> Path:
    """Uploads go to a private data directory, on a pinned business day (never today's date)."""
    settings.WATTDESK_DATA_DIR = tmp_path
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: UPLOAD_DAY)
    return tmp_path / "uploads"
