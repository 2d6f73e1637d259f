"""Receivables on issue (电费发行): a bill's charge is posted when the bill is issued, not by the billing run.

Before this change the billing run posted a charge for every bill it wrote, draft and held ones included. This
migration reverses (append-only: a reversal entry, never an UPDATE or DELETE) every live charge of a bill that
is still draft or held, so those bills owe nothing until they are issued; issuing them posts their charge again.
Money a customer already paid against such a charge is freed by the reversal (an allocation to a reversed entry
no longer counts) and is applied to the charge when the bill is issued (``review.issue_bills``), or by the
nightly pass.

Charges of issued and cancelled bills are left as they are: an issued bill's charge is its receivable, and a
cancelled bill's charge was already reversed when it was cancelled (or is reversed by cancelling it).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.utils import timezone

CHUNK = 5_000
MEMO = "电费自发行起入账: 冲回审核前入账的应收 (迁移 ledger.0005)"
UNISSUED = ("draft", "held")


def reverse_unissued_charges(ledger_entry: Any, now: Any) -> int:
    """Reverse each live charge whose bill is draft or held; returns how many. ``ledger_entry`` is the model."""
    reversed_ids = ledger_entry.objects.filter(kind="reversal").values("reverses_id")
    live = (
        ledger_entry.objects.filter(kind="charge", bill__status__in=UNISSUED)
        .exclude(pk__in=reversed_ids)
        .order_by("id")
        .values_list("id", "account_id", "amount", "bill_id")
    )
    done = 0
    batch: list[Any] = []
    for entry_id, account_id, amount, bill_id in list(live):  # read first, then insert into the same table
        batch.append(
            ledger_entry(
                account_id=account_id,
                kind="reversal",
                amount=-amount,
                bill_id=bill_id,
                posted_at=now,
                reverses_id=entry_id,
                memo=MEMO,
            )
        )
        if len(batch) >= CHUNK:
            ledger_entry.objects.bulk_create(batch)
            done += len(batch)
            batch = []
    if batch:
        ledger_entry.objects.bulk_create(batch)
        done += len(batch)
    return done


def forward(apps: Any, schema_editor: Any) -> None:
    reverse_unissued_charges(apps.get_model("ledger", "LedgerEntry"), timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_run_heartbeat"),
        ("ledger", "0004_item_by_bill_index"),
    ]

    # not reversible: the reversals are ledger history (append-only), and issuing posts charges from now on
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
