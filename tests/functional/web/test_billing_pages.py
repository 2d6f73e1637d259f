"""Billing runs launched from the web (job + HTMX progress), held-bill review, issuing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from wattdesk.application.billing import jobs as billing_jobs
from wattdesk.application.billing.run import cancel_bill
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillingRun, BillingRunStatus, BillStatus
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.interfaces.web.templatetags.fmt import describe_review_record, format_fixed

TZ = ZoneInfo("Asia/Shanghai")
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def jobs_sync(settings: Any, tmp_path: Path) -> Path:
    settings.WATTDESK_DATA_DIR = tmp_path
    settings.WATTDESK_BILLING_JOBS_SYNC = True
    return tmp_path


def _cancel_two(period: str) -> list[Bill]:
    bills = list(Bill.objects.filter(period=period, status=BillStatus.DRAFT, total__gt=0).order_by("id")[:2])
    assert len(bills) == 2
    for b in bills:
        cancel_bill(bill_id=b.pk, reason="读数录入错误", cancelled_at=datetime(2026, 11, 3, 9, tzinfo=TZ))
    return bills


class TestLaunchRun:
    def test_launch_bills_the_accounts_without_a_live_bill_and_progress_reports_finished(
        self, company: Any, jobs_sync: Path, client_for: Callable[[str], Client]
    ) -> None:
        cancelled = _cancel_two(company.period)
        client = client_for(roles.BILLING_CLERK)
        r = client.post("/billing/runs/launch/", {"period": company.period, "route": ""})
        assert r.status_code == 302
        assert r["Location"].startswith("/billing/jobs/")
        job_id = r["Location"].rstrip("/").rsplit("/", 1)[1]
        job = billing_jobs.job_state(job_id=job_id)
        assert job is not None and job.state == billing_jobs.FINISHED
        run = BillingRun.objects.get(pk=job.run_id)
        # candidates: the two cancelled accounts plus those skipped by the first run (no usable readings …)
        assert job.done == job.total == run.counts["accounts"] >= 2
        assert run.counts["accounts"] - 2 == sum(run.counts["skipped"].values())
        assert run.status == BillingRunStatus.FINISHED
        new = {b.replaces_id: b for b in Bill.objects.filter(run=run)}
        assert set(new) == {b.pk for b in cancelled}
        assert all(b.version == 2 for b in new.values())
        assert run.counts["billed"] + run.counts["held"] == 2
        assert Decimal(run.counts["total"]) == sum(b.total for b in new.values())

        poll = client.get(r["Location"], **HX)
        assert poll.status_code == 200
        html = poll.content.decode()
        assert 'data-state="finished"' in html
        assert "every 1s" not in html  # finished: polling stops
        assert f'data-testid="sum-accounts">{run.counts["accounts"]}<' in html
        assert f'data-testid="sum-billed">{run.counts["billed"]}<' in html
        assert f'data-testid="sum-held">{run.counts["held"]}<' in html
        assert f'data-testid="sum-total">{format_fixed(run.counts["total"])}<' in html
        # the run list shows it
        assert f"/billing/runs/{run.pk}/" in client.get("/billing/runs/").content.decode()
        assert client.get(f"/billing/runs/{run.pk}/").status_code == 200

    def test_a_running_job_page_polls_every_second(
        self, company: Any, jobs_sync: Path, client_for: Callable[[str], Client], monkeypatch: Any
    ) -> None:
        monkeypatch.setattr(billing_jobs, "execute_job", lambda *a, **k: None)  # the job never starts
        client = client_for(roles.BILLING_CLERK)
        r = client.post("/billing/runs/launch/", {"period": company.period})
        html = client.get(r["Location"]).content.decode()
        assert 'hx-trigger="every 1s"' in html and 'data-state="queued"' in html

    def test_a_second_launch_for_the_period_while_one_runs_is_refused(
        self, company: Any, jobs_sync: Path, client_for: Callable[[str], Client], monkeypatch: Any
    ) -> None:
        monkeypatch.setattr(billing_jobs, "execute_job", lambda *a, **k: None)  # stays queued, lock held
        client = client_for(roles.BILLING_CLERK)
        first = client.post("/billing/runs/launch/", {"period": company.period})
        assert first["Location"].startswith("/billing/jobs/")
        runs_before = BillingRun.objects.count()
        second = client.post("/billing/runs/launch/", {"period": company.period}, follow=True)
        assert second.redirect_chain[-1][0] == "/billing/runs/"
        assert "already running" in second.content.decode()
        with pytest.raises(billing_jobs.RunInProgress):
            billing_jobs.start_billing_job(
                period=company.period, route=None, run_at=timezone.now(), user="x", clock=timezone.now
            )
        assert BillingRun.objects.count() == runs_before
        assert len(list(jobs_sync.joinpath("jobs").glob("*.json"))) == 1
        # another period is not blocked
        other = client.post("/billing/runs/launch/", {"period": "2026-09"})
        assert other["Location"].startswith("/billing/jobs/")

    def test_a_running_billing_run_row_refuses_the_launch(self, company: Any, jobs_sync: Path) -> None:
        now = timezone.now()
        BillingRun.objects.create(
            period=company.period, started_at=now - timedelta(minutes=5), status="running"
        )
        with pytest.raises(billing_jobs.RunInProgress):
            billing_jobs.start_billing_job(
                period=company.period, route=None, run_at=now, user="x", clock=timezone.now
            )

    def test_bad_input_is_reported_and_nothing_starts(
        self, company: Any, jobs_sync: Path, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        for data in ({"period": "2026-13"}, {"period": company.period, "route": "NO-SUCH-ROUTE"}):
            r = client.post("/billing/runs/launch/", data, follow=True)
            assert r.redirect_chain[-1][0] == "/billing/runs/"
        assert not list(jobs_sync.joinpath("jobs").glob("*.json"))

    @pytest.mark.parametrize("role", [roles.COLLECTOR, roles.METER_READER, roles.ANALYST])
    def test_only_billing_run_may_launch(
        self, role: str, company: Any, jobs_sync: Path, client_for: Callable[[str], Client]
    ) -> None:
        assert client_for(role).post("/billing/runs/launch/", {"period": company.period}).status_code == 403

    def test_unknown_job_is_404(
        self, company: Any, jobs_sync: Path, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        assert client.get("/billing/jobs/" + "0" * 32 + "/").status_code == 404
        assert client.get("/billing/jobs/..%2F..%2Fsecret_key/").status_code == 404


class TestReview:
    def _held(self, period: str) -> Bill:
        bill = Bill.objects.filter(period=period, status=BillStatus.HELD).order_by("id").first()
        assert bill is not None, "the company fixture holds some bills"
        return bill

    def test_review_lists_the_held_bills_with_reason_and_history(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        first = self._held(company.period)
        Bill.objects.create(
            account=first.account,
            period="2026-09",
            status=BillStatus.ISSUED,
            start=date(2026, 9, 1),
            end=date(2026, 10, 1),
            kwh=Decimal("321.0000"),
            total=Decimal("187.42"),
        )
        r = client_for(roles.BILLING_CLERK).get(f"/billing/review/?period={company.period}")
        assert r.status_code == 200
        held = Bill.objects.filter(period=company.period, status=BillStatus.HELD)
        assert len(r.context["rows"]) == held.count() > 0
        html = r.content.decode()
        for b in held:
            assert f'data-bill-id="{b.pk}"' in html
            # the stored English reason is rendered through the catalog (zh by default), not printed raw
            assert escape(describe_review_record(b.hold_reason)) in html and b.hold_reason not in html
        history = {row["bill"].bill_id: row["history"] for row in r.context["rows"]}
        assert [(h["period"], h["total"]) for h in history[first.pk]] == [("2026-09", Decimal("187.42"))]
        assert "187.42" in html

    def test_approve_makes_the_held_bill_a_draft(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        bill = self._held(company.period)
        r = client_for(roles.BILLING_CLERK).post(f"/billing/review/{bill.pk}/approve/", follow=True)
        assert r.status_code == 200
        bill.refresh_from_db()
        assert bill.status == BillStatus.DRAFT
        assert bill.hold_reason.startswith("approved ")

    def test_keep_on_hold_changes_nothing(self, company: Any, client_for: Callable[[str], Client]) -> None:
        bill = self._held(company.period)
        client_for(roles.BILLING_CLERK).post(f"/billing/review/{bill.pk}/keep/", {"note": "等待现场核实"})
        after = Bill.objects.get(pk=bill.pk)
        assert (after.status, after.hold_reason) == (BillStatus.HELD, bill.hold_reason)

    def test_cancel_and_rebill(
        self, company: Any, jobs_sync: Path, client_for: Callable[[str], Client]
    ) -> None:
        bill = self._held(company.period)
        charge = LedgerEntry.objects.get(bill=bill, kind=LedgerEntryKind.CHARGE)
        client = client_for(roles.BILLING_CLERK)
        r = client.post(f"/billing/review/{bill.pk}/cancel/", {"reason": "表计倍率错误"})
        assert r.status_code == 302 and "rerun=" in r["Location"]
        bill.refresh_from_db()
        assert bill.status == BillStatus.CANCELLED
        reversal = LedgerEntry.objects.get(reverses=charge)
        assert reversal.kind == LedgerEntryKind.REVERSAL
        assert reversal.amount == -charge.amount == -bill.total
        page = client.get(r["Location"]).content.decode()
        assert 'data-testid="rerun-offer"' in page
        rerun = client.post("/billing/review/rerun/", {"period": company.period})
        assert rerun["Location"].startswith("/billing/jobs/")
        v2 = Bill.objects.get(account=bill.account, period=company.period, version=2)
        assert v2.replaces_id == bill.pk and v2.status != BillStatus.CANCELLED

    def test_cancel_needs_a_reason(self, company: Any, client_for: Callable[[str], Client]) -> None:
        bill = self._held(company.period)
        client_for(roles.BILLING_CLERK).post(f"/billing/review/{bill.pk}/cancel/", {"reason": " "})
        assert Bill.objects.get(pk=bill.pk).status == BillStatus.HELD
        assert not LedgerEntry.objects.filter(bill=bill, kind=LedgerEntryKind.REVERSAL).exists()

    def test_issue_needs_confirmation_then_issues_the_drafts(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        drafts = Bill.objects.filter(period=company.period, status=BillStatus.DRAFT).count()
        held = Bill.objects.filter(period=company.period, status=BillStatus.HELD).count()
        assert drafts > 0
        client.post("/billing/review/issue/", {"period": company.period})
        assert Bill.objects.filter(period=company.period, status=BillStatus.ISSUED).count() == 0
        r = client.post("/billing/review/issue/", {"period": company.period, "confirm": "yes"}, follow=True)
        assert Bill.objects.filter(period=company.period, status=BillStatus.ISSUED).count() == drafts
        assert Bill.objects.filter(period=company.period, status=BillStatus.HELD).count() == held
        issued = Bill.objects.filter(period=company.period, status=BillStatus.ISSUED).first()
        assert issued is not None and issued.due_on == timezone.localdate() + timedelta(days=15)
        assert f"已发行 {drafts} 张账单" in r.content.decode()

    @pytest.mark.parametrize("role", [roles.COLLECTOR, roles.CS_AGENT, roles.METER_READER])
    def test_review_actions_need_billing_review(
        self, role: str, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        bill = self._held(company.period)
        client = client_for(role)
        assert client.get("/billing/review/").status_code == 403
        assert client.post(f"/billing/review/{bill.pk}/approve/").status_code == 403
        assert client.post(f"/billing/review/{bill.pk}/cancel/", {"reason": "x"}).status_code == 403
        assert Bill.objects.get(pk=bill.pk).status == BillStatus.HELD
