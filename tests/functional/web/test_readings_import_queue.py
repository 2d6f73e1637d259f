"""Large reading files are imported by a queued task (``interfaces.tasks.import_readings_file``): the page
stores the file and enqueues it, a real ``wattdesk worker`` imports it, the page (HTMX poll) and
``GET /api/reading-imports/{id}`` show the state and then the result, or every row error with nothing
written. Only the uploader sees the job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tasks_db.models import DBTaskResult
from readings_support import reader_latest_active as _latest_active

from sample_company import build_company
from wattdesk.domain.access import roles
from wattdesk.domain.metering.models import ImportBatch, RegisterReading
from wattdesk.interfaces.api.tokens import create_token
from wattdesk.interfaces.cli import main

TODAY = date(2026, 11, 27)
HEADER = "meter_serial,register,read_on,value\n"


@pytest.fixture
def company(transactional_db: None, settings: Any) -> Any:
    return build_company(settings)  # the worker commits: a transactional test


@pytest.fixture
def uploads(uploads: Path, settings: Any) -> Path:
    settings.WATTDESK_QUEUE_IMPORT_BYTES = 64  # every file below is "large"
    return uploads


def _api(company: Any, role: str) -> Client:
    token = create_token(
        username=company.logins[role].username, name=f"t {role}", created_at=datetime(2026, 11, 3, tzinfo=UTC)
    )
    return Client(headers={"Authorization": f"Bearer {token.secret}"})


def _upload(client: Client, name: str, body: str) -> tuple[Any, DBTaskResult]:
    resp = client.post("/readings/", {"file": SimpleUploadedFile(name, body.encode(), "text/csv")})
    (job,) = DBTaskResult.objects.all()
    assert resp.status_code == 302 and resp["Location"] == f"/readings/?job={job.id}"
    assert job.task_path == "wattdesk.interfaces.tasks.import_readings_file" and job.status == "READY"
    return resp, job


def test_a_large_file_is_queued_polled_imported_by_the_worker_and_shown(
    company: Any, uploads: Path, client_for: Callable[[str], Client]
) -> None:
    serial, latest, value = _latest_active(company)
    day = latest + timedelta(days=1)
    client = client_for(roles.METER_READER)
    api = _api(company, roles.METER_READER)
    readings_before = RegisterReading.objects.count()

    resp, job = _upload(client, "route-7.csv", f"{HEADER}{serial},active_total,{day},{value + 7}\n")
    stored = list(uploads.iterdir())
    assert len(stored) == 1 and stored[0].name.endswith("-route-7.csv")  # whole, no temporary left
    assert RegisterReading.objects.count() == readings_before  # nothing imported inside the request
    waiting = client.get(resp["Location"]).content.decode()
    assert 'data-testid="import-job" data-state="queued"' in waiting and 'hx-trigger="every 1s"' in waiting
    poll = client.get(f"/readings/jobs/{job.id}/", HTTP_HX_REQUEST="true")
    assert poll.status_code == 200 and 'data-state="queued"' in poll.content.decode()
    queued = api.get(f"/api/reading-imports/{job.id}").json()
    assert (queued["state"], queued["result"], queued["task"]) == ("queued", None, "import_readings_file")

    assert main(["worker", "--batch", "--interval", "0"]) == 0

    poll = client.get(f"/readings/jobs/{job.id}/", HTTP_HX_REQUEST="true")
    assert poll["HX-Redirect"] == f"/readings/?job={job.id}"
    page = client.get(poll["HX-Redirect"])
    html = page.content.decode()
    result = page.context["result"]
    assert (result["readings"], result["already_imported"]) == (1, False)
    assert 'data-testid="import-result"' in html and result["message"] in html
    assert 'data-testid="import-job"' not in html  # finished: no more polling
    reading = RegisterReading.objects.get(
        register__meter__serial=serial, register__kind="active_total", read_on=day
    )
    assert reading.value == value + 7 and reading.import_batch_id == result["batch_id"]
    done = api.get(f"/api/reading-imports/{job.id}").json()
    assert done["state"] == "finished" and done["result"] == result and done["error"] == ""


def test_a_bad_large_file_gives_every_row_error_and_writes_nothing(
    company: Any, uploads: Path, client_for: Callable[[str], Client]
) -> None:
    serial, latest, value = _latest_active(company)
    good_day = latest + timedelta(days=1)
    body = (
        HEADER
        + f"{serial},active_total,{good_day},{value + 10}\n"
        + f"NOPE-1,active_total,{good_day},5\n"
        + f"{serial},bogus,{good_day},5\n"
        + f"{serial},active_total,2026-13-01,5\n"
        + f"{serial},active_total,{good_day + timedelta(days=1)},-3\n"
    )
    before = RegisterReading.objects.count(), ImportBatch.objects.count()
    client = client_for(roles.METER_READER)
    _, job = _upload(client, "bad.csv", body)
    assert main(["worker", "--batch", "--interval", "0"]) == 0

    page = client.get(f"/readings/?job={job.id}")
    html = page.content.decode()
    assert "4 行有错误，未导入任何数据" in html
    assert 'data-testid="row-errors"' in html and "NOPE-1" in html and "2026-13-01" in html
    assert (RegisterReading.objects.count(), ImportBatch.objects.count()) == before
    done = _api(company, roles.METER_READER).get(f"/api/reading-imports/{job.id}").json()
    assert done["state"] == "finished"
    assert [(e["row"], e["column"]) for e in done["result"]["rejected"]] == [
        (3, "meter_serial"),
        (4, "register"),
        (5, "read_on"),
        (6, "value"),
    ]


def test_another_user_cannot_see_the_job(
    company: Any, uploads: Path, client_for: Callable[[str], Client]
) -> None:
    serial, latest, value = _latest_active(company)
    body = f"{HEADER}{serial},active_total,{latest + timedelta(days=1)},{value + 1}\n"
    _, job = _upload(client_for(roles.METER_READER), "mine.csv", body)
    other = client_for(roles.ADMIN)  # may import readings too, but did not upload this file
    assert other.get(f"/readings/?job={job.id}").status_code == 404
    assert other.get(f"/readings/jobs/{job.id}/", HTTP_HX_REQUEST="true").status_code == 404
    assert _api(company, roles.ADMIN).get(f"/api/reading-imports/{job.id}").status_code == 404
    assert client_for(roles.METER_READER).get("/readings/?job=not-a-uuid").status_code == 404


def test_a_small_file_is_still_imported_in_the_request(
    company: Any, uploads: Path, settings: Any, client_for: Callable[[str], Client]
) -> None:
    settings.WATTDESK_QUEUE_IMPORT_BYTES = 1024 * 1024
    serial, latest, value = _latest_active(company)
    body = f"{HEADER}{serial},active_total,{latest + timedelta(days=1)},{value + 2}\n"
    r = client_for(roles.METER_READER).post(
        "/readings/", {"file": SimpleUploadedFile("small.csv", body.encode(), "text/csv")}
    )
    assert r.status_code == 200 and r.context["result"].readings == 1
    assert not DBTaskResult.objects.exists()
