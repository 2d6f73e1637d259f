"""The nightly dunning pass, the outbox and its adapters (a real local SMTP server, the SMS / push sandboxes),
disconnection orders and restore after payment."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import IntegrityError, transaction
from payments_helpers import SH, issue_bill

from wattdesk.adapters.notify.sms_sandbox import sms_gateway
from wattdesk.application.dunning.nightly import cancel_disconnection, request_restores, run_dunning
from wattdesk.application.dunning.outbox import dispatch_outbox
from wattdesk.application.payments.posting import post_payment
from wattdesk.domain.dunning.models import DisconnectionOrder, DunningAction, OutboxMessage

pytestmark = pytest.mark.django_db
DUE = date(2025, 3, 10)


def now_on(day: date, hour: int = 2) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SH)


def customer(account: Any, **fields: Any) -> Any:
    c = account.customer
    for k, v in fields.items():
        setattr(c, k, v)
    c.save()
    return account


def nightly(day: date) -> Any:
    return run_dunning(day=day, now=now_on(day))


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default))
        )
        return "250 OK"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[_Inbox]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.DEFAULT_FROM_EMAIL = "dunning@county.example"
    try:
        yield inbox
    finally:
        controller.stop()


class TestNightlyPass:
    def test_run_twice_the_same_day_writes_nothing_twice(self, account: Any) -> None:
        customer(account, phone="13800001111", payment_profile={"channel": "mobile", "risk": 0.1})
        bill = issue_bill(account, "2025-02", "230.50", DUE)
        first = nightly(date(2025, 3, 11))
        assert (first.actions, first.messages, first.by_kind) == (1, 1, {"reminder": 1})
        again = nightly(date(2025, 3, 11))
        assert (again.candidates, again.actions, again.messages) == (1, 0, 0)
        (action,) = DunningAction.objects.all()
        assert (action.bill_id, action.kind, action.step, action.channel, action.segment) == (
            bill.pk,
            "reminder",
            "reminder_1",
            "push",
            "mobile",
        )
        assert action.amount == Decimal("230.50") and action.days_overdue == 1
        (msg,) = OutboxMessage.objects.all()
        assert (msg.channel, msg.recipient, msg.status) == ("push", account.number, "queued")
        assert "230.50" in msg.body and "电费缴费提醒" in msg.subject

    def test_the_database_refuses_a_second_reminder_for_the_debt_on_the_day(self, account: Any) -> None:
        customer(account, phone="13800001111")
        issue_bill(account, "2025-02", "100.00", DUE)
        nightly(date(2025, 3, 11))
        dup = DunningAction.objects.get()
        dup.pk = None
        dup.step = "reminder_2"
        with pytest.raises(IntegrityError), transaction.atomic():
            dup.save()

    def test_the_track_to_a_disconnection_order_at_a_permitted_time(self, account: Any) -> None:
        customer(account, phone="13800001111", birth_year=1950)  # 75: a call, then visits
        issue_bill(account, "2025-02", "300.00", DUE)
        for day in (
            date(2025, 3, 11),
            date(2025, 3, 20),
            date(2025, 3, 30),
            date(2025, 4, 9),
            date(2025, 4, 10),
        ):
            nightly(day)
        got = list(DunningAction.objects.order_by("day").values_list("day", "kind", "channel"))
        assert got == [
            (date(2025, 3, 11), "reminder", "call_task"),
            (date(2025, 3, 20), "reminder", "visit_task"),
            (date(2025, 3, 30), "demand", "visit_task"),
            (date(2025, 4, 10), "notice", "visit_task"),  # 31 days overdue (4-09 is only 30)
        ]
        (order,) = DisconnectionOrder.objects.all()
        assert (order.kind, order.status, order.amount) == ("disconnect", "notified", Decimal("300.00"))
        assert order.planned_at == datetime(2025, 4, 17, 9, 0, tzinfo=SH)  # 7 days' notice, residential
        assert OutboxMessage.objects.get(action__kind="notice").recipient == "幸福路1号"
        cut_day = nightly(date(2025, 4, 17))
        assert cut_day.by_kind == {"final_notice": 1, "disconnect": 1}
        final = OutboxMessage.objects.get(action__kind="final_notice")
        assert (final.channel, final.not_before) == ("call_task", datetime(2025, 4, 17, 8, 30, tzinfo=SH))

    def test_protected_customers_get_no_disconnection_order(self, account: Any) -> None:
        customer(account, phone="13800001111", protected=True)
        issue_bill(account, "2025-02", "300.00", DUE)
        for day in (date(2025, 3, 30), date(2025, 4, 10), date(2025, 5, 10)):
            nightly(day)
        assert list(DunningAction.objects.values_list("kind", flat=True)) == ["demand"]
        assert DisconnectionOrder.objects.count() == 0

    def test_a_payment_cancels_the_planned_cut_and_restores_a_cut_account(self, account: Any) -> None:
        customer(account, phone="13800001111")
        issue_bill(account, "2025-02", "300.00", DUE)
        nightly(date(2025, 3, 30))
        nightly(date(2025, 4, 10))
        order = DisconnectionOrder.objects.get()
        # the field crew executed the cut (a later part approves and executes orders)
        DisconnectionOrder.objects.filter(pk=order.pk).update(
            status="executed", executed_at=datetime(2025, 4, 17, 9, 5, tzinfo=SH)
        )
        assert request_restores(now=now_on(date(2025, 4, 18), 10)) == 0  # still owes
        post_payment(
            account_number=account.number,
            amount="300.00",
            channel="counter",
            channel_txn_id="R1",
            received_at=datetime(2025, 4, 18, 10, 0, tzinfo=SH),
        )
        # post_payment itself asks for the restore (fee_control.restore_after_payment), in its transaction
        paid_at = datetime(2025, 4, 18, 10, 0, tzinfo=SH)
        restore = DisconnectionOrder.objects.get(kind="restore")
        assert (restore.status, restore.planned_at) == ("planned", paid_at)
        assert request_restores(now=paid_at, account_ids=[account.pk]) == 0  # idempotent
        assert request_restores(now=paid_at) == 0

    def test_a_back_dated_payment_restores_once_dated_at_the_cut(self, account: Any) -> None:
        customer(account, phone="13800001111")
        issue_bill(account, "2025-02", "300.00", DUE)
        nightly(date(2025, 3, 30))
        nightly(date(2025, 4, 10))
        cut_at = datetime(2025, 4, 17, 9, 5, tzinfo=SH)
        DisconnectionOrder.objects.filter(kind="disconnect").update(status="executed", executed_at=cut_at)
        post_payment(  # a bank item received before the crew cut, posted after it
            account_number=account.number,
            amount="300.00",
            channel="bank",
            channel_txn_id="B1",
            received_at=datetime(2025, 4, 17, 8, 0, tzinfo=SH),
        )
        restore = DisconnectionOrder.objects.get(kind="restore")
        assert (restore.planned_at, restore.created_at) == (cut_at, cut_at)
        assert request_restores(now=now_on(date(2025, 4, 18), 10)) == 0  # not asked again

    def test_a_paid_account_has_its_notified_cut_cancelled(self, account: Any) -> None:
        customer(account, phone="13800001111")
        issue_bill(account, "2025-02", "300.00", DUE)
        nightly(date(2025, 3, 30))
        nightly(date(2025, 4, 10))
        post_payment(
            account_number=account.number,
            amount="300.00",
            channel="counter",
            channel_txn_id="R2",
            received_at=datetime(2025, 4, 11, 10, 0, tzinfo=SH),
        )
        r = nightly(date(2025, 4, 12))
        assert (r.cancelled, r.actions) == (1, 0)
        order = DisconnectionOrder.objects.get()
        assert (order.status, order.cancel_reason) == ("cancelled", "arrears paid (欠费已结清)")

    def test_cancel_needs_a_reason_and_is_audited(self, account: Any, django_user_model: Any) -> None:
        from auditlog.models import LogEntry

        from wattdesk.application.errors import InputError

        customer(account, phone="13800001111")
        issue_bill(account, "2025-02", "300.00", DUE)
        nightly(date(2025, 3, 30))
        nightly(date(2025, 4, 10))
        order = DisconnectionOrder.objects.get()
        user = django_user_model.objects.create_user("sup", password="x")
        with pytest.raises(InputError, match="reason is required"):
            cancel_disconnection(order_id=order.pk, reason=" ", user=user)
        done = cancel_disconnection(order_id=order.pk, reason="客户承诺分期", user=user)
        assert (done.status, done.cancel_reason) == ("cancelled", "客户承诺分期")
        entry = LogEntry.objects.filter(additional_data__batch="dunning.cancel_disconnection").get()
        assert entry.actor == user
        with pytest.raises(InputError, match="only planned or notified"):
            cancel_disconnection(order_id=order.pk, reason="again", user=user)


class TestOutbox:
    def test_email_arrives_at_a_real_smtp_server(self, account: Any, smtp_server: _Inbox) -> None:
        customer(
            account,
            customer_class="commercial",
            kind="enterprise",
            name="城关五金店",
            payment_profile={"channel": "counter", "email": "boss@hardware.example"},
        )
        issue_bill(account, "2025-02", "1280.00", DUE)
        nightly(date(2025, 3, 11))
        result = dispatch_outbox(now=now_on(date(2025, 3, 11), 8))
        assert (result.sent, result.retried, result.failed) == (1, 0, 0)
        ((rcpt, mail),) = smtp_server.messages
        assert rcpt == ["boss@hardware.example"]
        assert mail["From"] == "dunning@county.example"
        assert mail["Subject"] == f"电费缴费提醒 户号 {account.number}"
        body = mail.get_content()
        assert f"户号 {account.number} 欠电费 1280.00 元（最早应缴日 2025-03-10）" in body
        assert body.startswith("尊敬的城关五金店")
        msg = OutboxMessage.objects.get()
        assert (msg.status, msg.attempts, msg.sent_at) == ("sent", 1, now_on(date(2025, 3, 11), 8))
        assert dispatch_outbox(now=now_on(date(2025, 3, 11), 9)).sent == 0  # nothing sent twice

    def test_smtp_down_is_retried_then_failed(self, account: Any, settings: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", s.getsockname()[1]  # nobody listens
        customer(account, payment_profile={"email": "a@b.example"})
        issue_bill(account, "2025-02", "10.00", DUE)
        nightly(date(2025, 3, 11))
        for i in range(2):
            assert dispatch_outbox(now=now_on(date(2025, 3, 11), 8 + i)).retried == 1
        assert dispatch_outbox(now=now_on(date(2025, 3, 11), 10)).failed == 1
        msg = OutboxMessage.objects.get()
        assert (msg.status, msg.attempts) == ("failed", 3)
        assert "SMTP 127.0.0.1" in msg.last_error

    def test_sandbox_sms_and_push_report_delivery(self, make_account: Any, settings: Any) -> None:
        ok = customer(make_account(), phone="13800001111")  # default segment: SMS
        dead = customer(make_account(), phone="13900000000")  # the sandbox cannot reach it
        down = customer(make_account(), phone="ERR-13700001111")  # the gateway refuses it
        app = customer(make_account(), phone="13600001111", payment_profile={"channel": "mobile"})
        for a in (ok, dead, down, app):
            issue_bill(a, "2025-02", "50.00", DUE)
        nightly(date(2025, 3, 11))
        r = dispatch_outbox(now=now_on(date(2025, 3, 11), 8))
        assert (r.sent, r.retried, r.delivered, r.undeliverable) == (3, 1, 2, 1)
        status = dict(OutboxMessage.objects.values_list("action__account__number", "status"))
        assert status == {
            ok.number: "delivered",
            dead.number: "failed",
            down.number: "queued",
            app.number: "delivered",
        }
        push = OutboxMessage.objects.get(channel="push")
        assert (push.recipient, push.delivered_at) == (app.number, now_on(date(2025, 3, 11), 8))
        assert OutboxMessage.objects.get(recipient="13900000000").last_error == "unreachable number"
        lines = sms_gateway().sent()
        assert [line["to"] for line in lines] == ["13800001111", "13900000000"]
        assert "50.00" in lines[0]["body"]


class _Recorder:
    """An adapter that notes, at each send, which messages the database already holds as sent."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def send(self, message: Any, *, now: datetime) -> str:
        self.seen.append(OutboxMessage.objects.filter(status="sent").count())
        return f"rec-{message.message_id}"

    def receipts(self) -> list[Any]:
        return []


