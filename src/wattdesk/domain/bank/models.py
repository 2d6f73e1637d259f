"""Bank withholding (代扣): mandates, the files exchanged with the bank, and their lines.

* ``WithholdingMandate``: the customer's authorisation to debit a bank account for an electricity account.
  Only the masked bank account number is kept (e.g. ``6222****1234``).
* ``WithholdingBatch``: one file, exported (deduction request) or imported (the bank's return file).
  ``sha256`` is UNIQUE: the same file is never taken twice. An import is ``running`` until its last line is
  posted, then ``completed``; a re-run of a killed import resumes it (each success line posts idempotently
  by its channel transaction id ``<batch no>-<line no>``).
* ``WithholdingLine``: one line of a file. For an import, ``result_code`` 0000 is a success and ``payment``
  is the posted payment.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import MoneyField

SUCCESS = "0000"


class WithholdingMandate(models.Model):
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="withholding_mandates",
        verbose_name=_("account"),
    )
    bank_code = models.CharField(_("bank code"), max_length=16)
    masked_account_no = models.CharField(_("bank account (masked)"), max_length=32)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ("account", "id")
        verbose_name = _("withholding mandate")
        verbose_name_plural = _("withholding mandates")
        constraints = (
            models.UniqueConstraint(
                fields=["account"], condition=Q(active=True), name="mandate_one_active_per_account"
            ),
        )

    def __str__(self) -> str:
        return f"{self.account_id} {self.bank_code} {self.masked_account_no}"


class Direction(models.TextChoices):
    EXPORT = "export", _("export (deduction request)")
    IMPORT = "import", _("import (bank return)")


class BatchStatus(models.TextChoices):
    RUNNING = "running", _("running")
    COMPLETED = "completed", _("completed")


class WithholdingBatch(models.Model):
    batch_no = models.CharField(_("batch number"), max_length=32)
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    day = models.DateField(_("day"))
    status = models.CharField(_("status"), max_length=16, choices=BatchStatus.choices)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        ordering = ("-day", "batch_no", "direction")
        verbose_name = _("withholding batch")
        verbose_name_plural = _("withholding batches")
        constraints = (
            models.UniqueConstraint(
                fields=["batch_no"], condition=Q(direction="export"), name="withholding_export_batch_no_uniq"
            ),
        )

    def __str__(self) -> str:
        return f"{self.direction} {self.batch_no} ({self.status})"


class WithholdingLine(models.Model):
    batch = models.ForeignKey(
        WithholdingBatch, on_delete=models.PROTECT, related_name="lines", verbose_name=_("batch")
    )
    line_no = models.PositiveIntegerField(_("line number"))
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="withholding_lines",
        verbose_name=_("account"),
    )
    masked_account_no = models.CharField(_("bank account (masked)"), max_length=32, blank=True)
    amount = MoneyField(_("amount"))
    result_code = models.CharField(_("result code"), max_length=8, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    payment = models.OneToOneField(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="withholding_line",
        verbose_name=_("payment"),
    )

    class Meta:
        ordering = ("batch", "line_no")
        verbose_name = _("withholding line")
        verbose_name_plural = _("withholding lines")
        constraints = (
            models.UniqueConstraint(fields=["batch", "line_no"], name="withholding_line_uniq"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="withholding_line_amount_nonneg"),
        )

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.line_no} {self.amount} {self.result_code}"
