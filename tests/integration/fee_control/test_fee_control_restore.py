"""Restore promptly after payment (缴费后及时复电) and one open command per meter, against the sandbox head-end
(its own HTTP server on a free loopback port): a payment on any channel queues the restore, and a task for
the worker, in its own transaction and returns at once; the head-end hears of it from the worker; a rolled-back payment queues nothing; a payment
that does not settle the account restores nothing; a head-end that is down does not delay the payment and leaves the
command failed and due after the worker's retries (the payment stands); a disconnect not yet sent is superseded by the restore; never two open restores for one
meter; an executed dunning disconnection gets its restore order."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django_tasks_db.models import DBTaskResult
from payments_helpers import FLAT_TARIFF, at, issue_bill

from wattdesk.adapters.headend.http_headend import HttpHeadEnd
from wattdesk.application.fee_control.prepaid import RetryPolicy, dispatch_commands, run_fee_control
from wattdesk.application.payments.posting import post_payment
from wattdesk.domain.dunning.models import DisconnectionOrder
from wattdesk.domain.fee_control.models import FeeControlState, MeterCommand
from wattdesk.domain.metering.models import Meter, MeterInstallation
from wattdesk.domain.payments.models import Payment
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion
from wattdesk.interfaces.cli import main
from wattdesk.sandbox.headend_server import HeadEndServer, start_in_thread

RETRY = RetryPolicy(attempts_per_dispatch=12, max_attempts=50, base_delay=0.01, max_delay=0.05)
DAY = date(2024, 5, 10)
NOW = at(2024, 5, 10, 10)
PAID_AT = at(2024, 5, 10, 11)
SERIAL = "M-PRE-9"


class Boom(Exception):
    pass


@pytest.fixture
def sandbox(tmp_path: Any) -> Iterator[HeadEndServer]:
    server, thread = start_in_thread(state_file=tmp_path / "headend.json", delay=0.001, seed=3)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def prepaid(make_account: Any) -> Any:
    """A prepaid account owing 52.00 (the April bill) plus ~17.34 of estimated May usage: exhausted."""
    account = make_account(prepaid=True)
    TariffVersion.objects.create(
        code="T-FLAT", version="1", effective_from=date(2024, 1, 1), name="flat", document=FLAT_TARIFF
    )
    sp = account.service_points.get()
    TariffAssignment.objects.create(service_point=sp, tariff_code="T-FLAT", effective_from=date(2024, 1, 1))
    meter = Meter.objects.create(serial=SERIAL, multiplier=D(1), digits=6)
    MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=date(2024, 1, 1))
    issue_bill(account, "2024-04", "52.00", date(2024, 5, 20))
    return account


def disconnect(headend: HttpHeadEnd | None) -> MeterCommand:
    """The nightly pass decides the disconnect; sent (and acknowledged) when a head-end is given."""
    assert run_fee_control(day=DAY, now=NOW).commands_queued == 1
    if headend is not None:
        assert dispatch_commands(now=NOW, headend=headend, retry=RETRY).acknowledged == 1
        assert headend.meter_state(SERIAL) == "off"
    return MeterCommand.objects.get(kind="disconnect")


def pay(account: Any, amount: str, txn: str, channel: str = "counter") -> Any:
    return post_payment(
        account_number=account.number, amount=amount, channel=channel, channel_txn_id=txn, received_at=PAID_AT
    )


def queued_sends() -> list[list[int]]:
    """The command ids of each ``send_meter_commands`` task waiting for the worker."""
    return [
        r.args_kwargs["kwargs"]["command_ids"]
        for r in DBTaskResult.objects.filter(status="READY").order_by("enqueued_at")
        if r.task_path.endswith("send_meter_commands")
    ]


def run_worker() -> None:
    """What ``wattdesk serve``'s worker does: run the queued tasks."""
    assert main(["worker", "--batch", "--interval", "0"]) == 0


