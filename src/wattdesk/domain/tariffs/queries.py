"""Reads on tariffs: which version of a tariff is in force on a date, which tariff a service point is on."""

from __future__ import annotations

from datetime import date

from django.db.models import Q

from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion


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
