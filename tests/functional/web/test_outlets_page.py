"""The outlet planning page (网点规划): capability, coverage today, a plan with before / after and the map."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client

from wattdesk.synthetic.outlets import seed_outlets


@pytest.fixture
def seeded(company: object) -> None:
    seed_outlets(seed=1)


def _chart(html: str) -> dict[str, Any]:
    start = html.index('data-chart="') + len('data-chart="')
    option: dict[str, Any] = json.loads(unescape(html[start : html.index('"', start)]))
    return option


class TestOutletsPage:
    def test_marketing_manager_sees_coverage_today_and_the_map(
        self, seeded: None, client_for: Callable[[str], Client]
    ) -> None:
        resp = client_for("marketing_manager").get("/outlets/")
        assert resp.status_code == 200
        html = resp.content.decode()
        assert 'data-testid="before-coverage"' in html and 'data-testid="after-coverage"' not in html
        chart = _chart(html)
        series = {s["name"]: s for s in chart["series"]}
        assert len(series["客户"]["data"]) == 120  # every premise (fewer than the 3000 sample)
        assert len(series["现有网点"]["data"]) == 4
        assert len(series["候选站点"]["data"]) == 24
        assert series["新增网点"]["data"] == []
        assert "echarts.min.js" in html and "tile" not in html

    def test_a_plan_shows_before_after_and_the_chosen_sites(
        self, seeded: None, client_for: Callable[[str], Client]
    ) -> None:
        resp = client_for("marketing_manager").get("/outlets/", {"k": "3", "radius_km": "3"})
        assert resp.status_code == 200
        html = resp.content.decode()
        plan = resp.context["plan"]
        assert plan.after.coverage >= plan.before.coverage
        assert f"{100 * plan.after.coverage:.1f}%" in html
        assert len(_chart(html)["series"][3]["data"]) == 3
        for s in plan.sites:
            assert s.code in html

    def test_bad_numbers_are_reported_not_solved(
        self, seeded: None, client_for: Callable[[str], Client]
    ) -> None:
        resp = client_for("admin").get("/outlets/", {"k": "abc", "radius_km": "-2"})
        assert resp.status_code == 200
        assert resp.context["plan"] is None
        assert len(resp.context["errors"]) == 2

    def test_meter_reader_is_refused(self, seeded: None, client_for: Callable[[str], Client]) -> None:
        assert client_for("meter_reader").get("/outlets/").status_code == 403
