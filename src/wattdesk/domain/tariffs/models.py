"""Tariffs as stored: versioned WattDesk tariff documents and which tariff a service point is on."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class TariffVersion(models.Model):
    """One version of a tariff (电价), valid on [effective_from, effective_to).

    ``document`` holds the WattDesk tariff document (docs/tariffs.md) exactly as published; it is parsed
    into value objects by ``wattdesk.core.tariff.parse_tariff``.
    """

    code = models.CharField(_("tariff code"), max_length=64)
    version = models.CharField(_("version"), max_length=32)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)
    name = models.CharField(_("name"), max_length=200)
    document = models.JSONField(_("tariff document"))

    class Meta:
        ordering = ("code", "effective_from")
        verbose_name = _("tariff version")
        verbose_name_plural = _("tariff versions")
        constraints = (
            models.UniqueConstraint(fields=["code", "effective_from"], name="tariff_version_code_from_uniq"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                name="tariff_version_period_nonempty",
            ),
        )

    def __str__(self) -> str:
        return f"{self.code} v{self.version} ({self.effective_from}–{self.effective_to or '…'})"


class TariffAssignment(models.Model):
    """The tariff (by code) a service point is billed on during [effective_from, effective_to)."""

    service_point = models.ForeignKey(
        "customers.ServicePoint",
        on_delete=models.PROTECT,
        related_name="tariff_assignments",
        verbose_name=_("service point"),
    )
    tariff_code = models.CharField(_("tariff code"), max_length=64)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)

    class Meta:
        ordering = ("service_point", "effective_from")
        verbose_name = _("tariff assignment")
        verbose_name_plural = _("tariff assignments")
        indexes = (models.Index(fields=["tariff_code"], name="tariff_assignment_code_idx"),)
        constraints = (
            models.UniqueConstraint(
                fields=["service_point", "effective_from"], name="tariff_assignment_sp_from_uniq"
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                name="tariff_assignment_period_nonempty",
            ),
        )

    def __str__(self) -> str:
        return f"{self.service_point_id}: {self.tariff_code} from {self.effective_from}"
