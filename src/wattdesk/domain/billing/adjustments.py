"""退补单 (bill adjustments) and reading corrections (抄表数据更正) — models of the billing app.

A ``BillAdjustment`` corrects an ISSUED bill without touching it: it is a document of its own that names the
original bill, the error, the period corrected and the price source (the original period's tariff), with
lines that are the difference, per rule, between the original rating and the corrected one. It goes
draft → approved → issued (or cancelled before issue); on issue its amount is posted to the ledger as one
ADJUSTMENT entry on the original bill (``application.billing.adjustment``).

A ``ReadingCorrection`` records what staff decided about a held reading (accept, correct, estimate, send to
the meter reader as a field check), with the reason, the estimated bill impact and, above the configured
amount, the second person who approved it (``application.billing.reading_correction``).

Imported by ``models.py`` so Django registers them in the billing app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import MoneyField, QuantityField, RateField


class AdjustmentErrorType(models.TextChoices):
    WRONG_READING = "wrong_reading", _("错抄表码")
    KVARH = "kvarh", _("无功电量漏抄或错误")
    MULTIPLIER = "multiplier", _("倍率错误")
    METER_ERROR = "meter_error", _("电能表误差超差")
    STOPPED_METER = "stopped_meter", _("电能表停走")


class AdjustmentStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    APPROVED = "approved", _("已审批")
    ISSUED = "issued", _("已发行")
    CANCELLED = "cancelled", _("已作废")


class BillAdjustment(models.Model):
    """A 退补单: a refund (negative amount) or back-bill (positive) linked to an issued bill."""

    original_bill = models.ForeignKey(
        "billing.Bill",
        on_delete=models.PROTECT,
        related_name="adjustments",
        verbose_name=_("original bill"),
    )
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="bill_adjustments",
        verbose_name=_("account"),
    )
    error_type = models.CharField(_("error type"), max_length=24, choices=AdjustmentErrorType.choices)
    reason_code = models.CharField(_("reason code"), max_length=40)
    reason = models.TextField(_("reason"))
    period_from = models.DateField(_("corrected from"))
    period_to = models.DateField(_("corrected to (exclusive)"))
    period_rule = models.CharField(_("period rule"), max_length=200)
    price_source = models.CharField(_("price source"), max_length=200)
    inputs = models.JSONField(_("what the clerk entered"), default=dict, blank=True)
    kwh_difference = QuantityField(_("kWh difference"))
    kvarh_difference = QuantityField(_("kvarh difference"), default=0)
    amount = MoneyField(_("amount"))
    status = models.CharField(
        _("status"), max_length=16, choices=AdjustmentStatus.choices, default=AdjustmentStatus.DRAFT
    )
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_on = models.DateField(_("due on"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("bill adjustment (退补单)")
        verbose_name_plural = _("bill adjustments (退补单)")
        indexes = (models.Index(fields=["account", "status"], name="billing_adj_account_idx"),)
        constraints = (
            models.CheckConstraint(
                condition=Q(period_to__gt=models.F("period_from")), name="billing_adj_period_nonempty"
            ),
        )

    def __str__(self) -> str:
        return f"退补 {self.pk} bill {self.original_bill_id} {self.amount} ({self.status})"


class BillAdjustmentLine(models.Model):
    """One line of a 退补单: for one affected bill and one rating rule, original, corrected and difference."""

    adjustment = models.ForeignKey(
        BillAdjustment, on_delete=models.CASCADE, related_name="lines", verbose_name=_("adjustment")
    )
    seq = models.PositiveSmallIntegerField(_("sequence"))
    bill = models.ForeignKey(
        "billing.Bill", on_delete=models.PROTECT, related_name="adjustment_lines", verbose_name=_("bill")
    )
    code = models.CharField(_("code"), max_length=64)
    description = models.CharField(_("description"), max_length=200)
    unit = models.CharField(_("unit"), max_length=16)
    rate = RateField(_("rate"))
    rule = models.CharField(_("rule"), max_length=64)
    original_quantity = QuantityField(_("original quantity"))
    corrected_quantity = QuantityField(_("corrected quantity"))
    quantity = QuantityField(_("quantity difference"))
    original_amount = MoneyField(_("original amount"))
    corrected_amount = MoneyField(_("corrected amount"))
    amount = MoneyField(_("amount difference"))

    class Meta:
        ordering = ("adjustment", "seq")
        verbose_name = _("bill adjustment line")
        verbose_name_plural = _("bill adjustment lines")
        constraints = (
            models.UniqueConstraint(fields=["adjustment", "seq"], name="billing_adj_line_seq_uniq"),
        )

    def __str__(self) -> str:
        return f"{self.seq}. {self.description} {self.amount}"


class CorrectionAction(models.TextChoices):
    ACCEPT = "accept", _("确认原表码")
    CORRECT = "correct", _("更正表码")
    ESTIMATE = "estimate", _("估抄")
    FIELD_CHECK = "field_check", _("派现场核查")


class CorrectionStatus(models.TextChoices):
    PENDING = "pending", _("待复核")
    APPLIED = "applied", _("已生效")
    REJECTED = "rejected", _("已驳回")
    FIELD_CHECK = "field_check", _("现场核查中")


class ReadingCorrection(models.Model):
    """A decision on a held reading. ``impact`` is the estimated bill impact in yuan (kWh change × the
    account's latest average price); above ``WATTDESK_READING_CORRECTION_APPROVAL_YUAN`` a correction waits
    (pending) for a second person's approval before it is applied."""

    reading = models.ForeignKey(
        "metering.RegisterReading",
        on_delete=models.PROTECT,
        related_name="corrections",
        verbose_name=_("reading"),
    )
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    period = models.CharField(_("period"), max_length=7)
    action = models.CharField(_("action"), max_length=16, choices=CorrectionAction.choices)
    new_value = QuantityField(_("corrected register value"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    kwh_before = QuantityField(_("kWh before"), null=True, blank=True)
    kwh_after = QuantityField(_("kWh after"), null=True, blank=True)
    impact = MoneyField(_("estimated bill impact"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=CorrectionStatus.choices)
    requested_at = models.DateTimeField(_("requested at"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_bill = models.ForeignKey(
        "billing.Bill", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rebilled_bill = models.ForeignKey(
        "billing.Bill", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ("-requested_at", "-id")
        verbose_name = _("reading correction")
        verbose_name_plural = _("reading corrections")
        constraints = (
            models.UniqueConstraint(
                fields=["reading"],
                condition=Q(status__in=("pending", "field_check")),
                name="billing_reading_corr_one_open",
            ),
        )

    def __str__(self) -> str:
        return f"{self.action} reading {self.reading_id} ({self.status})"
