"""LedgerEntry is append-only: refused by the model, the queryset and (for raw SQL) by database triggers.

Runs on SQLite and, with WATTDESK_TEST_POSTGRES_URL, on PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, Sum

from wattdesk.domain import bulk
from wattdesk.domain.ledger.models import LedgerEntry, LedgerImmutableError

pytestmark = pytest.mark.django_db


def _post(
    account: Any, posted_at: datetime, amount: str = "123.45", kind: str = "charge", **kw: Any
) -> LedgerEntry:
    # Straight to the table, past the checked path (domain.ledger.operations): these tests are about what the
    # model and the database refuse on their own.
    with bulk.opened(LedgerEntry):
        return LedgerEntry.objects.create(
            account=account, kind=kind, amount=Decimal(amount), posted_at=posted_at, **kw
        )


class TestLedgerEntryRefusesChangesInPython:
    def test_refuses_to_save_an_existing_entry_again(self, account: Any, posted_at: datetime) -> None:
        entry = _post(account, posted_at)
        entry.amount = Decimal("1.00")
        with pytest.raises(LedgerImmutableError):
            entry.save()
        entry.refresh_from_db()
        assert entry.amount == Decimal("123.45")

    def test_refuses_to_delete_an_entry(self, account: Any, posted_at: datetime) -> None:
        entry = _post(account, posted_at)
        with pytest.raises(LedgerImmutableError):
            entry.delete()
        assert LedgerEntry.objects.filter(pk=entry.pk).exists()

    def test_refuses_queryset_update_and_delete(self, account: Any, posted_at: datetime) -> None:
        _post(account, posted_at)
        with pytest.raises(LedgerImmutableError):
            LedgerEntry.objects.filter(account=account).update(amount=Decimal("0.01"))
        with pytest.raises(LedgerImmutableError):
            LedgerEntry.objects.all().delete()
        assert LedgerEntry.objects.get().amount == Decimal("123.45")

    def test_deleting_the_account_is_refused_not_cascaded(self, account: Any, posted_at: datetime) -> None:
        _post(account, posted_at)
        with pytest.raises(ProtectedError):
            account.delete()
        assert LedgerEntry.objects.count() == 1


class TestLedgerEntryRefusesChangesInTheDatabase:
    def test_raw_sql_update_is_aborted_by_the_trigger(self, account: Any, posted_at: datetime) -> None:
        entry = _post(account, posted_at)
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("UPDATE ledger_ledgerentry SET amount = 1 WHERE id = %s", [entry.pk])
        entry.refresh_from_db()
        assert entry.amount == Decimal("123.45")

    def test_raw_sql_delete_is_aborted_by_the_trigger(self, account: Any, posted_at: datetime) -> None:
        entry = _post(account, posted_at)
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("DELETE FROM ledger_ledgerentry WHERE id = %s", [entry.pk])
        assert LedgerEntry.objects.filter(pk=entry.pk).exists()

    def test_zero_amount_is_rejected_by_the_check_constraint(self, account: Any, posted_at: datetime) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            _post(account, posted_at, amount="0.00")
        assert LedgerEntry.objects.count() == 0


class TestReversals:
    def test_a_reversal_cancels_the_original_in_the_balance(self, account: Any, posted_at: datetime) -> None:
        charge = _post(account, posted_at, amount="88.80")
        _post(account, posted_at, amount="-88.80", kind="reversal", reverses=charge, memo="wrong reading")
        _post(account, posted_at, amount="80.00")
        balance = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"]
        assert balance == Decimal("80.00")

    def test_an_entry_can_be_reversed_only_once(self, account: Any, posted_at: datetime) -> None:
        charge = _post(account, posted_at, amount="10.00")
        _post(account, posted_at, amount="-10.00", kind="reversal", reverses=charge)
        with pytest.raises(IntegrityError), transaction.atomic():
            _post(account, posted_at, amount="-10.00", kind="reversal", reverses=charge)

    def test_a_reversal_must_name_the_entry_it_reverses(self, account: Any, posted_at: datetime) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            _post(account, posted_at, amount="-10.00", kind="reversal")

    def test_only_a_reversal_may_name_a_reversed_entry(self, account: Any, posted_at: datetime) -> None:
        charge = _post(account, posted_at, amount="10.00")
        with pytest.raises(IntegrityError), transaction.atomic():
            _post(account, posted_at, amount="-10.00", kind="adjustment", reverses=charge)


@pytest.mark.django_db(transaction=True)
class TestFlushAfterTransactionalTests:
    def test_transactional_test_with_ledger_rows_can_be_flushed(
        self, account: Any, posted_at: datetime
    ) -> None:
        # Leaves a row behind: the teardown flush must get past the triggers (conftest) and the next
        # test must still see the guard in place.
        _post(account, posted_at)

    def test_guard_is_back_after_a_flush(self, account: Any, posted_at: datetime) -> None:
        entry = _post(account, posted_at)
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE ledger_ledgerentry SET memo = 'x' WHERE id = %s", [entry.pk])


class TestLedgerOperationsAndQueries:
    def test_post_reverse_and_balance(self, account: Any, posted_at: datetime) -> None:
        from wattdesk.domain.ledger import operations, queries

        charge = operations.post_entry(
            account_id=account.pk, kind="charge", amount=Decimal("215.37"), posted_at=posted_at
        )
        operations.post_entry(
            account_id=account.pk, kind="payment", amount=Decimal("-100.00"), posted_at=posted_at
        )
        reversal = operations.reverse_entry(entry_id=charge.pk, posted_at=posted_at, memo="meter misread")
        assert reversal.amount == Decimal("-215.37")
        assert queries.balance(account_id=account.pk) == Decimal("-100.00")
        assert queries.balances(account_ids=[account.pk, 999_999]) == {
            account.pk: Decimal("-100.00"),
            999_999: Decimal("0.00"),
        }
        with pytest.raises(operations.AlreadyReversed):
            operations.reverse_entry(entry_id=charge.pk, posted_at=posted_at)
        with pytest.raises(operations.InvalidPosting):
            operations.reverse_entry(entry_id=reversal.pk, posted_at=posted_at)

    @pytest.mark.parametrize(
        ("amount", "kind"),
        [(Decimal("0"), "charge"), (Decimal("1.005"), "charge"), (Decimal("5"), "reversal")],
    )
    def test_post_entry_refuses_bad_postings(
        self, account: Any, posted_at: datetime, amount: Decimal, kind: str
    ) -> None:
        from wattdesk.domain.ledger import operations

        with pytest.raises(operations.InvalidPosting):
            operations.post_entry(account_id=account.pk, kind=kind, amount=amount, posted_at=posted_at)
        assert LedgerEntry.objects.count() == 0
