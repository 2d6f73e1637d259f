"""Smart fee control (智能费控) for prepaid accounts. Pure: no Django, no DB, no clock, no I/O.

Rules (docs/fee-control.md):

* **Estimated balance (预估余额)** on day D = the account's credit on the ledger (``-ledger balance``: a
  prepaid account's top-ups are credit) minus the estimated charge of the usage since the latest bill
  ``[since, D + 1)``. The usage is the measured kWh of the daily readings in that window when there are any;
  without them it is the average daily kWh of the latest bill x the days elapsed. The estimated charge is the
  account's tariff applied by the rating engine (``core.rating.exact.rate``) to the partial-period
  determinants, so tiers, funds and fixed charges are priced exactly as the bill will price them.
* **Daily charge** = estimated charge / days elapsed (or, on the first day of a period, the latest bill's
  total / its days); **days left** = estimated balance / daily charge, to 0.1 day (None without usage).
* **Decision**, in this order:
  ``restore``   the meter is off and the estimated balance is > 0 (restoring is allowed at any hour);
  ``disconnect`` the estimated balance is <= 0, the meter is on, the customer is not protected and the
                 time is permitted (not at night, not on a public holiday: :func:`disconnect_permitted`);
  ``warn``      a disconnect that is due but not allowed (protected / night / holiday: ``reason`` says
                 which), or a balance below ``warn_days`` days of usage or below ``warn_balance`` 元;
  ``ok``        otherwise (including a meter that is already off with no money: nothing to do).
* Thresholds are policy data (``FeeControlPolicy``), loaded by the application from configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from wattdesk.core.money import quantize_ratio, round_fen
from wattdesk.core.rating.exact import Determinants, rate
from wattdesk.core.tariff import Tariff

Action = Literal["ok", "warn", "disconnect", "restore"]
ZERO = Decimal("0.00")
DAY_STEP = Decimal("0.1")


class FeeControlError(ValueError):
    """Bad input to the fee-control rules (a window that ends before it starts, a negative usage)."""


@dataclass(frozen=True)
class FeeControlPolicy:
    """Thresholds of the fee-control pass (policy data, per province / customer category)."""

    warn_days: int = 3
    """Warn when the estimated balance covers fewer than this many days of usage."""
    warn_balance: Decimal = Decimal("0.00")
    """Also warn when the estimated balance is below this amount (元); 0 disables the rule."""
    night_starts_hour: int = 22
    """No disconnection from this hour (local time) ..."""
    night_ends_hour: int = 6
    """... until this hour."""
    disconnect_on_holidays: bool = False


def disconnect_permitted(
    *,
    at: datetime,
    holidays: frozenset[date],
    policy: FeeControlPolicy,
    holiday_years: frozenset[int] | None = None,
) -> bool:
    """Whether a remote disconnection may be executed at local time ``at`` (naive or aware, read as local):
    never at night (``night_starts_hour`` .. ``night_ends_hour``) and never on a public holiday. When
    ``holiday_years`` is given and ``at``'s year is not among them, whether it is a holiday is unknown: not
    permitted (unless the policy disconnects on holidays anyway)."""
    hour = at.hour
    night = (
        (hour >= policy.night_starts_hour or hour < policy.night_ends_hour)
        if policy.night_starts_hour > policy.night_ends_hour
        else (policy.night_starts_hour <= hour < policy.night_ends_hour)
    )
    if night:
        return False
    if policy.disconnect_on_holidays:
        return True
    if holiday_years is not None and at.year not in holiday_years:
        return False
    return at.date() not in holidays


@dataclass(frozen=True)
class Usage:
    """What is known of the account's usage since the latest bill."""

    since: date
    """First day not covered by a bill (the latest bill's end, half-open)."""
    kwh_by_period: tuple[Decimal, ...] | None
    """Measured kWh per energy period of the tariff from daily readings, or None without readings."""
    latest_bill_kwh: Decimal | None = None
    latest_bill_days: int = 0
    latest_bill_total: Decimal | None = None
    capacity_kva: Decimal | None = None
    contract_kw: Decimal | None = None


