"""The outlet planning page (网点规划): capability, coverage today, a plan (queued for a worker, polled, then
shown) with before / after and the map."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from sample_company import build_company
from wattdesk.interfaces.cli import main
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

    def test_bad_numbers_are_reported_not_solved(
        self, seeded: None, client_for: Callable[[str], Client]
    ) -> None:
        resp = client_for("admin").post("/outlets/", {"k": "abc", "radius_km": "-2"})
        assert resp.status_code == 200
        assert resp.context["plan"] is None
        assert len(resp.context["errors"]) == 2
        assert not DBTaskResult.objects.exists()  # nothing queued

    def test_an_unknown_plan_is_404(self, seeded: None, client_for: Callable[[str], Client]) -> None:
        client = client_for("marketing_manager")
        assert client.get("/outlets/", {"job": "not-a-uuid"}).status_code == 404
        assert client.get("/outlets/", {"job": "00000000-0000-0000-0000-000000000000"}).status_code == 404
        assert client.get("/outlets/jobs/00000000-0000-0000-0000-000000000000/").status_code == 404

    def test_meter_reader_is_refused(self, seeded: None, client_for: Callable[[str], Client]) -> None:
        assert client_for("meter_reader").get("/outlets/").status_code == 403


class TestQueuedPlan:
    @pytest.fixture
    def company(self, transactional_db: None, settings: Any) -> Any:
        return build_company(settings)  # the worker commits: a transactional test

    def test_a_plan_is_queued_polled_solved_by_the_worker_and_shown(
        self, seeded: None, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for("marketing_manager")
        resp = client.post(
            "/outlets/", {"k": "3", "radius_km": "3", "relocate": "0", "objective": "coverage"}
        )
        (job,) = DBTaskResult.objects.all()
        assert resp.status_code == 302 and resp["Location"] == f"/outlets/?job={job.id}"
        assert job.task_path == "wattdesk.interfaces.tasks.plan_outlets" and job.status == "READY"
        waiting = client.get(resp["Location"]).content.decode()
        assert 'data-testid="plan-job" data-state="queued"' in waiting and 'hx-trigger="every 1s"' in waiting
        poll = client.get(f"/outlets/jobs/{job.id}/", HTTP_HX_REQUEST="true")
        assert poll.status_code == 200 and 'data-state="queued"' in poll.content.decode()

        assert main(["worker", "--batch", "--interval", "0"]) == 0

        poll = client.get(f"/outlets/jobs/{job.id}/", HTTP_HX_REQUEST="true")
        assert poll["HX-Redirect"] == f"/outlets/?job={job.id}"
        resp = client.get(poll["HX-Redirect"])
        html = resp.content.decode()
        plan = resp.context["plan"]
        assert plan["after"]["coverage"] >= plan["before"]["coverage"]
        assert f"{100 * plan['after']['coverage']:.1f}%" in html
        assert len(_chart(html)["series"][3]["data"]) == 3
        for s in plan["sites"]:
            assert s["code"] in html
        assert 'data-testid="plan-job"' not in html  # finished: no more polling
        assert resp.context["k"] == 3 and resp.context["radius_km"] == 3.0
