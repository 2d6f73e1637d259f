"""Use cases of per-account tier quotas (一户多人口 阶梯电量基数): grant one, end one, list an account's.

One function per action whatever starts it (the API ``/api/tier-quotas``, a page, a command). Each one

* takes the acting ``user`` and checks the ``billing.review`` capability (a quota changes every later bill of
  the account, like a bill approval);
* locks the account row (``select_for_update``), so two clerks cannot grant overlapping quotas;
* writes one audit entry (``domain.audit.record_batch``) in the same transaction as the change:

=============================  =====================================================================
``customers.tier_quota.grant``  ``account``, ``persons``, ``policy``, ``valid_from``, ``valid_to``,
                                ``uplift_kwh``, ``unit``, ``tiers``, ``evidence``
``customers.tier_quota.end``    ``valid_to: [before, after]``, ``reason``
=============================  =====================================================================

What a grant gives is policy data (``customers.HouseholdQuotaPolicy``, the version of ``policy_code`` in force
on the application date): the person threshold, the uplift per household or per person above a base count,
its unit, the boundaries it widens, the first month (the application's or the next) and the validity.
Billing reads the grants (``application.billing.quota``); rules: docs/billing-cases/household-quota.md.

The clock is never read here: the interface passes ``granted_at`` / ``ended_at`` and the application date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from auditlog.models import LogEntry
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.core.money import quantize_quantity
from wattdesk.core.period import Period, PeriodError, add_months
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import (
    Account,
    CustomerClass,
    HouseholdQuotaPolicy,
    QuotaBasis,
    QuotaStart,
    TierQuotaGrant,
)

DEFAULT_POLICY = "default"
DEFAULT_KIND = "large_household"
MAX_TEXT = 300
MAX_PERSONS = 99


class QuotaInputError(InputError):
    """Bad input for a quota action (the message says which field and why). (``reason_code`` and ``params``: see
    ``application.errors.InputError``)."""


class QuotaNotFound(QuotaInputError):
    pass


class QuotaRefused(QuotaInputError):
    """The acting user may not do this (capability)."""


@dataclass(frozen=True)
class QuotaRead:
    grant_id: int
    account: str
    kind: str
    persons: int
    policy: str
    applied_on: date
    valid_from: str  # YYYY-MM
    valid_to: str | None  # YYYY-MM, the first month without the quota (an early end included)
    uplift_kwh: Decimal
    unit: str
    tiers: str
    evidence: str
    note: str
    ended: bool
    end_reason: str


def _end(g: TierQuotaGrant) -> date | None:
    """The first month without the quota: the earlier of the granted end and an early end."""
    ends = [d for d in (g.valid_to, g.ended_from) if d is not None]
    return min(ends) if ends else None


def _read(g: TierQuotaGrant) -> QuotaRead:
    end = _end(g)
    return QuotaRead(
        grant_id=g.pk,
        account=g.account.number,
        kind=g.kind,
        persons=g.persons,
        policy=g.policy.code,
        applied_on=g.applied_on,
        valid_from=g.valid_from.strftime("%Y-%m"),
        valid_to=None if end is None else end.strftime("%Y-%m"),
        uplift_kwh=g.uplift_kwh,
        unit=g.unit,
        tiers=g.tiers,
        evidence=g.evidence,
        note=g.note,
        ended=g.ended_at is not None,
        end_reason=g.end_reason,
    )


def _check(user: Any) -> None:
    if user is not None and not has_capability(user, roles.BILLING_REVIEW):
        name = getattr(user, "get_username", lambda: str(user))()
        raise QuotaRefused(f"user {name!r} may not do this: it needs the {roles.BILLING_REVIEW} capability")


def _text(value: str | None, what: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise QuotaInputError(f"{what}: required", "required", field=what)
    if len(text) > MAX_TEXT:
        raise QuotaInputError(
            f"{what}: longer than {MAX_TEXT} characters", "too_long", field=what, limit=MAX_TEXT
        )
    return text


def _month(text: str, what: str) -> date:
    try:
        p = Period.parse(text)
    except PeriodError as exc:
        raise QuotaInputError(f"{what}: {exc}") from None
    return date(p.year, p.month, 1)


def _policy(code: str, on: date) -> HouseholdQuotaPolicy:
    policy = (
        HouseholdQuotaPolicy.objects.filter(code=code, effective_from__lte=on)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on))
        .order_by("-effective_from")
        .first()
    )
    if policy is None:
        known = sorted(set(HouseholdQuotaPolicy.objects.values_list("code", flat=True)))
        raise QuotaInputError(
            f"policy: no household-quota policy {code!r} in force on {on} (known: {', '.join(known) or 'none'})"
        )
    return policy


def _uplift(policy: HouseholdQuotaPolicy, persons: int) -> Decimal:
    if policy.basis == QuotaBasis.PER_PERSON_ABOVE:
        return quantize_quantity(Decimal(policy.uplift_kwh) * (persons - policy.persons_base))
    return Decimal(policy.uplift_kwh)


def _latest_billed(account_id: int) -> str | None:
    """The latest period with a live (not cancelled) bill of the account."""
    return (
        Bill.objects.filter(account_id=account_id)
        .exclude(status=BillStatus.CANCELLED)
        .order_by("-period")
        .values_list("period", flat=True)
        .first()
    )


def _refuse_billed(account: Account, month: date, what: str) -> None:
    latest = _latest_billed(account.pk)
    if latest is not None and latest >= month.strftime("%Y-%m"):
        raise QuotaInputError(
            f"{what}: account {account.number} is already billed up to {latest}; a quota changes only unbilled "
            f"months from {month:%Y-%m} (billed months are corrected by a 退补)",
            "quota.billed",
            account=account.number,
            latest=latest,
            month=f"{month:%Y-%m}",
        )


def _lock_account(number: str) -> Account:
    account = Account.objects.select_for_update().select_related("customer").filter(number=number).first()
    if account is None:
        raise QuotaNotFound(f"account: no account {number!r}")
    return account


def grant_quota(
    *,
    account_number: str,
    persons: int,
    evidence: str,
    applied_on: date,
    user: Any,
    granted_at: datetime,
    policy_code: str = DEFAULT_POLICY,
    kind: str = DEFAULT_KIND,
    note: str = "",
) -> QuotaRead:
    """Grant a tier quota to a residential account by the policy in force on ``applied_on`` (audited).

    Refused (``QuotaInputError``, one line naming the field): too few persons for the policy, a
    non-residential account when the policy is residential-only, an application dated after ``granted_at``,
    a first month already billed, a quota of the same kind overlapping it.
    """
    _check(user)
    evidence = _text(evidence, "evidence", required=True)
    note = _text(note, "note", required=False)
    kind = _text(kind, "kind", required=True)[:32]
    if not isinstance(persons, int) or not 1 <= persons <= MAX_PERSONS:
        raise QuotaInputError(
            f"persons: must be a whole number from 1 to {MAX_PERSONS}", "quota.persons_range", max=MAX_PERSONS
        )
    if applied_on > timezone.localdate(granted_at):
        raise QuotaInputError(
            f"applied_on: {applied_on} is after the day of the grant",
            "quota.applied_late",
            applied_on=applied_on,
        )
    policy = _policy(policy_code, applied_on)
    if persons < policy.min_persons:
        raise QuotaInputError(
            f"persons: {persons} persons do not qualify under policy {policy.code!r} "
            f"(at least {policy.min_persons})",
            "quota.persons_min",
            persons=persons,
            policy=policy.code,
            min=policy.min_persons,
        )
    first = date(applied_on.year, applied_on.month, 1)
    valid_from = add_months(first, 1) if policy.starts == QuotaStart.NEXT_MONTH else first
    valid_to = add_months(valid_from, policy.validity_months) if policy.validity_months else None
    uplift = _uplift(policy, persons)
    with transaction.atomic():
        account = _lock_account(account_number)
        if policy.residential_only and account.customer.customer_class != CustomerClass.RESIDENTIAL:
            raise QuotaInputError(
                f"account: {account.number} is {account.customer.customer_class}; policy {policy.code!r} "
                "grants quotas to residential accounts only",
                "quota.residential_only",
                account=account.number,
                policy=policy.code,
            )
        if account.closed_on is not None and account.closed_on < valid_from:
            raise QuotaInputError(
                f"account: {account.number} is closed since {account.closed_on}",
                "quota.closed",
                account=account.number,
                closed_on=account.closed_on,
            )
        _refuse_billed(account, valid_from, "applied_on")
        clash = next(
            (
                g
                for g in TierQuotaGrant.objects.filter(account=account, kind=kind).order_by("valid_from")
                if (valid_to is None or g.valid_from < valid_to)
                and ((end := _end(g)) is None or end > valid_from)
            ),
            None,
        )
        if clash is not None:
            clash_end = _end(clash)
            until = "open" if clash_end is None else f"{clash_end:%Y-%m}"
            raise QuotaInputError(
                f"account: {account.number} already has a {kind} quota from {clash.valid_from:%Y-%m} "
                f"to {until} (grant {clash.pk}); end it first or apply from its end",
                "quota.clash",
                account=account.number,
                start=f"{clash.valid_from:%Y-%m}",
                until="—" if clash_end is None else until,
                grant=clash.pk,
            )
        grant = TierQuotaGrant.objects.create(
            account=account,
            kind=kind,
            persons=persons,
            policy=policy,
            applied_on=applied_on,
            valid_from=valid_from,
            valid_to=valid_to,
            uplift_kwh=uplift,
            unit=policy.unit,
            tiers=policy.tiers,
            evidence=evidence,
            note=note,
            granted_by=user,
            granted_at=granted_at,
        )
        audit.record_batch(
            actor=user,
            action="customers.tier_quota.grant",
            object_repr=f"tier quota {grant.pk} {account.number}",
            object_pk=grant.pk,
            changes={
                "account": account.number,
                "persons": persons,
                "policy": f"{policy.code} {policy.effective_from}",
                "valid_from": f"{valid_from:%Y-%m}",
                "valid_to": None if valid_to is None else f"{valid_to:%Y-%m}",
                "uplift_kwh": str(uplift),
                "unit": policy.unit,
                "tiers": policy.tiers,
                "evidence": evidence,
            },
        )
    grant.account = account
    return _read(grant)


def end_quota(*, grant_id: int, ends_from: str, reason: str, user: Any, ended_at: datetime) -> QuotaRead:
    """End a quota early: ``ends_from`` (YYYY-MM) is the first month without it, an unbilled month after its
    first one and before its granted end (a renewal is a new grant); once only. The granted ``valid_to`` is
    kept (``ended_from`` is set), so the months billed before are re-rated as billed. Audited."""
    _check(user)
    reason = _text(reason, "reason", required=True)
    month = _month(ends_from, "ends_from")
    with transaction.atomic():
        account_id = TierQuotaGrant.objects.filter(pk=grant_id).values_list("account_id", flat=True).first()
        if account_id is None:
            raise QuotaNotFound(f"grant: no tier quota {grant_id}")
        account = Account.objects.select_for_update().get(pk=account_id)
        grant = TierQuotaGrant.objects.select_related("policy").get(pk=grant_id)
        if month <= grant.valid_from:
            raise QuotaInputError(
                f"ends_from: {month:%Y-%m} is not after the quota's first month {grant.valid_from:%Y-%m}"
            )
        if grant.ended_from is not None:
            raise QuotaInputError(f"grant: tier quota {grant.pk} already ended from {grant.ended_from:%Y-%m}")
        if grant.valid_to is not None and month >= grant.valid_to:
            raise QuotaInputError(
                f"ends_from: {month:%Y-%m} is not before the quota's end {grant.valid_to:%Y-%m} "
                "(renew with a new grant)"
            )
        _refuse_billed(account, month, "ends_from")
        before = None if grant.valid_to is None else f"{grant.valid_to:%Y-%m}"
        grant.ended_from = month
        grant.ended_by = user
        grant.ended_at = ended_at
        grant.end_reason = reason
        grant.save(update_fields=["ended_from", "ended_by", "ended_at", "end_reason"])
        audit.record_batch(
            actor=user,
            action="customers.tier_quota.end",
            object_repr=f"tier quota {grant.pk} {account.number}",
            object_pk=grant.pk,
            changes={"valid_to": (before, f"{month:%Y-%m}"), "reason": reason},
            kind=LogEntry.Action.UPDATE,
        )
    grant.account = account
    return _read(grant)


def quotas_of(*, account_number: str) -> list[QuotaRead]:
    """An account's quotas, oldest first."""
    grants = TierQuotaGrant.objects.filter(account__number=account_number).select_related("account", "policy")
    return [_read(g) for g in grants.order_by("valid_from", "id")]