@dataclass(frozen=True)
class Estimate:
    since: date
    end: date  # exclusive: the day after the estimation day
    days: int
    kwh: Decimal
    measured: bool
    charge: Decimal
    credit: Decimal
    estimated_balance: Decimal
    daily_charge: Decimal | None
    days_left: Decimal | None


def _daily_kwh_split(tariff: Tariff, kwh: Decimal) -> tuple[Decimal, ...]:
    """Average usage has no TOU split: it is put on the first energy period (single-period tariffs bill
    the total anyway)."""
    n = len(tariff.energy.periods)
    return (kwh,) + (Decimal(0),) * (n - 1)


def estimate(*, tariff: Tariff, day: date, credit: Decimal, usage: Usage) -> Estimate:
    """The estimated balance of one account on ``day`` (see the module docstring)."""
    end = date.fromordinal(day.toordinal() + 1)
    days = (end - usage.since).days
    if days < 0:
        raise FeeControlError(f"the latest bill ends {usage.since} after the day {day}")
    if usage.kwh_by_period is not None:
        if any(k < 0 for k in usage.kwh_by_period):
            raise FeeControlError("negative usage")
        by_period = usage.kwh_by_period
        measured = True
    elif usage.latest_bill_kwh is not None and usage.latest_bill_days > 0:
        avg = quantize_ratio(usage.latest_bill_kwh, Decimal(usage.latest_bill_days))
        by_period = _daily_kwh_split(tariff, avg * days)
        measured = False
    else:
        by_period = _daily_kwh_split(tariff, Decimal(0))
        measured = False
    kwh = sum(by_period, Decimal(0))
    charge = ZERO
    if days > 0:
        det = Determinants(
            start=usage.since,
            end=end,
            kwh_by_period=by_period,
            capacity_kva=usage.capacity_kva,
            contract_kw=usage.contract_kw,
        )
        charge = rate(tariff=tariff, det=det).total
    balance = round_fen(credit - charge)
    daily: Decimal | None = None
    if days > 0 and charge > 0:
        daily = quantize_ratio(charge, Decimal(days), Decimal("0.0001"))
    elif usage.latest_bill_total is not None and usage.latest_bill_days > 0 and usage.latest_bill_total > 0:
        daily = quantize_ratio(usage.latest_bill_total, Decimal(usage.latest_bill_days), Decimal("0.0001"))
    days_left: Decimal | None = None
    if daily is not None and daily > 0:
        days_left = max(balance, ZERO) / daily
        days_left = days_left.quantize(DAY_STEP, rounding=ROUND_HALF_UP)
    return Estimate(
        since=usage.since,
        end=end,
        days=days,
        kwh=kwh,
        measured=measured,
        charge=charge,
        credit=credit,
        estimated_balance=balance,
        daily_charge=daily,
        days_left=days_left,
    )


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def decide(
    *,
    estimated_balance: Decimal,
    days_left: Decimal | None,
    meter_on: bool,
    protected: bool,
    permitted: bool,
    policy: FeeControlPolicy,
) -> Decision:
    """ok / warn / disconnect / restore for one account (see the module docstring)."""
    if not meter_on:
        if estimated_balance > 0:
            return Decision("restore", "balance_positive")
        return Decision("ok", "already_off")
    if estimated_balance <= 0:
        if protected:
            return Decision("warn", "protected")
        if not permitted:
            return Decision("warn", "not_permitted_time")
        return Decision("disconnect", "balance_exhausted")
    if days_left is not None and days_left < policy.warn_days:
        return Decision("warn", "low_days")
    if policy.warn_balance > 0 and estimated_balance < policy.warn_balance:
        return Decision("warn", "low_balance")
    return Decision("ok", "")


def backoff_seconds(*, attempt: int, base: float, cap: float) -> float:
    """Bounded exponential backoff before retry number ``attempt`` (1-based): base x 2^(attempt-1), <= cap."""
    if attempt < 1:
        return 0.0
    return float(min(cap, base * (2 ** (attempt - 1))))
