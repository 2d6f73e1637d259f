"""Counter (营业厅收费) and door-to-door collection (走收): receipts, the daily cash close (日结) and the
collector's cash hand-over (交款).

* ``Receipt``: one payment taken in person, by a cashier at an outlet or by a collector. Its number is the
  payment's ``channel_txn_id`` (unique per outlet and day: ``<outlet>-<YYYYMMDD>-<seq>``, or
  ``ZS<user id>-<YYYYMMDD>-<seq>`` for a collector), so the payment posts exactly once. ``request_token``
  (UNIQUE) makes a double-submitted form return the first receipt. ``reprints`` counts reprints (重打).
* ``CashClose``: the day's close for one cashier at one outlet: the system totals by method, the collectors'
  cash handed over to the cashier (counted into the till: ``expected_cash`` = counter cash + ``handover_cash``)
  and the declared cash count. ``balanced`` and ``approved`` (a discrepancy accepted with a supervisor note) are closed: the
  cashier takes no more payments that day. ``pending`` is a discrepancy recorded with its reason, waiting for
  a supervisor note.
* ``CashHandover``: a collector hands the day's cash to a cashier; expected vs handed over. ``outlet_code`` is
  the outlet where the cashier received it ("" when not named); ``cash_close`` is the close that counted it
  into the cashier's till (set when that close is done; a hand-over is counted once).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.fields import MoneyField


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("cash")
    CARD = "card", _("card")
    QR = "qr", _("QR code")


class Receipt(models.Model):
    receipt_no = models.CharField(_("receipt number"), max_length=64, unique=True)
    request_token = models.CharField(_("request token"), max_length=64, unique=True)
    channel = models.CharField(_("channel"), max_length=16)  # counter | collector | prepaid
    outlet_code = models.CharField(_("outlet code"), max_length=32, blank=True)
    business_date = models.DateField(_("business date"))
    seq = models.PositiveIntegerField(_("sequence"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="receipts",
        verbose_name=_("taken by"),
    )
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="receipts", verbose_name=_("account")
    )
    amount = MoneyField(_("amount"))
    method = models.CharField(_("method"), max_length=8, choices=PaymentMethod.choices)
    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.PROTECT, related_name="receipt", verbose_name=_("payment")
    )
    issued_at = models.DateTimeField(_("issued at"))
    reprints = models.PositiveIntegerField(_("reprints"), default=0)

    class Meta:
        ordering = ("business_date", "outlet_code", "seq")
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        indexes = (models.Index(fields=["user", "business_date"], name="receipt_user_day_idx"),)
        constraints = (models.CheckConstraint(condition=Q(amount__gt=0), name="receipt_amount_positive"),)

    def __str__(self) -> str:
        return f"{self.receipt_no} {self.amount}"


class CloseStatus(models.TextChoices):
    PENDING = "pending", _("discrepancy pending supervisor")
    BALANCED = "balanced", _("balanced")
    APPROVED = "approved", _("closed with approved discrepancy")


CLOSED_STATUSES = (CloseStatus.BALANCED, CloseStatus.APPROVED)


class CashClose(models.Model):
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="cash_closes",
        verbose_name=_("cashier"),
    )
    outlet_code = models.CharField(_("outlet code"), max_length=32)
    business_date = models.DateField(_("business date"))
    expected_cash = MoneyField(_("expected cash"))
    expected_card = MoneyField(_("expected card"))
    expected_qr = MoneyField(_("expected QR"))
    receipts = models.PositiveIntegerField(_("receipts"))
    handover_cash = MoneyField(_("cash handed over by collectors"), default=0)  # part of expected_cash
    declared_cash = MoneyField(_("declared cash"))
    discrepancy = MoneyField(_("discrepancy"))  # declared - expected cash
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    supervisor_note = models.CharField(_("supervisor note"), max_length=300, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cash_closes_approved",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=CloseStatus.choices)
    closed_at = models.DateTimeField(_("closed at"))

    class Meta:
        ordering = ("-business_date", "outlet_code", "cashier")
        verbose_name = _("cash close")
        verbose_name_plural = _("cash closes")
        constraints = (
            models.UniqueConstraint(
                fields=["cashier", "outlet_code", "business_date"], name="cashclose_uniq"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | ~Q(supervisor_note=""), name="cashclose_approved_has_note"
            ),
            # four eyes: a discrepancy is approved by someone other than the cashier
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("cashier")),
                name="cashclose_not_self_approved",
            ),
        )

    def __str__(self) -> str:
        return f"{self.outlet_code} {self.business_date} {self.cashier_id}: {self.status}"


class CashHandover(models.Model):
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="handovers",
        verbose_name=_("collector"),
    )
    business_date = models.DateField(_("business date"))
    expected = MoneyField(_("collected"))
    handed_over = MoneyField(_("handed over"))
    discrepancy = MoneyField(_("discrepancy"))  # handed over - collected
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="handovers_received",
        verbose_name=_("received by"),
    )
    handed_at = models.DateTimeField(_("handed at"))
    outlet_code = models.CharField(_("outlet code"), max_length=32, blank=True)
    cash_close = models.ForeignKey(
        CashClose,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handovers",
        verbose_name=_("counted in cash close"),
    )

    class Meta:
        ordering = ("-business_date", "collector")
        verbose_name = _("cash hand-over")
        verbose_name_plural = _("cash hand-overs")
        indexes = (models.Index(fields=["received_by", "handed_at"], name="handover_receiver_at_idx"),)
        constraints = (
            models.UniqueConstraint(
                fields=["collector", "business_date"], name="handover_collector_day_uniq"
            ),
        )

    def __str__(self) -> str:
        return f"{self.collector_id} {self.business_date}: {self.handed_over}"
