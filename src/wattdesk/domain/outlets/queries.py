"""Reads of the outlets app."""

from __future__ import annotations

from django.db.models import QuerySet

from wattdesk.domain.outlets.models import CandidateSite, PaymentOutlet


def active_outlets() -> QuerySet[PaymentOutlet]:
    return PaymentOutlet.objects.filter(active=True).order_by("code")


def candidate_sites() -> QuerySet[CandidateSite]:
    return CandidateSite.objects.order_by("code")
