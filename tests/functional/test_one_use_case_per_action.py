"""One use case per action (issue 8, part 4): approving a held bill and posting a payment from the CLI, the review
or cashier page and the API write the same audit entry and take the same database lock.

For every interface the same user (the demo billing clerk: ``--user`` on the command line, the signed-in
session on the page, an API token) performs the action on an object in the same state; the entries must be
equal apart from the object's id and time. The lock is shown twice: every interface goes through
``domain.billing.operations.lock_bill`` once, inside the transaction that writes the change and its audit
entry (a payment locks the account row); and on PostgreSQL a second connection holding the account's row lock
makes the approval and the payment wait until it commits, whichever interface started them (SQLite has one
writer and ignores FOR UPDATE: those tests are PostgreSQL's). A second approval of the same bill is refused the
same way everywhere and leaves no second entry. Hold, cancel-and-rebill, issue, waivers and payment reversal are
checked the same way below.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from sample_company import PASSWORD, Company
from wattdesk.application.billing import review
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger import queries as ledger
from wattdesk.domain.outlets.models import PaymentOutlet
from wattdesk.domain.payments.models import Payment
from wattdesk.interfaces.api.tokens import create_token
from wattdesk.interfaces.cli import main

pytestmark = pytest.mark.django_db
INTERFACES = ("cli", "page", "api")
JSON = "application/json"


def clerk(company: Company) -> Any:
    return get_user_model().objects.get(username=company.logins[roles.BILLING_CLERK].username)


@pytest.fixture
def actors(company: Company) -> dict[str, Any]:
    """How each interface acts as the billing clerk."""
    user = clerk(company)
    page = Client()
    assert page.login(username=user.username, password=PASSWORD)
    secret = create_token(username=user.username, name="parity", created_at=timezone.now()).secret
    return {"user": user, "page": page, "api": Client(headers={"Authorization": f"Bearer {secret}"})}


def batch_entries(action: str, object_pk: Any | None = None) -> list[LogEntry]:
    qs = LogEntry.objects.filter(additional_data__batch=action)
    if object_pk is not None:
        qs = qs.filter(object_pk=str(object_pk))
    return list(qs.order_by("id"))


def shape(entry: LogEntry) -> dict[str, Any]:
    """What must be identical whichever interface acted: everything but the object's id, name and the time."""
    return {
        "action": entry.action,
        "batch": entry.additional_data,
        "content_type": entry.content_type.model,
        "actor": entry.actor_id,
        "changes": entry.changes,
    }


# --- approving a held bill ---------------------------------------------------------------------------------


def approve(interface: str, actors: dict[str, Any], bill_id: int, note: str = "复核无误") -> int:
    """Approve through one interface; the status it answers (CLI exit code, HTTP status)."""
    if interface == "cli":
        return main(["bill", "approve", str(bill_id), "--note", note, "--user", actors["user"].username])
    if interface == "page":
        return int(actors["page"].post(f"/billing/review/{bill_id}/approve/", {"note": note}).status_code)
    r = actors["api"].post(f"/api/bills/{bill_id}/approve", {"note": note}, content_type=JSON)
    return int(r.status_code)


OK = {"cli": 0, "page": 302, "api": 200}


def held_bills(period: str, n: int) -> list[Bill]:
    """``n`` held bills of the period: the run's, topped up with drafts put on hold (``hold_bill``)."""
    held = Bill.objects.filter(period=period, status=BillStatus.HELD)
    drafts = Bill.objects.filter(period=period, status=BillStatus.DRAFT, total__gt=0).order_by("id")
    for draft in drafts[: max(0, n - held.count())]:
        review.hold_bill(bill_id=draft.pk, user=None, held_at=timezone.now(), reason="抽查")
    bills = list(held.select_related("account").order_by("id")[:n])
    assert len(bills) == n
    return bills


