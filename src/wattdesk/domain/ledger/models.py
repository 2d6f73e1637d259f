"""The account ledger (账务流水): every money-changing event, append-only.

A posted entry is never edited or removed. A correction is a ``reversal`` entry (``reverses`` the original,
with the opposite amount) plus, if needed, a new entry. This is enforced three times:

Entries are written only by ``wattdesk.domain.ledger.operations`` (the one checked path: every entry
validated, written in bulk). ``save()``, ``bulk_create()`` and the bulk writer (``wattdesk.domain.bulk``, the
ledger table is *protected* there) refuse to insert outside it with ``LedgerWriteRefused``.

1. ``LedgerEntry.save()`` refuses to save an existing row, ``delete()`` refuses, and the queryset's
   ``update()`` / ``delete()`` / ``bulk_update()`` refuse;
2. the database refuses: a CHECK that the amount is not zero, and BEFORE UPDATE / BEFORE DELETE triggers on
   ``ledger_ledgerentry`` (SQLite and PostgreSQL, see ``wattdesk.domain.ledger.guard``) that abort any
   UPDATE or DELETE, including raw SQL;
3. ``on_delete=PROTECT`` everywhere, so deleting an account or bill never cascades into the ledger.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wattdesk.domain import bulk
from wattdesk.domain.fields import MoneyField


class LedgerImmutableError(Exception):
    """Raised on any attempt to change or delete a posted ledger entry."""


class LedgerWriteRefused(Exception):
    """Raised when code other than ``domain.ledger.operations`` tries to insert ledger entries."""


def _refuse_unless_posting() -> None:
    if not bulk.is_open(LedgerEntry):
        raise LedgerWriteRefused(
            "ledger entries are written only through wattdesk.domain.ledger.operations "
            "(post_entries / post_entry / reverse_entry), which checks every entry"
        )


class LedgerEntryKind(models.TextChoices):
    CHARGE = "charge", _("charge")
    PAYMENT = "payment", _("payment")
    LATE_FEE = "late_fee", _("late fee")
    ADJUSTMENT = "adjustment", _("adjustment")
    REFUND = "refund", _("refund")
    WRITE_OFF = "write_off", _("write-off")
    REVERSAL = "reversal", _("reversal")


class LedgerEntryQuerySet(models.QuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise LedgerImmutableError("ledger entries are append-only: post a reversal instead of updating")

    def delete(self) -> NoReturn:
        raise LedgerImmutableError("ledger entries are append-only: post a reversal instead of deleting")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> NoReturn:
        raise LedgerImmutableError("ledger entries are append-only: post a reversal instead of updating")

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise LedgerImmutableError("ledger entries are append-only: use create()")

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse_unless_posting()
        return super().bulk_create(objs, *args, **kwargs)


class LedgerEntry(models.Model):
    """One posting on an account. ``amount`` > 0 increases what the customer owes; < 0 decreases it."""

    account = models.ForeignKey(
        "customers.Account",
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        verbose_name=_("account"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=LedgerEntryKind.choices)
    amount = MoneyField(_("amount"))
    bill = models.ForeignKey(
        "billing.Bill",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("bill"),
    )
    posted_at = models.DateTimeField(_("posted at"))
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    memo = models.CharField(_("memo"), max_length=300, blank=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ("account", "posted_at", "id")
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        indexes = (
            models.Index(fields=["account", "posted_at"], name="ledger_account_posted_idx"),
            models.Index(fields=["kind", "posted_at"], name="ledger_kind_posted_idx"),
            # Bill items (charges, late fees) by bill, with what the nightly pass reads: its range scans over
            # bill ids read this index only (PostgreSQL: an index-only scan; SQLite keeps the partial index
            # without the included columns).
            models.Index(
                fields=["bill", "id"],
                name="ledger_item_by_bill_idx",
                condition=Q(kind__in=["charge", "late_fee"]) & Q(bill__isnull=False),
                include=["account", "kind", "amount"],
            ),
        )
        constraints = (
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_nonzero"),
            models.CheckConstraint(
                condition=(Q(kind=LedgerEntryKind.REVERSAL) & Q(reverses__isnull=False))
                | (~Q(kind=LedgerEntryKind.REVERSAL) & Q(reverses__isnull=True)),
                name="ledger_reversal_has_target",
            ),
            # An entry is reversed at most once.
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="ledger_reversed_once"
            ),
        )

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.amount} @ {self.posted_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise LedgerImmutableError(
                f"ledger entry {self.pk} is already posted and cannot be changed: post a reversal instead"
            )
        _refuse_unless_posting()
        kwargs["force_insert"] = True
        kwargs.pop("force_update", None)
        kwargs.pop("update_fields", None)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise LedgerImmutableError(f"ledger entry {self.pk} cannot be deleted: post a reversal instead")


bulk.protect(LedgerEntry)


class OpenItemScan(models.Model):
    """One scan of the nightly pass's open-item set (its incremental state; see ``domain.ledger.open_items``).

    The set itself is :class:`OpenItemCandidate` (the entry ids the latest saved scan found possibly open);
    this row says what it was computed against: the highest ledger entry id and allocation id committed when
    the scan started (the *watermarks*), the ids above which the next night looks for touched items (the
    watermarks of the scan of the night before, for a day of overlap), the catch-up day of the late-fee rule (``since``) and whether only allocations after the
    due date counted. ``base_as_of``: the day of the full scan the chain of incremental scans started from.
    """

    as_of = models.DateField(_("as of"))
    since = models.DateField(_("allocated since"))
    after_due_only = models.BooleanField(_("only allocations after the due date count"))
    entry_watermark = models.BigIntegerField(_("highest ledger entry id seen"))
    allocation_watermark = models.BigIntegerField(_("highest allocation id seen"))
    # the next night re-reads from the watermarks of the scan one night before this one (an overlap of a day:
    # a posting that drew its ids before a scan but committed after it is still seen by the next night)
    reread_entry_after = models.BigIntegerField(_("next night re-reads ledger entries above"))
    reread_allocation_after = models.BigIntegerField(_("next night re-reads allocations above"))
    full = models.BooleanField(_("full scan"))
    base_as_of = models.DateField(_("day of the full scan this one builds on"))
    items = models.PositiveIntegerField(_("items in the set"))
    checked = models.PositiveIntegerField(_("items checked"))
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ("-id",)
        verbose_name = _("open-item scan")
        verbose_name_plural = _("open-item scans")

    def __str__(self) -> str:
        kind = "full" if self.full else "incremental"
        return f"{self.as_of} {kind}: {self.items} items"


class OpenItemCandidate(models.Model):
    """A bill item (charge or late fee) the latest saved :class:`OpenItemScan` found possibly open: not fully
    allocated, allocated to inside the late-fee catch-up window, or touched by a reversed payment. A superset
    kept by the nightly pass only; never a source of amounts (the exact check reads the live allocations)."""

    entry_id = models.BigIntegerField(_("ledger entry id"), primary_key=True)
    # what the pass needs of the item, kept so that an untouched item is not read again (a posted entry and
    # its bill's due date and period never change; the customer class is read afresh each night)
    account_id = models.BigIntegerField(_("account id"))
    kind = models.CharField(_("kind"), max_length=16)
    amount = MoneyField(_("amount"))
    bill_id = models.BigIntegerField(_("bill id"))
    due_on = models.DateField(_("due on"), null=True)
    period = models.CharField(_("period"), max_length=7)
    # set when the item is in the set only for an allocation on that day inside the catch-up window (it
    # leaves when the window passes that day); null: it stays until a new row touches it
    recent_until = models.DateField(_("held until the window passes"), null=True)

    class Meta:
        verbose_name = _("open-item candidate")
        verbose_name_plural = _("open-item candidates")

    def __str__(self) -> str:
        return f"entry {self.entry_id}"
