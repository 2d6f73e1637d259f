"""Readings page: upload with the validation report (nothing stored on a bad file), and scoped exceptions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from readings_support import latest_active as _latest_active

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import meters_for
from wattdesk.domain.metering.models import ImportBatch, Meter, ReadingException, RegisterReading

TODAY = date(2026, 11, 27)


def _user(company: Any, role: str) -> Any:
    return get_user_model().objects.get(username=company.logins[role].username)


class TestUpload:
    def test_bad_file_lists_every_row_error_and_stores_nothing(
        self, company: Any, uploads: Path, client_for: Callable[[str], Client]
    ) -> None:
        serial, latest, value = _latest_active(_user(company, roles.METER_READER))
        good_day = latest + timedelta(days=1)
        body = (
            "meter_serial,register,read_on,value\n"
            f"{serial},active_total,{good_day},{value + 10}\n"
            f"NOPE-1,active_total,{good_day},5\n"
            f"{serial},bogus,{good_day},5\n"
            f"{serial},active_total,2026-13-01,5\n"
            f"{serial},active_total,{good_day + timedelta(days=1)},-3\n"
        )
        readings_before, batches_before = RegisterReading.objects.count(), ImportBatch.objects.count()
        r = client_for(roles.METER_READER).post(
            "/readings/", {"file": SimpleUploadedFile("route-7.csv", body.encode(), "text/csv")}
        )
        assert r.status_code == 422
        errors = [(e.row, e.column) for e in r.context["rejected"].errors]
        assert errors == [(3, "meter_serial"), (4, "register"), (5, "read_on"), (6, "value")]
        html = r.content.decode()
        assert "4 行有错误，未导入任何数据" in html
        assert "未知电能表 NOPE-1。" in html  # the reason in the page's language (the CLI keeps English)
        assert "日期 2026-13-01 格式不正确" in html
        assert (RegisterReading.objects.count(), ImportBatch.objects.count()) == (
            readings_before,
            batches_before,
        )
        saved = list(uploads.iterdir())
        assert len(saved) == 1 and saved[0].name.endswith("-route-7.csv")

    def test_good_file_stores_the_readings_and_reports_findings(
        self, company: Any, uploads: Path, client_for: Callable[[str], Client]
    ) -> None:
        serial, latest, value = _latest_active(_user(company, roles.METER_READER))
        day = latest + timedelta(days=1)
        body = f"meter_serial,register,read_on,value\n{serial},active_total,{day},{value + 7}\n"
        r = client_for(roles.METER_READER).post(
            "/readings/", {"file": SimpleUploadedFile("ok.csv", body.encode(), "text/csv")}
        )
        assert r.status_code == 200
        result = r.context["result"]
        assert (result.readings, result.already_imported) == (1, False)
        stored = RegisterReading.objects.get(
            register__meter__serial=serial, register__kind="active_total", read_on=day
        )
        assert stored.value == value + 7 and stored.import_batch_id == result.batch_id
        assert result.message in r.content.decode()

    def test_refuses_other_file_types_and_oversized_files(
        self, company: Any, uploads: Path, settings: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.BILLING_CLERK)
        r = client.post(
            "/readings/", {"file": SimpleUploadedFile("x.exe", b"MZ", "application/octet-stream")}
        )
        assert r.status_code == 400 and r.context["upload_error"]
        settings.WATTDESK_MAX_UPLOAD_BYTES = 10
        r = client.post("/readings/", {"file": SimpleUploadedFile("big.csv", b"x" * 11, "text/csv")})
        assert r.status_code == 400
        assert not uploads.exists() or not list(uploads.iterdir())

    def test_viewing_without_import_capability_cannot_upload(
        self, company: Any, uploads: Path, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for(roles.CS_AGENT)  # readings.view, not readings.import
        assert client.get("/readings/").status_code == 200
        r = client.post("/readings/", {"file": SimpleUploadedFile("a.csv", b"meter_serial\n", "text/csv")})
        assert r.status_code == 403
        assert client_for(roles.COLLECTOR).get("/readings/").status_code == 403


class TestExceptions:
    def test_meter_reader_sees_only_exceptions_of_their_meters(
        self, company: Any, uploads: Path, client_for: Callable[[str], Client]
    ) -> None:
        reader = _user(company, roles.METER_READER)
        mine = meters_for(reader).order_by("serial").first()
        other = Meter.objects.exclude(pk__in=meters_for(reader).values("pk")).order_by("serial").first()
        assert mine is not None and other is not None
        for m in (mine, other):
            ReadingException.objects.create(
                meter=m,
                period="2026-07",
                check_code="spike",
                reason=f"test spike {m.serial}",
                severity="warning",
            )
        r = client_for(roles.METER_READER).get("/readings/?period=2026-07")
        assert [x.meter_serial for x in r.context["exceptions"]] == [mine.serial]
        assert f"test spike {other.serial}" not in r.content.decode()
        r = client_for(roles.BILLING_CLERK).get("/readings/?period=2026-07", HTTP_HX_REQUEST="true")
        assert sorted(x.meter_serial for x in r.context["exceptions"]) == sorted([mine.serial, other.serial])
        assert "<html" not in r.content.decode()  # the HTMX partial
