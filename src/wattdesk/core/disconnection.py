"""Disconnection orders (停电工单): may a supervisor approve one now, may the crew execute it now? Pure.

The nightly dunning decides *when* a disconnection is planned (``core.dunning``); these rules re-check at the
moment a person acts, because things change between the notice and the cut: the customer pays, is flagged
vulnerable, or the crew arrives at night or on a public holiday. Each function answers ``None`` (allowed) or
the reason it is refused. No Django, no database, no clock: the moment ``at`` (local time) comes in.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from wattdesk.core.calendar import year_spans
from wattdesk.core.dunning import DunningPolicy, is_permitted


def approval_refusal(
    *, kind: str, status: str, approved: bool, planned_at: datetime, at: datetime, protected: bool
) -> str | None:
    """A notified disconnection may be approved once its notice period has elapsed (``planned_at`` reached),
    never for a protected customer, and only once."""
    if kind != "disconnect":
        return "only disconnection orders are approved"
    if status != "notified":
        return f"the order is {status}: only a notified disconnection can be approved"
    if approved:
        return "the order is already approved"
    if protected:
        return "protected customer (hospital, life support, vulnerable): never disconnected automatically"
    if at < planned_at:
        return f"the notice period runs until {planned_at.isoformat()}"
    return None


def execution_refusal(
    *,
    kind: str,
    status: str,
    approved: bool,
    owed: Decimal,
    protected: bool,
    at: datetime,
    policy: DunningPolicy,
    holidays: frozenset[date],
    holiday_years: frozenset[int] | None = None,
) -> str | None:
    """May the order be executed at ``at`` (local time)?

    A restore: whenever it is planned (restore promptly, day or night). A disconnection: approved, the account
    still owes, the customer is not protected or vulnerable, not at night, not on a public holiday (nor a
    weekend if the policy says so).
    """
    if kind == "restore":
        return None if status == "planned" else f"the restore order is {status}"
    if status != "notified":
        return f"the order is {status}: only an approved notified disconnection can be executed"
    if not approved:
        return "the disconnection is not approved by a supervisor yet"
    if owed <= 0:
        return f"the account owes nothing now (balance {owed}): cancel the order instead"
    if protected:
        return "protected customer (hospital, life support, vulnerable): never disconnected"
    if holiday_years is not None and at.year not in holiday_years:
        return (
            f"the public holidays of {at.year} are not known (known: {year_spans(holiday_years)}): "
            "no disconnection until chinese-calendar is updated or config/holidays-local.yaml lists the year"
        )
    if at.date() in holidays:
        return f"{at.date().isoformat()} is a public holiday: no disconnection"
    if not is_permitted(at, policy, holidays):
        if policy.avoid_weekends and at.date().weekday() >= 5:
            return f"{at.date().isoformat()} is a weekend: no disconnection"
        return (
            f"no disconnection at night ({policy.night_start.strftime('%H:%M')}"
            f"-{policy.night_end.strftime('%H:%M')}): it is {at.strftime('%H:%M')}"
        )
    return None
