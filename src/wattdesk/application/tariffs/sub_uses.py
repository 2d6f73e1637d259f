"""Use cases: create and end a 定量定比 sub-use agreement (docs/billing-cases/sub-use.md).

A sub-use bills part of a service point's metered kWh on another tariff: a fixed kWh per month (定量) or a
fixed share of the meter (定比), 1996 《供电营业规则》 Art. 70. The billing run applies the agreements in force
at the start of an account's billing period (``application.billing.sub_use``).

Refused with an :class:`~wattdesk.application.errors.InputError` naming the field (the API answers 422 with it):
an unknown service point; a sub-use tariff without a version in force on ``effective_from`` or one that needs
a demand reading (kWh/kW tiers); a service point without a tariff on that date; a value that is not a positive
quantity with at most 4 decimals, or a 定比 above 100 %; a ``priority_list`` without periods or naming a period
the main tariff does not have; a TOU sub-use tariff lacking one of the main tariff's periods (its kWh are
put in the period they were deducted from); a review date (核定) in the future; a date inside or before a period
the account already has a live bill for (cancel and rebill instead); an agreement of the same name already in
force then. Each change is one transaction under a row lock on the service point, with one audit entry
(``tariffs.sub_use.create`` / ``tariffs.sub_use.end``) naming the acting user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from auditlog.models import LogEntry
from django.db import transaction

from wattdesk.application.errors import InputError
from wattdesk.application.tariffs.reference_data import load_pf_table
from wattdesk.core.money import AmountError, parse_amount
from wattdesk.core.rating.sub_use import DEDUCTION_ORDERS, MODES, OVERFLOWS
from wattdesk.core.tariff import Tariff, TariffError, parse_tariff
from wattdesk.domain import audit
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.tariffs import operations
from wattdesk.domain.tariffs.models import SubUseAgreement
from wattdesk.domain.tariffs.queries import assignment_on, version_in_force

LABEL_MAX = 40
REASON_MAX = 200


class SubUseNotFound(InputError):
    """No sub-use agreement with that id."""


@dataclass(frozen=True)
class SubUseRequest:
    """What a clerk enters for a new agreement (strings as typed are fine for ``value``)."""

    service_point: str
    label: str
    tariff_code: str
    mode: str
    value: str | Decimal
    effective_from: date
    reviewed_on: date
    deduction: str = "flat_first"
    priority: Sequence[str] = ()
    in_pf_calculation: bool = True
    in_pf_base: bool = False
    overflow: str = "cap"


def _tariff(code: str, on: date, field: str) -> Tariff:
    version = version_in_force(code=code, on=on)
    if version is None:
        raise InputError(f"{field}: tariff {code!r} has no version in force on {on}")
    try:
        return parse_tariff(doc=version.document, pf_table=load_pf_table())
    except TariffError as exc:
        raise InputError(f"{field}: tariff {code!r} cannot be used: {exc}") from None


def _choice(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise InputError(f"{field}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _no_live_bill_after(sp: ServicePoint, on: date, field: str) -> None:
    billed = (
        Bill.objects.filter(account_id=sp.account_id, end__gt=on)
        .exclude(status=BillStatus.CANCELLED)
        .order_by("-end")
        .values_list("period", flat=True)
        .first()
    )
    if billed is not None:
        raise InputError(
            f"{field}: {on} is inside or before period {billed}, already billed for account "
            f"{sp.account.number} (cancel that bill first, then rebill)"
        )


def create_sub_use_agreement(*, request: SubUseRequest, user: Any, today: date) -> SubUseAgreement:
    """Validate and store one agreement (see the module doc for what is refused); audited."""
    label = request.label.strip()
    if not label or len(label) > LABEL_MAX or not label.isprintable():
        raise InputError(f"label: give the sub-use's name (1-{LABEL_MAX} printable characters, e.g. 照明)")
    mode = _choice(request.mode, MODES, "mode")
    deduction = _choice(request.deduction, DEDUCTION_ORDERS, "deduction")
    overflow = _choice(request.overflow, OVERFLOWS, "overflow")
    try:
        value = parse_amount(request.value, field="value", places=4, max_digits=16)
    except AmountError as exc:
        raise InputError(f"value: {str(exc).removeprefix('value ')}") from None
    if mode == "fixed_ratio" and value > 100:
        raise InputError(f"value: a 定比 share is a percent of the meter's kWh, at most 100, got {value}")
    if request.reviewed_on > today:
        raise InputError(f"reviewed_on: {request.reviewed_on} is in the future")
    sp = ServicePoint.objects.select_related("account").filter(number=request.service_point).first()
    if sp is None:
        raise InputError(f"service_point: unknown service point {request.service_point!r}")
    on = request.effective_from
    sub_tariff = _tariff(request.tariff_code, on, "tariff_code")
    if sub_tariff.energy.tier_basis == "kwh_per_kw":
        raise InputError("tariff_code: a sub-use tariff cannot have kWh/kW tiers (no demand is read for it)")
    assignment = assignment_on(service_point_id=sp.pk, on=on)
    if assignment is None:
        raise InputError(f"service_point: {sp.number} has no tariff assignment on {on}")
    main_keys = [p.key for p in _tariff(assignment.tariff_code, on, "service_point").energy.periods]
    priority = [k.strip() for k in request.priority if k.strip()]
    if deduction == "priority_list":
        if not priority:
            raise InputError("priority: a priority_list deduction needs the period keys in order")
        unknown = [k for k in priority if k not in main_keys]
        if unknown or len(set(priority)) != len(priority):
            raise InputError(
                f"priority: {', '.join(unknown) or 'a repeated key'} — the main tariff "
                f"{assignment.tariff_code} has the periods {', '.join(main_keys)}"
            )
    elif priority:
        raise InputError("priority: only a priority_list deduction takes a period list")
    sub_keys = [p.key for p in sub_tariff.energy.periods]
    if len(sub_keys) > 1 and not set(main_keys) <= set(sub_keys):
        raise InputError(
            f"tariff_code: the TOU sub-use tariff {request.tariff_code} lacks the period(s) "
            f"{', '.join(k for k in main_keys if k not in sub_keys)} of the main tariff {assignment.tariff_code}"
        )
    with transaction.atomic():
        sp = ServicePoint.objects.select_for_update().select_related("account").get(pk=sp.pk)
        if sp.account.closed_on is not None and sp.account.closed_on <= on:
            raise InputError(
                f"effective_from: account {sp.account.number} is closed on {sp.account.closed_on}"
            )
        _no_live_bill_after(sp, on, "effective_from")
        try:
            agreement = operations.create_sub_use(
                service_point_id=sp.pk,
                label=label,
                tariff_code=request.tariff_code,
                mode=mode,
                value=value,
                deduction=deduction,
                priority=",".join(priority),
                in_pf_calculation=request.in_pf_calculation,
                in_pf_base=request.in_pf_base,
                overflow=overflow,
                effective_from=on,
                reviewed_on=request.reviewed_on,
            )
        except operations.SubUseOverlap as exc:
            raise InputError(f"label: {exc}") from None
        audit.record_batch(
            actor=user,
            action="tariffs.sub_use.create",
            object_repr=f"sub-use {agreement.pk} {label} of service point {sp.number}",
            object_pk=agreement.pk,
            changes={
                "service_point": sp.number,
                "label": label,
                "tariff_code": request.tariff_code,
                "mode": mode,
                "value": str(value),
                "deduction": deduction,
                "priority": ",".join(priority),
                "in_pf_calculation": request.in_pf_calculation,
                "in_pf_base": request.in_pf_base,
                "overflow": overflow,
                "effective_from": on.isoformat(),
                "reviewed_on": request.reviewed_on.isoformat(),
            },
        )
    return agreement


def end_sub_use_agreement(
    *, agreement_id: int, effective_to: date, reason: str, user: Any
) -> SubUseAgreement:
    """End an agreement: in force until ``effective_to`` (exclusive); audited with the reason."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise InputError(f"reason: say why the sub-use ends (1-{REASON_MAX} characters)")
    with transaction.atomic():
        agreement = (
            SubUseAgreement.objects.select_for_update()
            .select_related("service_point__account")
            .filter(pk=agreement_id)
            .first()
        )
        if agreement is None:
            raise SubUseNotFound(f"no sub-use agreement {agreement_id}")
        if agreement.effective_to is not None:
            raise InputError(f"sub-use agreement {agreement_id} already ended on {agreement.effective_to}")
        if effective_to <= agreement.effective_from:
            raise InputError(
                f"effective_to: {effective_to} must be after the agreement's start {agreement.effective_from}"
            )
        _no_live_bill_after(agreement.service_point, effective_to, "effective_to")
        operations.end_sub_use(agreement=agreement, effective_to=effective_to, reason=reason)
        audit.record_batch(
            actor=user,
            action="tariffs.sub_use.end",
            object_repr=f"sub-use {agreement.pk} {agreement.label} of service point {agreement.service_point.number}",
            object_pk=agreement.pk,
            kind=LogEntry.Action.UPDATE,
            changes={"effective_to": (None, effective_to.isoformat()), "reason": reason},
        )
    return agreement