class TestRestoreAfterPayment:
    @pytest.fixture(autouse=True)
    def _committed(self, transactional_db: None) -> None:
        """The worker commits and checks its connection like a real one: transactional tests (on PostgreSQL
        it would close the connection of a test wrapped in a transaction)."""

    def test_a_counter_payment_queues_the_restore_and_the_worker_sends_it(
        self, prepaid: Any, sandbox: HeadEndServer, monkeypatch: Any
    ) -> None:
        headend = HttpHeadEnd(sandbox.url)
        disconnect(headend)
        monkeypatch.setenv("WATTDESK_HEADEND_URL", sandbox.url)
        res = pay(prepaid, "200.00", "R-1")
        # the payment has returned: the restore is queued with a task for the worker, nothing was sent
        restore = MeterCommand.objects.get(kind="restore")
        assert (restore.idem_key, restore.status, restore.reason, restore.attempts) == (
            f"{prepaid.number}-restore-p{res.payment_id}",
            "queued",
            "payment",
            0,
        )
        assert queued_sends() == [[restore.pk]]
        assert headend.meter_state(SERIAL) == "off"
        assert [o["action"] for o in headend.operations()] == ["disconnect"]
        run_worker()
        restore.refresh_from_db()
        assert restore.status == "acknowledged"
        assert restore.ack_id.startswith("ACK-")
        assert restore.acknowledged_at is not None and restore.acknowledged_at >= PAID_AT
        assert headend.meter_state(SERIAL) == "on"
        assert [o["action"] for o in headend.operations()] == ["disconnect", "restore"]
        assert queued_sends() == []
        # the nightly pass of the next day sees the meter on with money: nothing more to send
        assert run_fee_control(day=DAY + timedelta(days=1), now=NOW + timedelta(days=1)).commands_queued == 0

    def test_a_payment_that_does_not_cover_the_usage_restores_nothing(
        self, prepaid: Any, sandbox: HeadEndServer, monkeypatch: Any
    ) -> None:
        disconnect(HttpHeadEnd(sandbox.url))
        monkeypatch.setenv("WATTDESK_HEADEND_URL", sandbox.url)
        pay(prepaid, "60.00", "R-2")  # 60.00 - 52.00 - 17.34 < 0
        assert queued_sends() == []
        assert not MeterCommand.objects.filter(kind="restore").exists()

    def test_a_rolled_back_payment_queues_and_sends_nothing(
        self, prepaid: Any, sandbox: HeadEndServer, monkeypatch: Any
    ) -> None:
        headend = HttpHeadEnd(sandbox.url)
        disconnect(headend)
        monkeypatch.setenv("WATTDESK_HEADEND_URL", sandbox.url)
        with pytest.raises(Boom), transaction.atomic():
            pay(prepaid, "200.00", "R-3")
            assert MeterCommand.objects.filter(kind="restore").count() == 1
            assert len(queued_sends()) == 1
            raise Boom
        assert not Payment.objects.exists()
        assert not MeterCommand.objects.filter(kind="restore").exists()
        assert queued_sends() == []  # the task was enqueued in the payment's transaction: rolled back with it
        run_worker()
        assert headend.meter_state(SERIAL) == "off"

    def test_a_headend_that_is_down_does_not_hold_the_payment_and_the_worker_retries_it(
        self, prepaid: Any, sandbox: HeadEndServer, monkeypatch: Any
    ) -> None:
        headend = HttpHeadEnd(sandbox.url)
        disconnect(headend)
        with socket.socket() as s:  # a loopback port nobody listens on
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        monkeypatch.setenv("WATTDESK_HEADEND_URL", dead)
        res = pay(prepaid, "200.00", "R-4", channel="prepaid")
        # the call has returned without trying the head-end: the restore is still queued, untried
        assert res.outcome == "posted" and Payment.objects.filter(pk=res.payment_id).exists()
        restore = MeterCommand.objects.get(kind="restore")
        assert (restore.status, restore.attempts, restore.last_error) == ("queued", 0, "")
        assert queued_sends() == [[restore.pk]]
        # the worker tries it with the dispatcher's retries; it stays failed and due, the payment stands
        run_worker()
        restore.refresh_from_db()
        assert restore.status == "failed"
        assert restore.attempts == RetryPolicy().attempts_per_dispatch
        assert "unreachable" in restore.last_error
        assert restore.next_attempt_at > PAID_AT
        assert Payment.objects.filter(pk=res.payment_id, status="posted").exists()
        # the dispatcher (wattdesk collect dispatch / the nightly pass) sends it once it is due: same command id
        later = restore.next_attempt_at + timedelta(seconds=1)
        assert dispatch_commands(now=later, headend=headend, retry=RETRY).acknowledged == 1
        assert headend.meter_state(SERIAL) == "on"
        assert [o["id"] for o in headend.operations() if o["action"] == "restore"] == [restore.idem_key]

    def test_a_duplicate_payment_queues_no_second_restore(
        self, prepaid: Any, sandbox: HeadEndServer, monkeypatch: Any
    ) -> None:
        disconnect(HttpHeadEnd(sandbox.url))
        monkeypatch.setenv("WATTDESK_HEADEND_URL", sandbox.url)
        first = pay(prepaid, "200.00", "R-5")
        again = pay(prepaid, "200.00", "R-5")
        assert (first.outcome, again.outcome) == ("posted", "duplicate")
        assert MeterCommand.objects.filter(kind="restore").count() == 1
        assert len(queued_sends()) == 1

    def test_a_disconnect_not_yet_sent_is_superseded_and_never_reaches_the_meter(
        self, prepaid: Any, sandbox: HeadEndServer, monkeypatch: Any
    ) -> None:
        headend = HttpHeadEnd(sandbox.url)
        cut = disconnect(None)  # queued, no head-end yet
        monkeypatch.setenv("WATTDESK_HEADEND_URL", sandbox.url)
        pay(prepaid, "200.00", "R-6")
        run_worker()
        cut.refresh_from_db()
        assert cut.status == "superseded"
        assert MeterCommand.objects.get(kind="restore").status == "acknowledged"
        assert (
            dispatch_commands(now=PAID_AT + timedelta(hours=1), headend=headend, retry=RETRY).acknowledged
            == 0
        )
        assert [o["action"] for o in headend.operations()] == ["restore"]
        assert headend.meter_state(SERIAL) == "on"

    def test_without_a_headend_configured_the_restore_waits_for_the_dispatcher(
        self, prepaid: Any, sandbox: HeadEndServer, monkeypatch: Any
    ) -> None:
        headend = HttpHeadEnd(sandbox.url)
        disconnect(headend)
        monkeypatch.delenv("WATTDESK_HEADEND_URL", raising=False)
        pay(prepaid, "200.00", "R-9")
        assert queued_sends() == []
        assert MeterCommand.objects.get(kind="restore").status == "queued"
        assert dispatch_commands(now=PAID_AT, headend=headend, retry=RETRY).acknowledged == 1


