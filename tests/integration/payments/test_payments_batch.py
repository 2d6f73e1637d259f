"""post_payments: a batch posts exactly what post_payment one by one would, all or nothing, idempotent per item."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.db import transaction
from payments_helpers import FLAT_TARIFF, at, issue_bill

from wattdesk.application.payments.posting import (
    BatchRejected,
    PaymentIn,
    PostResult,
    post_payment,
    post_payments,
)
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.operations import post_entry
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.payments.models import Payment, PaymentAllocation

pytestmark = pytest.mark.django_db
D = Decimal


def item(account: Any, amount: str, txn: str, day: int = 1, channel: str = "bank") -> PaymentIn:
    return PaymentIn(
        account_number=account.number,
        amount=amount,
        channel=channel,
        channel_txn_id=txn,
        received_at=at(2024, 4, day),
    )


def written() -> tuple[int, int, int]:
    return Payment.objects.count(), LedgerEntry.objects.count(), PaymentAllocation.objects.count()


class _Undo(Exception):
    pass


def one_by_one(items: list[PaymentIn]) -> list[tuple[str, str, Any]]:
    """What post_payment per item gives (allocations by transaction), rolled back afterwards."""
    got: list[tuple[str, str, Any]] = []
    try:
        with transaction.atomic():
            for i in items:
                r = post_payment(
                    account_number=i.account_number,
                    amount=i.amount,
                    channel=i.channel,
                    channel_txn_id=i.channel_txn_id,
                    received_at=i.received_at,
                )
                got.append(_summary(i, r))
            got.append(("allocated_on", "-", sorted(_allocated_on())))
            raise _Undo
    except _Undo:
        pass
    return got


def _summary(i: PaymentIn, r: PostResult) -> tuple[str, str, Any]:
    return (i.channel_txn_id, r.outcome, [(a.bill_id, a.kind, a.amount) for a in r.allocations])


def _allocated_on() -> list[tuple[str, date, Decimal]]:
    return list(PaymentAllocation.objects.values_list("payment__channel_txn_id", "allocated_on", "amount"))


class TestPostPayments:
    def test_allocates_exactly_as_posting_one_by_one(self, make_account: Callable[..., Any]) -> None:
        a, b, c = make_account(), make_account(), make_account()
        jan = issue_bill(a, "2024-01", "100.00", date(2024, 2, 15))
        issue_bill(a, "2024-02", "80.00", date(2024, 3, 15))
        post_entry(
            account_id=a.pk, kind="late_fee", amount=D("3.00"), posted_at=at(2024, 3, 1), bill_id=jan.pk
        )
        issue_bill(b, "2024-02", "40.00", date(2024, 3, 15))
        items = [
            item(a, "50.00", "T-1", day=2),
            item(b, "60.00", "T-2", day=1),  # more than owed: 20.00 stays a credit
            item(a, "140.00", "T-3", day=3),  # settles the rest of a, 7.00 credit
            item(c, "5.00", "T-4"),  # nothing owed: all credit
            item(a, "50.00", "T-1", day=2),  # the same transaction again: a duplicate
        ]
        expected = one_by_one(items)
        before = {x.pk: balance(account_id=x.pk) for x in (a, b, c)}
        results = post_payments(items=items)
        assert [_summary(i, r) for i, r in zip(items, results, strict=True)] + [
            ("allocated_on", "-", sorted(_allocated_on()))
        ] == expected
        assert [r.outcome for r in results] == ["posted", "posted", "posted", "posted", "duplicate"]
        assert results[4].payment_id == results[0].payment_id
        assert balance(account_id=a.pk) == before[a.pk] - D("190.00") == D("-7.00")
        assert (results[2].balance, results[2].credit) == (D("-7.00"), D("7.00"))  # after the whole batch
        assert (results[1].balance, results[1].credit) == (D("-20.00"), D("20.00"))
        assert (results[3].balance, results[3].credit) == (D("-5.00"), D("5.00"))
        assert Payment.objects.count() == LedgerEntry.objects.filter(kind="payment").count() == 4
        p = Payment.objects.get(channel_txn_id="T-3")
        assert (p.received_on, p.ledger_entry.amount, p.ledger_entry.posted_at) == (
            date(2024, 4, 3),
            D("-140.00"),
            at(2024, 4, 3),
        )
        audit = LogEntry.objects.get(additional_data__batch="payments.batch")
        assert audit.changes["payments"] == [None, 4] and audit.changes["amount"] == [None, "255.00"]

    def test_the_same_batch_again_posts_nothing(self, make_account: Callable[..., Any]) -> None:
        a, b = make_account(), make_account()
        issue_bill(a, "2024-01", "100.00", date(2024, 2, 15))
        items = [item(a, "30.00", "R-1"), item(b, "10.00", "R-2")]
        first = post_payments(items=items)
        stored = written()
        again = post_payments(items=items)
        assert [r.outcome for r in again] == ["duplicate", "duplicate"]
        assert [r.payment_id for r in again] == [r.payment_id for r in first]
        assert [r.allocations for r in again] == [r.allocations for r in first]
        assert written() == stored

    def test_an_item_posted_before_one_by_one_is_a_duplicate_in_the_batch(self, account: Any) -> None:
        issue_bill(account, "2024-01", "100.00", date(2024, 2, 15))
        single = post_payment(
            account_number=account.number,
            amount="30.00",
            channel="bank",
            channel_txn_id="S-1",
            received_at=at(2024, 4, 1),
        )
        results = post_payments(items=[item(account, "30", "S-1"), item(account, "20.00", "S-2")])
        assert [(r.outcome, r.payment_id == single.payment_id) for r in results] == [
            ("duplicate", True),
            ("posted", False),
        ]
        assert balance(account_id=account.pk) == D("50.00")

    def test_every_bad_item_is_listed_and_nothing_is_written(self, account: Any) -> None:
        issue_bill(account, "2024-01", "100.00", date(2024, 2, 15))
        stored = written()
        bad = [
            item(account, "10.00", "B-1"),
            item(account, "0", "B-2"),
            item(account, "1.005", "B-3"),
            PaymentIn(
                account_number="NOPE",
                amount="1",
                channel="cheque",
                channel_txn_id=" ",
                received_at=at(2024, 4, 1),
            ),
        ]
        with pytest.raises(BatchRejected) as caught:
            post_payments(items=bad)
        assert not caught.value.conflict
        assert [(i, f) for i, f, _ in caught.value.errors] == [
            (1, "amount"),
            (2, "amount"),
            (3, "account"),
            (3, "channel"),
            (3, "channel_txn_id"),
        ]
        assert str(caught.value) == "3 bad item(s), nothing posted"
        assert written() == stored

    def test_a_reused_transaction_id_is_a_conflict_and_nothing_is_written(
        self, make_account: Callable[..., Any]
    ) -> None:
        a, b = make_account(), make_account()
        post_payments(items=[item(a, "10.00", "C-1")])
        stored = written()
        with pytest.raises(BatchRejected) as caught:
            post_payments(
                items=[
                    item(b, "5.00", "C-2"),
                    item(a, "11.00", "C-1"),  # stored for 10.00
                    item(b, "5.00", "C-3"),
                    item(a, "5.00", "C-3"),  # earlier in this batch for b
                ]
            )
        assert caught.value.conflict
        assert caught.value.errors == [
            (1, "channel_txn_id", "bank transaction 'C-1' already posted for another account or amount"),
            (
                3,
                "channel_txn_id",
                "bank transaction 'C-3' used earlier in this batch for another account or amount",
            ),
        ]
        assert written() == stored


class TestRestoreAfterABatch:
    """A batch restores exactly what post_payment would (``restore_after_payment``), though it asks only for
    the accounts with a disconnection order or a meter command."""

    def test_settling_an_executed_disconnection_creates_the_restore_order(
        self, make_account: Callable[..., Any]
    ) -> None:
        from wattdesk.domain.dunning.models import DisconnectionOrder

        cut, other = make_account(), make_account()
        bill = issue_bill(cut, "2024-03", "80.00", date(2024, 4, 20))
        issue_bill(other, "2024-03", "80.00", date(2024, 4, 20))
        DisconnectionOrder.objects.create(
            account=cut,
            bill=bill,
            kind="disconnect",
            status="executed",
            amount=D("80.00"),
            planned_at=at(2024, 4, 25, 9),
            executed_at=at(2024, 4, 25, 9),
            created_at=at(2024, 4, 22, 9),
        )
        post_payments(items=[item(other, "80.00", "D-1"), item(cut, "80.00", "D-2", day=2)])
        order = DisconnectionOrder.objects.get(kind="restore")
        # the payment (received 04-02) is dated before the cut (04-25): the restore is dated at the cut
        assert (order.account_id, order.status, order.planned_at) == (cut.pk, "planned", at(2024, 4, 25, 9))

    def test_a_prepaid_meter_cut_by_fee_control_gets_its_restore_command(
        self, make_account: Callable[..., Any]
    ) -> None:
        from wattdesk.application.fee_control.prepaid import run_fee_control
        from wattdesk.domain.fee_control.models import MeterCommand
        from wattdesk.domain.metering.models import Meter, MeterInstallation
        from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

        account, plain = make_account(prepaid=True), make_account()
        TariffVersion.objects.create(
            code="T-FLAT",
            version="1",
            effective_from=date(2024, 1, 1),
            name="flat",
            document=FLAT_TARIFF,
        )
        sp = account.service_points.get()
        TariffAssignment.objects.create(
            service_point=sp, tariff_code="T-FLAT", effective_from=date(2024, 1, 1)
        )
        meter = Meter.objects.create(serial="M-PRE-B", multiplier=D(1), digits=6)
        MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=date(2024, 1, 1))
        issue_bill(account, "2024-04", "52.00", date(2024, 5, 20))
        assert run_fee_control(day=date(2024, 5, 10), now=at(2024, 5, 10)).commands_queued == 1
        paid_at = at(2024, 5, 10, 11)
        results = post_payments(
            items=[
                PaymentIn(plain.number, "5.00", "bank", "F-1", paid_at),
                PaymentIn(account.number, "200.00", "bank", "F-2", paid_at),
            ]
        )
        restore = MeterCommand.objects.get(kind="restore")
        assert restore.idem_key == f"{account.number}-restore-p{results[1].payment_id}"
        assert restore.account_id == account.pk
