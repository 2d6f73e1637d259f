"""A tariff with :30 period boundaries (48 half-hour slots a day), as staff and customers see it: the catalog page
shows two cells per hour column and hours like 8.5; the portal says '00:00–08:30'."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.test import Client

from wattdesk.application.portal.screens import hour_ranges
from wattdesk.application.tariffs.catalog import import_tariff_files

# valley 00:00-08:30 (17 half-hours = 8.5 h), peak 08:30-24:00 (31 half-hours = 15.5 h)
HALF_HOUR_TARIFF = """
code: HH-TOU
name: 半点分时电价(测试)
effective_from: 2026-01-01
customer_class: commercial
currency: CNY
calendar: {semantics: real, holidays: false}
energy:
  periods:
    - {key: peak, tiers: [{rate: 1.0}]}
    - {key: valley, tiers: [{rate: 0.3}]}
  schedule:
    weekday: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
"""


def test_portal_ranges_read_half_past() -> None:
    day = [1] * 17 + [0] * 28 + [1] * 3  # valley to 08:30 and from 22:30
    assert hour_ranges(day, 0) == "08:30–22:30"
    assert hour_ranges(day, 1) == "22:30–08:30"
    assert hour_ranges([0] * 8 + [1] * 16, 0) == "00:00–08:00"  # hourly schedules unchanged


def test_catalog_page_shows_half_hours(
    company: Any, client_for: Callable[[str], Client], tmp_path: Path
) -> None:
    path = tmp_path / "half-hour.yaml"
    path.write_text(HALF_HOUR_TARIFF, encoding="utf-8")
    import_tariff_files(paths=[path])
    response = client_for("analyst").get("/tariffs/HH-TOU/2026-01-01/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<th colspan="2">8</th>' in html
    grid = response.context["energy_grids"][0]
    assert len(grid.rows[0].cells) == 48
    assert grid.rows[0].hours == (("峰", Decimal("15.5")), ("谷", Decimal("8.5")))
