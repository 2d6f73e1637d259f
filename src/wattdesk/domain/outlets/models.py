"""Payment outlets (缴费网点) and the candidate sites a planner may open (网点规划)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.customers.models import Region
from wattdesk.domain.fields import CoordinateField, MoneyField


class OutletKind(models.TextChoices):
    COUNTER = "counter", _("service-hall counter")  # 营业厅柜台
    AGENT = "agent", _("agent collection point")  # 代收点 (bank branch, shop, post office)
    SELF_SERVICE = "self_service", _("self-service terminal")  # 自助缴费终端


_COORDS = Q(lat__gte=-90, lat__lte=90) & Q(lon__gte=-180, lon__lte=180)


class PaymentOutlet(models.Model):
    """A place where customers pay their electricity bills in person."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=OutletKind.choices)
    lat = CoordinateField(_("latitude"))
    lon = CoordinateField(_("longitude"))
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="payment_outlets", verbose_name=_("region")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ("code",)
        verbose_name = _("payment outlet")
        verbose_name_plural = _("payment outlets")
        constraints = (models.CheckConstraint(condition=_COORDS, name="payment_outlet_coordinates"),)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CandidateSite(models.Model):
    """A site where a new outlet could open (a township centre, a shop along a road ...)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=OutletKind.choices)
    lat = CoordinateField(_("latitude"))
    lon = CoordinateField(_("longitude"))
    cost = MoneyField(
        _("cost (yuan)"), null=True, blank=True, help_text=_("Estimated cost to open, if known.")
    )

    class Meta:
        ordering = ("code",)
        verbose_name = _("candidate site")
        verbose_name_plural = _("candidate sites")
        constraints = (
            models.CheckConstraint(condition=_COORDS, name="candidate_site_coordinates"),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0), name="candidate_site_cost"
            ),
        )

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
