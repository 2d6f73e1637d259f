"""Payments through the API: posting (idempotent per channel transaction, 409 on a reused id, 422 naming the
field), the batch endpoint (all or nothing), scoping (404), listing and reversal (冲正)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from api_helpers import user_of
from auditlog.models import LogEntry
from django.test import Client
from django.utils import timezone

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger import queries as ledger
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.domain.payments.models import Payment, PaymentAllocation, PaymentStatus

JSON = "application/json"


def owing(user: Any, n: int = 1) -> list[Account]:
    """``n`` accounts in the user's scope with a positive ledger balance (a billed, unpaid charge)."""
    ids = (
        LedgerEntry.objects.filter(
            kind=LedgerEntryKind.CHARGE,
            amount__gt=0,
            account__in=accounts_for(user).values("pk"),
        )
        .order_by("account_id")
        .values_list("account_id", flat=True)
        .distinct()
    )
    found = [a for a in Account.objects.filter(pk__in=list(ids)).order_by("number")][:n]
    assert len(found) == n
    return found


def body(account: Account, txn: str, amount: str = "10.00", **extra: Any) -> dict[str, Any]:
    return {"account": account.number, "amount": amount, "channel": "bank", "channel_txn_id": txn, **extra}


def counts() -> tuple[int, int, int]:
    return Payment.objects.count(), LedgerEntry.objects.count(), PaymentAllocation.objects.count()


