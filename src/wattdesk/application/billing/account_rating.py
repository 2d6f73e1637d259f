"""The rated bill of one account for one period from its determinants, composed as the billing run composes it:
变损 (``transformer_loss.BatchLosses.apply``, on all the account's points at once: a transformer feeding two
points shares its loss by kWh), then each point rated on the exact path, with its 定量定比 sub-uses
(``sub_use.rate_with_sub_uses``) when it has them. The 一户多人口 uplift is already in the determinants
(``quota.apply``).

Used by the 退补 rebuild (``adjustment.rebuild_bill`` and the plan's original / corrected re-rating), so a bill
with loss, sub-uses or a quota is reproduced to the fen and re-rated with the corrected *metered* quantities: the
loss is computed again on the corrected kWh and kvarh, a 定比 is taken again on the corrected total. The run
calls the same steps batch-wise (``run._prepare_batch``: one archive fetch per batch and memoised rating).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from wattdesk.application.billing import sub_use as sub_use_billing
from wattdesk.application.billing.transformer_loss import BatchLosses, LineRow
from wattdesk.core.rating.exact import Determinants, Line, rate
from wattdesk.core.tariff import Tariff

ZERO = Decimal(0)


@dataclass(frozen=True)
class PointUnit:
    """One service point as billed: its tariff, its metered determinants (quota applied, before the loss), the
    reactive register's kvarh (the loss formula reads it also when the point is not assessed for PF) and its
    sub-uses in force."""

    sp_id: int
    tariff: Tariff
    det: Determinants
    metered_kvarh: Decimal | None = None
    sub_uses: sub_use_billing.InForce | None = None


@dataclass(frozen=True)
class AccountBill:
    lines: tuple[Line, ...]  # the priced lines, point by point (what a 退补 compares)
    notes: tuple[Line, ...]  # sub-use review notes (amount 0)
    loss_rows: tuple[LineRow, ...]  # 变损电量 rows (amount 0)
    total: Decimal
    kwh: Decimal
    hold: str


def rate_account(*, start: date, end: date, points: Sequence[PointUnit], losses: BatchLosses) -> AccountBill:
    """Rate the account's points as the run does (see the module docstring). Raises ``NotBillable``
    (transformer loss), ``SubUseError`` / ``RatingError`` as the run's steps do."""
    dets, loss_rows = losses.apply(
        start=start,
        end=end,
        sp_ids=[p.sp_id for p in points],
        dets=[(p.tariff, p.det) for p in points],
        metered_kvarh={p.sp_id: p.det.kvarh if p.det.kvarh is not None else p.metered_kvarh for p in points},
    )
    lines: list[Line] = []
    notes: list[Line] = []
    total = kwh = ZERO
    hold = ""
    for p, (tariff, det) in zip(points, dets, strict=True):
        if p.sub_uses is not None and p.sub_uses.sub_uses:
            r = sub_use_billing.rate_with_sub_uses(tariff=tariff, det=det, in_force=p.sub_uses)
            lines += r.bill.lines
            notes += r.notes
            total += r.bill.total
            kwh += r.bill.kwh
            hold = hold or r.hold
        else:
            bill = rate(tariff=tariff, det=det)
            lines += bill.lines
            total += bill.total
            kwh += det.kwh
    return AccountBill(tuple(lines), tuple(notes), tuple(loss_rows), total, kwh, hold)
