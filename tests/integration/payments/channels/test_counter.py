"""Counter (营业厅收费): payment + receipt, reprint counted, the daily close (日结), collectors' hand-over,
prepaid top-ups."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from payments_helpers import at, issue_bill

from wattdesk.application.errors import InputError
from wattdesk.application.payments.channels import counter
from wattdesk.application.payments.posting import reverse_payment
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.counter.models import CashClose, CashHandover, Receipt
from wattdesk.domain.counter.queries import expected_till
from wattdesk.domain.customers.models import Region
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.outlets.models import PaymentOutlet
from wattdesk.domain.payments.models import Payment

pytestmark = pytest.mark.django_db
D = Decimal
DAY = date(2024, 4, 1)


@pytest.fixture
def outlet(account: Any) -> PaymentOutlet:
    return PaymentOutlet.objects.create(
        code="YYT01",
        name="城关营业厅",
        kind="counter",
        lat=D("30.1"),
        lon=D("120.1"),
        region=Region.objects.get(),
    )


@pytest.fixture
def cashier(db: None) -> Any:
    user = get_user_model().objects.create_user(username="cashier1", password="x")
    grant_role(user=user, role="billing_clerk")
    return user


def pay(account: Any, cashier: Any, amount: str, token: str, method: str = "cash", hour: int = 10) -> Any:
    return counter.take_counter_payment(
        account_number=account.number,
        amount=amount,
        method=method,
        user=cashier,
        outlet_code="YYT01",
        received_at=at(2024, 4, 1, hour),
        request_token=token,
    )


class TestCounterPayment:
    def test_posts_the_payment_with_a_receipt_numbered_per_outlet_and_day(
        self, account: Any, outlet: Any, cashier: Any
    ) -> None:
        issue_bill(account, "2024-02", "120.50", date(2024, 3, 20))
        first = pay(account, cashier, "100.00", "t1")
        second = pay(account, cashier, "20.50", "t2", method="qr")
        assert (first.receipt_no, second.receipt_no) == ("YYT01-20240401-0001", "YYT01-20240401-0002")
        assert first.created and first.balance == D("20.50")
        assert second.balance == D("0.00")
        p = Payment.objects.get(channel="counter", channel_txn_id="YYT01-20240401-0001")
        assert (p.amount, p.user_id, p.outlet, p.account_id) == (D("100.00"), cashier.pk, "YYT01", account.pk)
        assert Receipt.objects.get(receipt_no=first.receipt_no).payment_id == p.pk

    def test_a_form_submitted_twice_takes_the_money_once(
        self, account: Any, outlet: Any, cashier: Any
    ) -> None:
        issue_bill(account, "2024-02", "120.50", date(2024, 3, 20))
        first = pay(account, cashier, "100.00", "same")
        again = pay(account, cashier, "100.00", "same")
        assert (again.created, again.receipt_no) == (False, first.receipt_no)
        assert Payment.objects.count() == 1 and balance(account_id=account.pk) == D("20.50")

    def test_a_reprint_is_counted(self, account: Any, outlet: Any, cashier: Any) -> None:
        r = pay(account, cashier, "10.00", "t1")
        scoped = Receipt.objects.filter(user=cashier)
        assert counter.reprint(receipt_no=r.receipt_no, receipts=scoped, user=cashier)[1] == 1
        assert counter.reprint(receipt_no=r.receipt_no, receipts=scoped, user=cashier)[1] == 2
        assert Receipt.objects.get(receipt_no=r.receipt_no).reprints == 2
        with pytest.raises(counter.ReceiptNotFound):
            counter.reprint(receipt_no=r.receipt_no, receipts=Receipt.objects.none(), user=cashier)

    def test_bad_input_writes_nothing(self, account: Any, outlet: Any, cashier: Any) -> None:
        for amount, method, code in (("-1", "cash", "YYT01"), ("1.234", "cash", "YYT01"), ("5", "cheque", "YYT01"),
                                     ("5", "cash", "NOPE")):  # fmt: skip
            with pytest.raises(InputError):
                counter.take_counter_payment(
                    account_number=account.number, amount=amount, method=method, user=cashier,
                    outlet_code=code, received_at=at(2024, 4, 1), request_token="x",
                )  # fmt: skip
        assert (Payment.objects.count(), Receipt.objects.count(), LedgerEntry.objects.count()) == (0, 0, 0)


class TestCashClose:
    def test_a_balanced_close_closes_the_day_and_refuses_later_payments(
        self, account: Any, outlet: Any, cashier: Any
    ) -> None:
        pay(account, cashier, "100.00", "t1")
        pay(account, cashier, "30.20", "t2")
        pay(account, cashier, "50.00", "t3", method="card")
        pay(account, cashier, "7.00", "t4", method="qr")
        r4 = pay(account, cashier, "9.99", "t5")
        reverse_payment(reason="wrong account", reversed_at=at(2024, 4, 1, 11),
                        channel="counter", channel_txn_id=r4.receipt_no)  # fmt: skip
        result = counter.close_day(
            cashier=cashier, outlet_code="YYT01", business_date=DAY, declared_cash="130.20",
            closed_at=at(2024, 4, 1, 18),
        )  # fmt: skip
        assert (result.status, result.closed, result.discrepancy, result.receipts) == (
            "balanced",
            True,
            D("0.00"),
            4,
        )
        assert result.expected == {"cash": D("130.20"), "card": D("50.00"), "qr": D("7.00")}
        with pytest.raises(counter.DayClosed, match="日结"):
            pay(account, cashier, "1.00", "t6", hour=19)
        assert Payment.objects.count() == 5
        with pytest.raises(counter.DayClosed):
            counter.close_day(cashier=cashier, outlet_code="YYT01", business_date=DAY, declared_cash="130.20",
                              closed_at=at(2024, 4, 1, 18))  # fmt: skip

    def test_a_discrepancy_needs_a_reason_then_another_users_approval(
        self, account: Any, outlet: Any, cashier: Any
    ) -> None:
        from django.db import IntegrityError, transaction

        pay(account, cashier, "100.00", "t1")
        kw = {
            "cashier": cashier,
            "outlet_code": "YYT01",
            "business_date": DAY,
            "closed_at": at(2024, 4, 1, 18),
        }
        with pytest.raises(InputError, match="reason"):
            counter.close_day(declared_cash="90.00", **kw)
        assert CashClose.objects.count() == 0
        pending = counter.close_day(declared_cash="90.00", reason="短款 10 元", **kw)
        assert (pending.status, pending.closed, pending.discrepancy) == ("pending", False, D("-10.00"))
        row = CashClose.objects.get()
        assert (row.status, row.reason, row.expected_cash, row.declared_cash) == (
            "pending", "短款 10 元", D("100.00"), D("90.00"))  # fmt: skip
        manager = get_user_model().objects.create_user(username="mgr1", password="x")
        grant_role(user=manager, role="marketing_manager")
        # the cashier cannot approve their own shortfall (no capability; and four eyes in the database)
        with pytest.raises(counter.CloseRefused, match="close_approve"):
            counter.approve_close(
                close_id=row.pk, user=cashier, note="我自己核实", approved_at=at(2024, 4, 1, 19)
            )
        with pytest.raises(IntegrityError), transaction.atomic():
            CashClose.objects.filter(pk=row.pk).update(
                status="approved", supervisor_note="x", approved_by=cashier
            )
        admin = get_user_model().objects.create_user(username="cashier-admin", password="x")
        grant_role(user=admin, role="admin")
        pay(account, admin, "1.00", "a1")  # an admin can take payments and approve, but not their own close
        own = counter.close_day(cashier=admin, outlet_code="YYT01", business_date=DAY, declared_cash="0.00",
                                reason="短款", closed_at=at(2024, 4, 1, 18))  # fmt: skip
        assert own.status == "pending"
        own_row = CashClose.objects.get(cashier=admin)
        with pytest.raises(counter.CloseRefused, match="own"):
            counter.approve_close(close_id=own_row.pk, user=admin, note="ok", approved_at=at(2024, 4, 1, 19))
        # a payment after the pending close changes the takings: the approval is refused, the cashier closes again
        pay(account, cashier, "5.00", "t2", hour=18)
        with pytest.raises(counter.CloseRefused, match="changed"):
            counter.approve_close(
                close_id=row.pk, user=manager, note="主管王某核实", approved_at=at(2024, 4, 1, 19)
            )
        with pytest.raises(counter.CloseRefused, match="note"):
            counter.approve_close(close_id=row.pk, user=manager, note=" ", approved_at=at(2024, 4, 1, 19))
        again = counter.close_day(declared_cash="95.00", reason="短款 10 元", **kw)
        assert (again.status, again.closed) == ("pending", False)
        done = counter.approve_close(
            close_id=row.pk, user=manager, note="主管王某核实", approved_at=at(2024, 4, 1, 19)
        )
        assert (done.status, done.supervisor_note, done.expected_cash, done.approved_by) == (
            "approved", "主管王某核实", D("105.00"), manager)  # fmt: skip
        with pytest.raises(counter.DayClosed):
            pay(account, cashier, "1.00", "t3", hour=19)
        with pytest.raises(counter.CloseRefused, match="not pending"):
            counter.approve_close(close_id=row.pk, user=manager, note="again", approved_at=at(2024, 4, 1, 20))


class TestCollector:
    def test_collects_then_hands_over_and_stops(self, account: Any, cashier: Any) -> None:
        collector = get_user_model().objects.create_user(username="zs1", password="x")
        grant_role(user=collector, role="collector")
        issue_bill(account, "2024-02", "80.00", date(2024, 3, 20))
        r = counter.collect_payment(account_number=account.number, amount="80.00", user=collector,
                                    received_at=at(2024, 4, 1, 9), request_token="c1")  # fmt: skip
        assert r.receipt_no == f"ZS{collector.pk}-20240401-0001" and r.balance == D("0.00")
        assert Payment.objects.get().channel == "collector"
        with pytest.raises(InputError, match="reason"):
            counter.hand_over(collector=collector, business_date=DAY, handed_over="70", receiver_username="cashier1",
                              handed_at=at(2024, 4, 1, 17))  # fmt: skip
        with pytest.raises(InputError, match="oneself"):
            counter.hand_over(collector=collector, business_date=DAY, handed_over="80", receiver_username="zs1",
                              handed_at=at(2024, 4, 1, 17))  # fmt: skip
        h = counter.hand_over(collector=collector, business_date=DAY, handed_over="80.00",
                              receiver_username="cashier1", handed_at=at(2024, 4, 1, 17))  # fmt: skip
        assert (h.expected, h.discrepancy) == (D("80.00"), D("0.00"))
        assert CashHandover.objects.get().received_by == cashier
        with pytest.raises(counter.DayClosed):
            counter.collect_payment(account_number=account.number, amount="1", user=collector,
                                    received_at=at(2024, 4, 1, 18), request_token="c2")  # fmt: skip


class TestTopUp:
    def test_tops_up_a_prepaid_account_once(self, make_account: Any, cashier: Any) -> None:
        acc = make_account(prepaid=True)
        first = counter.top_up(account_number=acc.number, amount="200.00", channel_txn_id="PT-1",
                               received_at=at(2024, 4, 1), user=cashier)  # fmt: skip
        again = counter.top_up(account_number=acc.number, amount="200.00", channel_txn_id="PT-1",
                               received_at=at(2024, 4, 1), user=cashier)  # fmt: skip
        assert (first.outcome, again.outcome, first.balance) == ("posted", "duplicate", D("-200.00"))
        assert Payment.objects.get().channel == "prepaid"

    def test_refuses_a_postpaid_account(self, account: Any, cashier: Any) -> None:
        with pytest.raises(InputError, match="prepaid"):
            counter.top_up(account_number=account.number, amount="10", channel_txn_id="PT-2",
                           received_at=at(2024, 4, 1), user=cashier)  # fmt: skip

    def test_a_counter_payment_on_a_prepaid_account_is_a_top_up(
        self, make_account: Any, cashier: Any
    ) -> None:
        acc = make_account(prepaid=True)
        PaymentOutlet.objects.create(code="YYT01", name="营业厅", kind="counter", lat=D("30"), lon=D("120"),
                                     region=Region.objects.get())  # fmt: skip
        r = pay(acc, cashier, "50.00", "t1")
        assert r.channel == "prepaid" and Payment.objects.get().channel == "prepaid"


def _collector(name: str, account: Any, amount: str, token: str) -> Any:
    user = get_user_model().objects.create_user(username=name, password="x")
    grant_role(user=user, role="collector")
    counter.collect_payment(account_number=account.number, amount=amount, user=user,
                            received_at=at(2024, 4, 1, 9), request_token=token)  # fmt: skip
    return user


class TestCloseWithHandovers:
    """The collectors' cash handed over to the cashier is counted into the cashier's till (交款入柜)."""

    def test_the_close_counts_the_handovers_received_at_the_outlet_once(
        self, account: Any, outlet: Any, cashier: Any
    ) -> None:
        PaymentOutlet.objects.create(code="YYT02", name="东湖营业厅", kind="counter", lat=D("30.2"),
                                     lon=D("120.2"), region=Region.objects.get())  # fmt: skip
        zs1 = _collector("zs1", account, "80.00", "c1")
        zs2 = _collector("zs2", account, "50.00", "c2")
        zs3 = _collector("zs3", account, "30.00", "c3")
        counter.hand_over(collector=zs1, business_date=DAY, handed_over="80.00", receiver_username="cashier1",
                          handed_at=at(2024, 4, 1, 12), outlet_code="YYT01")  # fmt: skip
        short = counter.hand_over(collector=zs2, business_date=DAY, handed_over="45.00",
                                  receiver_username="cashier1", handed_at=at(2024, 4, 1, 13),
                                  reason="短款 5 元")  # no outlet named  # fmt: skip
        assert (short.discrepancy, short.outlet_code) == (D("-5.00"), "")
        counter.hand_over(collector=zs3, business_date=DAY, handed_over="30.00", receiver_username="cashier1",
                          handed_at=at(2024, 4, 1, 14), outlet_code="YYT02")  # fmt: skip
        pay(account, cashier, "100.00", "t1")
        pay(account, cashier, "20.00", "t2", method="card")
        kw = {"cashier": cashier, "business_date": DAY, "closed_at": at(2024, 4, 1, 18)}
        # the one definition of the expected cash, which the page, the close and the approval read
        till = expected_till(cashier_id=cashier.pk, outlet_code="YYT01", business_date=DAY, close=None)
        assert (till.expected_cash, till.handover_cash, till.totals["card"], len(till.handovers)) == (
            D("225.00"), D("125.00"), D("20.00"), 2)  # fmt: skip
        # counting only the counter's own cash no longer balances: 100 + 80 + 45 are in the till
        with pytest.raises(InputError, match=r"225\.00 \(counter 100\.00 \+ hand-overs 125\.00\)"):
            counter.close_day(outlet_code="YYT01", declared_cash="100.00", **kw)
        result = counter.close_day(outlet_code="YYT01", declared_cash="225.00", **kw)
        assert (result.status, result.expected_cash, result.handover_cash, result.handovers, result.discrepancy) == (
            "balanced", D("225.00"), D("125.00"), 2, D("0.00"))  # fmt: skip
        assert result.expected == {"cash": D("100.00"), "card": D("20.00"), "qr": D("0.00")}
        row = CashClose.objects.get(outlet_code="YYT01")
        assert (row.expected_cash, row.handover_cash, row.declared_cash) == (
            D("225.00"),
            D("125.00"),
            D("225.00"),
        )
        assert set(CashHandover.objects.filter(cash_close=row).values_list("collector__username", flat=True)) == {
            "zs1", "zs2"}  # fmt: skip
        # the other outlet's close counts the hand-over named there, and not the unnamed one again
        other = counter.close_day(outlet_code="YYT02", declared_cash="30.00", **kw)
        assert (other.status, other.expected_cash, other.handover_cash, other.handovers) == (
            "balanced", D("30.00"), D("30.00"), 1)  # fmt: skip
        # the cashier's day is closed: the till takes no more hand-overs
        zs4 = _collector("zs4", account, "10.00", "c4")
        with pytest.raises(counter.DayClosed, match="日结"):
            counter.hand_over(collector=zs4, business_date=DAY, handed_over="10.00", receiver_username="cashier1",
                              handed_at=at(2024, 4, 1, 19), outlet_code="YYT01")  # fmt: skip
        assert CashHandover.objects.count() == 3

    def test_a_pending_close_recounts_a_handover_received_after_it(
        self, account: Any, outlet: Any, cashier: Any
    ) -> None:
        pay(account, cashier, "100.00", "t1")
        kw = {
            "cashier": cashier,
            "outlet_code": "YYT01",
            "business_date": DAY,
            "closed_at": at(2024, 4, 1, 17),
        }
        pending = counter.close_day(declared_cash="160.00", reason="多出 60 元", **kw)
        assert (pending.status, pending.discrepancy, pending.handover_cash) == (
            "pending",
            D("60.00"),
            D("0.00"),
        )
        zs1 = _collector("zs1", account, "60.00", "c1")
        counter.hand_over(collector=zs1, business_date=DAY, handed_over="60.00", receiver_username="cashier1",
                          handed_at=at(2024, 4, 1, 17), outlet_code="YYT01")  # fmt: skip
        done = counter.close_day(declared_cash="160.00", **kw)
        assert (done.status, done.expected_cash, done.discrepancy) == ("balanced", D("160.00"), D("0.00"))
        row = CashClose.objects.get()
        assert (row.status, row.reason, row.handover_cash) == ("balanced", "", D("60.00"))
        assert CashHandover.objects.get().cash_close == row

    def test_a_handover_to_an_unknown_outlet_writes_nothing(self, account: Any, cashier: Any) -> None:
        zs1 = _collector("zs1", account, "10.00", "c1")
        with pytest.raises(InputError, match="outlet"):
            counter.hand_over(collector=zs1, business_date=DAY, handed_over="10.00", receiver_username="cashier1",
                              handed_at=at(2024, 4, 1, 17), outlet_code="NOPE")  # fmt: skip
        assert CashHandover.objects.count() == 0
