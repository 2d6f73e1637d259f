"""The one checked path into the ledger (``domain.ledger.operations.post_entries``) and the one bulk writer
(``domain.bulk``), on SQLite and PostgreSQL.

* every entry is checked before anything is written; one bad entry refuses the whole call;
* the ledger table is protected: the ORM and the bulk writer refuse to insert outside the operation;
* ids come from the table's own sequence, so later ORM inserts never collide with bulk-written rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from wattdesk.domain import bulk
from wattdesk.domain.customers.models import Region
from wattdesk.domain.ledger import operations as ops
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind, LedgerWriteRefused
from wattdesk.domain.ledger.operations import InvalidPosting, Posting, post_entries

pytestmark = pytest.mark.django_db

D = Decimal


class TestPostEntries:
    def test_writes_every_entry_and_returns_their_ids_in_order(
        self, make_account: Any, posted_at: datetime
    ) -> None:
        a, b = make_account(), make_account()
        later = posted_at + timedelta(days=3, hours=2)
        ids = post_entries(
            entries=[
                Posting(a.pk, "charge", D("215.37"), posted_at, None, "2024-02 电费"),
                Posting(b.pk, LedgerEntryKind.PAYMENT, D("-100.00"), later, None, "counter:T1"),
                Posting(a.pk, "adjustment", D("-0.01"), posted_at),
                Posting(a.pk, "late_fee", D("0.01"), later.astimezone(UTC)),
            ]
        )
        assert len(ids) == 4 and list(ids) == sorted(ids)
        rows = {e.pk: e for e in LedgerEntry.objects.filter(pk__in=list(ids))}
        got = [
            (rows[i].account_id, rows[i].kind, rows[i].amount, rows[i].posted_at, rows[i].memo) for i in ids
        ]
        assert got == [
            (a.pk, "charge", D("215.37"), posted_at, "2024-02 电费"),
            (b.pk, "payment", D("-100.00"), later, "counter:T1"),
            (a.pk, "adjustment", D("-0.01"), posted_at, ""),
            (a.pk, "late_fee", D("0.01"), later, ""),
        ]

    def test_post_entry_is_the_one_entry_case(self, account: Any, posted_at: datetime) -> None:
        entry = ops.post_entry(account_id=account.pk, kind="charge", amount=D("9.99"), posted_at=posted_at)
        stored = LedgerEntry.objects.get()
        assert (entry.pk, entry.kind, entry.amount, entry.posted_at) == (
            stored.pk, stored.kind, stored.amount, stored.posted_at,
        )  # fmt: skip
        entry.memo = "changed"
        with pytest.raises(Exception, match="already posted"):
            entry.save()  # the returned instance is a posted entry, not a new one

    def test_a_reversal_goes_through_the_same_writer(self, account: Any, posted_at: datetime) -> None:
        (charge_id,) = post_entries(entries=[Posting(account.pk, "charge", D("88.80"), posted_at)])
        reversal = ops.reverse_entry(entry_id=charge_id, posted_at=posted_at, memo="misread")
        stored = LedgerEntry.objects.get(pk=reversal.pk)
        assert (stored.kind, stored.amount, stored.reverses_id, stored.memo) == (
            "reversal", D("-88.80"), charge_id, "misread",
        )  # fmt: skip
        with pytest.raises(ops.AlreadyReversed):
            ops.reverse_entry(entry_id=charge_id, posted_at=posted_at)

    def test_ten_thousand_entries_in_one_call(self, account: Any, posted_at: datetime) -> None:
        ids = post_entries(entries=[Posting(account.pk, "charge", D("0.10"), posted_at)] * 10_000)
        assert len(set(ids)) == 10_000
        assert LedgerEntry.objects.count() == 10_000

    def test_nothing_to_post(self) -> None:
        assert list(post_entries(entries=[])) == []


BAD = [
    pytest.param("charge", D("1.005"), None, "not rounded to the fen", id="fraction-of-a-fen"),
    pytest.param("charge", D("0.001"), None, "not rounded to the fen", id="a-tenth-of-a-fen"),
    pytest.param("charge", D("0"), None, "must not be zero", id="zero"),
    pytest.param("charge", D("-0.00"), None, "must not be zero", id="negative-zero"),
    pytest.param("charge", D("10.00"), "naive", "timezone-aware", id="naive-datetime"),
    pytest.param("charge", 10.5, None, "must be a Decimal", id="float"),
    pytest.param("charge", 10, None, "must be a Decimal", id="int"),
    pytest.param("charge", D("NaN"), None, "not a finite number", id="nan"),
    pytest.param("charge", D("Infinity"), None, "not a finite number", id="infinity"),
    pytest.param("charge", D("1000000000000.00"), None, "exceeds", id="beyond-the-column"),
    pytest.param("charge", D("1E+30"), None, "exceeds", id="beyond-the-decimal-context"),
    pytest.param("payment", D("50.00"), None, "must be negative", id="positive-payment"),
    pytest.param("write_off", D("5.00"), None, "must be negative", id="positive-write-off"),
    pytest.param("late_fee", D("-1.00"), None, "must be positive", id="negative-late-fee"),
    pytest.param("refund", D("-1.00"), None, "must be positive", id="negative-refund"),
    pytest.param("reversal", D("-5.00"), None, "reverse_entry", id="reversal-without-target"),
    pytest.param("bonus", D("5.00"), None, "unknown kind", id="unknown-kind"),
    pytest.param("charge", D("5.00"), "long-memo", "memo", id="memo-too-long"),
]


class TestInvalidEntriesAreRefusedAndNothingIsWritten:
    @pytest.mark.parametrize(("kind", "amount", "variant", "message"), BAD)
    def test_one_bad_entry_refuses_the_whole_batch(
        self, account: Any, posted_at: datetime, kind: str, amount: Any, variant: str | None, message: str
    ) -> None:
        at = posted_at.replace(tzinfo=None) if variant == "naive" else posted_at
        memo = "x" * 301 if variant == "long-memo" else ""
        good = Posting(account.pk, "charge", D("12.34"), posted_at)
        bad = Posting(account.pk, kind, amount, at, None, memo)
        with pytest.raises(InvalidPosting, match=message) as refused:
            post_entries(entries=[good, good, bad, good])
        assert "entry 2" in str(refused.value)
        assert LedgerEntry.objects.count() == 0

    def test_post_entry_refuses_the_same(self, account: Any, posted_at: datetime) -> None:
        with pytest.raises(InvalidPosting, match="timezone-aware"):
            ops.post_entry(
                account_id=account.pk,
                kind="charge",
                amount=D("1.00"),
                posted_at=posted_at.replace(tzinfo=None),
            )
        assert LedgerEntry.objects.count() == 0

    def test_a_database_error_leaves_none_of_the_rows(self, account: Any, posted_at: datetime) -> None:
        # the checks pass, the database refuses (an entry reversed twice in one call): all or nothing
        (charge_id,) = post_entries(entries=[Posting(account.pk, "charge", D("5.00"), posted_at)])
        row = (account.pk, "reversal", D("-5.00"), None, posted_at, charge_id, "")
        with pytest.raises(IntegrityError), transaction.atomic():
            ops._write([row, row])
        assert LedgerEntry.objects.count() == 1


class TestOnlyTheOperationWritesTheLedger:
    def test_the_orm_refuses_to_create(self, account: Any, posted_at: datetime) -> None:
        with pytest.raises(LedgerWriteRefused):
            LedgerEntry.objects.create(account=account, kind="charge", amount=D("1.00"), posted_at=posted_at)
        with pytest.raises(LedgerWriteRefused):
            LedgerEntry(account=account, kind="charge", amount=D("1.00"), posted_at=posted_at).save()
        assert LedgerEntry.objects.count() == 0

    def test_the_orm_refuses_to_bulk_create(self, account: Any, posted_at: datetime) -> None:
        with pytest.raises(LedgerWriteRefused):
            LedgerEntry.objects.bulk_create(
                [LedgerEntry(account=account, kind="charge", amount=D("1.00"), posted_at=posted_at)]
            )
        assert LedgerEntry.objects.count() == 0

    def test_the_bulk_writer_refuses_the_ledger_table(self, account: Any, posted_at: datetime) -> None:
        at = (
            connection.ops.adapt_datetimefield_value(posted_at)
            if connection.vendor == "sqlite"
            else posted_at
        )
        with pytest.raises(bulk.BulkWriteError, match="domain operation"):
            bulk.insert_rows(
                LedgerEntry,
                ("account", "kind", "amount", "posted_at", "memo"),
                [(account.pk, "charge", D("1.00"), at, "")],
            )
        assert LedgerEntry.objects.count() == 0

    def test_the_permission_ends_with_the_operation(self, account: Any, posted_at: datetime) -> None:
        post_entries(entries=[Posting(account.pk, "charge", D("1.00"), posted_at)])
        assert not bulk.is_open(LedgerEntry)
        with pytest.raises(LedgerWriteRefused):
            LedgerEntry.objects.create(account=account, kind="charge", amount=D("1.00"), posted_at=posted_at)


class TestTheBulkWriter:
    def test_later_orm_inserts_do_not_collide(self) -> None:
        with transaction.atomic():
            ids = bulk.reserve_ids(Region, 3)
            bulk.insert_rows(Region, ("id", "code", "name"), [(i, f"B{i}", "批量") for i in ids])
        created = Region.objects.create(code="ORM", name="单个")
        assert created.pk > max(ids)
        with transaction.atomic():
            block = bulk.reserve_block(Region, 2)
        assert isinstance(block, range) and block.start > created.pk
        assert Region.objects.count() == 4

    def test_database_errors_come_out_as_djangos(self) -> None:
        with transaction.atomic():
            (pk,) = bulk.reserve_ids(Region, 1)
            bulk.insert_rows(Region, ("id", "code", "name"), [(pk, "DUP", "一")])
        with pytest.raises(IntegrityError), transaction.atomic():
            bulk.insert_rows(Region, ("id", "code", "name"), [(pk + 1000, "DUP", "二")])
        assert Region.objects.filter(code="DUP").count() == 1

    @pytest.mark.django_db(transaction=True)
    def test_refuses_to_run_outside_a_transaction(self) -> None:
        assert not connection.in_atomic_block
        with pytest.raises(bulk.BulkWriteError, match="atomic"):
            bulk.reserve_ids(Region, 1)
        with pytest.raises(bulk.BulkWriteError, match="atomic"):
            bulk.insert_rows(Region, ("code", "name"), [("X", "外")])
        assert not Region.objects.exists()

    def test_ids_that_are_not_one_range_come_back_one_by_one(self) -> None:
        if connection.vendor != "postgresql":
            pytest.skip("SQLite reserves max(id) + 1 under its write lock: always one range")
        with connection.cursor() as cur:  # as if another session drew every other id meanwhile
            cur.execute(
                "ALTER SEQUENCE customers_region_id_seq INCREMENT BY 2"
            )  # undone with the test's rollback
        with transaction.atomic():
            ids = bulk.reserve_ids(Region, 4)
            assert isinstance(ids, bulk.IdList) and len(ids) == 4
            assert list(ids) == sorted(ids) and ids[1] - ids[0] == 2
            bulk.insert_rows(Region, ("id", "code", "name"), [(i, f"S{i}", "散") for i in ids])
        assert sorted(Region.objects.values_list("id", flat=True)) == list(ids)
