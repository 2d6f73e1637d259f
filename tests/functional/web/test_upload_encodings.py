"""Uploads in GB18030 (Excel on Chinese Windows) are read exactly; an undecidable encoding is a 4xx that names
the line, never a 500 and never stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from readings_support import reader_latest_active as _latest_active

from wattdesk.domain.access import roles
from wattdesk.domain.metering.models import ImportBatch, RegisterReading

TODAY = date(2026, 11, 27)


class TestReadingsUpload:
    def test_gb18030_file_with_chinese_header_and_notes_is_imported(
        self, company: Any, uploads: Path, client_for: Callable[[str], Client]
    ) -> None:
        serial, latest, value = _latest_active(company)
        day = latest + timedelta(days=1)
        body = (
            f"meter_serial,register,read_on,value,备注\n{serial},active_total,{day},{value + 7},张三家门口\n"
        )
        data = body.encode("gb18030")
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        r = client_for(roles.METER_READER).post(
            "/readings/", {"file": SimpleUploadedFile("抄表.csv", data, "text/csv")}
        )
        assert r.status_code == 200, r.content.decode()[:2000]
        assert r.context["result"].readings == 1
        assert (
            RegisterReading.objects.get(
                register__meter__serial=serial, register__kind="active_total", read_on=day
            ).value
            == value + 7
        )

    def test_undecidable_encoding_is_a_422_naming_the_line(
        self, company: Any, uploads: Path, client_for: Callable[[str], Client]
    ) -> None:
        serial, latest, value = _latest_active(company)
        data = (
            f"meter_serial,register,read_on,value\n{serial},active_total,{latest + timedelta(days=1)},{value}\n"
        ).encode() + b"\xff\xfe\xff\n"
        before = (RegisterReading.objects.count(), ImportBatch.objects.count())
        r = client_for(roles.METER_READER).post(
            "/readings/", {"file": SimpleUploadedFile("bad.csv", data, "text/csv")}
        )
        assert r.status_code == 422
        errors = r.context["rejected"].errors
        assert [(e.row, e.column) for e in errors] == [(3, "-")]
        assert "无法判断文本编码" in r.content.decode()  # in the page's language; the CLI keeps English
        assert (RegisterReading.objects.count(), ImportBatch.objects.count()) == before


class TestGatewayStatementUpload:
    def test_undecidable_statement_is_a_400_with_the_line(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        data = b"txn_id,order_no,amount,paid_at\nGW1,\xff\xfe\xff,50.00,2026-11-27T10:00:00+08:00\n"
        r = client_for(roles.BILLING_CLERK).post(
            "/gateway/reconcile/",
            {"day": "2026-11-27", "statement": SimpleUploadedFile("s.csv", data, "text/csv")},
        )
        assert 400 <= r.status_code < 500
        assert "s.csv 第 2 行：无法判断文本编码" in r.content.decode()  # the CLI keeps its English line

    def test_gb18030_statement_with_a_bom_less_header_is_read(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        data = "txn_id,order_no,amount,paid_at\n".encode("gb18030")
        r = client_for(roles.BILLING_CLERK).post(
            "/gateway/reconcile/",
            {"day": "2026-11-27", "statement": SimpleUploadedFile("s.csv", data, "text/csv")},
        )
        assert r.status_code == 200
