"""Dunning (催费): actions taken per debt and day, the notification outbox, disconnection / restore orders.

* ``DunningAction``: one step taken for an account's debt (keyed by its oldest unpaid bill) on one day.
  ``UNIQUE(account, bill, day, kind)`` makes "no customer reminded twice for the same debt on the same day" a
  database rule, and makes the nightly pass idempotent for a day.
* ``OutboxMessage``: a notification to send (e-mail, SMS, app push) or a task for a person (a call, a door
  visit). The dispatcher sends queued messages through the channel adapters, retries, and records the status
  (queued -> sent -> delivered, or failed after the last attempt). One message per action (``action`` unique).
* ``DisconnectionOrder``: a planned disconnection (after the legal notice) or a restore after payment; a
  supervisor approves a notified disconnection (``approved_at``/``by``), the field crew records the execution
  (``executed_at``/``by``, ``execution_note``) — see ``application/dunning/disconnection.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import MoneyField


class ActionKind(models.TextChoices):
    REMINDER = "reminder", _("reminder")
    DEMAND = "demand", _("demand for payment")
    NOTICE = "notice", _("disconnection notice")
    FINAL_NOTICE = "final_notice", _("final notice")
    DISCONNECT = "disconnect", _("disconnect")


class Channel(models.TextChoices):
    EMAIL = "email", _("e-mail")
    SMS = "sms", _("SMS")
    PUSH = "push", _("app push")
    CALL_TASK = "call_task", _("phone call task")
    VISIT_TASK = "visit_task", _("door visit task")


class DunningAction(models.Model):
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="dunning_actions",
        verbose_name=_("account"),
    )
    bill = models.ForeignKey(
        "billing.Bill",
        on_delete=models.PROTECT,
        related_name="dunning_actions",
        verbose_name=_("debt (bill)"),
    )
    day = models.DateField(_("day"))
    kind = models.CharField(_("kind"), max_length=16, choices=ActionKind.choices)
    step = models.CharField(_("step"), max_length=32)
    segment = models.CharField(_("segment"), max_length=32)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    amount = MoneyField(_("amount owed"))
    days_overdue = models.IntegerField(_("days overdue"))
    planned_at = models.DateTimeField(_("planned at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ("-day", "account", "id")
        verbose_name = _("dunning action")
        verbose_name_plural = _("dunning actions")
        indexes = (models.Index(fields=["day", "kind"], name="dunning_action_day_idx"),)
        constraints = (
            models.UniqueConstraint(
                fields=["account", "bill", "day", "kind"], name="dunning_action_once_a_day_uniq"
            ),
        )

    def __str__(self) -> str:
        return f"{self.day} {self.account_id} {self.kind}/{self.step} via {self.channel}"


class OutboxStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


class OutboxMessage(models.Model):
    action = models.OneToOneField(
        DunningAction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="message",
        verbose_name=_("dunning action"),
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"))
    status = models.CharField(
        _("status"), max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    provider_id = models.CharField(_("provider message id"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"))
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        indexes = (models.Index(fields=["status", "channel"], name="outbox_status_idx"),)

    def __str__(self) -> str:
        return f"{self.channel} -> {self.recipient}: {self.status}"


class OrderKind(models.TextChoices):
    DISCONNECT = "disconnect", _("disconnect")
    RESTORE = "restore", _("restore")


class OrderStatus(models.TextChoices):
    PLANNED = "planned", _("planned")
    NOTIFIED = "notified", _("notified")
    EXECUTED = "executed", _("executed")
    CANCELLED = "cancelled", _("cancelled")


class DisconnectionOrder(models.Model):
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="disconnection_orders",
        verbose_name=_("account"),
    )
    bill = models.ForeignKey(
        "billing.Bill",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("debt (bill)"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=OrderKind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.PLANNED
    )
    amount = MoneyField(_("amount owed"), default=0)
    planned_at = models.DateTimeField(_("planned at"))
    executed_at = models.DateTimeField(_("executed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    cancel_reason = models.CharField(_("cancel reason"), max_length=300, blank=True)
    # a supervisor's approval of a notified disconnection once its notice period has elapsed (the status stays
    # ``notified``: approved is "notified + approved_at", so every rule about open orders keeps holding)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    # who recorded the execution (the field crew) and what they noted
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("executed by"),
    )
    execution_note = models.CharField(_("execution note"), max_length=300, blank=True)

    class Meta:
        ordering = ("-planned_at", "-id")
        verbose_name = _("disconnection order")
        verbose_name_plural = _("disconnection orders")
        indexes = (models.Index(fields=["kind", "status"], name="dunning_order_status_idx"),)
        constraints = (
            # at most one open (planned / notified) order of each kind per account
            models.UniqueConstraint(
                fields=["account", "kind"],
                condition=Q(status__in=["planned", "notified"]),
                name="dunning_order_one_open_uniq",
            ),
        )

    def __str__(self) -> str:
        return f"{self.kind} {self.account_id} {self.status} @ {self.planned_at}"
