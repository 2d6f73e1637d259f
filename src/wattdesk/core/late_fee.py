"""Late-payment fee (电费违约金), billing-rules.md section 5. Pure: no Django, no clock, no I/O.

Rules (《供电营业规则》1996 Art. 98; the 2024 revision, 国家发展改革委令2024年第14号, in force 2024-06-01, is
believed to keep them [unverified] — so they are policy data, ``LateFeePolicy``, loaded from
``config/late-fee-policy.yaml`` with an effective date):

* **Days.** Accrual starts ``start_offset_days`` after the due date (default 1: the day after the due date) and
  runs through ``as_of`` **inclusive** (the nightly accrual for day D counts day D).
* **Payments** reduce the base from the day they are received (``payment_day_accrues=False``, the default:
  an amount paid on day D does not accrue on day D, so a payment in full settles exactly what was accrued up
  to the day before). With ``payment_day_accrues=True`` the paid amount still accrues on the day of payment
  ("counted to the day of payment" read inclusively) and the base drops the day after.
* **Rates per day.** Residential (居民) 1‰ of the arrears. Other customers 2‰ on arrears of the current year
  and 3‰ on arrears carried over from an earlier year. **Year-boundary rule:** on accrual day D the arrears
  of a bill are "carried over" when the bill's period ('YYYY-MM') is in an earlier calendar year than D; so
  a 2024-11 bill accrues at 2‰ through 2024-12-31 and at 3‰ from 2025-01-01.
* **Rounding.** Daily amounts are added exactly (base × rate is a finite decimal) and the total for one
  arrear (one bill) is rounded once with ``core.money.round_fen``.
* **Minimum.** A total that is > 0 but below ``minimum`` (1 元) is charged as ``minimum``; it is applied per
  arrear (per bill), the unit the fee is assessed on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Literal

from wattdesk.core.money import round_fen

Category = Literal["residential", "other"]
ZERO = Decimal("0.00")


class LateFeeError(ValueError):
    """Bad input to the late-fee rules (no policy in force, bad period, negative amount)."""


@dataclass(frozen=True)
class LateFeePolicy:
    """One effective-dated version of the late-fee rules (see the module docstring)."""

    effective_from: date
    residential_rate: Decimal = Decimal("0.001")
    current_year_rate: Decimal = Decimal("0.002")
    earlier_year_rate: Decimal = Decimal("0.003")
    start_offset_days: int = 1
    payment_day_accrues: bool = False
    minimum: Decimal = Decimal("1.00")
    source: str = ""


def policy_on(versions: Sequence[LateFeePolicy], day: date) -> LateFeePolicy:
    """The version in force on ``day`` (latest ``effective_from`` <= day)."""
    in_force = [v for v in versions if v.effective_from <= day]
    if not in_force:
        raise LateFeeError(f"no late-fee policy in force on {day.isoformat()}")
    return max(in_force, key=lambda v: v.effective_from)


@dataclass(frozen=True)
class Reduction:
    """An amount of the arrear settled on day ``on`` (a payment allocated to it)."""

    on: date
    amount: Decimal


@dataclass(frozen=True)
class Arrear:
    """One bill's unpaid principal: ``principal`` owed from the due date, reduced by ``reductions``."""

    item_id: int
    category: Category
    period: str
    due_on: date
    principal: Decimal
    reductions: tuple[Reduction, ...] = ()


@dataclass(frozen=True)
class LateFeeLine:
    item_id: int
    days: int  # days on which the arrear accrued (base > 0)
    exact: Decimal  # sum of the daily amounts, unrounded
    amount: Decimal  # round_fen(exact), or the minimum


@dataclass(frozen=True)
class LateFeeResult:
    lines: tuple[LateFeeLine, ...]
    total: Decimal


def _period_year(period: str) -> int:
    try:
        year = int(period[:4])
    except ValueError as exc:
        raise LateFeeError(f"bad period {period!r}: expected YYYY-MM") from exc
    if len(period) != 7 or period[4] != "-":
        raise LateFeeError(f"bad period {period!r}: expected YYYY-MM")
    return year


def _one(arrear: Arrear, as_of: date, policy: LateFeePolicy) -> LateFeeLine:
    if arrear.principal < 0:
        raise LateFeeError(f"arrear {arrear.item_id}: negative principal {arrear.principal}")
    bill_year = _period_year(arrear.period)
    first = arrear.due_on + timedelta(days=policy.start_offset_days)
    end = as_of + timedelta(days=1)  # exclusive
    if first >= end:
        return LateFeeLine(arrear.item_id, 0, Decimal(0), ZERO)
    shift = timedelta(days=1) if policy.payment_day_accrues else timedelta(days=0)
    effective = sorted((r.on + shift, r.amount) for r in arrear.reductions)
    cuts = {first, end}
    cuts.update(day for day, _ in effective if first < day < end)
    cuts.update(date(y, 1, 1) for y in range(first.year + 1, as_of.year + 1))
    points = sorted(cuts)
    exact = Decimal(0)
    days = 0
    for a, b in pairwise(points):
        base = arrear.principal - sum((amt for day, amt in effective if day <= a), Decimal(0))
        if base <= 0:
            continue
        if arrear.category == "residential":
            rate = policy.residential_rate
        elif bill_year < a.year:
            rate = policy.earlier_year_rate
        else:
            rate = policy.current_year_rate
        n = (b - a).days
        exact += base * rate * n
        days += n
    amount = round_fen(exact)
    if exact > 0 and amount < policy.minimum:
        amount = policy.minimum
    return LateFeeLine(arrear.item_id, days, exact, amount)


def late_fee(*, arrears: Sequence[Arrear], as_of: date, policy: LateFeePolicy) -> LateFeeResult:
    """The late fee accrued on each arrear from its start day through ``as_of`` (inclusive)."""
    lines = tuple(_one(a, as_of, policy) for a in arrears)
    return LateFeeResult(lines=lines, total=sum((ln.amount for ln in lines), ZERO))