class TestPostOne:
    def test_first_call_posts_and_allocates_to_the_open_bill(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        clerk = user_of(company, roles.BILLING_CLERK)
        (account,) = owing(clerk)
        before = ledger.balance(account_id=account.pk)
        response = api_for(roles.BILLING_CLERK).post(
            "/api/payments", body(account, "B-1", "10.00", outlet="YY01"), content_type=JSON
        )
        assert response.status_code == 201, response.content
        got = response.json()
        payment = Payment.objects.get(channel="bank", channel_txn_id="B-1")
        assert got["outcome"] == "posted" and got["payment_id"] == payment.pk
        assert (got["account"], got["amount"]) == (account.number, "10.00")
        assert got["balance"] == str(before - Decimal("10.00")) == str(ledger.balance(account_id=account.pk))
        assert [a["amount"] for a in got["allocations"]] == ["10.00"]
        assert got["allocations"][0]["kind"] == "charge" and got["allocations"][0]["bill_id"] is not None
        assert (payment.user_id, payment.outlet, payment.amount) == (clerk.pk, "YY01", Decimal("10.00"))
        assert payment.received_at is not None

    def test_the_same_transaction_again_is_a_duplicate_and_posts_nothing(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        (account,) = owing(user_of(company, roles.BILLING_CLERK))
        client = api_for(roles.BILLING_CLERK)
        first = client.post("/api/payments", body(account, "B-2", "7.30"), content_type=JSON)
        assert first.status_code == 201
        stored = counts()
        again = client.post("/api/payments", body(account, "B-2", "7.3"), content_type=JSON)
        assert again.status_code == 200
        assert again.json()["outcome"] == "duplicate"
        assert again.json()["payment_id"] == first.json()["payment_id"]
        assert again.json()["allocations"] == first.json()["allocations"]
        assert counts() == stored

    def test_a_reused_transaction_id_for_another_amount_or_account_is_a_409(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        a, b = owing(user_of(company, roles.BILLING_CLERK), 2)
        client = api_for(roles.BILLING_CLERK)
        assert client.post("/api/payments", body(a, "B-3", "5.00"), content_type=JSON).status_code == 201
        stored = counts()
        for other in (body(a, "B-3", "6.00"), body(b, "B-3", "5.00")):
            response = client.post("/api/payments", other, content_type=JSON)
            assert response.status_code == 409
            assert response.json() == {
                "detail": "bank transaction 'B-3' was already posted for another account or amount"
            }
        assert counts() == stored

    def test_bad_fields_are_a_422_naming_the_field(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        (account,) = owing(user_of(company, roles.BILLING_CLERK))
        client = api_for(roles.BILLING_CLERK)
        stored = counts()
        cases = {
            "amount": body(account, "B-4", "12.345"),
            "channel": {**body(account, "B-4"), "channel": "cheque"},
            "channel_txn_id": body(account, " B-4"),
            "received_at": body(account, "B-4", received_at="2026-11-20T10:00:00"),  # no offset
        }
        for field, request in cases.items():
            response = client.post("/api/payments", request, content_type=JSON)
            assert response.status_code == 422, (field, response.content)
            errors = response.json()["errors"]
            assert [(e["index"], e["field"]) for e in errors] == [(None, field)], errors
        for zero in ("0", "-1.00", "NaN"):
            response = client.post("/api/payments", body(account, "B-4", zero), content_type=JSON)
            assert response.status_code == 422 and response.json()["errors"][0]["field"] == "amount"
        # the one amount parser: no exponent, underscores or more digits than the MoneyField holds
        for bad in ("1e20", "1E2", "99999999999999.99", "1e999999", "1_000", 1e20):
            response = client.post("/api/payments", body(account, "B-4", bad), content_type=JSON)  # type: ignore[arg-type]
            assert response.status_code == 422, (bad, response.content)
            assert response.json()["errors"][0]["field"] == "amount"
        future = (timezone.now() + timedelta(days=1)).isoformat()
        response = client.post("/api/payments", body(account, "B-4", received_at=future), content_type=JSON)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "received_at"
        assert counts() == stored

    def test_received_at_given_by_the_channel_is_kept(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        (account,) = owing(user_of(company, roles.BILLING_CLERK))
        response = api_for(roles.BILLING_CLERK).post(
            "/api/payments", body(account, "B-5", received_at="2026-11-20T23:30:00+08:00"), content_type=JSON
        )
        assert response.status_code == 201
        payment = Payment.objects.get(pk=response.json()["payment_id"])
        assert payment.received_at.isoformat() == "2026-11-20T15:30:00+00:00"
        assert str(payment.received_on) == "2026-11-20"  # the local (Asia/Shanghai) day


class TestScope:
    def test_a_collector_posting_to_an_account_outside_their_routes_gets_404_and_nothing_is_written(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        collector = user_of(company, roles.COLLECTOR)
        outside = (
            Account.objects.exclude(pk__in=accounts_for(collector).values("pk")).order_by("number").first()
        )
        (inside,) = owing(collector)
        assert outside is not None
        client = api_for(roles.COLLECTOR)
        stored = counts()
        response = client.post("/api/payments", body(outside, "C-1"), content_type=JSON)
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
        unknown = client.post("/api/payments", {**body(outside, "C-1"), "account": "NOPE"}, content_type=JSON)
        assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})
        assert counts() == stored
        assert client.post("/api/payments", body(inside, "C-2"), content_type=JSON).status_code == 201

    def test_a_customer_reads_only_payments_of_their_own_accounts(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        customer = user_of(company, roles.CUSTOMER)
        (own,) = owing(customer)
        other = Account.objects.exclude(pk__in=accounts_for(customer).values("pk")).order_by("number").first()
        assert other is not None
        clerk = api_for(roles.BILLING_CLERK)
        mine = clerk.post("/api/payments", body(own, "P-1"), content_type=JSON).json()["payment_id"]
        theirs = clerk.post("/api/payments", body(other, "P-2"), content_type=JSON).json()["payment_id"]
        client = api_for(roles.CUSTOMER)
        assert client.get(f"/api/payments/{mine}").status_code == 200
        assert client.get(f"/api/payments/{theirs}").status_code == 404
        listed = client.get("/api/payments?page_size=500").json()
        assert {p["id"] for p in listed["items"]} == {mine}
        assert client.post("/api/payments", body(own, "P-3"), content_type=JSON).status_code == 403


class TestReverse:
    def test_reversal_restores_the_debt_and_a_second_one_is_a_409(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        (account,) = owing(user_of(company, roles.BILLING_CLERK))
        before = ledger.balance(account_id=account.pk)
        client = api_for(roles.BILLING_CLERK)
        pid = client.post("/api/payments", body(account, "R-1", "8.00"), content_type=JSON).json()[
            "payment_id"
        ]
        assert api_for(roles.COLLECTOR).post(
            f"/api/payments/{pid}/reverse", {"reason": "x"}, content_type=JSON
        ).status_code in (403, 404)
        response = client.post(f"/api/payments/{pid}/reverse", {"reason": "bank recall"}, content_type=JSON)
        assert response.status_code == 200, response.content
        got = response.json()
        assert (got["payment_id"], got["amount"], got["balance"]) == (pid, "8.00", str(before))
        payment = Payment.objects.get(pk=pid)
        assert (
            payment.status == PaymentStatus.REVERSED and payment.reversal_entry_id == got["reversal_entry_id"]
        )
        assert ledger.balance(account_id=account.pk) == before
        audit = LogEntry.objects.get(additional_data__batch="payments.reverse", object_pk=str(pid))
        assert audit.actor_id == user_of(company, roles.BILLING_CLERK).pk
        detail = client.get(f"/api/payments/{pid}").json()
        assert (detail["status"], detail["reversal_entry_id"]) == ("reversed", got["reversal_entry_id"])
        again = client.post(f"/api/payments/{pid}/reverse", {"reason": "again"}, content_type=JSON)
        assert again.status_code == 409
        assert again.json() == {"detail": f"payment {pid} has already been reversed"}
        blank = client.post(f"/api/payments/{pid}/reverse", {"reason": ""}, content_type=JSON)
        assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason"
        assert (
            client.post("/api/payments/999999999/reverse", {"reason": "x"}, content_type=JSON).status_code
            == 404
        )


class TestBatch:
    def test_one_bad_item_is_a_422_with_its_index_and_nothing_is_posted(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        a, b = owing(user_of(company, roles.BILLING_CLERK), 2)
        client = api_for(roles.BILLING_CLERK)
        stored = counts()
        items = [body(a, "K-1"), body(b, "K-2"), body(a, "K-3", "1.001")]
        response = client.post("/api/payments/batch", items, content_type=JSON)
        assert response.status_code == 422
        assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(2, "amount")]
        items[2] = {**body(a, "K-3"), "account": "NOPE"}
        response = client.post("/api/payments/batch", items, content_type=JSON)
        assert response.status_code == 422
        assert response.json() == {
            "detail": "1 bad item(s), nothing stored",
            "errors": [{"index": 2, "field": "account", "reason": "unknown account 'NOPE'"}],
        }
        assert counts() == stored

    def test_a_conflicting_item_is_a_409_with_its_index_and_nothing_is_posted(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        a, b = owing(user_of(company, roles.BILLING_CLERK), 2)
        client = api_for(roles.BILLING_CLERK)
        assert client.post("/api/payments", body(a, "K-9", "3.00"), content_type=JSON).status_code == 201
        stored = counts()
        items = [body(b, "K-10"), body(a, "K-9", "4.00"), body(b, "K-11"), body(a, "K-11")]
        response = client.post("/api/payments/batch", items, content_type=JSON)
        assert response.status_code == 409
        assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [
            (1, "channel_txn_id"),
            (3, "channel_txn_id"),
        ]
        assert counts() == stored

    def test_good_items_post_in_order_and_a_repeat_is_all_duplicates(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        accounts = owing(user_of(company, roles.BILLING_CLERK), 3)
        client = api_for(roles.BILLING_CLERK)
        before = {a.pk: ledger.balance(account_id=a.pk) for a in accounts}
        items = [body(acc, f"G-{n}", f"{n + 1}.50") for n, acc in enumerate(accounts)]
        items.append(items[0])  # the same transaction twice in one batch: posted once
        response = client.post("/api/payments/batch", items, content_type=JSON)
        assert response.status_code == 201, response.content
        got = response.json()
        assert (got["posted"], got["duplicates"]) == (3, 1)
        assert [r["outcome"] for r in got["results"]] == ["posted", "posted", "posted", "duplicate"]
        assert [r["account"] for r in got["results"]] == [a.number for a in accounts] + [accounts[0].number]
        for n, acc in enumerate(accounts):
            assert ledger.balance(account_id=acc.pk) == before[acc.pk] - Decimal(f"{n + 1}.50")
        stored = counts()
        again = client.post("/api/payments/batch", items, content_type=JSON)
        assert again.status_code == 200
        assert (again.json()["posted"], again.json()["duplicates"]) == (0, 4)
        assert counts() == stored

    def test_at_most_1000_items(self, company: Any, api_for: Callable[[str], Client]) -> None:
        (a,) = owing(user_of(company, roles.BILLING_CLERK))
        items = [body(a, f"L-{n}") for n in range(1001)]
        response = api_for(roles.BILLING_CLERK).post("/api/payments/batch", items, content_type=JSON)
        assert response.status_code == 422
        assert Payment.objects.filter(channel_txn_id__startswith="L-").count() == 0


class TestList:
    def test_filters_by_account_channel_and_received_day(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        a, b = owing(user_of(company, roles.BILLING_CLERK), 2)
        client = api_for(roles.BILLING_CLERK)
        for request in (
            body(a, "F-1", received_at="2026-11-10T10:00:00+08:00"),
            {**body(a, "F-2", received_at="2026-11-12T10:00:00+08:00"), "channel": "counter"},
            body(b, "F-3", received_at="2026-11-12T10:00:00+08:00"),
        ):
            assert client.post("/api/payments", request, content_type=JSON).status_code == 201

        def txns(query: str) -> list[str]:
            response = client.get(f"/api/payments?page_size=500&{query}")
            assert response.status_code == 200, response.content
            return [p["channel_txn_id"] for p in response.json()["items"]]

        assert txns(f"account={a.number}") == ["F-2", "F-1"]  # latest first
        assert txns("channel=bank") == ["F-3", "F-1"]
        assert txns("received_from=2026-11-11&received_before=2026-11-13") == ["F-3", "F-2"]
        assert txns("received_from=2026-11-10&received_before=2026-11-11") == ["F-1"]
        listed = client.get(f"/api/payments?account={b.number}").json()
        assert listed["count"] == 1
        assert listed["items"][0]["amount"] == "10.00" and listed["items"][0]["status"] == "posted"
        assert client.get("/api/payments?channel=cheque").status_code == 422
        assert client.get("/api/payments?received_from=2026-13-01").status_code == 422


class TestVoidAllocations:
    def test_an_allocation_to_a_waived_late_fee_is_marked_void(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        from datetime import date, datetime
        from zoneinfo import ZoneInfo

        from wattdesk.application.billing.review import issue_bills
        from wattdesk.application.ledger.late_fees import accrue_late_fees, waive_late_fee

        sh = ZoneInfo("Asia/Shanghai")
        clerk = user_of(company, roles.BILLING_CLERK)
        issue_bills(
            user=None,
            period=company.period,
            issued_at=datetime(2026, 11, 3, 9, tzinfo=sh),
            issued_on=date(2026, 11, 3),
        )
        accrue_late_fees(as_of=date(2026, 11, 30), run_at=datetime(2026, 12, 1, 1, tzinfo=sh))
        fee = (
            LedgerEntry.objects.filter(
                kind=LedgerEntryKind.LATE_FEE, account__in=accounts_for(clerk).values("pk")
            )
            .order_by("account_id", "id")
            .first()
        )
        assert fee is not None, "an overdue issued bill in the clerk's scope carries a late fee"
        account = Account.objects.get(pk=fee.account_id)
        owed = ledger.balance(account_id=account.pk)
        client = api_for(roles.BILLING_CLERK)
        posted = client.post(
            "/api/payments",
            body(account, "V-1", str(owed), received_at="2026-12-01T10:00:00+08:00"),
            content_type=JSON,
        )
        assert posted.status_code == 201, posted.content
        pid = posted.json()["payment_id"]
        before = client.get(f"/api/payments/{pid}").json()["allocations"]
        assert {a["kind"] for a in before} == {"charge", "late_fee"}
        assert not any(a["void"] for a in before) and all(a["voided_at"] is None for a in before)

        waived_at = datetime(2026, 12, 2, 9, 30, tzinfo=sh)
        waive_late_fee(bill_id=fee.bill_id, reason="系统故障", user=clerk, waived_at=waived_at)
        after = client.get(f"/api/payments/{pid}").json()["allocations"]
        assert [(a["kind"], a["amount"], a["ledger_entry_id"]) for a in after] == [
            (a["kind"], a["amount"], a["ledger_entry_id"]) for a in before
        ]
        for a in after:
            if a["ledger_entry_id"] == fee.pk:
                assert a["void"] is True
                assert datetime.fromisoformat(a["voided_at"]) == waived_at
            else:
                assert a["void"] is False and a["voided_at"] is None

        # a reversed payment's allocations all stop counting (the earlier of the two reversals is kept)
        reversed_ = client.post(f"/api/payments/{pid}/reverse", {"reason": "bank recall"}, content_type=JSON)
        assert reversed_.status_code == 200, reversed_.content
        final = client.get(f"/api/payments/{pid}").json()["allocations"]
        assert all(a["void"] for a in final)
        voided = {a["ledger_entry_id"]: datetime.fromisoformat(a["voided_at"]) for a in final}
        assert voided[fee.pk] == waived_at
        assert all(t > waived_at for e, t in voided.items() if e != fee.pk)