class TestNoDisconnectAfterPayment:
    def test_a_payment_after_the_days_cut_off_stops_the_disconnect_of_that_day(self, prepaid: Any) -> None:
        from wattdesk.domain.customers.models import Customer
        from wattdesk.domain.dunning.models import OutboxMessage

        Customer.objects.filter(pk=prepaid.customer_id).update(phone="13800000001")
        # exhausted at the end of 05-10; paid at 05-11 09:00, before the pass for 05-10 runs at 10:00
        post_payment(
            account_number=prepaid.number,
            amount="100.00",
            channel="prepaid",
            channel_txn_id="P-LATE",
            received_at=at(2024, 5, 11, 9),
        )
        r = run_fee_control(day=DAY, now=at(2024, 5, 11, 10))
        assert (r.commands_queued, r.warnings_queued, r.decisions) == (0, 0, {"warn": 1})
        state = FeeControlState.objects.get(account=prepaid, day=DAY)
        assert (state.ledger_balance, state.estimated_balance) == (D("52.00"), D("-69.34"))  # as of 05-10
        assert (state.decision, state.reason) == ("warn", "paid_since")
        assert not MeterCommand.objects.exists()
        assert not OutboxMessage.objects.exists()
        # (without the payment the same account is disconnected: ``disconnect()`` above relies on it)


