"""The mobile / online channel: gateway callbacks (signature, amount, order, replay, exactly-once posting)
and the daily reconciliation against the gateway's statement (对账)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from payments_helpers import at, issue_bill

from wattdesk.application.errors import InputError
from wattdesk.application.payments.channels import gateway
from wattdesk.application.payments.posting import post_payment
from wattdesk.core.gateway_signing import sign
from wattdesk.domain.gateway.models import CallbackLog, PaymentOrder
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.payments.models import Payment

SECRET = "test-gateway-secret"
NOW = at(2026, 11, 27, 10)


@pytest.fixture(autouse=True)
def _secret(settings: Any) -> None:
    settings.WATTDESK_GATEWAY_SECRET = SECRET


@pytest.fixture
def admin(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("gw_admin", "a@example.com", "x-Pass-2026!")


@pytest.fixture
def order(account: Any, admin: Any) -> PaymentOrder:
    issue_bill(account, "2026-10", "120.50", date(2026, 11, 20))
    return gateway.create_order(user=admin, account_number=account.number, amount="120.50", created_at=NOW)


def body(order_no: str, txn: str = "T1", amount: str = "120.50", *, ts: datetime = NOW, nonce: str = "n1",
         status: str = "paid") -> bytes:  # fmt: skip
    return json.dumps(
        {"order_no": order_no, "txn_id": txn, "amount": amount, "status": status,
         "paid_at": (NOW - timedelta(seconds=5)).isoformat(), "timestamp": int(ts.timestamp()), "nonce": nonce}
    ).encode()  # fmt: skip


def call(raw: bytes, *, signature: str | None = None, received_at: datetime = NOW) -> gateway.CallbackResult:
    return gateway.handle_callback(
        body=raw,
        signature=sign(secret=SECRET, body=raw) if signature is None else signature,
        received_at=received_at,
    )


class TestCallback:
    def test_posts_once_and_marks_the_order_paid(self, order: PaymentOrder) -> None:
        r = call(body(order.order_no))
        assert (r.http_status, r.outcome) == (200, "posted")
        order.refresh_from_db()
        assert (order.status, order.channel_txn_id, order.paid_at) == (
            "paid",
            "T1",
            NOW - timedelta(seconds=5),
        )
        p = Payment.objects.get(channel="mobile", channel_txn_id="T1")
        assert (p.amount, p.account_id, p.received_on) == (
            Decimal("120.50"),
            order.account_id,
            date(2026, 11, 27),
        )
        assert p.ledger_entry.amount == Decimal("-120.50")
        assert p.allocations.get().amount == Decimal("120.50")

    def test_the_same_callback_again_is_already_processed(self, order: PaymentOrder) -> None:
        raw = body(order.order_no)
        assert call(raw).outcome == "posted"
        again = call(raw, received_at=NOW + timedelta(seconds=30))
        assert (again.http_status, again.outcome, again.detail) == (200, "duplicate", "already processed")
        resent = call(body(order.order_no, nonce="n2"))  # the gateway re-signs a retry with a new nonce
        assert (resent.http_status, resent.outcome) == (200, "duplicate")
        assert Payment.objects.filter(channel_txn_id="T1").count() == 1
        assert LedgerEntry.objects.filter(kind="payment", account_id=order.account_id).count() == 1

    def test_bad_signature_is_400_and_posts_nothing(self, order: PaymentOrder) -> None:
        raw = body(order.order_no)
        r = call(raw, signature=sign(secret="other", body=raw))
        assert (r.http_status, r.outcome) == (400, "bad_signature")
        tampered = raw.replace(b"120.50", b"1.00")
        assert call(tampered, signature=sign(secret=SECRET, body=raw)).outcome == "bad_signature"
        assert call(raw, signature="").http_status == 400
        assert not Payment.objects.exists()
        log = CallbackLog.objects.order_by("id").first()
        assert log is not None and (log.signature_ok, log.outcome, log.http_status) == (
            False,
            "bad_signature",
            400,
        )

    def test_unknown_order_is_404(self, order: PaymentOrder) -> None:
        r = call(body("WDNOSUCHORDER"))
        assert (r.http_status, r.outcome) == (404, "unknown_order")
        assert not Payment.objects.exists()

    def test_amount_mismatch_is_409_and_logged(self, order: PaymentOrder) -> None:
        r = call(body(order.order_no, amount="12.05"))
        assert (r.http_status, r.outcome) == (409, "amount_mismatch")
        assert r.detail == "amount 12.05 differs from the order's 120.50"
        order.refresh_from_db()
        assert order.status == "created" and not Payment.objects.exists()
        log = CallbackLog.objects.get()
        assert (log.order_no, log.txn_id, log.outcome, log.signature_ok) == (
            order.order_no,
            "T1",
            "amount_mismatch",
            True,
        )

    def test_old_timestamp_is_a_replay(self, order: PaymentOrder) -> None:
        r = call(body(order.order_no, ts=NOW - timedelta(seconds=301)))
        assert (r.http_status, r.outcome) == (400, "replay")
        assert call(body(order.order_no, ts=NOW - timedelta(seconds=300))).outcome == "posted"

    def test_a_nonce_reused_on_another_message_is_a_replay(
        self, order: PaymentOrder, account: Any, admin: Any
    ) -> None:
        assert call(body(order.order_no, nonce="same")).outcome == "posted"
        other = gateway.create_order(user=admin, account_number=account.number, amount="5.00", created_at=NOW)
        r = call(body(other.order_no, txn="T2", amount="5.00", nonce="same"))
        assert (r.http_status, r.outcome) == (400, "replay")
        assert not Payment.objects.filter(channel_txn_id="T2").exists()

    def test_a_second_transaction_for_a_paid_order_is_a_conflict(self, order: PaymentOrder) -> None:
        assert call(body(order.order_no)).outcome == "posted"
        r = call(body(order.order_no, txn="T9", nonce="n9"))
        assert (r.http_status, r.outcome) == (409, "conflict")
        assert list(Payment.objects.values_list("channel_txn_id", flat=True)) == ["T1"]

    def test_malformed_body_and_failed_status(self, order: PaymentOrder) -> None:
        raw = b'{"order_no": "x"}'
        r = call(raw)
        assert (r.http_status, r.outcome) == (400, "bad_request")
        assert r.detail == "missing fields: txn_id, amount, status, paid_at, timestamp, nonce"
        assert call(body(order.order_no, amount="120.5")).outcome == "posted"  # 120.5 == 120.50
        assert call(b"not json").outcome == "bad_request"

    @pytest.mark.parametrize(
        "amount", ["1e20", "99999999999999.99", "1e999999", "NaN", "-Infinity", "1_20.50"]
    )
    def test_a_signed_callback_with_an_impossible_amount_is_400_with_the_reason(
        self, order: PaymentOrder, amount: str
    ) -> None:
        r = call(body(order.order_no, amount=amount))
        assert (r.http_status, r.outcome) == (400, "bad_request")
        assert r.detail.startswith("amount ")
        assert not Payment.objects.exists()
        assert CallbackLog.objects.get().outcome == "bad_request"

    def test_failed_payment_marks_the_order_failed(self, order: PaymentOrder) -> None:
        r = call(body(order.order_no, status="failed"))
        assert (r.http_status, r.outcome) == (200, "failed")
        order.refresh_from_db()
        assert order.status == "failed" and not Payment.objects.exists()

    def test_no_secret_configured_refuses_everything(self, order: PaymentOrder, settings: Any) -> None:
        settings.WATTDESK_GATEWAY_SECRET = ""
        assert call(body(order.order_no), signature=sign(secret="", body=b"")).http_status == 503


class TestEndpoint:
    def test_post_is_public_and_csrf_exempt_get_is_405(
        self, order: PaymentOrder, freezer: Any = None
    ) -> None:
        client = Client(enforce_csrf_checks=True)
        assert client.get("/gateway/callback/").status_code == 405
        raw = body(order.order_no, ts=datetime.now(tz=NOW.tzinfo))
        r = client.post("/gateway/callback/", raw, content_type="application/json",
                        headers={"X-Signature": sign(secret=SECRET, body=raw)})  # fmt: skip
        assert r.status_code == 200 and r.json() == {"outcome": "posted", "detail": "posted"}
        r = client.post(
            "/gateway/callback/", raw, content_type="application/json", headers={"X-Signature": "00"}
        )
        assert r.status_code == 400 and r.json()["outcome"] == "bad_signature"

    def test_a_non_ascii_signature_header_is_400_not_500(self, order: PaymentOrder) -> None:
        raw = body(order.order_no, ts=datetime.now(tz=NOW.tzinfo))
        good = sign(secret=SECRET, body=raw)
        for signature in ("签名", "é" + good[1:]):
            r = Client().post("/gateway/callback/", raw, content_type="application/json",
                              headers={"X-Signature": signature})  # fmt: skip
            assert r.status_code == 400 and r.json()["outcome"] == "bad_signature"
        assert not Payment.objects.exists()


class TestCreateOrder:
    def test_validates_amount_and_scope(self, account: Any, admin: Any, django_user_model: Any) -> None:
        o = gateway.create_order(user=admin, account_number=account.number, amount="88.8", created_at=NOW)
        assert (
            o.amount == Decimal("88.80")
            and o.status == "created"
            and o.order_no.startswith("WD20261127100000")
        )
        assert len(o.order_no) == 26
        for bad in ("0", "-1", "1.001", "abc", "2000000"):
            with pytest.raises(InputError):
                gateway.create_order(user=admin, account_number=account.number, amount=bad, created_at=NOW)
        stranger = django_user_model.objects.create_user("nobody", password="x-Pass-2026!")
        with pytest.raises(gateway.AccountNotFound):
            gateway.create_order(user=stranger, account_number=account.number, amount="1", created_at=NOW)


def write_statement(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    path.write_text(
        "txn_id,order_no,amount,paid_at\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8"
    )
    return path


class TestReconcile:
    def test_lists_every_mismatch_exactly(
        self, order: PaymentOrder, account: Any, admin: Any, tmp_path: Path
    ) -> None:
        assert call(body(order.order_no, txn="T1")).outcome == "posted"  # agrees with the statement
        o2 = gateway.create_order(user=admin, account_number=account.number, amount="30.00", created_at=NOW)
        assert (
            call(body(o2.order_no, txn="T2", amount="30.00", nonce="n2")).outcome == "posted"
        )  # not in statement
        # posted directly on the channel (no order), amount differs from the statement
        post_payment(account_number=account.number, amount="10.00", channel="mobile", channel_txn_id="T3",
                     received_at=at(2026, 11, 27, 11))  # fmt: skip
        # posted the day before: the statement says today
        post_payment(account_number=account.number, amount="7.00", channel="mobile", channel_txn_id="T5",
                     received_at=at(2026, 11, 26, 11))  # fmt: skip
        # a counter payment the same day is not the gateway's business
        post_payment(account_number=account.number, amount="9.00", channel="counter", channel_txn_id="T2",
                     received_at=at(2026, 11, 27, 11))  # fmt: skip
        stmt = write_statement(tmp_path / "s.csv", [
            ("T1", order.order_no, "120.50", "2026-11-27T09:59:55+08:00"),
            ("T3", "", "10.01", "2026-11-27T11:00:00+08:00"),
            ("T4", "WDLOST", "55.00", "2026-11-27T12:00:00+08:00"),
            ("T5", "", "7.00", "2026-11-27T00:00:01+08:00"),
            ("T4", "WDLOST", "55.00", "2026-11-27T12:00:00+08:00"),
        ])  # fmt: skip
        got = [(m.kind, m.txn_id, m.statement_amount, m.wattdesk_amount) for m in
               gateway.reconcile(statement_path=stmt, day=date(2026, 11, 27))]  # fmt: skip
        assert got == [
            ("amount_differs", "T3", Decimal("10.01"), Decimal("10.00")),
            ("day_differs", "T5", Decimal("7.00"), Decimal("7.00")),
            ("duplicate_in_statement", "T4", Decimal("55.00"), None),
            ("missing_in_statement", "T2", None, Decimal("30.00")),
            ("missing_in_wattdesk", "T4", Decimal("55.00"), None),
        ]

    def test_a_matching_statement_has_no_mismatch(self, order: PaymentOrder, tmp_path: Path) -> None:
        assert call(body(order.order_no)).outcome == "posted"
        stmt = write_statement(
            tmp_path / "s.csv", [("T1", order.order_no, "120.50", "2026-11-27T09:59:55+08:00")]
        )
        assert gateway.reconcile(statement_path=stmt, day=date(2026, 11, 27)) == []

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("a,b\n", "row 1: the header must be txn_id,order_no,amount,paid_at"),
            (
                "txn_id,order_no,amount,paid_at\nT1,O,abc,2026-11-27T10:00:00+08:00\n",
                "row 2, column amount: 'abc' is not an amount in yuan",
            ),
            ("txn_id,order_no,amount,paid_at\nT1,O,1.00\n", "row 2: expected 4 columns, got 3"),
            (
                "txn_id,order_no,amount,paid_at\nT1,O,1.00,2026-11-27T10:00:00\n",
                "row 2, column paid_at: '2026-11-27T10:00:00' is not an ISO 8601 date-time with a UTC offset",
            ),
            # the CLI used to accept these (lenient parser); the upload refused them: one strict parser now
            (
                "txn_id,order_no,amount,paid_at\nT1,O,12.345,2026-11-27T10:00:00+08:00\n",
                "row 2, column amount: '12.345' is not an amount in yuan",
            ),
            (
                "txn_id,order_no,amount,paid_at\nT1,O,1e3,2026-11-27T10:00:00+08:00\n",
                "row 2, column amount: '1e3' is not an amount in yuan",
            ),
            (
                f"txn_id,order_no,amount,paid_at\n{'T' * 65},O,1.00,2026-11-27T10:00:00+08:00\n",
                "row 2, column txn_id: longer than 64 characters",
            ),
            (
                f"txn_id,order_no,amount,paid_at\nT1,{'O' * 65},1.00,2026-11-27T10:00:00+08:00\n",
                "row 2, column order_no: longer than 64 characters",
            ),
        ],
    )
    def test_bad_statement_is_one_clear_error(
        self, tmp_path: Path, text: str, message: str, db: None
    ) -> None:
        path = tmp_path / "bad.csv"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=message):
            gateway.reconcile(statement_path=path, day=date(2026, 11, 27))
        with pytest.raises(InputError, match="no statement file"):
            gateway.reconcile(statement_path=tmp_path / "none.csv", day=date(2026, 11, 27))


def test_cli_reconcile_bad_file_exits_2_with_one_line(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "wattdesk", "gateway", "reconcile", "--file", str(tmp_path / "x.csv"),
                        "--date", "2026-11-27"], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "WATTDESK_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
                            "WATTDESK_DATA_DIR": str(tmp_path)})  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"wattdesk gateway: error: no statement file {tmp_path / 'x.csv'}"
    ]


class TestReconcileCli:
    def test_json_lists_mismatches_and_exits_1_then_0_when_clean(
        self, order: PaymentOrder, tmp_path: Path, capsys: Any
    ) -> None:
        from wattdesk.interfaces.cli import main

        assert call(body(order.order_no)).outcome == "posted"
        stmt = write_statement(tmp_path / "s.csv", [("T7", "WDX", "3.00", "2026-11-27T08:00:00+08:00")])
        assert main(["gateway", "reconcile", "--file", str(stmt), "--date", "2026-11-27", "--json"]) == 1
        out = json.loads(capsys.readouterr().out)
        assert out == {
            "date": "2026-11-27",
            "mismatches": [
                {"kind": "missing_in_statement", "txn_id": "T1", "order_no": order.order_no,
                 "statement_amount": None, "wattdesk_amount": "120.50", "detail": ""},
                {"kind": "missing_in_wattdesk", "txn_id": "T7", "order_no": "WDX",
                 "statement_amount": "3.00", "wattdesk_amount": None, "detail": ""},
            ],
        }  # fmt: skip
        clean = write_statement(
            tmp_path / "c.csv", [("T1", order.order_no, "120.50", "2026-11-27T09:59:55+08:00")]
        )
        assert main(["gateway", "reconcile", "--file", str(clean), "--date", "2026-11-27"]) == 0
        assert capsys.readouterr().out == "2026-11-27: 0 mismatch(es)\n"


def test_a_reversed_mobile_payment_is_not_money_wattdesk_holds(order: PaymentOrder, tmp_path: Path) -> None:
    """The gateway settled T1 but WattDesk reversed (冲正) the payment: reconciliation must show it."""
    from wattdesk.application.payments.posting import reverse_payment

    assert call(body(order.order_no)).outcome == "posted"
    stmt = write_statement(
        tmp_path / "s.csv", [("T1", order.order_no, "120.50", "2026-11-27T09:59:55+08:00")]
    )
    assert gateway.reconcile(statement_path=stmt, day=date(2026, 11, 27)) == []
    reverse_payment(
        channel="mobile", channel_txn_id="T1", reason="duplicate", reversed_at=NOW + timedelta(hours=1)
    )
    kinds = [m.kind for m in gateway.reconcile(statement_path=stmt, day=date(2026, 11, 27))]
    assert kinds == ["missing_in_wattdesk"]


class TestExpire:
    def test_expires_only_old_unpaid_orders_and_a_late_callback_still_posts(
        self, order: PaymentOrder, account: Any, admin: Any
    ) -> None:
        young = gateway.create_order(
            user=admin, account_number=account.number, amount="1.00", created_at=NOW + timedelta(hours=2)
        )
        assert gateway.expire_orders(before=NOW + timedelta(hours=1)) == 1
        assert gateway.expire_orders(before=NOW + timedelta(hours=1)) == 0
        order.refresh_from_db()
        young.refresh_from_db()
        assert (order.status, young.status) == ("expired", "created")
        assert call(body(order.order_no)).outcome == "posted"
        order.refresh_from_db()
        assert order.status == "paid"
