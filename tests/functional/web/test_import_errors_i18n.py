"""An import's row errors and encoding refusals are shown in the page's language on the readings upload page;
the CLI and the API keep their English line (``RowError.reason``, ``str(ImportRejected)``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from readings_support import reader_latest_active as _latest_active

from wattdesk.application.tabular import ImportRejected, RowError
from wattdesk.domain.access import roles
from wattdesk.interfaces.web.errors import row_error_message

TODAY = date(2026, 11, 27)


def _post(client: Client, name: str, data: bytes, language: str) -> Any:
    client.cookies["django_language"] = language
    return client.post("/readings/", {"file": SimpleUploadedFile(name, data, "text/csv")})


def _bad_rows(company: Any) -> bytes:
    serial, latest, value = _latest_active(company)
    day = latest + timedelta(days=1)
    return (
        "meter_serial,register,read_on,value\n"
        f"NOPE-1,active_total,{day},5\n"
        f"{serial},bogus,{day},5\n"
        f"{serial},active_total,2026-13-01,5\n"
        f"{serial},active_total,{day + timedelta(days=1)},-3\n"
        f"{serial},active_total,2099-01-01,{value + 1}\n"
    ).encode()


def test_row_errors_are_chinese_on_the_chinese_page(
    company: Any, uploads: Path, client_for: Callable[[str], Client]
) -> None:
    r = _post(client_for(roles.METER_READER), "route-7.csv", _bad_rows(company), "zh-hans")
    assert r.status_code == 422
    html = r.content.decode()
    assert "未知电能表 NOPE-1。" in html
    assert "未知计度器 bogus" in html
    assert "日期 2026-13-01 格式不正确（应为 YYYY-MM-DD）。" in html
    assert "示数不能为负数：-3。" in html
    assert "抄表日期 2099-01-01 晚于今天（2026-11-27）。" in html
    for english in ("unknown meter", "unknown register", "bad date", "negative register value", "future"):
        assert english not in html
    # The CLI / API line stays English.
    rejected: ImportRejected = r.context["rejected"]
    assert "unknown meter 'NOPE-1'" in str(rejected)
    assert rejected.errors[0].reason == "unknown meter 'NOPE-1'"


def test_row_errors_are_english_on_the_english_page(
    company: Any, uploads: Path, client_for: Callable[[str], Client]
) -> None:
    r = _post(client_for(roles.METER_READER), "route-7.csv", _bad_rows(company), "en")
    assert r.status_code == 422
    html = r.content.decode()
    assert "Unknown meter NOPE-1." in html
    assert "Date 2026-13-01 is not valid (expected YYYY-MM-DD)." in html
    assert "Register values cannot be negative: -3." in html
    assert "Reading date 2099-01-01 is after today (2026-11-27)." in html
    assert "未知电能表" not in html and "格式不正确" not in html


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("zh-hans", "无法判断文本编码：既不是 UTF-8（第 3 行字节 0xFF），也不是 GB18030", "cannot tell"),
        ("en", "Cannot tell the text encoding: neither UTF-8 (byte 0xFF on line 3) nor GB18030", "无法判断"),
    ],
)
def test_encoding_refusal_is_in_the_page_language(
    language: str,
    expected: str,
    absent: str,
    company: Any,
    uploads: Path,
    client_for: Callable[[str], Client],
) -> None:
    serial, latest, value = _latest_active(company)
    data = (
        f"meter_serial,register,read_on,value\n{serial},active_total,{latest + timedelta(days=1)},{value}\n"
    ).encode() + b"\xff\xfe\xff\n"
    r = _post(client_for(roles.METER_READER), "bad.csv", data, language)
    assert r.status_code == 422
    html = r.content.decode()
    assert expected in html
    assert absent not in html
    assert "cannot tell the text encoding" in str(r.context["rejected"])  # the CLI's line


def test_a_queued_imports_stored_row_error_is_translated_too() -> None:
    """A queued import stores its row errors as dicts (the task's JSON result): the page reads those too, and
    falls back to the English reason for an error without a code."""
    stored = {
        "row": 3,
        "column": "value",
        "reason": "not a number: 'x'",
        "code": "not_a_number",
        "params": {"value": "x"},
    }
    with translation.override("zh-hans"):
        assert row_error_message(stored) == "x 不是数字。"
        assert row_error_message({"row": 3, "column": "-", "reason": "odd"}) == "odd"
        assert row_error_message(RowError(2, "c", "odd")) == "odd"
    with translation.override("en"):
        assert row_error_message(stored) == "x is not a number."


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-hans", "s.csv 第 2 行：无法判断文本编码：既不是 UTF-8（第 2 行字节 0xFF）"),
        ("en", "s.csv line 2: Cannot tell the text encoding: neither UTF-8 (byte 0xFF on line 2)"),
    ],
)
def test_gateway_statement_encoding_refusal_is_in_the_page_language(
    language: str, expected: str, company: Any, client_for: Callable[[str], Client]
) -> None:
    data = b"txn_id,order_no,amount,paid_at\nGW1,\xff\xfe\xff,50.00,2026-11-27T10:00:00+08:00\n"
    client = client_for(roles.BILLING_CLERK)
    client.cookies["django_language"] = language
    r = client.post(
        "/gateway/reconcile/",
        {"day": "2026-11-27", "statement": SimpleUploadedFile("s.csv", data, "text/csv")},
    )
    assert r.status_code == 400
    assert expected in r.content.decode()
