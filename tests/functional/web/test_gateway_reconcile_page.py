"""The reconciliation screen (/gateway/reconcile/): upload a statement, mismatches by kind, CSV, bad files."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from wattdesk.application.payments.posting import post_payment
from wattdesk.domain.access import roles
from wattdesk.domain.customers.models import Account
from wattdesk.sandbox.gateway_server import Gateway, make_server

SH = ZoneInfo("Asia/Shanghai")
HEADER = "txn_id,order_no,amount,paid_at\n"


def upload(text: str, name: str = "statement-2026-11-27.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def audits() -> int:
    return LogEntry.objects.filter(additional_data__batch="gateway.reconcile").count()


@pytest.fixture
def paid(company: Any) -> str:
    account = Account.objects.order_by("number").first()
    assert account is not None
    for txn, amount in (("GW1", "50.00"), ("GW2", "20.00")):
        post_payment(account_number=account.number, amount=amount, channel="mobile", channel_txn_id=txn,
                     received_at=datetime(2026, 11, 27, 10, tzinfo=SH))  # fmt: skip
    return account.number


@pytest.mark.parametrize("role", roles.ROLES)
def test_page_for_roles(role: str, company: Any, client_for: Callable[[str], Client]) -> None:
    allowed = roles.PAYMENTS_RECONCILE in roles.CAPABILITIES[role]
    assert client_for(role).get("/gateway/reconcile/").status_code == (200 if allowed else 403)


def test_upload_lists_every_mismatch_by_kind(paid: str, client_for: Callable[[str], Client]) -> None:
    c = client_for(roles.BILLING_CLERK)
    statement = HEADER + "GW1,,50.00,2026-11-27T10:00:00+08:00\nGW9,WDX,9.90,2026-11-27T11:00:00+08:00\n"
    r = c.post("/gateway/reconcile/", {"day": "2026-11-27", "statement": upload(statement)})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="reconcile-mismatches"' in html
    assert "GW2" in html and "GW9" in html and "GW1<" not in html
    assert "missing_in_statement" in html and "missing_in_wattdesk" in html
    assert audits() == 1


def test_csv_export_of_the_same_upload(paid: str, client_for: Callable[[str], Client]) -> None:
    c = client_for(roles.MARKETING_MANAGER)
    statement = HEADER + "GW1,,50.01,2026-11-27T10:00:00+08:00\nGW2,,20.00,2026-11-27T10:00:00+08:00\n"
    r = c.post("/gateway/reconcile/", {"day": "2026-11-27", "format": "csv", "statement": upload(statement)})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert 'filename="reconciliation-2026-11-27.csv"' in r["Content-Disposition"]
    assert r.content.decode().splitlines() == [
        "kind,txn_id,order_no,statement_amount,wattdesk_amount,detail",
        "amount_differs,GW1,,50.01,50.00,",
    ]


def test_the_csv_export_neutralises_spreadsheet_formulas(
    paid: str, client_for: Callable[[str], Client]
) -> None:
    """Transaction ids and order numbers come from the gateway's file: a cell a spreadsheet would run as a
    formula is exported with a leading quote (OWASP CSV injection)."""
    c = client_for(roles.BILLING_CLERK)
    statement = HEADER + (
        '"=HYPERLINK(""http://evil.example"",""x"")",WD1,9.90,2026-11-27T11:00:00+08:00\n'
        "@SUM(A1:A9),WD2,9.90,2026-11-27T11:00:00+08:00\n"
        "\"+cmd|' /C calc'!A0\",WD3,9.90,2026-11-27T11:00:00+08:00\n"
        'GW4," =1+1",9.90,2026-11-27T11:00:00+08:00\n'
        "GW5,-2+3,9.90,2026-11-27T11:00:00+08:00\n"
    )
    r = c.post("/gateway/reconcile/", {"day": "2026-11-27", "format": "csv", "statement": upload(statement)})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    by_txn = {row["txn_id"]: row for row in rows if row["kind"] == "missing_in_wattdesk"}
    assert set(by_txn) == {
        '\'=HYPERLINK("http://evil.example","x")',
        "'@SUM(A1:A9)",
        "'+cmd|' /C calc'!A0",
        "GW4",
        "GW5",
    }
    assert by_txn["GW4"]["order_no"] == "'=1+1"  # the statement parser strips the blank
    assert by_txn["GW5"]["order_no"] == "'-2+3"
    assert {row["statement_amount"] for row in by_txn.values()} == {"9.90"}  # numbers stay numbers


def test_a_matching_statement_says_so(paid: str, client_for: Callable[[str], Client]) -> None:
    statement = HEADER + "GW1,,50.00,2026-11-27T10:00:00+08:00\nGW2,,20.00,2026-11-27T10:00:00+08:00\n"
    r = client_for(roles.ADMIN).post(
        "/gateway/reconcile/", {"day": "2026-11-27", "statement": upload(statement)}
    )
    assert 'data-testid="reconcile-agrees"' in r.content.decode()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            {"day": "2026-11-27", "text": HEADER + "GW1,,5O.00,2026-11-27T10:00:00+08:00\n"},
            "row 2, column amount",
        ),
        ({"day": "2026-11-27", "text": "txn,order\n"}, "row 1: the header must be"),
        ({"day": "27/11/2026", "text": HEADER}, "YYYY-MM-DD"),
        ({"day": "2026-11-27"}, ""),  # no file
    ],
)
def test_a_bad_upload_is_a_400_with_the_place_and_stores_nothing(
    paid: str, client_for: Callable[[str], Client], form: dict[str, str], message: str
) -> None:
    data: dict[str, Any] = {"day": form["day"]}
    if "text" in form:
        data["statement"] = upload(form["text"])
    r = client_for(roles.BILLING_CLERK).post("/gateway/reconcile/", data)
    assert r.status_code == 400
    html = r.content.decode()
    assert 'data-testid="reconcile-error"' in html and message in html
    assert audits() == 0


def test_fetch_the_days_statement_from_the_sandbox_gateway(
    paid: str, client_for: Callable[[str], Client], settings: Any, tmp_path: Any
) -> None:
    gw = Gateway(callback_url="http://127.0.0.1:9/none", secret="s", statement_dir=tmp_path, delays=())
    gw.statement_path("2026-11-27").write_text(
        HEADER + "GW1,,50.00,2026-11-27T10:00:00+08:00\nGW7,WD7,7.00,2026-11-27T10:30:00+08:00\n",
        encoding="utf-8",
    )
    server = make_server(host="127.0.0.1", port=0, gateway=gw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.WATTDESK_GATEWAY_PAY_URL = f"http://127.0.0.1:{server.server_address[1]}/pay"
    try:
        c = client_for(roles.BILLING_CLERK)
        r = c.post("/gateway/reconcile/", {"day": "2026-11-27", "source": "gateway", "format": "csv"})
        assert r.status_code == 200
        assert r.content.decode().splitlines()[1:] == [
            "missing_in_statement,GW2,,,20.00,",
            "missing_in_wattdesk,GW7,WD7,7.00,,",
        ]
        # a day without payments on either side: the sandbox serves an empty statement, and it agrees
        r = c.post("/gateway/reconcile/", {"day": "2026-11-26", "source": "gateway"})
        assert r.status_code == 200 and 'data-testid="reconcile-agrees"' in r.content.decode()
    finally:
        server.shutdown()
        server.server_close()
    # the gateway unreachable: a clear 400, nothing stored
    before = audits()
    r = client_for(roles.BILLING_CLERK).post(
        "/gateway/reconcile/", {"day": "2026-11-27", "source": "gateway"}
    )
    assert r.status_code == 400 and "cannot download the gateway statement" in r.content.decode()
    assert audits() == before
