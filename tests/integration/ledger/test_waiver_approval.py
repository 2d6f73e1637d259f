"""Late-fee waiver approval (违约金减免审批): request, four-eyes approval through waive_late_fee, rejection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.db import IntegrityError
from payments_helpers import at, issue_bill

from wattdesk.application.ledger.late_fees import accrue_late_fees, waive_late_fee
from wattdesk.application.ledger.waivers import (
    WaiverNotFound,
    WaiverRequestRefused,
    approve_waiver,
    bills_with_late_fee,
    late_fee_outstanding,
    reject_waiver,
    request_waiver,
)
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.payments.models import WaiverRequest

pytestmark = pytest.mark.django_db
D = Decimal


def _user(model: Any, name: str, role: str) -> Any:
    user = model.objects.create_user(name, password="x")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def people(django_user_model: Any) -> dict[str, Any]:
    return {
        "agent": _user(django_user_model, "agent", "cs_agent"),  # may ask, may not approve
        "clerk": _user(django_user_model, "clerk", "billing_clerk"),  # may ask and approve
        "clerk2": _user(django_user_model, "clerk2", "billing_clerk"),
        "reader": _user(django_user_model, "reader", "meter_reader"),  # neither
    }


@pytest.fixture
def fee_bill(account: Any) -> Any:
    bill = issue_bill(account, "2024-02", "200.00", date(2024, 3, 31))
    accrue_late_fees(as_of=date(2024, 4, 10))  # 2.00 of late fee
    return bill


def audits(action: str) -> list[LogEntry]:
    return list(LogEntry.objects.filter(additional_data__batch=action).order_by("id"))


class TestRequestWaiver:
    def test_records_the_late_fee_outstanding_and_is_audited(
        self, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        req = request_waiver(
            bill_id=fee_bill.pk, reason="系统故障期间", user=people["agent"], requested_at=at(2024, 4, 11)
        )
        assert (req.status, req.amount, req.reason) == ("pending", D("2.00"), "系统故障期间")
        assert req.requested_by == people["agent"]
        assert late_fee_outstanding(bill_id=fee_bill.pk) == D("2.00")  # nothing waived yet
        [entry] = audits("ledger.waive_request")
        assert entry.actor == people["agent"] and entry.changes["late_fee"] == [None, "2.00"]

    def test_a_second_pending_request_for_the_same_bill_is_refused(
        self, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        request_waiver(bill_id=fee_bill.pk, reason="a", user=people["agent"], requested_at=at(2024, 4, 11))
        with pytest.raises(WaiverRequestRefused, match="already has a pending"):
            request_waiver(
                bill_id=fee_bill.pk, reason="b", user=people["clerk"], requested_at=at(2024, 4, 11)
            )
        assert WaiverRequest.objects.count() == 1

    def test_the_database_refuses_two_pending_requests_too(
        self, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        req = request_waiver(
            bill_id=fee_bill.pk, reason="a", user=people["agent"], requested_at=at(2024, 4, 11)
        )
        with pytest.raises(IntegrityError):
            WaiverRequest.objects.create(
                bill=fee_bill,
                amount=D("2.00"),
                reason="b",
                requested_by=people["clerk"],
                requested_at=req.requested_at,
            )

    def test_refused_without_a_reason_without_the_capability_or_without_a_fee(
        self, account: Any, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        with pytest.raises(WaiverRequestRefused, match="reason"):
            request_waiver(
                bill_id=fee_bill.pk, reason="  ", user=people["agent"], requested_at=at(2024, 4, 11)
            )
        with pytest.raises(WaiverRequestRefused, match="waive_request"):
            request_waiver(
                bill_id=fee_bill.pk, reason="x", user=people["reader"], requested_at=at(2024, 4, 11)
            )
        no_fee = issue_bill(account, "2024-03", "50.00", date(2024, 4, 30))
        with pytest.raises(WaiverRequestRefused, match="no late fee"):
            request_waiver(bill_id=no_fee.pk, reason="x", user=people["agent"], requested_at=at(2024, 4, 11))
        with pytest.raises(WaiverNotFound):
            request_waiver(bill_id=999999, reason="x", user=people["agent"], requested_at=at(2024, 4, 11))
        assert WaiverRequest.objects.count() == 0

    def test_the_request_form_lists_the_bills_with_a_late_fee(
        self, account: Any, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        issue_bill(account, "2024-03", "50.00", date(2024, 4, 30))  # no late fee yet
        [row] = bills_with_late_fee(user=people["agent"], account_number=account.number)
        assert (row.bill_id, row.late_fee, row.pending_request_id) == (fee_bill.pk, D("2.00"), None)
        req = request_waiver(
            bill_id=fee_bill.pk, reason="a", user=people["agent"], requested_at=at(2024, 4, 11)
        )
        [row] = bills_with_late_fee(user=people["agent"], account_number=account.number)
        assert row.pending_request_id == req.pk


class TestApproveWaiver:
    def test_another_user_with_ledger_waive_approves_and_the_fee_is_reversed(
        self, account: Any, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        req = request_waiver(
            bill_id=fee_bill.pk, reason="系统故障", user=people["agent"], requested_at=at(2024, 4, 11)
        )
        assert balance(account_id=account.pk) == D("202.00")
        done = approve_waiver(
            request_id=req.pk, user=people["clerk"], decided_at=at(2024, 4, 12), note="同意"
        )
        assert (done.status, done.decided_by, done.decision_note, done.waived) == (
            "approved",
            people["clerk"],
            "同意",
            D("2.00"),
        )
        assert balance(account_id=account.pk) == D("200.00")
        assert late_fee_outstanding(bill_id=fee_bill.pk) == D("0.00")
        reversal = LedgerEntry.objects.get(account=account, kind="reversal")
        assert f"减免申请 #{req.pk}" in reversal.memo
        assert [e.actor for e in audits("ledger.waive_approve")] == [people["clerk"]]
        assert [e.actor for e in audits("ledger.waive")] == [people["clerk"]]  # waive_late_fee's own entry
        # a waived fee is not charged again by the next accrual (it counts as assessed)
        accrue_late_fees(as_of=date(2024, 4, 11))
        assert balance(account_id=account.pk) == D("200.20")

    def test_the_requester_cannot_approve_their_own_request(
        self, account: Any, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        req = request_waiver(
            bill_id=fee_bill.pk, reason="x", user=people["clerk"], requested_at=at(2024, 4, 11)
        )
        with pytest.raises(WaiverRequestRefused, match="four-eyes"):
            approve_waiver(request_id=req.pk, user=people["clerk"], decided_at=at(2024, 4, 12))
        with pytest.raises(WaiverRequestRefused, match="four-eyes"):
            reject_waiver(request_id=req.pk, user=people["clerk"], decided_at=at(2024, 4, 12), note="x")
        req.refresh_from_db()
        assert req.status == "pending" and balance(account_id=account.pk) == D("202.00")

    def test_the_database_refuses_a_self_decision_too(self, fee_bill: Any, people: dict[str, Any]) -> None:
        req = request_waiver(
            bill_id=fee_bill.pk, reason="x", user=people["clerk"], requested_at=at(2024, 4, 11)
        )
        with pytest.raises(IntegrityError):
            WaiverRequest.objects.filter(pk=req.pk).update(decided_by=people["clerk"])

    def test_a_user_without_ledger_waive_cannot_decide(self, fee_bill: Any, people: dict[str, Any]) -> None:
        req = request_waiver(
            bill_id=fee_bill.pk, reason="x", user=people["clerk"], requested_at=at(2024, 4, 11)
        )
        with pytest.raises(WaiverRequestRefused, match=r"ledger\.waive"):
            approve_waiver(request_id=req.pk, user=people["agent"], decided_at=at(2024, 4, 12))

    def test_a_decided_request_is_not_decided_again(
        self, account: Any, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        req = request_waiver(
            bill_id=fee_bill.pk, reason="x", user=people["agent"], requested_at=at(2024, 4, 11)
        )
        approve_waiver(request_id=req.pk, user=people["clerk"], decided_at=at(2024, 4, 12))
        with pytest.raises(WaiverRequestRefused, match="already approved"):
            approve_waiver(request_id=req.pk, user=people["clerk2"], decided_at=at(2024, 4, 12))
        assert LedgerEntry.objects.filter(account=account, kind="reversal").count() == 1

    def test_nothing_is_written_when_the_waiver_itself_is_refused(
        self, account: Any, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        req = request_waiver(
            bill_id=fee_bill.pk, reason="x", user=people["agent"], requested_at=at(2024, 4, 11)
        )
        # the fee was waived directly in the meantime: approving finds nothing to waive and changes nothing
        waive_late_fee(
            bill_id=fee_bill.pk, reason="直接减免", user=people["clerk2"], waived_at=at(2024, 4, 11)
        )
        with pytest.raises(WaiverRequestRefused):
            approve_waiver(request_id=req.pk, user=people["clerk"], decided_at=at(2024, 4, 12))
        req.refresh_from_db()
        assert (req.status, req.decided_by, req.waived) == ("pending", None, None)
        assert audits("ledger.waive_approve") == []


class TestRejectWaiver:
    def test_rejected_with_a_reason_and_the_fee_stays(
        self, account: Any, fee_bill: Any, people: dict[str, Any]
    ) -> None:
        req = request_waiver(
            bill_id=fee_bill.pk, reason="x", user=people["agent"], requested_at=at(2024, 4, 11)
        )
        with pytest.raises(WaiverRequestRefused, match="reason"):
            reject_waiver(request_id=req.pk, user=people["clerk"], decided_at=at(2024, 4, 12), note="")
        done = reject_waiver(
            request_id=req.pk, user=people["clerk"], decided_at=at(2024, 4, 12), note="不符合减免条件"
        )
        assert (done.status, done.decision_note, done.waived) == ("rejected", "不符合减免条件", None)
        assert balance(account_id=account.pk) == D("202.00")
        [entry] = audits("ledger.waive_reject")
        assert entry.actor == people["clerk"]
        # once decided, a new request for the bill may be made
        again = request_waiver(
            bill_id=fee_bill.pk, reason="补充材料", user=people["agent"], requested_at=at(2024, 4, 13)
        )
        assert again.status == "pending"
