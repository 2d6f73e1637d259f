"""Queued outlet plans and nightly passes through the API: 202 with the job, a real worker runs it, then the
job's state and result; bad bodies are 422 and nothing is queued."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from sample_company import build_company
from wattdesk.application.outlets.planning import plan
from wattdesk.domain.access import roles
from wattdesk.interfaces.cli import main
from wattdesk.synthetic.outlets import seed_outlets

JSON = "application/json"


@pytest.fixture
def company(transactional_db: None, settings: Any) -> Any:
    built = build_company(settings)  # the worker commits: a transactional test
    seed_outlets(seed=1)
    return built


def test_an_outlet_plan_is_queued_then_solved_by_the_worker(
    company: Any, api_for: Callable[[str], Client]
) -> None:
    client = api_for(roles.MARKETING_MANAGER)
    r = client.post("/api/outlets/plans", {"k": 2, "radius_km": 3}, content_type=JSON)
    assert r.status_code == 202
    job = r.json()
    assert (job["task"], job["state"], job["result"]) == ("plan_outlets", "queued", None)
    assert job["request"] == {"k": 2, "radius_km": 3.0, "relocate": 0, "objective": "coverage"}

    assert main(["worker", "--batch", "--interval", "0"]) == 0

    done = client.get(f"/api/outlets/plans/{job['id']}").json()
    assert done["state"] == "finished" and done["error"] == ""
    assert done["result"] == plan(k=2, radius_km=3.0).to_json()  # what the CLI computes in-process
    assert len(done["result"]["sites"]) == 2


def test_a_failed_plan_reports_its_error(company: Any, api_for: Callable[[str], Client]) -> None:
    client = api_for(roles.MARKETING_MANAGER)
    job = client.post("/api/outlets/plans", {"k": 50, "radius_km": 3}, content_type=JSON).json()
    assert main(["worker", "--batch", "--interval", "0"]) == 0
    failed = client.get(f"/api/outlets/plans/{job['id']}").json()
    assert failed["state"] == "failed" and "exceeds the 24 candidate sites" in failed["error"]


def test_the_nightly_pass_is_queued_then_run_by_the_worker(
    company: Any, api_for: Callable[[str], Client], capsys: pytest.CaptureFixture[str]
) -> None:
    client = api_for(roles.ADMIN)
    r = client.post("/api/nightly-passes", {"day": "2026-11-27"}, content_type=JSON)
    assert r.status_code == 202 and r.json()["request"] == {"day": "2026-11-27"}
    assert main(["worker", "--batch", "--interval", "0"]) == 0
    done = client.get(f"/api/nightly-passes/{r.json()['id']}").json()
    assert done["state"] == "finished", done["error"]
    result = done["result"]
    assert result["day"] == "2026-11-27" and result["late_fees"]["outcome"] == "accrued"
    # the same use case as `wattdesk collect nightly`: run again for the day, it has nothing left to do
    capsys.readouterr()
    assert main(["collect", "nightly", "--date", "2026-11-27"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("late fees 2026-11-27: already")
    assert len(out.splitlines()) == len(result["summary"])


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/outlets/plans", {"k": -1, "radius_km": 3}),
        ("/api/outlets/plans", {"k": 1, "radius_km": 0}),
        ("/api/outlets/plans", {"k": 1, "radius_km": 3, "objective": "nearest"}),
        ("/api/nightly-passes", {"day": "2026-13-01"}),
    ],
)
def test_bad_bodies_are_422_and_queue_nothing(
    url: str, body: dict[str, Any], company: Any, api_for: Callable[[str], Client]
) -> None:
    assert api_for(roles.ADMIN).post(url, body, content_type=JSON).status_code == 422
    assert not DBTaskResult.objects.exists()


def test_unknown_or_other_jobs_are_404(company: Any, api_for: Callable[[str], Client]) -> None:
    client = api_for(roles.ADMIN)
    nightly = client.post("/api/nightly-passes", {"day": "2026-11-27"}, content_type=JSON).json()
    assert client.get(f"/api/outlets/plans/{nightly['id']}").status_code == 404  # not a plan
    assert client.get("/api/outlets/plans/not-a-uuid").status_code == 404
    assert client.get("/api/nightly-passes/00000000-0000-0000-0000-000000000000").status_code == 404