class TestApproveIsOneUseCase:
    def test_cli_page_and_api_write_the_same_audit_entry(
        self, company: Company, actors: dict[str, Any], capsys: pytest.CaptureFixture[str]
    ) -> None:
        bills = held_bills(company.period, len(INTERFACES))
        shapes = []
        for interface, bill in zip(INTERFACES, bills, strict=True):
            assert approve(interface, actors, bill.pk) == OK[interface], interface
            bill.refresh_from_db()
            assert bill.status == BillStatus.DRAFT and bill.hold_reason.startswith("approved ")
            [entry] = batch_entries("bills.approve", bill.pk)
            assert entry.object_repr == f"bill {bill.pk} {bill.account.number} {bill.period}"
            assert entry.changes["total"] == [None, str(bill.total)]
            shapes.append(shape(entry) | {"changes": {**entry.changes, "total": "<the bill's>"}})
        assert shapes[0] == shapes[1] == shapes[2]
        assert shapes[0] == {
            "action": LogEntry.Action.UPDATE,
            "batch": {"batch": "bills.approve"},
            "content_type": "batchoperation",
            "actor": actors["user"].pk,
            "changes": {"status": ["held", "draft"], "total": "<the bill's>", "note": [None, "复核无误"]},
        }

    @pytest.mark.parametrize("first", INTERFACES)
    def test_a_second_approval_is_refused_by_every_interface_and_leaves_no_entry(
        self, first: str, company: Company, actors: dict[str, Any], capsys: pytest.CaptureFixture[str]
    ) -> None:
        [bill] = held_bills(company.period, 1)
        assert approve(first, actors, bill.pk) == OK[first]
        capsys.readouterr()
        assert approve("cli", actors, bill.pk) == 2
        assert "only a held bill can be approved" in capsys.readouterr().err
        page = actors["page"].post(f"/billing/review/{bill.pk}/approve/", {"note": "x"}, follow=True)
        assert "only a held bill can be approved" in page.content.decode()
        api = actors["api"].post(f"/api/bills/{bill.pk}/approve", {"note": "x"}, content_type=JSON)
        assert api.status_code == 409
        assert api.json() == {"detail": f"bill {bill.pk} is draft, only a held bill can be approved"}
        assert len(batch_entries("bills.approve", bill.pk)) == 1

    @pytest.mark.parametrize("interface", INTERFACES)
    def test_every_interface_takes_the_bill_lock_inside_the_audited_transaction(
        self,
        interface: str,
        company: Company,
        actors: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        [bill] = held_bills(company.period, 1)
        calls: list[tuple[int, bool, int]] = []
        real = review.lock_bill

        def spy(*, bill_id: int) -> Bill:
            # (bill, inside a transaction, audit entries already written for it): the lock comes first
            calls.append((bill_id, connection.in_atomic_block, len(batch_entries("bills.approve", bill_id))))
            return real(bill_id=bill_id)

        monkeypatch.setattr(review, "lock_bill", spy)
        assert approve(interface, actors, bill.pk) == OK[interface]
        assert calls == [(bill.pk, True, 0)]
        assert len(batch_entries("bills.approve", bill.pk)) == 1

    def test_a_user_without_billing_review_is_refused_on_the_command_line_too(
        self, company: Company, capsys: pytest.CaptureFixture[str]
    ) -> None:
        [bill] = held_bills(company.period, 1)
        reader = company.logins[roles.METER_READER].username
        assert main(["bill", "approve", str(bill.pk), "--user", reader]) == 2
        assert "needs the billing.review capability" in capsys.readouterr().err
        assert main(["bill", "approve", str(bill.pk), "--user", "nobody-such"]) == 2
        assert "no active user 'nobody-such'" in capsys.readouterr().err
        bill.refresh_from_db()
        assert bill.status == BillStatus.HELD and batch_entries("bills.approve") == []


# --- hold, cancel-and-rebill, issue: the same entry from every interface -------------------------------------


def act(
    interface: str, actors: dict[str, Any], action: str, bill: Bill | None, period: str, text: str
) -> int:
    user = ["--user", actors["user"].username]
    if action == "hold":
        assert bill is not None
        if interface == "cli":
            return main(["bill", "hold", str(bill.pk), "--reason", text, *user])
        if interface == "page":
            return int(actors["page"].post(f"/billing/review/{bill.pk}/keep/", {"note": text}).status_code)
        return int(
            actors["api"].post(f"/api/bills/{bill.pk}/hold", {"reason": text}, content_type=JSON).status_code
        )
    if action == "cancel":
        assert bill is not None
        if interface == "cli":
            return main(["bill", "cancel", "--bill", str(bill.pk), "--reason", text, *user])
        if interface == "page":
            return int(
                actors["page"].post(f"/billing/review/{bill.pk}/cancel/", {"reason": text}).status_code
            )
        r = actors["api"].post(f"/api/bills/{bill.pk}/cancel", {"reason": text}, content_type=JSON)
        return int(r.status_code)
    if interface == "cli":
        return main(["bill", "issue", "--period", period, "--include-held-approved", *user])
    if interface == "page":
        return int(
            actors["page"].post("/billing/review/issue/", {"period": period, "confirm": "yes"}).status_code
        )
    body = {"period": period, "include_held_approved": True}
    return int(actors["api"].post("/api/bills/issue", body, content_type=JSON).status_code)


class TestHoldCancelIssueAreOneUseCaseEach:
    @pytest.mark.parametrize("interface", INTERFACES)
    def test_hold_a_draft(
        self, interface: str, company: Company, actors: dict[str, Any], capsys: pytest.CaptureFixture[str]
    ) -> None:
        bill = Bill.objects.filter(period=company.period, status=BillStatus.DRAFT).order_by("id").first()
        assert bill is not None
        assert act(interface, actors, "hold", bill, company.period, "表码待核实") == OK[interface]
        bill.refresh_from_db()
        assert (bill.status, bill.hold_reason) == (BillStatus.HELD, "表码待核实")
        [entry] = batch_entries("bills.hold", bill.pk)
        assert shape(entry) == {
            "action": LogEntry.Action.UPDATE,
            "batch": {"batch": "bills.hold"},
            "content_type": "batchoperation",
            "actor": actors["user"].pk,
            "changes": {
                "status": ["draft", "held"],
                "total": [None, str(bill.total)],
                "reason": [None, "表码待核实"],
            },
        }

    @pytest.mark.parametrize("interface", INTERFACES)
    def test_cancel_and_rebill(
        self, interface: str, company: Company, actors: dict[str, Any], capsys: pytest.CaptureFixture[str]
    ) -> None:
        bill = (
            Bill.objects.filter(period=company.period, status=BillStatus.DRAFT, total__gt=0)
            .order_by("id")
            .first()
        )
        assert bill is not None
        ok = {"cli": 0, "page": 302, "api": 200}[interface]
        assert act(interface, actors, "cancel", bill, company.period, "倍率错误") == ok
        [entry] = batch_entries("bills.cancel", bill.pk)
        assert shape(entry)["changes"] == {
            "status": ["draft", "cancelled"],
            "total": [None, str(bill.total)],
            "reason": [None, "倍率错误"],
            "reversal": [None, "0.00"],  # a draft is not a receivable: nothing to reverse
        }
        assert shape(entry)["actor"] == actors["user"].pk
        assert (
            act(interface, actors, "cancel", bill, company.period, "again")
            == {"cli": 2, "page": 302, "api": 409}[interface]
        )
        assert len(batch_entries("bills.cancel", bill.pk)) == 1

    @pytest.mark.parametrize("interface", INTERFACES)
    def test_issue_the_period(
        self, interface: str, company: Company, actors: dict[str, Any], capsys: pytest.CaptureFixture[str]
    ) -> None:
        drafts = Bill.objects.filter(period=company.period, status=BillStatus.DRAFT)
        n, total = drafts.count(), sum((b.total for b in drafts), Decimal(0))
        due_on = (timezone.localdate() + timedelta(days=review.IssuePolicy().due_days)).isoformat()
        assert act(interface, actors, "issue", None, company.period, "") == OK[interface]
        assert not Bill.objects.filter(period=company.period, status=BillStatus.DRAFT).exists()
        # the sample company issued its other routes (no acting user); this is the one issue by the user
        [entry] = [e for e in batch_entries("bills.issue") if e.actor_id == actors["user"].pk]
        assert entry.object_repr == f"issue {company.period}"
        assert shape(entry) == {
            "action": LogEntry.Action.UPDATE,
            "batch": {"batch": "bills.issue"},
            "content_type": "batchoperation",
            "actor": actors["user"].pk,
            "changes": {
                "status": ["draft", "issued"],
                "bills": [None, n],
                "total": [None, str(total)],
                "due_on": [None, due_on],
                "route": [None, ""],
            },
        }


# --- the row lock, for real (PostgreSQL: SQLite has one writer and ignores FOR UPDATE) ------------------------


@pytest.fixture
def committed_company(transactional_db: None, settings: Any) -> Iterator[Company]:
    from sample_company import build_company

    yield build_company(settings)


def committed_actors(company: Company) -> dict[str, Any]:
    user = clerk(company)
    page = Client()
    assert page.login(username=user.username, password=PASSWORD)
    secret = create_token(username=user.username, name="lock", created_at=timezone.now()).secret
    return {"user": user, "page": page, "api": Client(headers={"Authorization": f"Bearer {secret}"})}


def while_account_locked(
    account_id: int, action: Callable[[], int], seen: Callable[[], Any]
) -> tuple[bool, Any, int]:
    """Run ``action`` in a thread while another connection holds the account's row lock (as ``post_payment``
    does) for one second: (whether it was still waiting, ``seen()`` meanwhile, its answer once released)."""
    locked, release = threading.Event(), threading.Event()

    def hold_account() -> None:
        try:
            with transaction.atomic():
                Account.objects.select_for_update().filter(pk=account_id).get()
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_account)
    holder.start()
    assert locked.wait(timeout=10)
    answer: list[int] = []

    def act() -> None:
        try:
            answer.append(action())
        finally:
            connection.close()

    actor = threading.Thread(target=act)
    actor.start()
    time.sleep(1.0)
    waited = actor.is_alive()
    meanwhile = seen()
    release.set()
    holder.join(timeout=30)
    actor.join(timeout=30)
    assert len(answer) == 1
    return waited, meanwhile, answer[0]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.parametrize("interface", INTERFACES)
