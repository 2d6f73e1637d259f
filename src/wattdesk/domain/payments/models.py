"""Payments (缴费), allocations (销账) and late-fee assessments (违约金计收).

* ``Payment``: one payment received on one channel. ``(channel, channel_txn_id)`` is UNIQUE: it is the
  idempotency key of every channel (a counter receipt number, a gateway order id, a bank file line id ...).
  A payment posts one ``LedgerEntry(kind=payment, amount=-amount)``; reversing it posts a reversal entry and
  marks the payment ``reversed`` (the ledger is never edited).
* ``PaymentAllocation``: the part of a payment that settled one open item (a bill's charge entry or a late-fee
  entry). An allocation is *live* while its payment is posted and its item's entry is not reversed; what a
  payment has not (live) allocated is a credit on the account (预存), applied to the next open item.
* ``LateFeeAssessment``: the late fee posted for one bill by the accrual for one date (unique per bill and
  date); ``LateFeeRun``: one accrual per date (the nightly pass is idempotent for a date).
* ``WaiverRequest``: a request to waive (减免) a bill's late fee, with a reason, decided by another user holding
  ``ledger.waive`` (four-eyes); at most one pending request per bill (see ``application/ledger/waivers.py``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import MoneyField


class PaymentChannel(models.TextChoices):
    COUNTER = "counter", _("counter")
    MOBILE = "mobile", _("mobile")
    BANK = "bank", _("bank")
    COLLECTOR = "collector", _("collector")
    PREPAID = "prepaid", _("prepaid")


class PaymentStatus(models.TextChoices):
    POSTED = "posted", _("posted")
    REVERSED = "reversed", _("reversed")


class Payment(models.Model):
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="payments", verbose_name=_("account")
    )
    amount = MoneyField(_("amount"))
    channel = models.CharField(_("channel"), max_length=16, choices=PaymentChannel.choices)
    channel_txn_id = models.CharField(_("channel transaction id"), max_length=64)
    received_at = models.DateTimeField(_("received at"))
    received_on = models.DateField(_("received on"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments_taken",
        verbose_name=_("cashier / collector"),
    )
    outlet = models.CharField(_("outlet code"), max_length=32, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.POSTED
    )
    memo = models.CharField(_("memo"), max_length=300, blank=True)
    ledger_entry = models.OneToOneField(
        "ledger.LedgerEntry",
        on_delete=models.PROTECT,
        related_name="payment",
        verbose_name=_("ledger entry"),
    )
    reversal_entry = models.OneToOneField(
        "ledger.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_payment",
        verbose_name=_("reversal entry"),
    )

    class Meta:
        ordering = ("account", "received_at", "id")
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = (
            models.Index(fields=["account", "received_at"], name="payment_account_received_idx"),
            models.Index(fields=["received_on", "channel"], name="payment_received_channel_idx"),
        )
        constraints = (
            models.UniqueConstraint(fields=["channel", "channel_txn_id"], name="payment_channel_txn_uniq"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=~Q(channel_txn_id=""), name="payment_txn_id_nonempty"),
        )

    def __str__(self) -> str:
        return f"{self.channel}:{self.channel_txn_id} {self.amount} ({self.status})"


class AllocationKind(models.TextChoices):
    CHARGE = "charge", _("charge")
    LATE_FEE = "late_fee", _("late fee")


class PaymentAllocation(models.Model):
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("payment")
    )
    bill = models.ForeignKey(
        "billing.Bill",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_allocations",
        verbose_name=_("bill"),
    )
    ledger_entry = models.ForeignKey(
        "ledger.LedgerEntry",
        on_delete=models.PROTECT,
        related_name="allocations",
        verbose_name=_("settled entry"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=AllocationKind.choices)
    amount = MoneyField(_("amount"))
    allocated_on = models.DateField(_("allocated on"))

    class Meta:
        ordering = ("payment", "id")
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        indexes = (
            models.Index(fields=["ledger_entry"], name="payalloc_entry_idx"),
            # the nightly pass sums allocations per item one range of bills at a time (PostgreSQL: an
            # index-only scan in (bill, entry) order, aggregated without hashing)
            models.Index(
                fields=["bill", "ledger_entry"],
                name="payalloc_bill_entry_idx",
                include=["amount", "allocated_on"],
            ),
        )
        constraints = (models.CheckConstraint(condition=Q(amount__gt=0), name="payalloc_amount_positive"),)

    def __str__(self) -> str:
        return f"payment {self.payment_id} -> entry {self.ledger_entry_id}: {self.amount}"


class LateFeeRun(models.Model):
    as_of = models.DateField(_("as of"), unique=True)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)

    class Meta:
        ordering = ("-as_of",)
        verbose_name = _("late-fee run")
        verbose_name_plural = _("late-fee runs")

    def __str__(self) -> str:
        return f"late fees {self.as_of}"


class LateFeeAssessment(models.Model):
    bill = models.ForeignKey(
        "billing.Bill", on_delete=models.PROTECT, related_name="late_fee_assessments", verbose_name=_("bill")
    )
    as_of = models.DateField(_("as of"))
    amount = MoneyField(_("amount"))
    ledger_entry = models.OneToOneField(
        "ledger.LedgerEntry",
        on_delete=models.PROTECT,
        related_name="late_fee_assessment",
        verbose_name=_("ledger entry"),
    )

    class Meta:
        ordering = ("bill", "as_of")
        verbose_name = _("late-fee assessment")
        verbose_name_plural = _("late-fee assessments")
        constraints = (
            models.UniqueConstraint(fields=["bill", "as_of"], name="latefee_bill_asof_uniq"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="latefee_amount_positive"),
        )

    def __str__(self) -> str:
        return f"late fee bill {self.bill_id} {self.as_of}: {self.amount}"


class WaiverStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class WaiverRequest(models.Model):
    bill = models.ForeignKey(
        "billing.Bill", on_delete=models.PROTECT, related_name="waiver_requests", verbose_name=_("bill")
    )
    amount = MoneyField(_("late fee outstanding when requested"))
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(
        _("status"), max_length=16, choices=WaiverStatus.choices, default=WaiverStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True)
    waived = MoneyField(_("amount waived"), null=True, blank=True)

    class Meta:
        ordering = ("-requested_at", "-id")
        verbose_name = _("late-fee waiver request")
        verbose_name_plural = _("late-fee waiver requests")
        indexes = (models.Index(fields=["status", "requested_at"], name="waiver_status_idx"),)
        constraints = (
            models.UniqueConstraint(
                fields=["bill"], condition=Q(status="pending"), name="waiver_one_pending_per_bill_uniq"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="waiver_amount_positive"),
            # four-eyes: nobody decides their own request (NULL while pending passes the check)
            models.CheckConstraint(condition=~Q(decided_by=F("requested_by")), name="waiver_four_eyes"),
        )

    def __str__(self) -> str:
        return f"waiver bill {self.bill_id} {self.amount} ({self.status})"
