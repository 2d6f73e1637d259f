"""Held-bill review and issuing (billing runs launched from the web: test_billing_run_pages.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from wattdesk.application.billing.launch import execute_run
from wattdesk.application.billing.review import cancel_bill
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillingRun, BillingRunStatus, BillStatus
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.interfaces.web.templatetags.fmt import describe_review_record

TZ = ZoneInfo("Asia/Shanghai")
HX = {"HTTP_HX_REQUEST": "true"}


def _cancel_two(period: str) -> list[Bill]:
    bills = list(Bill.objects.filter(period=period, status=BillStatus.DRAFT, total__gt=0).order_by("id")[:2])
    assert len(bills) == 2
    for b in bills:
        cancel_bill(
            bill_id=b.pk, user=None, reason="读数录入错误", cancelled_at=datetime(2026, 11, 3, 9, tzinfo=TZ)
        )
    return bills


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

    def test_cancel_and_rebill(self, company: Any, client_for: Callable[[str], Client]) -> None:
        bill = self._held(company.period)
        assert not LedgerEntry.objects.filter(bill=bill).exists()  # held: not a receivable
        client = client_for(roles.BILLING_CLERK)
        r = client.post(f"/billing/review/{bill.pk}/cancel/", {"reason": "表计倍率错误"})
        assert r.status_code == 302 and "rerun=" in r["Location"]
        bill.refresh_from_db()
        assert bill.status == BillStatus.CANCELLED
        assert not LedgerEntry.objects.filter(bill=bill).exists()  # nothing was owed, nothing is reversed
        page = client.get(r["Location"]).content.decode()
        assert 'data-testid="rerun-offer"' in page
        rerun = client.post("/billing/review/rerun/", {"period": company.period})
        run = BillingRun.objects.get(period=company.period, status=BillingRunStatus.PENDING)
        assert rerun["Location"] == f"/billing/runs/{run.pk}/"
        execute_run(run_id=run.pk, attempt=run.attempt, clock=timezone.now)  # what the queued task does
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
        before = Bill.objects.filter(period=company.period, status=BillStatus.ISSUED).count()  # other routes
        assert drafts > 0
        client.post("/billing/review/issue/", {"period": company.period})
        assert Bill.objects.filter(period=company.period, status=BillStatus.ISSUED).count() == before
        r = client.post("/billing/review/issue/", {"period": company.period, "confirm": "yes"}, follow=True)
        assert Bill.objects.filter(period=company.period, status=BillStatus.ISSUED).count() == before + drafts
        assert Bill.objects.filter(period=company.period, status=BillStatus.HELD).count() == held
        issued = (
            Bill.objects.filter(period=company.period, status=BillStatus.ISSUED)
            .order_by("-issued_at")
            .first()
        )
        assert issued is not None and issued.due_on == timezone.localdate() + timedelta(days=15)
        charges = LedgerEntry.objects.filter(bill__period=company.period, kind=LedgerEntryKind.CHARGE)
        assert (
            charges.count()
            == Bill.objects.filter(period=company.period, status=BillStatus.ISSUED, total__gt=0).count()
        )  # each issued bill is a receivable, posted by the issue
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
