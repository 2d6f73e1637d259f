"""Billing runs launched from the web: queued for a worker, progress polled with HTMX, stalled runs shown as
such with resume / restart buttons, the period's guard and the refusal of a period without readings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sample_company import build_company
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillingRun, BillingRunStatus
from wattdesk.interfaces.cli import main
from wattdesk.interfaces.web.templatetags.fmt import format_fixed

TZ = ZoneInfo("Asia/Shanghai")
HX = {"HTTP_HX_REQUEST": "true"}
PERIOD = "2026-09"  # readings, no bills yet


def _stalled(period: str = PERIOD) -> BillingRun:
    long_ago = timezone.now() - timedelta(hours=3)
    return BillingRun.objects.create(
        period=period, started_at=long_ago, heartbeat_at=long_ago, status=BillingRunStatus.RUNNING, total=120
    )


class TestLaunchThroughTheWorker:
    @pytest.fixture
    def company(self, transactional_db: None, settings: Any) -> Any:
        return build_company(settings)  # the worker commits and checks its connection: a transactional test

    def test_launch_queues_the_run_the_worker_bills_it_and_the_page_reports_finished(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        r = client.post("/billing/runs/launch/", {"period": PERIOD, "route": ""})
        run = BillingRun.objects.get(period=PERIOD, status=BillingRunStatus.PENDING)
        assert r.status_code == 302 and r["Location"] == f"/billing/runs/{run.pk}/"
        queued = client.get(r["Location"], **HX).content.decode()
        assert 'data-state="pending"' in queued and 'hx-trigger="every 1s"' in queued

        assert main(["worker", "--batch", "--interval", "0"]) == 0
        assert DBTaskResult.objects.get().status == "SUCCESSFUL"

        run.refresh_from_db()
        assert run.status == BillingRunStatus.FINISHED
        assert run.done == run.total == run.counts["accounts"] > 100
        new = list(Bill.objects.filter(run=run))
        assert len(new) == run.counts["billed"] + run.counts["held"] > 100
        assert Decimal(run.counts["total"]) == sum(b.total for b in new)
        html = client.get(r["Location"], **HX).content.decode()
        assert 'data-state="finished"' in html and "every 1s" not in html  # finished: polling stops
        assert f'data-testid="sum-accounts">{run.counts["accounts"]}<' in html
        assert f'data-testid="sum-total">{format_fixed(run.counts["total"])}<' in html
        assert f'data-testid="run-state-{run.pk}">' in client.get("/billing/runs/").content.decode()


class TestLaunch:
    def test_a_second_launch_for_the_period_while_one_is_live_is_refused(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        first = client.post("/billing/runs/launch/", {"period": PERIOD})
        run = BillingRun.objects.get(period=PERIOD)
        assert first["Location"] == f"/billing/runs/{run.pk}/"
        second = client.post("/billing/runs/launch/", {"period": PERIOD}, follow=True)
        assert second.redirect_chain[-1][0] == "/billing/runs/"
        assert f"已有核算批次 #{run.pk} 未结束" in second.content.decode()
        assert BillingRun.objects.filter(period=PERIOD).count() == 1 and DBTaskResult.objects.count() == 1

    def test_a_period_without_readings_is_refused_with_a_message_unless_allowed(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        r = client.post("/billing/runs/launch/", {"period": "2027-01"}, follow=True)
        assert "2027-01 没有任何抄表示数，未启动核算" in r.content.decode()
        assert not BillingRun.objects.filter(period="2027-01").exists()
        ok = client.post("/billing/runs/launch/", {"period": "2027-01", "allow_empty": "1"})
        run = BillingRun.objects.get(period="2027-01")
        assert ok["Location"] == f"/billing/runs/{run.pk}/" and run.allow_empty
        assert 'name="allow_empty"' in client.get("/billing/runs/").content.decode()

    def test_bad_input_is_reported_and_nothing_starts(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        for data in ({"period": "2026-13"}, {"period": PERIOD, "route": "NO-SUCH-ROUTE"}):
            r = client.post("/billing/runs/launch/", data, follow=True)
            assert r.redirect_chain[-1][0] == "/billing/runs/"
        assert not BillingRun.objects.filter(period=PERIOD).exists() and not DBTaskResult.objects.exists()

    @pytest.mark.parametrize("role", [roles.COLLECTOR, roles.METER_READER, roles.ANALYST])
    def test_only_billing_run_may_launch(
        self, role: str, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        assert client_for(role).post("/billing/runs/launch/", {"period": PERIOD}).status_code == 403

    def test_the_old_job_pages_are_gone(self, company: Any, client_for: Callable[[str], Client]) -> None:
        assert client_for(roles.BILLING_CLERK).get("/billing/jobs/" + "0" * 32 + "/").status_code == 404


class TestStalled:
    def test_a_stalled_run_is_shown_stalled_with_resume_and_restart_and_no_polling(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        run = _stalled()
        client = client_for(roles.BILLING_CLERK)
        html = client.get(f"/billing/runs/{run.pk}/").content.decode()
        assert 'data-state="stalled"' in html and 'data-testid="run-stalled"' in html
        assert 'data-testid="resume-form"' in html and 'data-testid="restart-form"' in html
        assert "every 1s" not in html
        assert "核算中" not in html  # never shown as running
        listing = client.get("/billing/runs/").content.decode()
        assert f'data-testid="run-state-{run.pk}">已中断<' in listing
        # a viewer sees the state but not the buttons
        viewer = client_for(roles.ANALYST).get(f"/billing/runs/{run.pk}/").content.decode()
        assert 'data-state="stalled"' in viewer and "resume-form" not in viewer

    def test_the_english_page_says_stalled_and_offers_resume_in_english(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        run = _stalled()
        client = client_for(roles.BILLING_CLERK)
        client.cookies["django_language"] = "en"
        html = client.get(f"/billing/runs/{run.pk}/").content.decode()
        assert ">stalled<" in html and ">Resume<" in html and ">Abandon and restart<" in html
        assert "已中断" not in html and "续跑" not in html and "执行进程" not in html
        r = client.post("/billing/runs/launch/", {"period": "2027-01"}, follow=True)
        assert "2027-01 has no meter readings" in r.content.decode()

    def test_resume_queues_the_same_run_on_its_next_attempt(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        run = _stalled()
        r = client_for(roles.BILLING_CLERK).post(f"/billing/runs/{run.pk}/resume/")
        assert r["Location"] == f"/billing/runs/{run.pk}/"
        run.refresh_from_db()
        assert (run.status, run.attempt) == ("pending", 2)
        assert DBTaskResult.objects.get().args_kwargs["kwargs"] == {"run_id": run.pk, "attempt": 2}

    def test_restart_abandons_it_and_queues_a_new_run(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        run = _stalled()
        r = client_for(roles.BILLING_CLERK).post(f"/billing/runs/{run.pk}/restart/")
        new = BillingRun.objects.get(period=PERIOD, status="pending")
        assert r["Location"] == f"/billing/runs/{new.pk}/" and new.pk != run.pk
        assert BillingRun.objects.get(pk=run.pk).status == "failed"

    def test_resuming_a_live_run_is_refused_with_a_message(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        run = BillingRun.objects.create(
            period=PERIOD, started_at=timezone.now(), heartbeat_at=timezone.now(), status="running"
        )
        r = client_for(roles.BILLING_CLERK).post(f"/billing/runs/{run.pk}/resume/", follow=True)
        assert "still running" in r.content.decode()
        assert BillingRun.objects.get(pk=run.pk).attempt == 1

    @pytest.mark.parametrize("action", ["resume", "restart"])
    def test_only_billing_run_may_resume_or_restart(
        self, action: str, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        run = _stalled()
        assert client_for(roles.ANALYST).post(f"/billing/runs/{run.pk}/{action}/").status_code == 403
        assert BillingRun.objects.get(pk=run.pk).attempt == 1
