"""/api/billing-runs: launch (queued for a worker), status with done / total, stalled runs, resume and restart,
the period's guard (409) and the refusal of a period without readings (422)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import BillingRun, BillingRunStatus

PERIOD = "2026-09"  # readings, no bills yet
JSON = "application/json"


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type=JSON)


class TestLaunch:
    def test_launch_answers_202_with_the_queued_run_and_enqueues_it(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        client = api_for(roles.BILLING_CLERK)
        r = post(client, "/api/billing-runs", {"period": PERIOD})
        assert r.status_code == 202, r.content
        body = r.json()
        assert (
            body["period"],
            body["status"],
            body["state"],
            body["done"],
            body["total"],
            body["attempt"],
        ) == (
            PERIOD,
            "pending",
            "pending",
            0,
            0,
            1,
        )
        (task,) = DBTaskResult.objects.all()
        assert task.status == "READY" and task.args_kwargs["kwargs"] == {"run_id": body["id"], "attempt": 1}
        got = client.get(f"/api/billing-runs/{body['id']}")
        assert got.status_code == 200 and got.json()["state"] == "pending"
        # nothing is audited before the run has run (its one entry is written when it finishes)
        assert not LogEntry.objects.filter(additional_data__batch="billing.run").exists()

    def test_a_second_launch_while_one_is_live_is_409_with_the_live_run(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        client = api_for(roles.BILLING_CLERK)
        first = post(client, "/api/billing-runs", {"period": PERIOD}).json()
        second = post(client, "/api/billing-runs", {"period": PERIOD})
        assert second.status_code == 409
        assert second.json()["run_id"] == first["id"] and "already pending" in second.json()["detail"]
        assert BillingRun.objects.filter(period=PERIOD).count() == 1
        assert DBTaskResult.objects.count() == 1

    def test_a_period_without_readings_is_422_with_the_reason_unless_allow_empty(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        client = api_for(roles.BILLING_CLERK)
        r = post(client, "/api/billing-runs", {"period": "2027-01"})
        assert r.status_code == 422
        assert r.json()["detail"].startswith("no meter readings for 2027-01")
        assert not BillingRun.objects.filter(period="2027-01").exists()
        ok = post(client, "/api/billing-runs", {"period": "2027-01", "allow_empty": True})
        assert ok.status_code == 202 and ok.json()["allow_empty"] is True

    def test_unknown_route_is_422_and_unknown_run_404(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        client = api_for(roles.BILLING_CLERK)
        r = post(client, "/api/billing-runs", {"period": PERIOD, "route": "NOPE"})
        assert r.status_code == 422 and r.json() == {"detail": "unknown reading route 'NOPE'"}
        assert client.get("/api/billing-runs/999999").status_code == 404
        assert post(client, "/api/billing-runs/999999/resume").status_code == 404


class TestStalled:
    def _stalled(self) -> BillingRun:
        long_ago = timezone.now() - timedelta(hours=3)
        return BillingRun.objects.create(
            period=PERIOD,
            started_at=long_ago,
            heartbeat_at=long_ago,
            status=BillingRunStatus.RUNNING,
            total=120,
        )

    def test_a_run_whose_process_died_reads_stalled_not_running(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        run = self._stalled()
        body = api_for(roles.BILLING_CLERK).get(f"/api/billing-runs/{run.pk}").json()
        assert (body["status"], body["state"]) == ("running", "stalled")
        listed = api_for(roles.BILLING_CLERK).get(f"/api/billing-runs?period={PERIOD}").json()["items"]
        assert [i["state"] for i in listed] == ["stalled"]

    def test_resume_queues_the_same_run_on_its_next_attempt(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        run = self._stalled()
        r = post(api_for(roles.BILLING_CLERK), f"/api/billing-runs/{run.pk}/resume")
        assert r.status_code == 202
        assert (r.json()["id"], r.json()["attempt"], r.json()["state"]) == (run.pk, 2, "pending")
        (task,) = DBTaskResult.objects.all()
        assert task.args_kwargs["kwargs"] == {"run_id": run.pk, "attempt": 2}
        again = post(api_for(roles.BILLING_CLERK), f"/api/billing-runs/{run.pk}/resume")
        assert again.status_code == 409 and "still pending" in again.json()["detail"]

    def test_restart_queues_a_new_run_of_the_period(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        run = self._stalled()
        r = post(api_for(roles.BILLING_CLERK), f"/api/billing-runs/{run.pk}/restart")
        assert r.status_code == 202 and r.json()["id"] != run.pk and r.json()["period"] == PERIOD
        assert BillingRun.objects.get(pk=run.pk).status == "failed"

    @pytest.mark.parametrize("action", ["resume", "restart"])
    def test_only_billing_run_may_resume_or_restart(
        self, action: str, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        run = self._stalled()
        assert post(api_for(roles.ANALYST), f"/api/billing-runs/{run.pk}/{action}").status_code == 403
        assert BillingRun.objects.get(pk=run.pk).attempt == 1
