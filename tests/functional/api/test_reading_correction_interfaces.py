"""A correction of a held reading through the API and the upload page: 201 / 200 (it supersedes the held
reading), never the 500 of UNIQUE(register, read_on, source)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from api_helpers import user_of, valid_reading
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from wattdesk.domain.access import roles
from wattdesk.domain.metering.models import RegisterReading


def _held_and_fix(company: Any) -> tuple[dict[str, str], dict[str, str]]:
    good = valid_reading(user_of(company, roles.METER_READER))
    held = {**good, "value": str(Decimal(good["value"]) - Decimal("500"))}  # below the latest: held
    fixed = {**good, "value": str(Decimal(good["value"]) + Decimal(1))}
    return held, fixed


def _rows(r: dict[str, str]) -> list[tuple[Decimal, str]]:
    return list(
        RegisterReading.objects.filter(
            register__meter__serial=r["meter_serial"], register__kind=r["register"], read_on=r["read_on"]
        )
        .order_by("id")
        .values_list("value", "status")
    )


def test_api_correction_supersedes_the_held_reading(company: Any, api_for: Callable[[str], Client]) -> None:
    held, fixed = _held_and_fix(company)
    api = api_for(roles.METER_READER)
    first = api.post("/api/readings/bulk", [held], content_type="application/json")
    assert first.status_code == 201 and first.json()["held"] == 1
    second = api.post("/api/readings/bulk", [fixed], content_type="application/json")
    assert second.status_code == 201, second.content
    assert (second.json()["held"], second.json()["corrected"]) == (0, 1)
    assert _rows(fixed) == [(Decimal(held["value"]), "superseded"), (Decimal(fixed["value"]), "valid")]


def test_upload_page_correction_supersedes_the_held_reading(
    company: Any, client_for: Callable[[str], Client], settings: Any, tmp_path: Path
) -> None:
    settings.WATTDESK_DATA_DIR = tmp_path
    held, fixed = _held_and_fix(company)
    client = client_for(roles.METER_READER)
    for name, r in (("held.csv", held), ("fix.csv", fixed)):
        body = f"meter_serial,register,read_on,value\n{r['meter_serial']},{r['register']},{r['read_on']},{r['value']}\n"
        resp = client.post("/readings/", {"file": SimpleUploadedFile(name, body.encode(), "text/csv")})
        assert resp.status_code == 200, resp.content.decode()[:3000]
    assert resp.context["result"].corrected == 1
    assert "1 held readings corrected" in resp.content.decode()
    assert _rows(fixed) == [(Decimal(held["value"]), "superseded"), (Decimal(fixed["value"]), "valid")]
