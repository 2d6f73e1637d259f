"""Writes on tariffs: publish a tariff version (电价版本发布).

A published version is never edited: a price change is a new version with a later ``effective_from``, which
closes the version before it (its ``effective_to`` becomes the new version's ``effective_from``). Publishing
the same document again changes nothing, so a catalog file can be loaded twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from django.db import transaction

from wattdesk.domain.tariffs.models import SubUseAgreement, TariffVersion


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


@dataclass(frozen=True)
class AssignmentChange:
    """Move a service point onto ``tariff_code`` from ``effective_from`` (改价 / 批量调整电价类别)."""

    service_point_id: int
    tariff_code: str
    effective_from: date


class AssignmentConflict(ValueError):
    """A service point's assignments changed since the change was validated (a later one exists)."""


def change_assignments(*, changes: list[AssignmentChange]) -> list[tuple[int, str | None]]:
    """Close the assignment in force on each change's date (``effective_to`` = that date) and open the new one.

    Locks the service points' assignments (``select_for_update``) and refuses, with
    :class:`AssignmentConflict`, a service point that has an assignment starting on or after the date (checked
    again under the lock). The caller owns the transaction. Returns (service point, previous tariff code).
    """
    from wattdesk.domain.tariffs.models import TariffAssignment

    sp_ids = sorted({c.service_point_id for c in changes})
    current: dict[int, list[TariffAssignment]] = {}
    for a in TariffAssignment.objects.select_for_update().filter(service_point_id__in=sp_ids).order_by("id"):
        current.setdefault(a.service_point_id, []).append(a)
    out: list[tuple[int, str | None]] = []
    created: list[TariffAssignment] = []
    for c in changes:
        rows = current.get(c.service_point_id, [])
        later = [a for a in rows if a.effective_from >= c.effective_from]
        if later:
            raise AssignmentConflict(
                f"service point {c.service_point_id} has an assignment from {later[0].effective_from}"
            )
        in_force = [a for a in rows if a.effective_to is None or a.effective_to > c.effective_from]
        previous = None
        for a in in_force:
            previous = a.tariff_code
            a.effective_to = c.effective_from
            a.save(update_fields=["effective_to"])
        created.append(
            TariffAssignment(
                service_point_id=c.service_point_id,
                tariff_code=c.tariff_code,
                effective_from=c.effective_from,
            )
        )
        out.append((c.service_point_id, previous))
    TariffAssignment.objects.bulk_create(created)
    return out


class SubUseOverlap(ValueError):
    """The service point already has a sub-use of that name in force over part of the period."""


def create_sub_use(
    *,
    service_point_id: int,
    label: str,
    tariff_code: str,
    mode: str,
    value: Decimal,
    deduction: str,
    priority: str,
    in_pf_calculation: bool,
    in_pf_base: bool,
    overflow: str,
    effective_from: date,
    reviewed_on: date,
) -> SubUseAgreement:
    """Store a 定量定比 agreement (already validated by the use case). The caller owns the transaction; the
    service point's agreements are locked and one of the same name overlapping the new one is refused."""
    rows = list(
        SubUseAgreement.objects.select_for_update().filter(service_point_id=service_point_id, label=label)
    )
    for a in rows:
        if a.effective_to is None or a.effective_to > effective_from:
            raise SubUseOverlap(
                f"sub-use {label!r} is already in force from {a.effective_from}"
                + (f" to {a.effective_to}" if a.effective_to else "")
                + " (end it first)"
            )
    return SubUseAgreement.objects.create(
        service_point_id=service_point_id,
        label=label,
        tariff_code=tariff_code,
        mode=mode,
        value=value,
        deduction=deduction,
        priority=priority,
        in_pf_calculation=in_pf_calculation,
        in_pf_base=in_pf_base,
        overflow=overflow,
        effective_from=effective_from,
        reviewed_on=reviewed_on,
    )


def end_sub_use(*, agreement: SubUseAgreement, effective_to: date, reason: str) -> None:
    """Close an agreement (already locked and validated by the use case): in force until ``effective_to``."""
    agreement.effective_to = effective_to
    agreement.end_reason = reason
    agreement.save(update_fields=["effective_to", "end_reason"])
