"""用电检查 (inspection) cases of 窃电 / 违约用电 and their policy data.

* :class:`BehaviourCode` — the behaviours a case can record (national list of the 1996 rules, Arts 100-101,
  seeded by migration ``0002``; a province adds its own rows with ``province`` set) and the estimation method
  each uses (``core.inspection.Method``).
* :class:`InspectionRuleSet` — the multiples, per-kW and per-event amounts, default days and hours, one row
  per version with ``effective_from`` / ``effective_to`` (inclusive). The 1996 set (ending 2024-05-31) is
  seeded; the 2024 set is *data to be entered from the official text* (the text was not available, see
  docs/billing-cases/theft-and-violations.md): a case found after 2024-05-31 is refused until it exists.
* :class:`InspectionCase` — one finding: open → computed → approved (by a second person) → posted, or
  rejected; a posted case found wrong (an appeal, a mistake) is reversed: each ledger entry gets its reversal.
  Written only by ``application.inspection.cases`` (lock, audit).
* :class:`InspectionLine` — the case's back-billing document: 补交电费 and 违约使用电费 as separate lines,
  each posted as its own ledger entry (kind ``adjustment``, linked here) when the case is posted.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from wattdesk.core.inspection import Method
from wattdesk.domain.fields import MoneyField, QuantityField, RateField


class BehaviourCategory(models.TextChoices):
    THEFT = "theft", _("窃电")
    VIOLATION = "violation", _("违约用电")


METHOD_CHOICES = [
    (Method.UNAUTHORISED_CONNECTION.value, _("私接设备容量 × 时间")),
    (Method.METER_CAPACITY.value, _("电能表标定电流容量 × 时间")),
    (Method.RECLASS.value, _("差额电费（改类 / 高价低接）")),
    (Method.OVER_CAPACITY.value, _("私增容量")),
    (Method.SEALED_EQUIPMENT.value, _("擅自使用暂停 / 启用封存设备")),
    (Method.METER_TAMPER.value, _("每次定额（计量装置等）")),
]


class BehaviourCode(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=16, choices=BehaviourCategory.choices)
    method = models.CharField(_("estimation method"), max_length=32, choices=METHOD_CHOICES)
    article = models.CharField(_("rule article"), max_length=100, blank=True)
    province = models.CharField(_("province (blank: national)"), max_length=32, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ("category", "code")
        verbose_name = _("inspection behaviour code")
        verbose_name_plural = _("inspection behaviour codes")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class InspectionRuleSet(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (inclusive)"), null=True, blank=True)
    source = models.TextField(_("source"), blank=True)
    theft_multiple = RateField(_("窃电 multiple of the back charge"))
    theft_default_days = models.PositiveIntegerField(_("窃电 days when unknown"))
    hours_power = RateField(_("hours per day when unknown, power (动力)"))
    hours_lighting = RateField(_("hours per day when unknown, lighting (照明)"))
    reclass_multiple = RateField(_("改类 multiple of the difference"))
    reclass_default_days = models.PositiveIntegerField(_("改类 days when unknown"))
    over_capacity_multiple = RateField(_("私增容量 multiple (two-part)"))
    over_capacity_per_kw = MoneyField(_("私增容量 元 per kW (others)"))
    sealed_multiple = RateField(_("启用封存 multiple (two-part)"))
    sealed_per_kw = MoneyField(_("启用封存 元 per kW per time (others)"))
    tamper_residential = MoneyField(_("计量装置 元 per event, residential"))
    tamper_other = MoneyField(_("计量装置 元 per event, others"))
    month_days = models.PositiveSmallIntegerField(_("days of a month for a part month"), default=30)

    class Meta:
        ordering = ("effective_from",)
        verbose_name = _("inspection rule set")
        verbose_name_plural = _("inspection rule sets")
        constraints = (
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="inspection_ruleset_period_ordered",
            ),
        )

    def __str__(self) -> str:
        return f"{self.code} {self.effective_from}..{self.effective_to or ''}"


class CaseStatus(models.TextChoices):
    OPEN = "open", _("已立案")
    COMPUTED = "computed", _("已计算")
    APPROVED = "approved", _("已审批")
    POSTED = "posted", _("已入账")
    REJECTED = "rejected", _("已驳回")
    REVERSED = "reversed", _("已冲正")


def _user(label: Any) -> models.ForeignKey:  # type: ignore[type-arg]
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=label,
    )


class InspectionCase(models.Model):
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="inspection_cases",
        verbose_name=_("account"),
    )
    behaviour = models.ForeignKey(
        BehaviourCode, on_delete=models.PROTECT, related_name="cases", verbose_name=_("behaviour")
    )
    found_on = models.DateField(_("found on"))
    inspector = models.CharField(_("inspector"), max_length=64)
    evidence = models.TextField(_("evidence"), max_length=2000)
    status = models.CharField(_("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    facts = models.JSONField(_("facts entered"), default=dict, blank=True)
    rule_set = models.ForeignKey(
        InspectionRuleSet, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("rule set")
    )
    energy_kwh = QuantityField(_("back-billed energy (kWh)"), null=True, blank=True)
    back_charge = MoneyField(_("back charge (补交电费)"), null=True, blank=True)
    penalty = MoneyField(_("penalty (违约使用电费)"), null=True, blank=True)
    total = MoneyField(_("total"), null=True, blank=True)
    opened_by = _user(_("opened by"))
    opened_at = models.DateTimeField(_("opened at"))
    computed_by = _user(_("computed by"))
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True)
    approved_by = _user(_("approved by"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    posted_by = _user(_("posted by"))
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    rejected_by = _user(_("rejected by"))
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)
    reject_reason = models.CharField(_("reason for the rejection"), max_length=300, blank=True)
    reversed_by = _user(_("reversed by"))
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)
    reversal_reason = models.CharField(_("reason for the reversal"), max_length=300, blank=True)

    class Meta:
        ordering = ("-opened_at", "-id")
        verbose_name = _("inspection case")
        verbose_name_plural = _("inspection cases")
        indexes = (models.Index(fields=["status", "opened_at"], name="inspection_status_idx"),)
        constraints = (
            # four-eyes: the approver is neither who opened nor who computed the case (NULL passes)
            models.CheckConstraint(
                condition=~Q(approved_by=F("opened_by")) & ~Q(approved_by=F("computed_by")),
                name="inspection_four_eyes",
            ),
        )

    def __str__(self) -> str:
        return f"inspection case {self.pk} {self.account_id} ({self.status})"


class InspectionLine(models.Model):
    case = models.ForeignKey(
        InspectionCase, on_delete=models.CASCADE, related_name="lines", verbose_name=_("case")
    )
    seq = models.PositiveSmallIntegerField(_("line"))
    kind = models.CharField(_("kind"), max_length=16)  # back_charge | penalty
    label = models.CharField(_("label"), max_length=64)
    amount = MoneyField(_("amount"))
    formula = models.CharField(_("formula"), max_length=500, blank=True)
    ledger_entry = models.OneToOneField(
        "ledger.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspection_line",
        verbose_name=_("ledger entry"),
    )

    class Meta:
        ordering = ("case", "seq")
        verbose_name = _("inspection line")
        verbose_name_plural = _("inspection lines")
        constraints = (models.UniqueConstraint(fields=["case", "seq"], name="inspection_line_seq_uniq"),)

    def __str__(self) -> str:
        return f"{self.label} {self.amount}"
