"""对账 from an uploaded statement: strict row/column errors (nothing stored), every mismatch, one audit entry."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from auditlog.models import LogEntry
from payments_helpers import at

from wattdesk.application.payments.channels.gateway_reconciliation import (
    KINDS,
    StatementError,
    check_statement,
    mismatches_csv,
    reconcile_upload,
)
from wattdesk.application.payments.posting import post_payment

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 27)
HEADER = "txn_id,order_no,amount,paid_at\n"


def audits() -> list[LogEntry]:
    return list(LogEntry.objects.filter(additional_data__batch="gateway.reconcile"))


@pytest.fixture
def posted(account: Any) -> Any:
    for txn, amount, hour in (("T1", "120.50", 10), ("T2", "30.00", 11), ("T3", "10.00", 12)):
        post_payment(account_number=account.number, amount=amount, channel="mobile", channel_txn_id=txn,
                     received_at=at(2026, 11, 27, hour))  # fmt: skip
    return account


class TestReconcileUpload:
    def test_every_mismatch_with_counts_by_kind_and_an_audit_entry(
        self, posted: Any, django_user_model: Any
    ) -> None:
        user = django_user_model.objects.create_user("fin", password="x")
        content = (
            HEADER
            + "T1,,120.50,2026-11-27T10:00:00+08:00\n"
            + "T3,,10.01,2026-11-27T12:00:00+08:00\n"
            + "T9,WDX,5.00,2026-11-27T13:00:00+08:00\n"
            + "\n"
        ).encode()
        result = reconcile_upload(content=content, day=DAY, user=user, now=at(2026, 11, 28, 9))
        assert result.lines == 3 and not result.agrees
        got = [(m.kind, m.txn_id, m.statement_amount, m.wattdesk_amount) for m in result.mismatches]
        assert got == [
            ("amount_differs", "T3", Decimal("10.01"), Decimal("10.00")),
            ("missing_in_statement", "T2", None, Decimal("30.00")),
            ("missing_in_wattdesk", "T9", Decimal("5.00"), None),
        ]
        assert list(result.counts) == list(KINDS)
        assert result.counts["amount_differs"] == 1 and result.counts["day_differs"] == 0
        [entry] = audits()
        assert entry.actor == user
        assert entry.changes["by_kind"] == [
            None,
            {"amount_differs": 1, "missing_in_statement": 1, "missing_in_wattdesk": 1},
        ]
        assert mismatches_csv(result.mismatches).splitlines() == [
            "kind,txn_id,order_no,statement_amount,wattdesk_amount,detail",
            "amount_differs,T3,,10.01,10.00,",
            "missing_in_statement,T2,,,30.00,",
            "missing_in_wattdesk,T9,WDX,5.00,,",
        ]

    def test_a_quoted_line_break_is_read_the_same_by_the_check_and_the_reconciliation(
        self, posted: Any, django_user_model: Any
    ) -> None:
        user = django_user_model.objects.create_user("fin2", password="x")
        content = (
            HEADER
            + 'T9,"WD\nX",5.00,2026-11-27T13:00:00+08:00\n'
            + "T8,WD\u2028Y,6.00,2026-11-27T13:00:00+08:00\n"
        ).encode()
        result = reconcile_upload(content=content, day=DAY, user=user, now=at(2026, 11, 28, 9))
        got = [(m.kind, m.txn_id, m.order_no) for m in result.mismatches if m.kind == "missing_in_wattdesk"]
        assert result.lines == 2
        assert got == [("missing_in_wattdesk", "T8", "WD\u2028Y"), ("missing_in_wattdesk", "T9", "WD\nX")]

    def test_a_matching_statement_agrees(self, posted: Any) -> None:
        content = (
            "\ufeff"
            + HEADER
            + "T1,,120.50,2026-11-27T10:00:00+08:00\nT2,,30.00,2026-11-27T11:00:00+08:00\n"
            + "T3,,10.00,2026-11-27T12:00:00+08:00\n"
        ).encode()
        result = reconcile_upload(content=content, day=DAY, user=None, now=at(2026, 11, 28, 9))
        assert result.agrees and result.lines == 3 and sum(result.counts.values()) == 0

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"a,b\n", "row 1: the header must be txn_id,order_no,amount,paid_at"),
            ((HEADER + "T1,O,1.00\n").encode(), "row 2: expected 4 columns, got 3"),
            ((HEADER + ",O,1.00,2026-11-27T10:00:00+08:00\n").encode(), "row 2, column txn_id: empty"),
            (
                (
                    HEADER + "T1,O,1.00,2026-11-27T10:00:00+08:00\nT2,O,12.345,2026-11-27T10:00:00+08:00\n"
                ).encode(),
                "row 3, column amount: '12.345' is not an amount in yuan",
            ),
            ((HEADER + "T1,O,abc,2026-11-27T10:00:00+08:00\n").encode(), "row 2, column amount"),
            ((HEADER + "T1,O,1.00,2026-11-27T10:00:00\n").encode(), "row 2, column paid_at"),
            ((HEADER + "T1,O,1.00,yesterday\n").encode(), "row 2, column paid_at"),
            (
                "txn_id,order_no,amount,paid_at\nT1,é".encode("latin-1"),
                "line 2: cannot tell the text encoding",
            ),
        ],
    )
    def test_a_bad_file_names_row_and_column_and_stores_nothing(
        self, posted: Any, content: bytes, message: str
    ) -> None:
        with pytest.raises(StatementError) as exc:
            reconcile_upload(content=content, day=DAY, user=None, now=at(2026, 11, 28, 9), name="s.csv")
        assert message in str(exc.value) and str(exc.value).startswith("s.csv")
        assert audits() == []

    def test_check_counts_data_rows(self) -> None:
        assert check_statement((HEADER + "T1,,1.00,2026-11-27T10:00:00+08:00\n\n").encode()) == 1
