"""Collection management (催费管理): who collects on which route, visits made, complaints received.

* ``CollectorAssignment``: a collector (催费员) is assigned to a reading route from ``from_date`` through
  ``to_date`` (inclusive; open-ended when null). The worklist and the scorecards use the assignments in force
  on a date.
* ``Visit``: one door visit to an account and its outcome. ``amount_collected`` is informational: the money
  itself is posted by ``application.payments.post_payment`` (channel ``collector``).
* ``Complaint``: a complaint about collection on an account, attributed to a collector when known.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import MoneyField


class CollectorAssignment(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="collector_assignments",
        verbose_name=_("collector"),
    )
    route = models.ForeignKey(
        "customers.ReadingRoute",
        on_delete=models.PROTECT,
        related_name="collector_assignments",
        verbose_name=_("reading route"),
    )
    from_date = models.DateField(_("from"))
    to_date = models.DateField(_("to"), null=True, blank=True)
    base_lat = models.FloatField(_("base latitude"), null=True, blank=True)
    base_lon = models.FloatField(_("base longitude"), null=True, blank=True)

    class Meta:
        ordering = ("route", "from_date", "id")
        verbose_name = _("collector assignment")
        verbose_name_plural = _("collector assignments")
        indexes = (models.Index(fields=["user", "from_date"], name="collassign_user_from_idx"),)
        constraints = (
            models.UniqueConstraint(fields=["user", "route", "from_date"], name="collassign_uniq"),
            models.CheckConstraint(
                condition=Q(to_date__isnull=True) | Q(to_date__gte=F("from_date")), name="collassign_dates"
            ),
        )

    def __str__(self) -> str:
        return f"{self.user_id} → route {self.route_id} from {self.from_date}"


class VisitOutcome(models.TextChoices):
    PAID = "paid", _("paid")
    PROMISED = "promised", _("promised to pay")
    NOT_HOME = "not_home", _("not at home")
    REFUSED = "refused", _("refused")
    DISPUTED = "disputed", _("disputed")


class Visit(models.Model):
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="collection_visits",
        verbose_name=_("collector"),
    )
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="collection_visits",
        verbose_name=_("account"),
    )
    visited_at = models.DateTimeField(_("visited at"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=VisitOutcome.choices)
    promised_on = models.DateField(_("promised on"), null=True, blank=True)
    amount_collected = MoneyField(_("amount collected"), default=0)
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ("-visited_at", "id")
        verbose_name = _("collection visit")
        verbose_name_plural = _("collection visits")
        indexes = (
            models.Index(fields=["collector", "visited_at"], name="visit_collector_at_idx"),
            models.Index(fields=["account", "visited_at"], name="visit_account_at_idx"),
        )
        constraints = (
            models.CheckConstraint(condition=Q(amount_collected__gte=0), name="visit_amount_nonneg"),
            models.CheckConstraint(
                condition=~Q(outcome="promised") | Q(promised_on__isnull=False), name="visit_promise_has_date"
            ),
        )

    def __str__(self) -> str:
        return f"visit {self.account_id} {self.outcome} @ {self.visited_at:%Y-%m-%d}"


class Complaint(models.Model):
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="collection_complaints",
        verbose_name=_("account"),
    )
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="collection_complaints",
        verbose_name=_("collector"),
    )
    received_at = models.DateTimeField(_("received at"))
    text = models.TextField(_("text"))

    class Meta:
        ordering = ("-received_at", "id")
        verbose_name = _("collection complaint")
        verbose_name_plural = _("collection complaints")
        indexes = (models.Index(fields=["received_at"], name="complaint_received_idx"),)

    def __str__(self) -> str:
        return f"complaint {self.account_id} @ {self.received_at:%Y-%m-%d}"
