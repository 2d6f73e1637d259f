"""Smart fee control (智能费控) records.

* ``FeeControlState``: one account's estimated balance, days of usage left and decision for one day, UNIQUE
  (account, day): the daily pass rewrites the day's row, never adds a second.
* ``MeterCommand``: one remote relay command (远程拉闸 / 远程合闸) to the AMI head-end. ``idem_key`` is UNIQUE
  and is also the command id sent to the head-end, so queuing the same command twice adds nothing and
  re-sending it is answered with the same acknowledgement. Its life: queued -> sent -> acknowledged, or
  -> failed (a transient error; retried after ``next_attempt_at``) -> ... -> expired (gave up after the
  maximum number of attempts), or -> superseded (a queued / failed command overtaken by a later command of
  the other kind for the same meter before it was sent: a disconnect that a top-up made pointless).
  At most one *open* command (queued, sent or failed) per meter and kind: a partial UNIQUE index, so a top-up
  restore keyed by the payment and the nightly restore keyed by the day cannot both be queued for one meter.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import MoneyField, QuantityField


class Decision(models.TextChoices):
    OK = "ok", _("ok")
    WARN = "warn", _("warn")
    DISCONNECT = "disconnect", _("disconnect")
    RESTORE = "restore", _("restore")


class FeeControlState(models.Model):
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="fee_control_states",
        verbose_name=_("account"),
    )
    day = models.DateField(_("day"))
    ledger_balance = MoneyField(_("ledger balance"))
    estimated_charge = MoneyField(_("estimated charge since the latest bill"))
    kwh_since = QuantityField(_("kWh since the latest bill"))
    measured = models.BooleanField(_("usage measured"), default=False)
    estimated_balance = MoneyField(_("estimated balance"))
    days_left = models.DecimalField(_("days left"), max_digits=8, decimal_places=1, null=True, blank=True)
    decision = models.CharField(_("decision"), max_length=16, choices=Decision.choices)
    reason = models.CharField(_("reason"), max_length=32, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        ordering = ("-day", "account")
        verbose_name = _("fee-control state")
        verbose_name_plural = _("fee-control states")
        constraints = (
            models.UniqueConstraint(fields=["account", "day"], name="feecontrol_account_day_uniq"),
        )
        indexes = (models.Index(fields=["day", "decision"], name="feecontrol_day_decision_idx"),)

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}: {self.estimated_balance} {self.decision}"


class CommandKind(models.TextChoices):
    DISCONNECT = "disconnect", _("disconnect")
    RESTORE = "restore", _("restore")


class CommandStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    FAILED = "failed", _("failed")
    EXPIRED = "expired", _("expired")
    SUPERSEDED = "superseded", _("superseded")


#: a command still on its way to the meter (at most one per meter and kind)
OPEN_STATUSES = (CommandStatus.QUEUED, CommandStatus.SENT, CommandStatus.FAILED)


class MeterCommand(models.Model):
    meter = models.ForeignKey(
        "metering.Meter", on_delete=models.PROTECT, related_name="commands", verbose_name=_("meter")
    )
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="meter_commands",
        verbose_name=_("account"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CommandKind.choices)
    idem_key = models.CharField(_("idempotency key"), max_length=100, unique=True)
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=CommandStatus.choices, default=CommandStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    ack_id = models.CharField(_("acknowledgement id"), max_length=64, blank=True)
    requested_at = models.DateTimeField(_("requested at"))
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    class Meta:
        ordering = ("-requested_at", "-id")
        verbose_name = _("meter command")
        verbose_name_plural = _("meter commands")
        indexes = (
            models.Index(fields=["status", "next_attempt_at"], name="metercmd_status_next_idx"),
            models.Index(fields=["meter", "requested_at"], name="metercmd_meter_requested_idx"),
        )
        constraints = (
            models.CheckConstraint(
                condition=~Q(status="acknowledged") | Q(acknowledged_at__isnull=False),
                name="metercmd_ack_has_time",
            ),
            models.UniqueConstraint(
                fields=["meter", "kind"],
                condition=Q(status__in=["queued", "sent", "failed"]),
                name="metercmd_one_open_per_meter_kind",
            ),
        )

    def __str__(self) -> str:
        return f"{self.kind} {self.meter_id} ({self.status})"
