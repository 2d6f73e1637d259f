"""Disconnection / restore orders (停复电工单): supervisor approval, execution re-checked at that moment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from payments_helpers import SH, issue_bill

from wattdesk.application.dunning.disconnection import (
    OrderNotFound,
    OrderRefused,
    approve_order,
    cancel_order,
    execute_order,
    orders_for,
)
from wattdesk.application.dunning.nightly import request_restores
from wattdesk.application.errors import InputError
from wattdesk.application.payments.posting import post_payment
from wattdesk.domain.dunning.models import DisconnectionOrder

pytestmark = pytest.mark.django_db
D = Decimal
PLANNED = datetime(2024, 6, 11, 9, 0, tzinfo=SH)  # a Tuesday, no holiday
DAY = datetime(2024, 6, 11, 10, 30, tzinfo=SH)


def _user(model: Any, name: str, role: str) -> Any:
    user = model.objects.create_user(name, password="x")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def people(django_user_model: Any) -> dict[str, Any]:
    return {
        "boss": _user(django_user_model, "boss", "marketing_manager"),  # dunning.approve
        "crew": _user(
            django_user_model, "crew", "admin"
        ),  # dunning.execute (collectors are scoped to routes)
        "clerk": _user(django_user_model, "clerk", "billing_clerk"),  # neither approve nor execute
    }


@pytest.fixture
def order(account: Any) -> DisconnectionOrder:
    bill = issue_bill(account, "2024-03", "300.00", date(2024, 4, 30))
    return DisconnectionOrder.objects.create(
        account=account,
        bill=bill,
        kind="disconnect",
        status="notified",
        amount=D("300.00"),
        planned_at=PLANNED,
        created_at=datetime(2024, 6, 4, 2, tzinfo=SH),
    )


def batch(action: str) -> list[LogEntry]:
    return list(LogEntry.objects.filter(additional_data__batch=action).order_by("id"))


class TestApprove:
    def test_a_supervisor_approves_once_the_notice_has_elapsed(
        self, order: DisconnectionOrder, people: dict[str, Any]
    ) -> None:
        with pytest.raises(OrderRefused, match="notice period runs until"):
            approve_order(order_id=order.pk, user=people["boss"], now=datetime(2024, 6, 10, 16, tzinfo=SH))
        done = approve_order(order_id=order.pk, user=people["boss"], now=DAY)
        assert (done.status, done.approved_at, done.approved_by) == ("notified", DAY, people["boss"])
        assert [e.actor for e in batch("dunning.approve")] == [people["boss"]]
        with pytest.raises(OrderRefused, match="already approved"):
            approve_order(order_id=order.pk, user=people["boss"], now=DAY)
        assert [o.pk for o in orders_for(user=people["boss"], status="approved")] == [order.pk]
        assert list(orders_for(user=people["boss"], status="awaiting")) == []

    def test_never_for_a_protected_customer_nor_without_the_capability(
        self, order: DisconnectionOrder, people: dict[str, Any]
    ) -> None:
        with pytest.raises(OrderRefused, match=r"dunning\.approve"):
            approve_order(order_id=order.pk, user=people["clerk"], now=DAY)
        customer = order.account.customer
        customer.payment_profile = {"vulnerable": True}
        customer.save()
        with pytest.raises(OrderRefused, match="protected customer"):
            approve_order(order_id=order.pk, user=people["boss"], now=DAY)
        order.refresh_from_db()
        assert order.approved_at is None
        with pytest.raises(OrderNotFound):
            approve_order(order_id=999999, user=people["boss"], now=DAY)


class TestExecute:
    def _approved(self, order: DisconnectionOrder, people: dict[str, Any]) -> DisconnectionOrder:
        return approve_order(order_id=order.pk, user=people["boss"], now=DAY)

    def test_the_crew_records_the_cut_and_it_is_audited(
        self, order: DisconnectionOrder, people: dict[str, Any]
    ) -> None:
        self._approved(order, people)
        done = execute_order(order_id=order.pk, user=people["crew"], now=DAY, note="表箱已加封")
        o = done.order
        assert (o.status, o.executed_at, o.executed_by, o.execution_note) == (
            "executed",
            DAY,
            people["crew"],
            "表箱已加封",
        )
        assert done.owed == D("300.00")
        [entry] = batch("dunning.execute")
        assert entry.actor == people["crew"] and entry.changes["status"] == ["notified", "executed"]

    def test_not_before_approval(self, order: DisconnectionOrder, people: dict[str, Any]) -> None:
        with pytest.raises(OrderRefused, match="not approved"):
            execute_order(order_id=order.pk, user=people["crew"], now=DAY)

    @pytest.mark.parametrize(
        ("moment", "why"),
        [
            (datetime(2024, 6, 11, 21, 30, tzinfo=SH), "at night"),
            (datetime(2024, 6, 12, 7, 59, tzinfo=SH), "at night"),
            (datetime(2024, 10, 2, 10, 0, tzinfo=SH), "public holiday"),  # 国庆
        ],
    )
    def test_never_at_night_nor_on_a_public_holiday(
        self, order: DisconnectionOrder, people: dict[str, Any], moment: datetime, why: str
    ) -> None:
        self._approved(order, people)
        with pytest.raises(OrderRefused, match=why):
            execute_order(order_id=order.pk, user=people["crew"], now=moment)
        order.refresh_from_db()
        assert (order.status, order.executed_at) == ("notified", None)
        assert batch("dunning.execute") == []

    def test_a_night_moment_in_utc_is_judged_in_local_time(
        self, order: DisconnectionOrder, people: dict[str, Any]
    ) -> None:
        self._approved(order, people)
        # 13:30 UTC is 21:30 in Shanghai
        with pytest.raises(OrderRefused, match="at night"):
            execute_order(
                order_id=order.pk, user=people["crew"], now=datetime(2024, 6, 11, 13, 30, tzinfo=UTC)
            )

    def test_not_when_the_account_paid_in_the_meantime(
        self, account: Any, order: DisconnectionOrder, people: dict[str, Any]
    ) -> None:
        self._approved(order, people)
        post_payment(
            account_number=account.number,
            amount=D("300.00"),
            channel="counter",
            channel_txn_id="R-1",
            received_at=datetime(2024, 6, 11, 10, 0, tzinfo=SH),
            user=None,
        )
        with pytest.raises(OrderRefused, match="owes nothing"):
            execute_order(order_id=order.pk, user=people["crew"], now=DAY)

    def test_not_when_the_customer_became_protected(
        self, order: DisconnectionOrder, people: dict[str, Any]
    ) -> None:
        self._approved(order, people)
        customer = order.account.customer
        customer.protected = True
        customer.save()
        with pytest.raises(OrderRefused, match="protected customer"):
            execute_order(order_id=order.pk, user=people["crew"], now=DAY)

    def test_only_with_the_capability(self, order: DisconnectionOrder, people: dict[str, Any]) -> None:
        self._approved(order, people)
        with pytest.raises(OrderRefused, match=r"dunning\.execute"):
            execute_order(order_id=order.pk, user=people["boss"], now=DAY)


class TestRestore:
    def test_a_restore_after_payment_is_listed_and_executed_at_any_hour(
        self, account: Any, order: DisconnectionOrder, people: dict[str, Any]
    ) -> None:
        approve_order(order_id=order.pk, user=people["boss"], now=DAY)
        execute_order(order_id=order.pk, user=people["crew"], now=DAY)
        post_payment(
            account_number=account.number,
            amount=D("300.00"),
            channel="counter",
            channel_txn_id="R-2",
            received_at=datetime(2024, 6, 11, 19, 0, tzinfo=SH),
            user=None,
        )
        evening = datetime(2024, 6, 11, 19, 5, tzinfo=SH)
        # post_payment may already have asked for the restore; asking again creates no second one
        request_restores(account_ids=[account.pk], now=evening)
        assert request_restores(account_ids=[account.pk], now=evening) == 0
        [restore] = orders_for(user=people["crew"], kind="restore", status="planned")
        late = datetime(2024, 6, 11, 22, 0, tzinfo=SH)  # night: restoring is always allowed
        done = execute_order(order_id=restore.pk, user=people["crew"], now=late, note="已复电")
        assert (done.order.status, done.order.executed_at) == ("executed", late)
        with pytest.raises(OrderRefused, match="restore order is executed"):
            execute_order(order_id=restore.pk, user=people["crew"], now=late)


class TestCancelAndFilters:
    def test_cancel_needs_dunning_manage_and_a_reason(
        self, order: DisconnectionOrder, people: dict[str, Any]
    ) -> None:
        with pytest.raises(OrderRefused, match="reason"):
            cancel_order(order_id=order.pk, reason="", user=people["clerk"])
        done = cancel_order(order_id=order.pk, reason="客户申请分期", user=people["clerk"])
        assert (done.status, done.cancel_reason) == ("cancelled", "客户申请分期")
        with pytest.raises(OrderNotFound):
            cancel_order(order_id=999999, reason="x", user=people["clerk"])

    def test_unknown_filters_are_input_errors(self, people: dict[str, Any]) -> None:
        with pytest.raises(InputError, match="status must be one of"):
            orders_for(user=people["boss"], status="done")
        with pytest.raises(InputError, match="kind must be one of"):
            orders_for(user=people["boss"], kind="cut")
