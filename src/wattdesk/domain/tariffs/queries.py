"""Reads on tariffs: which version of a tariff is in force on a date, which tariff a service point is on."""

from __future__ import annotations

from datetime import date

from django.db.models import Q

from wattdesk.domain.tariffs.models import SubUseAgreement, TariffAssignment, TariffVersion


def _in_force(on: date) -> Q:
    return Q(effective_from__lte=on) & (Q(effective_to__isnull=True) | Q(effective_to__gt=on))


def version_in_force(*, code: str, on: date) -> TariffVersion | None:
    """The version of tariff ``code`` valid on ``on`` (periods are half-open [from, to))."""
    return TariffVersion.objects.filter(_in_force(on), code=code).order_by("-effective_from").first()


def assignment_on(*, service_point_id: int, on: date) -> TariffAssignment | None:
    return (
        TariffAssignment.objects.filter(_in_force(on), service_point_id=service_point_id)
        .order_by("-effective_from")
        .first()
    )


def sub_uses_in_force(*, service_point_ids: list[int], on: date) -> dict[int, list[SubUseAgreement]]:
    """定量定比 agreements in force on ``on``, per service point, oldest first (the billing run's read)."""
    out: dict[int, list[SubUseAgreement]] = {}
    qs = SubUseAgreement.objects.filter(_in_force(on), service_point_id__in=service_point_ids).order_by(
        "service_point_id", "effective_from", "id"
    )
    for a in qs:
        out.setdefault(a.service_point_id, []).append(a)
    return out


def sub_uses_of_service_point(*, service_point_number: str) -> list[SubUseAgreement]:
    """Every 定量定比 agreement of a service point (by number), oldest first; [] for an unknown number."""
    return list(
        SubUseAgreement.objects.filter(service_point__number=service_point_number)
        .select_related("service_point")
        .order_by("effective_from", "id")
    )
