"""Billing runs (核算批次), bills (电费账单) and their lines."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import MoneyField, QuantityField, RateField

period_validator = RegexValidator(r"^\d{4}-(0[1-9]|1[0-2])$", _("Enter a period as YYYY-MM."))


class BillingRunStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    RUNNING = "running", _("running")
    FINISHED = "finished", _("finished")
    FAILED = "failed", _("failed")


#: Statuses of a run that is still to finish (queued, or running in some process). At most one run per period
#: is live: the database refuses a second one (``billing_run_one_live_per_period``), on every server.
LIVE_RUN_STATUSES = ("pending", "running")


class BillingRun(models.Model):
    """One billing run for a period (and optionally one reading route).

    ``counts`` holds the run's counters, e.g. ``{"accounts": 1200, "issued": 1180, "held": 15,
    "errors": 5, "kwh": "123456.7000", "total": "98765.43"}`` (Decimals as strings).

    A live run (pending = queued, running) carries a heartbeat: the process executing it stamps
    ``heartbeat_at`` (and ``done`` / ``total`` accounts) as it goes. A live run whose heartbeat is older than
    the stall threshold has lost its process and is shown as stalled (``application.billing.launch``).
    ``attempt`` is a fencing token: resuming a stalled run increments it, and a process that finds the row
    on another attempt stops writing to it.
    """

    period = models.CharField(_("period"), max_length=7, validators=[period_validator])
    route = models.ForeignKey(
        "customers.ReadingRoute",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="billing_runs",
        verbose_name=_("reading route"),
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=BillingRunStatus.choices, default=BillingRunStatus.PENDING
    )
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat at"), null=True, blank=True)
    done = models.PositiveIntegerField(_("accounts done"), default=0)
    total = models.PositiveIntegerField(_("accounts to bill"), default=0)
    attempt = models.PositiveIntegerField(_("attempt"), default=1)
    allow_empty = models.BooleanField(_("allow a period without readings"), default=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ("-started_at",)
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")
        indexes = (models.Index(fields=["period", "status"], name="billing_run_period_status_idx"),)
        constraints = (
            models.UniqueConstraint(
                fields=["period"],
                condition=Q(status__in=LIVE_RUN_STATUSES),
                name="billing_run_one_live_per_period",
            ),
        )

    def __str__(self) -> str:
        return f"run {self.pk} {self.period} ({self.status})"


class BillStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    HELD = "held", _("held")
    ISSUED = "issued", _("issued")
    CANCELLED = "cancelled", _("cancelled")


class Bill(models.Model):
    """A bill for one account and one period [start, end).

    A correction is a new version that ``replaces`` the old one; the old one is cancelled. At most one
    bill per (account, period) is not cancelled (enforced by a partial unique index).
    """

    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="bills", verbose_name=_("account")
    )
    period = models.CharField(_("period"), max_length=7, validators=[period_validator])
    version = models.PositiveIntegerField(_("version"), default=1)
    status = models.CharField(
        _("status"), max_length=16, choices=BillStatus.choices, default=BillStatus.DRAFT
    )
    start = models.DateField(_("start"))
    end = models.DateField(_("end (exclusive)"))
    kwh = QuantityField(_("kWh"))
    total = MoneyField(_("total"))
    due_on = models.DateField(_("due on"), null=True, blank=True)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    run = models.ForeignKey(
        BillingRun,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bills",
        verbose_name=_("billing run"),
    )
    hold_reason = models.TextField(_("hold reason"), blank=True)
    replaces = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        verbose_name=_("replaces"),
    )

    class Meta:
        ordering = ("account", "period", "version")
        verbose_name = _("bill")
        verbose_name_plural = _("bills")
        indexes = (
            models.Index(fields=["period", "status"], name="bill_period_status_idx"),
            models.Index(fields=["account", "period"], name="bill_account_period_idx"),
        )
        constraints = (
            models.UniqueConstraint(
                fields=["account", "period", "version"], name="bill_account_period_version_uniq"
            ),
            models.UniqueConstraint(
                fields=["account", "period"],
                condition=~Q(status="cancelled"),
                name="bill_one_live_per_account_period",
            ),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="bill_period_nonempty"),
            models.CheckConstraint(condition=Q(version__gte=1), name="bill_version_positive"),
        )

    def __str__(self) -> str:
        return f"{self.account_id} {self.period} v{self.version} ({self.status})"


class BillLine(models.Model):
    """One line of a bill, as produced by the rating engine (``core.rating.exact.Line``)."""

    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="lines", verbose_name=_("bill"))
    seq = models.PositiveSmallIntegerField(_("sequence"))
    code = models.CharField(_("code"), max_length=64)
    description = models.CharField(_("description"), max_length=200)
    quantity = QuantityField(_("quantity"))
    unit = models.CharField(_("unit"), max_length=16)
    rate = RateField(_("rate"))
    amount = MoneyField(_("amount"))
    rule = models.CharField(_("rule"), max_length=64)

    class Meta:
        ordering = ("bill", "seq")
        verbose_name = _("bill line")
        verbose_name_plural = _("bill lines")
        constraints = (models.UniqueConstraint(fields=["bill", "seq"], name="bill_line_seq_uniq"),)

    def __str__(self) -> str:
        return f"{self.seq}. {self.description} {self.amount}"


# 退补单 and reading corrections live in their own module; imported here so Django registers them.
from wattdesk.domain.billing.adjustments import (  # noqa: E402
    AdjustmentErrorType,
    AdjustmentStatus,
    BillAdjustment,
    BillAdjustmentLine,
    CorrectionAction,
    CorrectionStatus,
    ReadingCorrection,
)

__all__ = [
    "AdjustmentErrorType",
    "AdjustmentStatus",
    "Bill",
    "BillAdjustment",
    "BillAdjustmentLine",
    "BillLine",
    "BillStatus",
    "BillingRun",
    "BillingRunStatus",
    "CorrectionAction",
    "CorrectionStatus",
    "ReadingCorrection",
]
