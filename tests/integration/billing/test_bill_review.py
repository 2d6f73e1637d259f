"""application.billing.review: the state rules of approve / hold / cancel / issue, the batch approval's all or
nothing, and the re-check that keeps a stale read (SQLite: FOR UPDATE is a no-op) from acting twice."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group

from sample_company import Company, build_company
from wattdesk.application.billing import review
from wattdesk.application.billing.run import BillingInputError, BillNotFound, BillStateError
from wattdesk.domain.billing.models import Bill, BillStatus

pytestmark = pytest.mark.django_db
AT = datetime(2026, 11, 3, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def company(db: None, settings: Any) -> Company:
    return build_company(settings)


def entries(action: str) -> int:
    return LogEntry.objects.filter(additional_data__batch=action).count()


def held(period: str) -> Bill:
    bill = Bill.objects.filter(period=period, status=BillStatus.HELD).order_by("id").first()
    assert bill is not None
    return bill


def draft(period: str, n: int = 0) -> Bill:
    return Bill.objects.filter(period=period, status=BillStatus.DRAFT).order_by("id")[n]


class TestStaleReads:
    """What SQLite's single writer relies on: the conditional UPDATE re-checks the status it read."""

    @pytest.fixture
    def stale(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        """lock_bill answers the bill as it was before another writer changed it."""
        state: dict[str, Any] = {}
        real = review.lock_bill

        def stale_lock(*, bill_id: int) -> Bill:
            bill = real(bill_id=bill_id)
            Bill.objects.filter(pk=bill_id).update(status=state["now"])  # the other writer's commit
            return bill

        monkeypatch.setattr(review, "lock_bill", stale_lock)
        return state

    def test_an_approval_of_a_bill_approved_meanwhile_is_refused(
        self, company: Company, stale: dict[str, Any]
    ) -> None:
        bill = held(company.period)
        stale["now"] = BillStatus.DRAFT
        with pytest.raises(BillStateError, match="no longer held"):
            review.approve_bill(bill_id=bill.pk, user=None, approved_at=AT)
        assert entries("bills.approve") == 0

    def test_a_hold_of_a_draft_issued_meanwhile_is_refused(
        self, company: Company, stale: dict[str, Any]
    ) -> None:
        bill = draft(company.period)
        stale["now"] = BillStatus.ISSUED
        with pytest.raises(BillStateError, match="changed while holding"):
            review.hold_bill(bill_id=bill.pk, user=None, held_at=AT, reason="x")
        assert entries("bills.hold") == 0

    def test_a_cancel_of_a_bill_changed_meanwhile_is_refused(
        self, company: Company, stale: dict[str, Any]
    ) -> None:
        bill = draft(company.period)
        stale["now"] = BillStatus.ISSUED
        with pytest.raises(BillStateError, match="changed while cancelling"):
            review.cancel_bill(bill_id=bill.pk, user=None, cancelled_at=AT, reason="x")
        assert entries("bills.cancel") == 0


class TestRules:
    def test_batch_approval_is_all_or_nothing(self, company: Company) -> None:
        first = held(company.period)
        other = draft(company.period)
        with pytest.raises(BillStateError):
            review.approve_bills(bill_ids=[first.pk, other.pk], user=None, approved_at=AT)
        first.refresh_from_db()
        assert first.status == BillStatus.HELD and entries("bills.approve") == 0
        with pytest.raises(BillingInputError, match="no bills selected"):
            review.approve_bills(bill_ids=[], user=None, approved_at=AT)

    def test_hold_keep_and_the_states_that_cannot_be_held(self, company: Company) -> None:
        bill = draft(company.period)
        r = review.hold_bill(bill_id=bill.pk, user=None, held_at=AT, reason="表码待核实")
        assert r.status_before == BillStatus.DRAFT
        again = review.hold_bill(bill_id=bill.pk, user=None, held_at=AT, reason="继续核实")
        assert again.status_before == BillStatus.HELD
        bill.refresh_from_db()
        assert (bill.status, bill.hold_reason) == (BillStatus.HELD, "表码待核实")  # the first reason stays
        assert entries("bills.hold") == 2
        with pytest.raises(BillingInputError, match="reason is required"):
            review.hold_bill(bill_id=bill.pk, user=None, held_at=AT, reason="  ")
        review.cancel_bill(bill_id=bill.pk, user=None, cancelled_at=AT, reason="作废")
        with pytest.raises(BillStateError, match="only a draft or held bill"):
            review.hold_bill(bill_id=bill.pk, user=None, held_at=AT, reason="x")
        with pytest.raises(BillNotFound):
            review.hold_bill(bill_id=987654321, user=None, held_at=AT, reason="x")

    def test_a_user_without_billing_review_is_refused(self, company: Company, django_user_model: Any) -> None:
        reader = django_user_model.objects.create_user("reader-x", password="x")
        reader.groups.add(Group.objects.get_or_create(name="meter_reader")[0])
        bill = held(company.period)
        for call in (
            lambda: review.approve_bill(bill_id=bill.pk, user=reader, approved_at=AT),
            lambda: review.hold_bill(bill_id=bill.pk, user=reader, held_at=AT, reason="x"),
            lambda: review.cancel_bill(bill_id=bill.pk, user=reader, cancelled_at=AT, reason="x"),
            lambda: review.issue_bills(
                period=company.period, user=reader, issued_at=AT, issued_on=date(2026, 11, 3)
            ),
        ):
            with pytest.raises(review.BillActionRefused, match=r"billing\.review"):
                call()
        bill.refresh_from_db()
        assert (
            bill.status == BillStatus.HELD
            and not LogEntry.objects.filter(additional_data__has_key="batch")
            .filter(additional_data__batch__startswith="bills.")
            .exclude(actor=None)  # the sample company's own issue of its other routes
            .exists()
        )

    def test_an_issue_that_issues_nothing_records_nothing(self, company: Company) -> None:
        before = entries("bills.issue")  # the sample company issued its other routes
        first = review.issue_bills(
            period=company.period, user=None, issued_at=AT, issued_on=date(2026, 11, 3)
        )
        assert first.issued > 0 and entries("bills.issue") == before + 1
        again = review.issue_bills(
            period=company.period, user=None, issued_at=AT, issued_on=date(2026, 11, 3)
        )
        assert again.issued == 0 and entries("bills.issue") == before + 1

    def test_find_live_bill(self, company: Company) -> None:
        bill = draft(company.period)
        number = bill.account.number
        assert review.find_live_bill(account_number=number, period=company.period) == bill.pk
        with pytest.raises(BillNotFound, match="no account"):
            review.find_live_bill(account_number="NOPE", period=company.period)
        with pytest.raises(BillNotFound, match="no live bill"):
            review.find_live_bill(account_number=number, period="2020-01")
