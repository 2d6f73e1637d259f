"""A tariff-change simulation run (电价调整测算): what was asked, how it went, where its results are.

The per-account results are a Parquet file in the data directory (``result_path``, relative to
``WATTDESK_DATA_DIR``); the summary shown on the page and exported to Excel is ``summary`` (amounts in fen,
integers, never floats).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.billing.models import period_validator


class SimulationStatus(models.TextChoices):
    PENDING = "pending", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class SimulationEngine(models.TextChoices):
    LOCAL = "local", _("local (Arrow/Polars)")
    SPARK = "spark", _("Apache Spark")


class SimulationRun(models.Model):
    tariff_from = models.CharField(_("current tariff"), max_length=300)
    tariff_to = models.CharField(_("proposed tariff"), max_length=300)
    months = models.PositiveSmallIntegerField(_("months"))
    up_to_period = models.CharField(_("up to period"), max_length=7, validators=[period_validator])
    engine = models.CharField(_("engine"), max_length=8, choices=SimulationEngine.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=SimulationStatus.choices, default=SimulationStatus.PENDING
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    accounts = models.PositiveIntegerField(_("accounts"), default=0)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    result_path = models.CharField(_("per-account results"), max_length=300, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ("-id",)
        verbose_name = _("tariff-change simulation")
        verbose_name_plural = _("tariff-change simulations")

    def __str__(self) -> str:
        return f"simulation {self.pk} {self.tariff_from} -> {self.tariff_to} ({self.status})"
