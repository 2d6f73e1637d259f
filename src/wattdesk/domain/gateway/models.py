"""Payment orders (缴费订单) sent to the gateway, and every callback the gateway sent back.

* ``PaymentOrder``: what the customer asked to pay, on one account. ``created`` until the gateway's signed
  callback says it was paid; the move to ``paid`` is a conditional UPDATE (``WHERE status <> 'paid'``), so of
  many concurrent callbacks exactly one wins and posts the payment. ``channel_txn_id`` is the gateway's
  transaction id: the idempotency key of the ``mobile`` channel (``payments.Payment``).
* ``CallbackNonce``: one row per callback message (its nonce) with the digest of its body; the same nonce on
  a different body is a replay and is refused.
* ``CallbackLog``: every callback received, accepted or not, with its outcome (append-only).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import MoneyField


class OrderStatus(models.TextChoices):
    CREATED = "created", _("created")
    PAID = "paid", _("paid")
    FAILED = "failed", _("failed")
    EXPIRED = "expired", _("expired")


class PaymentOrder(models.Model):
    order_no = models.CharField(_("order number"), max_length=32, unique=True)
    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="payment_orders",
        verbose_name=_("account"),
    )
    amount = MoneyField(_("amount"))
    status = models.CharField(
        _("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    created_at = models.DateTimeField(_("created at"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    channel_txn_id = models.CharField(_("gateway transaction id"), max_length=64, blank=True)
    customer_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_orders",
        verbose_name=_("customer login"),
    )

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("payment order")
        verbose_name_plural = _("payment orders")
        indexes = (models.Index(fields=["channel_txn_id"], name="payorder_txn_idx"),)
        constraints = (
            models.CheckConstraint(condition=Q(amount__gt=0), name="payorder_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="paid") | (Q(paid_at__isnull=False) & ~Q(channel_txn_id="")),
                name="payorder_paid_has_txn",
            ),
        )

    def __str__(self) -> str:
        return f"{self.order_no} {self.amount} ({self.status})"


class CallbackNonce(models.Model):
    nonce = models.CharField(_("nonce"), max_length=64, unique=True)
    body_sha256 = models.CharField(_("body sha256"), max_length=64)
    first_seen_at = models.DateTimeField(_("first seen at"))

    class Meta:
        verbose_name = _("callback nonce")
        verbose_name_plural = _("callback nonces")

    def __str__(self) -> str:
        return self.nonce


class CallbackOutcome(models.TextChoices):
    POSTED = "posted", _("posted")
    DUPLICATE = "duplicate", _("already processed")
    FAILED = "failed", _("payment failed")
    BAD_SIGNATURE = "bad_signature", _("bad signature")
    BAD_REQUEST = "bad_request", _("bad request")
    REPLAY = "replay", _("replay refused")
    UNKNOWN_ORDER = "unknown_order", _("unknown order")
    AMOUNT_MISMATCH = "amount_mismatch", _("amount mismatch")
    CONFLICT = "conflict", _("conflict")
    NOT_CONFIGURED = "not_configured", _("gateway not configured")


class CallbackLog(models.Model):
    received_at = models.DateTimeField(_("received at"))
    order_no = models.CharField(_("order number"), max_length=64, blank=True)
    txn_id = models.CharField(_("gateway transaction id"), max_length=64, blank=True)
    signature_ok = models.BooleanField(_("signature ok"))
    outcome = models.CharField(_("outcome"), max_length=24, choices=CallbackOutcome.choices)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"))
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    body = models.TextField(_("body"))

    class Meta:
        ordering = ("-received_at", "-id")
        verbose_name = _("gateway callback")
        verbose_name_plural = _("gateway callbacks")
        indexes = (models.Index(fields=["order_no"], name="cblog_order_idx"),)

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.order_no} {self.outcome}"