class TestOutboxTransactions:
    def _three_messages(self, make_account: Any) -> None:
        for phone in ("13800001111", "13800002222", "13800003333"):
            a = customer(make_account(), phone=phone)
            issue_bill(a, "2025-02", "50.00", DUE)
        nightly(date(2025, 3, 11))
        assert OutboxMessage.objects.filter(status="queued").count() == 3

    def test_a_batch_is_recorded_at_its_commit(self, make_account: Any) -> None:
        self._three_messages(make_account)
        rec = _Recorder()
        r = dispatch_outbox(now=now_on(date(2025, 3, 11), 8), adapters={"sms": rec}, batch_seconds=3600)
        assert (r.sent, rec.seen) == (3, [0, 0, 0])  # one transaction: nothing recorded before its end

    def test_a_slow_provider_ends_the_transaction_after_the_time_budget(self, make_account: Any) -> None:
        self._three_messages(make_account)
        rec = _Recorder()
        r = dispatch_outbox(now=now_on(date(2025, 3, 11), 8), adapters={"sms": rec}, batch_seconds=0)
        # every send beyond the first of a transaction is over budget: each is recorded before the next
        assert (r.sent, rec.seen) == (3, [0, 1, 2])
        assert OutboxMessage.objects.filter(status="sent").count() == 3
        assert dispatch_outbox(now=now_on(date(2025, 3, 11), 9), adapters={"sms": rec}).sent == 0


class TestNightlyCommand:
    def test_collect_nightly_runs_dunning_and_the_outbox_idempotently(
        self, account: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from wattdesk.interfaces.cli import main

        customer(account, phone="13800001111")
        issue_bill(account, "2025-02", "88.00", DUE)
        assert main(["collect", "nightly", "--date", "2025-03-11"]) == 0
        out = capsys.readouterr().out
        assert "dunning 2025-03-11: 1 accounts in arrears, 1 actions (reminder 1), 1 messages" in out
        assert "outbox: 1 sent, 0 to retry, 0 failed, 1 delivered, 0 undeliverable" in out
        assert main(["collect", "nightly", "--date", "2025-03-11"]) == 0
        out = capsys.readouterr().out
        assert "dunning 2025-03-11: 1 accounts in arrears, 0 actions (none), 0 messages" in out
        assert "outbox: 0 sent" in out
        assert OutboxMessage.objects.get().status == "delivered"
        assert len(sms_gateway().sent()) == 1
