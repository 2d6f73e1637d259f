"""Writes on tariffs: publish a tariff version (电价版本发布).

A published version is never edited: a price change is a new version with a later ``effective_from``, which
closes the version before it (its ``effective_to`` becomes the new version's ``effective_from``). Publishing
the same document again changes nothing, so a catalog file can be loaded twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from django.db import transaction

from wattdesk.domain.tariffs.models import TariffVersion


class TariffConflict(ValueError):
    """The version exists with a different document: versions are immutable, publish a new one."""


@dataclass(frozen=True)
class Published:
    code: str
    effective_from: date
    outcome: Literal["created", "unchanged"]
    closed_previous: bool


def publish_version(
    *,
    code: str,
    name: str,
    version: str,
    effective_from: date,
    effective_to: date | None,
    document: Mapping[str, Any],
) -> Published:
    """Store one tariff version; the document must already be validated (``core.tariff.parse_tariff``)."""
    with transaction.atomic():
        existing = (
            TariffVersion.objects.select_for_update().filter(code=code, effective_from=effective_from).first()
        )
        if existing is not None:
            if existing.document != document:
                raise TariffConflict(
                    f"tariff {code} from {effective_from} already exists with a different document; "
                    "versions are never edited: publish the change with a later effective_from"
                )
            return Published(
                code=code, effective_from=effective_from, outcome="unchanged", closed_previous=False
            )
        previous = (
            TariffVersion.objects.select_for_update()
            .filter(code=code, effective_from__lt=effective_from, effective_to__isnull=True)
            .order_by("-effective_from")
            .first()
        )
        if previous is not None:
            previous.effective_to = effective_from
            previous.save(update_fields=["effective_to"])
        if effective_to is None:
            later = (
                TariffVersion.objects.filter(code=code, effective_from__gt=effective_from)
                .order_by("effective_from")
                .values_list("effective_from", flat=True)
                .first()
            )
            effective_to = later
        TariffVersion.objects.create(
            code=code,
            name=name,
            version=version,
            effective_from=effective_from,
            effective_to=effective_to,
            document=dict(document),
        )
        return Published(
            code=code, effective_from=effective_from, outcome="created", closed_previous=previous is not None
        )