class TestOneOpenCommandPerMeter:
    def test_two_payments_and_the_nightly_pass_share_one_open_restore(
        self, prepaid: Any, sandbox: HeadEndServer, monkeypatch: Any
    ) -> None:
        disconnect(HttpHeadEnd(sandbox.url))
        monkeypatch.setenv("WATTDESK_HEADEND_URL", sandbox.url)
        pay(prepaid, "200.00", "R-7")
        pay(prepaid, "50.00", "R-8")
        restores = MeterCommand.objects.filter(kind="restore")
        assert restores.count() == 1
        assert queued_sends() == [[restores.get().pk]] * 2  # both payments ask for the same open command
        assert run_fee_control(day=DAY + timedelta(days=1), now=NOW + timedelta(days=1)).commands_queued == 0
        assert restores.count() == 1

    def test_the_nightly_restore_loses_to_an_open_top_up_restore_it_did_not_see(
        self, prepaid: Any, sandbox: HeadEndServer
    ) -> None:
        cut = disconnect(HttpHeadEnd(sandbox.url))
        # credit arrives without post_payment's restore (an adjustment), and a restore of a concurrent top-up
        # is already open but was requested before the disconnect the nightly fetch reads as the latest
        from wattdesk.domain.ledger.operations import post_entry

        post_entry(account_id=prepaid.pk, kind="adjustment", amount=D("-500.00"), posted_at=NOW)
        MeterCommand.objects.create(
            meter=cut.meter,
            account=prepaid,
            kind="restore",
            idem_key=f"{prepaid.number}-restore-p999",
            requested_at=cut.requested_at - timedelta(minutes=1),
            next_attempt_at=NOW,
        )
        later = NOW + timedelta(days=1)
        r = run_fee_control(day=DAY + timedelta(days=1), now=later)
        assert r.decisions.get("restore") == 1  # it decided to restore ...
        assert r.commands_queued == 0  # ... but the open restore wins
        assert list(MeterCommand.objects.filter(kind="restore").values_list("idem_key", flat=True)) == [
            f"{prepaid.number}-restore-p999"
        ]

    def test_the_database_refuses_a_second_open_restore_for_a_meter(self, prepaid: Any) -> None:
        cut = disconnect(None)
        MeterCommand.objects.filter(pk=cut.pk).update(status="acknowledged", acknowledged_at=NOW)
        fields = {
            "meter": cut.meter,
            "account": prepaid,
            "kind": "restore",
            "requested_at": NOW,
            "next_attempt_at": NOW,
        }
        MeterCommand.objects.create(idem_key="K-1", **fields)
        with pytest.raises(IntegrityError), transaction.atomic():
            MeterCommand.objects.create(idem_key="K-2", status="failed", **fields)
        # once the first is acknowledged, a new restore may be queued
        MeterCommand.objects.filter(idem_key="K-1").update(status="acknowledged", acknowledged_at=NOW)
        MeterCommand.objects.create(idem_key="K-3", **fields)
        assert MeterCommand.objects.filter(kind="restore").count() == 2


class TestDunningRestoreOrder:
    def test_settling_an_executed_disconnection_creates_the_restore_order(self, make_account: Any) -> None:
        account = make_account()
        bill = issue_bill(account, "2024-03", "80.00", date(2024, 4, 20))
        DisconnectionOrder.objects.create(
            account=account,
            bill=bill,
            kind="disconnect",
            status="executed",
            amount=D("80.00"),
            planned_at=at(2024, 5, 6, 9),
            executed_at=at(2024, 5, 6, 9),
            created_at=at(2024, 5, 1, 9),
        )
        pay(account, "50.00", "B-1", channel="bank")
        assert not DisconnectionOrder.objects.filter(kind="restore").exists()  # still owes 30.00
        pay(account, "30.00", "B-2", channel="bank")
        order = DisconnectionOrder.objects.get(kind="restore")
        assert (order.status, order.planned_at, order.account_id) == ("planned", PAID_AT, account.pk)
        pay(account, "5.00", "B-3", channel="bank")
        assert DisconnectionOrder.objects.filter(kind="restore").count() == 1
