"""Service changes (变更用电) that split a billing period, and the rule sets that govern them.

* ``ServiceChange``: one effective-dated change of one service point (or of the whole account: opened /
  closed mid-month). It keeps the values in force before and after the change, so the values of any day can be
  read from the records alone (the billing run does; ``domain.changes.queries``). Recorded by the use case
  ``application.changes.record`` (validated against the rule set in force, audited).
* ``ChangeRuleSet``: versioned data (1996 《供电营业规则》, 发改办价格〔2016〕1583号, a province ...): the
  document is parsed by ``core.rating.segments.ChangeRules.from_document``; missing keys take its defaults.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import QuantityField, RatioField


class ChangeKind(models.TextChoices):
    RECLASS = "reclass", _("tariff / class change (改类)")
    REDUCTION = "reduction", _("capacity reduction (减容)")
    SUSPENSION = "suspension", _("suspension (暂停)")
    REDUCTION_RESTORE = "reduction_restore", _("reduction restored (减容恢复)")
    SUSPENSION_RESTORE = "suspension_restore", _("suspension restored (暂停恢复)")
    INCREASE = "increase", _("capacity increase (增容)")
    TEMPORARY_EXCHANGE = "temporary_exchange", _("temporary transformer exchange (暂换)")
    CONTRACT_DEMAND = "contract_demand", _("contract demand change (需量变更)")
    METER_EXCHANGE = "meter_exchange", _("meter exchange (换表)")
    MULTIPLIER = "multiplier", _("CT/PT change (倍率变更)")
    POINT_ADDED = "point_added", _("service point added (新增用电点)")
    POINT_RETIRED = "point_retired", _("service point retired (拆除用电点)")
    ACCOUNT_OPENED = "account_opened", _("account opened mid-month (新装)")
    ACCOUNT_CLOSED = "account_closed", _("account closed mid-month (销户)")


class ServiceChange(models.Model):
    """变更用电记录: what changed on ``effective_on`` (the sealing / unsealing / change day)."""

    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="service_changes",
        verbose_name=_("account"),
    )
    service_point = models.ForeignKey(
        "customers.ServicePoint",
        on_delete=models.PROTECT,
        related_name="service_changes",
        verbose_name=_("service point"),
    )
    kind = models.CharField(_("kind"), max_length=24, choices=ChangeKind.choices)
    effective_on = models.DateField(_("effective on"))
    planned_until = models.DateField(_("planned until"), null=True, blank=True)
    restores = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="restored_by",
        verbose_name=_("restores"),
    )
    # values in force before and from the change (capacity in use, contract demand, tariff, PF standard)
    capacity_before = QuantityField(_("capacity before (kVA)"))
    capacity_after = QuantityField(_("capacity after (kVA)"))
    contract_kw_before = QuantityField(_("contract demand before (kW)"), null=True, blank=True)
    contract_kw_after = QuantityField(_("contract demand after (kW)"), null=True, blank=True)
    tariff_before = models.CharField(_("tariff before"), max_length=64, blank=True)
    tariff_after = models.CharField(_("tariff after"), max_length=64, blank=True)
    pf_standard_before = RatioField(_("PF standard before"), null=True, blank=True)
    pf_standard_after = RatioField(_("PF standard after"), null=True, blank=True)
    multiplier_after = QuantityField(_("multiplier after"), null=True, blank=True)
    meter_serial = models.CharField(_("new meter serial"), max_length=32, blank=True)
    in_service_after = models.BooleanField(_("in service after"), default=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        ordering = ("service_point", "effective_on", "id")
        verbose_name = _("service change")
        verbose_name_plural = _("service changes")
        indexes = (models.Index(fields=["account", "effective_on"], name="service_change_acc_day_idx"),)
        constraints = (
            models.CheckConstraint(
                condition=Q(capacity_before__gte=0, capacity_after__gte=0),
                name="service_change_capacity_nonneg",
            ),
            models.CheckConstraint(
                condition=Q(planned_until__isnull=True) | Q(planned_until__gt=models.F("effective_on")),
                name="service_change_planned_after_effective",
            ),
        )

    def __str__(self) -> str:
        return f"{self.service_point_id} {self.kind} {self.effective_on}"


class ChangeRuleSet(models.Model):
    """A version of the mid-period change rules in force on ``[effective_from, effective_to)``."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)
    document = models.JSONField(_("rules"), default=dict)
    source = models.TextField(_("source"), blank=True)

    class Meta:
        ordering = ("effective_from",)
        verbose_name = _("change rule set")
        verbose_name_plural = _("change rule sets")

    def __str__(self) -> str:
        return self.code
