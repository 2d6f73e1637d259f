"""定量定比 in the billing run: the agreements of a batch and the rating of a service point that has some.

The run (``application.billing.run``) reads the agreements of its batch with :func:`agreements` (one query per
batch, the accounts' id range), turns those in force at the start of an account's billing period into
``core.rating.sub_use.SubUse`` values (:func:`sub_uses_of`: each on its own tariff's version in force on that
date) and rates the service point with :func:`rate_with_sub_uses`, which returns the bill lines (main use
first, then each sub-use, named ``定量 照明 3000 kWh …``), a hold reason when a sub-use was capped at the metered
kWh, and a zero-amount note when an agreement's latest review (核定) is more than 12 months before the period.

An agreement starting or ending inside a billing period applies from the next period that starts with it in
force (as a tariff assignment does); proration of a 定量 by days is not done ([UNVERIFIED], reference §2.5).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from wattdesk.core.period import add_months
from wattdesk.core.rating import Determinants, Line
from wattdesk.core.rating.exact import RatedBill
from wattdesk.core.rating.sub_use import MODE_NAMES, Deduction, SubUse, SubUseBill
from wattdesk.core.rating.sub_use import rate_with_sub_uses as rate_split
from wattdesk.core.tariff import Tariff
from wattdesk.domain.tariffs.models import SubUseAgreement

REVIEW_MONTHS = 12
"""1996 Art. 70: "供电企业每年至少对上述比例或定量核定一次" — a review older than this is flagged on the bill."""
REVIEW_NOTE_CODE = "note.sub_use_review"
CAPPED_HOLD = "sub-use above the metered kWh"


@dataclass(frozen=True, slots=True)
class AgreementRow:
    id: int
    service_point_id: int
    label: str
    tariff_code: str
    mode: str
    value: Decimal
    deduction: str
    priority: tuple[str, ...]
    in_pf_calculation: bool
    in_pf_base: bool
    overflow: str
    effective_from: date
    effective_to: date | None
    reviewed_on: date

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or self.effective_to > on)


def agreements(*, lo: int, hi: int, on_or_before: date) -> dict[int, list[AgreementRow]]:
    """Agreements starting on or before a date of the service points of accounts lo..hi, by service point."""
    out: dict[int, list[AgreementRow]] = defaultdict(list)
    qs = (
        SubUseAgreement.objects.filter(
            service_point__account_id__gte=lo,
            service_point__account_id__lte=hi,
            effective_from__lte=on_or_before,
        )
        .order_by("service_point_id", "effective_from", "id")
        .values_list(
            "id",
            "service_point_id",
            "label",
            "tariff_code",
            "mode",
            "value",
            "deduction",
            "priority",
            "in_pf_calculation",
            "in_pf_base",
            "overflow",
            "effective_from",
            "effective_to",
            "reviewed_on",
        )
    )
    for r in qs:
        priority = tuple(k for k in r[7].split(",") if k)
        out[r[1]].append(AgreementRow(*r[:7], priority, *r[8:]))
    return out


@dataclass(frozen=True)
class InForce:
    """The sub-uses of one service point for one period, and the agreements whose review is overdue."""

    sub_uses: tuple[SubUse, ...]
    overdue: tuple[AgreementRow, ...]


def sub_uses_of(
    rows: Sequence[AgreementRow], *, start: date, tariff_of: Callable[[str, date], Tariff]
) -> InForce:
    """The agreements in force on ``start`` as ``SubUse`` values; ``tariff_of(code, on)`` gives the parsed
    version of a tariff in force (raising the run's ``NotBillable`` when there is none)."""
    subs: list[SubUse] = []
    overdue: list[AgreementRow] = []
    for n, a in enumerate((r for r in rows if r.in_force(start)), start=1):
        subs.append(
            SubUse(
                label=a.label,
                tariff=tariff_of(a.tariff_code, start),
                mode=a.mode,  # type: ignore[arg-type]
                value=a.value,
                deduction=a.deduction,  # type: ignore[arg-type]
                priority=a.priority,
                in_pf_calculation=a.in_pf_calculation,
                in_pf_base=a.in_pf_base,
                overflow=a.overflow,  # type: ignore[arg-type]
                tag=f"sub{n}",
            )
        )
        if add_months(a.reviewed_on, REVIEW_MONTHS) <= start:
            overdue.append(a)
    return InForce(tuple(subs), tuple(overdue))


@dataclass(frozen=True)
class Rated:
    bill: SubUseBill
    hold: str
    notes: tuple[Line, ...]


def _hold(capped: Sequence[Deduction]) -> str:
    parts = [
        f"{MODE_NAMES[d.sub_use.mode]} {d.sub_use.label} {d.wanted} kWh, only {d.kwh} kWh left on the meter"
        for d in capped
    ]
    return f"{CAPPED_HOLD}: " + "; ".join(parts) if parts else ""


def rate_with_sub_uses(
    *,
    tariff: Tariff,
    det: Determinants,
    in_force: InForce,
    rate_one: Callable[[Tariff, Determinants], RatedBill] | None = None,
) -> Rated:
    """Rate a service point with its sub-uses (``rate_one``: the rating path of each part, default exact);
    the hold reason and the review notes."""
    bill = rate_split(tariff=tariff, det=det, sub_uses=in_force.sub_uses, rate_one=rate_one)
    notes = tuple(
        Line(
            REVIEW_NOTE_CODE,
            f"定量定比 {a.label} 核定于 {a.reviewed_on}, 已超过{REVIEW_MONTHS}个月 (sub-use review overdue)",
            Decimal(0),
            "",
            Decimal(0),
            Decimal(0),
            "note",
        )
        for a in in_force.overdue
    )
    return Rated(bill=bill, hold=_hold(bill.capped), notes=notes)
