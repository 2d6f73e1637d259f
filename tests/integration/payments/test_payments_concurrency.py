"""Posting exactly once under concurrency: threads with their own database connections race ``post_payment``
(committed transactions, as concurrent requests would). The insert of the payment is the idempotency check
(``ON CONFLICT DO NOTHING``): whoever loses the race has its ledger entry rolled back with its block and
answers ``duplicate`` — or the conflict, when it asked for another account. On PostgreSQL the callers really
run at once (the account lock serializes one account, the unique index decides between accounts). SQLite's
write transactions take turns (``BEGIN IMMEDIATE``, busy timeout); the in-memory test database shares one
cache between threads, where a second writer fails at once ("table is locked") instead of waiting, so there
the threads take turns explicitly: the same answers must come out."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from payments_helpers import at, issue_bill

from wattdesk.application.payments.posting import PaymentConflict, post_payment
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import balance
from wattdesk.domain.payments.models import Payment, PaymentAllocation

D = Decimal
CALLERS = 6


@pytest.fixture(autouse=True)
def _committed(transactional_db: None) -> None:
    """Each thread commits on its own connection: a transactional test."""


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once (a barrier), each in its own thread and connection; their results or errors."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)
    turns: Any = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()

    def run(i: int) -> None:
        try:
            barrier.wait(10)
            with turns:
                out[i] = calls[i]()
        except Exception as exc:
            out[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def pay(number: str, amount: str, txn: str) -> Callable[[], Any]:
    return lambda: post_payment(
        account_number=number, amount=amount, channel="bank", channel_txn_id=txn, received_at=at(2024, 4, 1)
    )


class TestExactlyOnce:
    def test_the_same_transaction_at_once_posts_one_payment_and_the_others_are_duplicates(
        self, account: Any
    ) -> None:
        issue_bill(account, "2024-01", "100.00", date(2024, 2, 15))
        results = race([pay(account.number, "60.00", "T-1") for _ in range(CALLERS)])
        assert not [r for r in results if isinstance(r, Exception)], results
        assert sorted(r.outcome for r in results) == ["duplicate"] * (CALLERS - 1) + ["posted"]
        assert len({r.payment_id for r in results}) == 1
        assert Payment.objects.count() == 1
        assert LedgerEntry.objects.filter(kind="payment").count() == 1
        assert PaymentAllocation.objects.get().amount == D("60.00")
        assert balance(account_id=account.pk) == D("40.00")

    def test_the_same_transaction_for_different_accounts_posts_once_and_the_rest_conflict(
        self, make_account: Any
    ) -> None:
        accounts = [make_account() for _ in range(CALLERS)]
        for a in accounts:
            issue_bill(a, "2024-01", "100.00", date(2024, 2, 15))
        results = race([pay(a.number, "60.00", "T-2") for a in accounts])
        posted = [r for r in results if not isinstance(r, Exception)]
        assert [r.outcome for r in posted] == ["posted"]
        assert all(isinstance(r, PaymentConflict) for r in results if isinstance(r, Exception))
        # the losers' ledger entries went with their rolled-back blocks
        assert Payment.objects.count() == 1
        assert LedgerEntry.objects.filter(kind="payment").count() == 1
        winner = Payment.objects.get()
        assert LedgerEntry.objects.get(kind="payment").account_id == winner.account_id
        for a in accounts:
            expected = D("40.00") if a.pk == winner.account_id else D("100.00")
            assert balance(account_id=a.pk) == expected

    def test_different_transactions_on_one_account_never_allocate_more_than_is_owed(
        self, account: Any
    ) -> None:
        issue_bill(account, "2024-01", "100.00", date(2024, 2, 15))
        results = race([pay(account.number, "30.00", f"T-3-{i}") for i in range(CALLERS)])
        assert [r.outcome for r in results] == ["posted"] * CALLERS
        assert Payment.objects.count() == CALLERS
        # the account lock serializes them: 100.00 allocated in all, the rest (80.00) is credit
        allocated = sum((a.amount for a in PaymentAllocation.objects.all()), D("0.00"))
        assert allocated == D("100.00")
        assert balance(account_id=account.pk) == D("100.00") - 30 * CALLERS
        last = max(results, key=lambda r: r.payment_id)
        assert last.credit == D("80.00") and last.balance == D("-80.00")
