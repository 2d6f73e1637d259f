"""Use case: load tariff files into the catalog (电价目录) and read it back.

A file is validated whole before anything is stored (every document parsed by the core), and all its
versions are stored in one transaction: a bad file stores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from django.db import transaction

from wattdesk.application.errors import InputError
from wattdesk.application.tariffs.reference_data import TariffDocument, json_safe, read_tariff_documents
from wattdesk.domain.tariffs.models import TariffVersion
from wattdesk.domain.tariffs.operations import Published, TariffConflict, publish_version


def _effective_from(doc: TariffDocument, default: date | None) -> date:
    if doc.tariff.effective_from is not None:
        return doc.tariff.effective_from
    start = doc.document.get("startdate") if doc.kind == "urdb" else None
    if isinstance(start, int | float):
        return datetime.fromtimestamp(start, tz=UTC).date()
    if default is not None:
        return default
    raise InputError(f"{doc.name}: effective_from: missing (give --effective-from for this file)")


def import_tariff_files(*, paths: Sequence[Path], effective_from: date | None = None) -> list[Published]:
    """Validate every document of every file, then publish them all in one transaction."""
    docs = [d for p in paths for d in read_tariff_documents(path=p)]
    try:
        with transaction.atomic():
            return [
                publish_version(
                    code=d.tariff.code,
                    name=d.tariff.name,
                    version=str(d.document.get("version") or _effective_from(d, effective_from).isoformat()),
                    effective_from=_effective_from(d, effective_from),
                    effective_to=d.tariff.effective_to,
                    document=json_safe(d.document),
                )
                for d in docs
            ]
    except TariffConflict as exc:
        raise InputError(str(exc)) from None


def catalog(*, on: date | None = None) -> list[TariffVersion]:
    """Every tariff version, or only those in force on ``on``."""
    qs = TariffVersion.objects.order_by("code", "effective_from")
    if on is not None:
        qs = qs.filter(effective_from__lte=on).exclude(effective_to__lte=on)
    return list(qs)


def catalog_latest(*, code: str) -> TariffVersion | None:
    """The version of ``code`` with the latest effective_from."""
    return TariffVersion.objects.filter(code=code).order_by("-effective_from").first()
