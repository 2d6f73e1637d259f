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


class SubUseAgreement(models.Model):
    """A 定量定比 agreement: part of a service point's metered kWh billed on another tariff during
    [effective_from, effective_to) (1996 《供电营业规则》 Art. 70; docs/billing-cases/sub-use.md).

    ``mode`` ``fixed_kwh`` (定量: ``value`` kWh per month) or ``fixed_ratio`` (定比: ``value`` % of the meter's
    kWh, whole kWh half-up). ``deduction``: which TOU periods the sub-use comes out of (``flat_first``, the
    published exam answer, default | ``pro_rata`` | ``priority_list`` with ``priority`` = period keys,
    comma-separated). ``in_pf_calculation``: its kWh count in the meter's power factor (default yes);
    ``in_pf_base``: its charge is in the PF adjustment base (default no). ``overflow``: a sub-use above the
    metered kWh is capped and the bill held (``cap``, default) or the service point is not billed
    (``error``). ``reviewed_on``: the latest 核定 (at least yearly by Art. 70; flagged after 12 months).
    Never edited for a change of value: end it and create the next one.
    """

    class Mode(models.TextChoices):
        FIXED_KWH = "fixed_kwh", _("fixed quantity (定量)")
        FIXED_RATIO = "fixed_ratio", _("fixed ratio (定比)")

    class Deduction(models.TextChoices):
        FLAT_FIRST = "flat_first", _("flat period first")
        PRO_RATA = "pro_rata", _("pro rata over the periods")
        PRIORITY_LIST = "priority_list", _("listed periods in order")

    class Overflow(models.TextChoices):
        CAP = "cap", _("cap at the metered kWh and hold the bill")
        ERROR = "error", _("do not bill")

    service_point = models.ForeignKey(
        "customers.ServicePoint",
        on_delete=models.PROTECT,
        related_name="sub_use_agreements",
        verbose_name=_("service point"),
    )
    label = models.CharField(_("sub-use"), max_length=40)
    tariff_code = models.CharField(_("sub-use tariff code"), max_length=64)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices)
    value = models.DecimalField(_("kWh per month or percent"), max_digits=16, decimal_places=4)
    deduction = models.CharField(
        _("deduction order"), max_length=16, choices=Deduction.choices, default=Deduction.FLAT_FIRST
    )
    priority = models.CharField(_("period priority"), max_length=100, blank=True, default="")
    in_pf_calculation = models.BooleanField(_("in the power-factor calculation"), default=True)
    in_pf_base = models.BooleanField(_("in the power-factor adjustment base"), default=False)
    overflow = models.CharField(
        _("above the metered kWh"), max_length=8, choices=Overflow.choices, default="cap"
    )
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to (exclusive)"), null=True, blank=True)
    reviewed_on = models.DateField(_("latest review (核定)"))
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True, default="")

    class Meta:
        ordering = ("service_point", "effective_from", "id")
        verbose_name = _("sub-use agreement")
        verbose_name_plural = _("sub-use agreements")
        constraints = (
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                name="sub_use_period_nonempty",
            ),
            models.CheckConstraint(condition=Q(value__gt=0), name="sub_use_value_positive"),
            models.CheckConstraint(
                condition=~Q(mode="fixed_ratio") | Q(value__lte=100), name="sub_use_ratio_at_most_100"
            ),
        )

    def __str__(self) -> str:
        return f"{self.service_point_id}: {self.mode} {self.label} {self.value} ({self.tariff_code})"
