"""The dashboard's chart axes read in 万 / 亿 (Chinese) and K / M (English), like the cards' ``big`` figures:
the server puts the unit of each y axis in the ECharts option (``wattdeskUnit``) and charts.js (served from
WattDesk's own static files) turns it into the label formatter. Before, the axes showed raw numbers (125000)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from wattdesk.domain.access import roles
from wattdesk.interfaces.web.templatetags.fmt import big_axis_unit, format_big


def _options(client: Client, language: str) -> list[dict[str, Any]]:
    client.cookies["django_language"] = language
    html = client.get("/dashboard/").content.decode()
    options = [json.loads(unescape(m)) for m in re.findall(r'data-chart="([^"]*)"', html)]
    assert len(options) == 3
    return options


@pytest.mark.parametrize(("language", "suffixes"), [("zh-hans", {"万", "亿"}), ("en", {"K", "M", "B"})])
def test_every_y_axis_carries_the_unit_of_its_largest_value(
    language: str, suffixes: set[str], company: Any, client_for: Callable[[str], Client]
) -> None:
    units_seen = set()
    for option in _options(client_for(roles.ADMIN), language):
        assert len(option["yAxis"]) == 2
        for axis, series in zip(option["yAxis"], option["series"], strict=True):
            unit = axis["wattdeskUnit"]
            largest = max((abs(Decimal(str(v))) for v in series["data"]), default=Decimal(0))
            shown = format_big(largest, language)  # what a card shows for the same figure
            if unit["suffix"]:
                assert shown.endswith(unit["suffix"])
                assert unit["divisor"] in (10**3, 10**4, 10**6, 10**8, 10**9)
            else:
                assert unit["divisor"] == 1 and largest < 10_000
            units_seen.add(unit["suffix"])
    # The sample company sells well over 10,000 kWh and yuan a period: the axes are in large units.
    assert units_seen & suffixes


def test_axis_unit_follows_the_big_filter() -> None:
    assert big_axis_unit([Decimal("125000"), Decimal("-3")], "zh-hans") == {"divisor": 10_000, "suffix": "万"}
    assert big_axis_unit([Decimal("125000")], "en") == {"divisor": 1_000, "suffix": "K"}
    assert big_axis_unit([Decimal("3.2e8")], "zh-hans") == {"divisor": 10**8, "suffix": "亿"}
    assert big_axis_unit([Decimal("3.2e8")], "en") == {"divisor": 10**6, "suffix": "M"}
    assert big_axis_unit([Decimal("9999")], "en") == {"divisor": 1, "suffix": ""}
    assert big_axis_unit([], "zh-hans") == {"divisor": 1, "suffix": ""}
    assert format_big(Decimal("125000"), "zh-hans") == "12.50万"


def test_charts_js_turns_the_unit_into_the_axis_label_formatter() -> None:
    path = finders.find("web/charts.js")
    assert path
    with open(path, encoding="utf-8") as f:
        js = f.read()
    assert "wattdeskUnit" in js and "axisLabel.formatter" in js and "http" not in js
