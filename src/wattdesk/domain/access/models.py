"""Who may see what: a staff member's territory and the link from a portal login to a customer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffScope(models.Model):
    """The territory of a scoped staff member (抄表员, 催费员): regions and/or reading routes (抄表段).

    Only roles in ``roles.SCOPED_ROLES`` are limited by it; a scoped user without a StaffScope sees nothing.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_scope", verbose_name=_("user")
    )
    all_regions = models.BooleanField(_("all regions"), default=False)
    regions = models.ManyToManyField("customers.Region", blank=True, verbose_name=_("regions"))
    routes = models.ManyToManyField("customers.ReadingRoute", blank=True, verbose_name=_("reading routes"))

    class Meta:
        verbose_name = _("staff scope")
        verbose_name_plural = _("staff scopes")

    def __str__(self) -> str:
        return f"scope of {self.user}"


class CustomerLogin(models.Model):
    """A portal login (客户账号) of a customer: the user sees that customer's accounts and nothing else."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="customer_login",
        verbose_name=_("user"),
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="logins", verbose_name=_("customer")
    )

    class Meta:
        verbose_name = _("customer login")
        verbose_name_plural = _("customer logins")

    def __str__(self) -> str:
        return f"{self.user} → {self.customer_id}"