def test_an_approval_waits_for_a_payment_holding_the_account_row(
    interface: str, committed_company: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second connection locks the bill's account as ``post_payment`` does; the approval started from each
    interface blocks on that row until the other transaction commits, then goes through."""
    actors = committed_actors(committed_company)
    [bill] = held_bills(committed_company.period, 1)
    waited, status_while_locked, answer = while_account_locked(
        bill.account_id,
        lambda: approve(interface, actors, bill.pk),
        lambda: Bill.objects.get(pk=bill.pk).status,
    )
    assert waited, "the approval did not wait for the account's row lock"
    assert status_while_locked == BillStatus.HELD
    assert answer == OK[interface]
    assert Bill.objects.get(pk=bill.pk).status == BillStatus.DRAFT
    assert len(batch_entries("bills.approve", bill.pk)) == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.parametrize("interface", INTERFACES)
def test_a_payment_waits_for_the_account_row_from_every_interface(
    interface: str, committed_company: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    from wattdesk.domain.customers.models import Region

    actors = committed_actors(committed_company)
    PaymentOutlet.objects.create(
        code="YYT01", name="营业厅", kind="counter", lat=Decimal("30"), lon=Decimal("120"),
        region=Region.objects.order_by("code").first(),
    )  # fmt: skip
    [account] = owing_accounts(1)
    waited, payments_meanwhile, answer = while_account_locked(
        account.pk,
        lambda: pay(interface, actors, account, "10.00", "LOCK-1"),
        lambda: Payment.objects.filter(account=account).count(),
    )
    assert waited, "the payment did not wait for the account's row lock"
    assert payments_meanwhile == 0
    assert answer == PAID[interface]
    payment = Payment.objects.get(account=account)
    assert len(batch_entries("payments.post", payment.pk)) == 1


# --- posting a payment -------------------------------------------------------------------------------------


def pay(interface: str, actors: dict[str, Any], account: Account, amount: str, txn: str) -> int:
    if interface == "cli":
        argv = ["collect", "pay", "--account", account.number, "--amount", amount, "--channel", "counter"]
        return main([*argv, "--txn", txn, "--outlet", "YYT01", "--user", actors["user"].username])
    if interface == "page":
        form = {
            "account": account.number,
            "amount": amount,
            "method": "cash",
            "outlet": "YYT01",
            "token": txn,
        }
        return int(actors["page"].post("/cashier/pay/", form).status_code)
    body = {"account": account.number, "amount": amount, "channel": "counter", "channel_txn_id": txn}
    return int(
        actors["api"].post("/api/payments", {**body, "outlet": "YYT01"}, content_type=JSON).status_code
    )


PAID = {"cli": 0, "page": 302, "api": 201}


@pytest.fixture
def outlet(company: Company) -> PaymentOutlet:
    from wattdesk.domain.customers.models import Region

    return PaymentOutlet.objects.create(
        code="YYT01",
        name="营业厅",
        kind="counter",
        lat=Decimal("30"),
        lon=Decimal("120"),
        region=Region.objects.order_by("code").first(),
    )


def owing_accounts(n: int) -> list[Account]:
    """``n`` postpaid accounts each owing exactly one charge (same allocation shape for each interface)."""
    out = []
    for account in Account.objects.filter(prepaid=False, bills__total__gt=10).distinct().order_by("number"):
        if ledger.balance(account_id=account.pk) > Decimal("10.00"):
            out.append(account)
        if len(out) == n:
            return out
    raise AssertionError("the sample company has owing accounts")


class TestPaymentIsOneUseCase:
    def test_cli_page_and_api_write_the_same_audit_entry_and_lock_the_account(
        self,
        company: Company,
        actors: dict[str, Any],
        outlet: PaymentOutlet,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        from wattdesk.domain.customers.models import Account as AccountModel

        accounts = owing_accounts(len(INTERFACES))
        shapes = []
        for n, (interface, account) in enumerate(zip(INTERFACES, accounts, strict=True)):
            before = ledger.balance(account_id=account.pk)
            locks: list[str] = []
            real = AccountModel.objects.select_for_update

            def spy(*args: Any, _real: Any = real, _locks: list[str] = locks, **kwargs: Any) -> Any:
                _locks.append("account")
                return _real(*args, **kwargs)

            table = AccountModel._meta.db_table

            def lock_sql(
                execute: Any, sql: str, *args: Any, _locks: list[str] = locks, _table: str = table
            ) -> Any:
                # post_payment locks the account in its one hand-written read (FOR UPDATE on PostgreSQL; on
                # SQLite the write transaction is exclusive and select_for_update is a no-op anyway)
                if _table in sql and ("FOR UPDATE" in sql or connection.vendor == "sqlite"):
                    _locks.append("account")
                return execute(sql, *args)

            monkeypatch.setattr(AccountModel.objects, "select_for_update", spy)
            with connection.execute_wrapper(lock_sql):
                assert pay(interface, actors, account, "10.00", f"PAR-{n}") == PAID[interface], interface
            monkeypatch.undo()
            assert locks, f"{interface}: the payment did not lock the account row"
            payment = Payment.objects.get(account=account)
            [entry] = batch_entries("payments.post", payment.pk)
            assert entry.object_repr == f"payment {payment.pk} counter:{payment.channel_txn_id}"
            assert entry.changes["account"] == [None, account.number]
            assert entry.changes["balance"] == [None, str(before - Decimal("10.00"))]
            shapes.append(
                shape(entry) | {"changes": {**entry.changes, "account": "<its>", "balance": "<after>"}}
            )
        assert shapes[0] == shapes[1] == shapes[2]
        assert shapes[0] == {
            "action": LogEntry.Action.CREATE,
            "batch": {"batch": "payments.post"},
            "content_type": "batchoperation",
            "actor": actors["user"].pk,
            "changes": {
                "status": [None, "posted"],
                "account": "<its>",
                "channel": [None, "counter"],
                "amount": [None, "10.00"],
                "allocated": [None, "10.00"],
                "balance": "<after>",
            },
        }

    @pytest.mark.parametrize("interface", ("cli", "api"))
    def test_the_same_transaction_again_posts_and_records_nothing(
        self,
        interface: str,
        company: Company,
        actors: dict[str, Any],
        outlet: PaymentOutlet,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        [account] = owing_accounts(1)
        assert pay(interface, actors, account, "10.00", "DUP-1") == PAID[interface]
        assert pay(interface, actors, account, "10.00", "DUP-1") == {"cli": 0, "api": 200}[interface]
        assert Payment.objects.filter(account=account).count() == 1
        assert len(batch_entries("payments.post")) == 1


# --- waivers: request and approval from the page and the API ------------------------------------------------


@pytest.fixture
def late_fee(company: Company) -> Any:
    """A late-fee entry on an overdue bill (the period issued on 2026-11-03, late fees accrued to 11-30)."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from wattdesk.application.ledger.late_fees import accrue_late_fees
    from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind

    sh = ZoneInfo("Asia/Shanghai")
    review.issue_bills(
        period=company.period,
        user=None,
        issued_at=datetime(2026, 11, 3, 9, tzinfo=sh),
        issued_on=date(2026, 11, 3),
    )
    accrue_late_fees(as_of=date(2026, 11, 30), run_at=datetime(2026, 12, 1, 1, tzinfo=sh))
    fee = LedgerEntry.objects.filter(kind=LedgerEntryKind.LATE_FEE).order_by("id").first()
    assert fee is not None
    return fee


class TestWaiverIsOneUseCase:
    @pytest.mark.parametrize("interface", ("page", "api"))
    def test_request_and_approval_write_the_same_entries(
        self, interface: str, company: Company, actors: dict[str, Any], late_fee: Any
    ) -> None:
        agent = get_user_model().objects.get(username=company.logins[roles.CS_AGENT].username)
        agent_page = Client()
        assert agent_page.login(username=agent.username, password=PASSWORD)
        agent_api = Client(
            headers={
                "Authorization": "Bearer "
                + create_token(username=agent.username, name="w", created_at=timezone.now()).secret
            }
        )
        body = {"bill_id": late_fee.bill_id, "reason": "系统故障期间"}
        if interface == "page":
            r = agent_page.post("/waivers/request/", {**body, "account": ""})
            assert r.status_code == 302
        else:
            r = agent_api.post("/api/waivers", body, content_type=JSON)
            assert r.status_code == 201, r.content
        [requested] = batch_entries("ledger.waive_request")
        req_id = int(requested.object_pk)
        if interface == "page":
            r = actors["page"].post(f"/waivers/{req_id}/approve/", {"note": "同意"})
            assert r.status_code == 302
        else:
            r = actors["api"].post(f"/api/waivers/{req_id}/approve", {"note": "同意"}, content_type=JSON)
            assert r.status_code == 200, r.content
        [approved] = batch_entries("ledger.waive_approve")
        [waived] = batch_entries("ledger.waive")
        fee = str(late_fee.amount)
        assert [shape(requested), shape(approved), shape(waived)] == [
            {
                "action": LogEntry.Action.CREATE,
                "batch": {"batch": "ledger.waive_request"},
                "content_type": "batchoperation",
                "actor": agent.pk,
                "changes": {
                    "status": [None, "pending"],
                    "late_fee": [None, fee],
                    "reason": [None, "系统故障期间"],
                },
            },
            {
                "action": LogEntry.Action.CREATE,
                "batch": {"batch": "ledger.waive_approve"},
                "content_type": "batchoperation",
                "actor": actors["user"].pk,
                "changes": {
                    "status": ["pending", "approved"],
                    "requested": [None, fee],
                    "waived": [None, fee],
                    "requested_by": [None, agent.pk],
                    "note": [None, "同意"],
                },
            },
            {
                "action": LogEntry.Action.CREATE,
                "batch": {"batch": "ledger.waive"},
                "content_type": "batchoperation",
                "actor": actors["user"].pk,
                "changes": {
                    "late_fee": [fee, "0.00"],
                    "reason": [None, f"系统故障期间 (减免申请 #{req_id})"],
                },
            },
        ]


# --- reversing a payment: the CLI and the API, account locked first ------------------------------------------


class TestReverseIsOneUseCase:
    @pytest.mark.parametrize("interface", ("cli", "api"))
    def test_the_same_entry_and_the_account_locked_before_the_payment(
        self,
        interface: str,
        company: Company,
        actors: dict[str, Any],
        outlet: PaymentOutlet,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        [account] = owing_accounts(1)
        assert pay("api", actors, account, "10.00", "REV-1") == PAID["api"]
        payment = Payment.objects.get(account=account)
        order: list[str] = []
        for name, manager in (("account", Account.objects), ("payment", Payment.objects)):
            real = manager.select_for_update

            def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                order.append(_name)
                return _real(*args, **kwargs)

            monkeypatch.setattr(manager, "select_for_update", spy)
        if interface == "cli":
            argv = ["collect", "reverse", "--payment", str(payment.pk), "--reason", "银行退票"]
            assert main([*argv, "--user", actors["user"].username]) == 0
        else:
            r = actors["api"].post(
                f"/api/payments/{payment.pk}/reverse", {"reason": "银行退票"}, content_type=JSON
            )
            assert r.status_code == 200, r.content
        monkeypatch.undo()
        assert order[:2] == ["account", "payment"]
        [entry] = batch_entries("payments.reverse", payment.pk)
        assert shape(entry) == {
            "action": LogEntry.Action.CREATE,
            "batch": {"batch": "payments.reverse"},
            "content_type": "batchoperation",
            "actor": actors["user"].pk,
            "changes": {
                "status": ["posted", "reversed"],
                "amount": [None, "10.00"],
                "reason": [None, "银行退票"],
            },
        }
        if interface == "cli":
            capsys.readouterr()
            assert main(["collect", "reverse", "--payment", str(payment.pk), "--reason", "again"]) == 2
            assert "already been reversed" in capsys.readouterr().err
        assert len(batch_entries("payments.reverse", payment.pk)) == 1


def test_the_command_line_refuses_a_user_without_the_payment_capabilities(
    company: Company, outlet: PaymentOutlet, capsys: pytest.CaptureFixture[str]
) -> None:
    [account] = owing_accounts(1)
    reader = company.logins[roles.METER_READER].username
    argv = [
        "collect",
        "pay",
        "--account",
        account.number,
        "--amount",
        "1.00",
        "--txn",
        "NOPE-1",
        "--user",
        reader,
    ]
    assert main(argv) == 2
    assert "needs the payments.counter or payments.collect capability" in capsys.readouterr().err
    assert not Payment.objects.filter(channel_txn_id="NOPE-1").exists()
    assert main(["collect", "reverse", "--payment", "1", "--reason", "x", "--user", reader]) == 2
    assert "needs the payments.reverse capability" in capsys.readouterr().err
