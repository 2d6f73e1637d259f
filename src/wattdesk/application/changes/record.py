"""Use case: record a service change (变更用电) — 改类, 减容, 暂停, 减容恢复, 暂停恢复, 增容, 暂换, contract
demand, 换表, CT/PT, a service point added / retired, an account opened / closed mid-month.

One transaction: the service point row is locked, the change is checked against the rule set in force on its
date (``domain.changes.queries.rules_in_force``), stored with the values before and after, the service
point's current values follow the latest change (capacity, contract demand, PF standard; a 改类 ends the
tariff assignment in force and starts the new one on the change day), and one audit entry
``changes.record`` is written. Bad input raises :class:`ChangeInputError` (one line naming the field), which
the API answers with a 422 and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from wattdesk.application.changes.segmenting import REDUCING_KINDS, RESTORING_KINDS
from wattdesk.application.errors import InputError
from wattdesk.domain import audit
from wattdesk.domain.changes.models import ChangeKind, ServiceChange
from wattdesk.domain.changes.queries import NoRuleSet, rules_in_force
from wattdesk.domain.customers.models import Account, ServicePoint
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

ZERO = Decimal(0)
CAPACITY_KINDS = frozenset(
    {"reduction", "suspension", "reduction_restore", "suspension_restore", "increase", "temporary_exchange"}
)
DEMAND_BOUNDARY_KINDS = CAPACITY_KINDS | {"contract_demand"}


class ChangeInputError(InputError):
    """The change cannot be recorded: the message names the field and the reason."""


@dataclass(frozen=True)
class ChangeRequest:
    """What the clerk enters (strings or values as received; checked by :func:`record_change`)."""

    account: str
    service_point: str
    kind: str
    effective_on: date
    capacity_kva: Decimal | str | None = None
    contract_kw: Decimal | str | None = None
    tariff_code: str = ""
    pf_standard: Decimal | str | None = None
    multiplier: Decimal | str | None = None
    meter_serial: str = ""
    planned_until: date | None = None
    restores: int | None = None
    reason: str = ""


def _dec(name: str, value: Any, *, positive: bool = False) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ChangeInputError(f"{name}: not a number: {value!r}") from None
    if not d.is_finite() or d < 0 or (positive and d == 0):
        raise ChangeInputError(f"{name}: must be {'positive' if positive else 'zero or more'}")
    return d


def _need(name: str, value: Decimal | None, kind: str) -> Decimal:
    if value is None:
        raise ChangeInputError(f"{name}: required for {kind}")
    return value


def record_change(*, request: ChangeRequest, actor: Any, now: datetime) -> ServiceChange:
    """Record one change; see the module docstring. Raises :class:`ChangeInputError`."""
    r = request
    if r.kind not in ChangeKind.values:
        raise ChangeInputError(f"kind: unknown change kind {r.kind!r} ({', '.join(ChangeKind.values)})")
    with transaction.atomic():
        account = Account.objects.filter(number=r.account).first()
        if account is None:
            raise ChangeInputError(f"account: unknown account {r.account!r}")
        sp = ServicePoint.objects.select_for_update().filter(number=r.service_point, account=account).first()
        if sp is None:
            raise ChangeInputError(
                f"service_point: {r.service_point!r} is not a service point of {account.number}"
            )
        try:
            rules = rules_in_force(on=r.effective_on)
        except NoRuleSet as exc:
            raise ChangeInputError(f"effective_on: {exc}") from None
        latest = ServiceChange.objects.filter(service_point=sp).order_by("-effective_on", "-id").first()
        if latest is not None and r.effective_on < latest.effective_on:
            raise ChangeInputError(
                f"effective_on: a later change ({latest.kind} on {latest.effective_on}) is already recorded"
            )
        if r.kind != "account_opened" and r.kind != "point_added" and r.effective_on < account.opened_on:
            raise ChangeInputError(f"effective_on: before the account was opened ({account.opened_on})")
        if r.planned_until is not None and r.planned_until <= r.effective_on:
            raise ChangeInputError("planned_until: must be after effective_on")
        # values in force before the change
        if latest is not None:
            cap0, ckw0, tar0, pf0 = (
                latest.capacity_after,
                latest.contract_kw_after,
                latest.tariff_after,
                latest.pf_standard_after,
            )
            in_service0 = latest.in_service_after
        else:
            cap0, ckw0, pf0 = sp.capacity_kva, sp.contract_kw, sp.pf_standard
            a = (
                TariffAssignment.objects.filter(service_point=sp, effective_from__lte=r.effective_on)
                .exclude(effective_to__lte=r.effective_on)
                .order_by("-effective_from")
                .first()
            )
            tar0 = a.tariff_code if a is not None else ""
            in_service0 = r.kind not in ("account_opened", "point_added")
        if not in_service0 and r.kind not in ("account_opened", "point_added"):
            raise ChangeInputError("kind: the service point is not in service (retired or closed)")
        capacity = _dec("capacity_kva", r.capacity_kva)
        contract = _dec("contract_kw", r.contract_kw)
        pf = _dec("pf_standard", r.pf_standard, positive=True)
        multiplier = _dec("multiplier", r.multiplier, positive=True)
        if pf is not None and pf > 1:
            raise ChangeInputError("pf_standard: must be at most 1")
        cap1, ckw1, tar1, pf1, in_service1 = cap0, ckw0, tar0, pf0 if pf is None else pf, True
        restores: ServiceChange | None = None
        kind = r.kind
        if kind in REDUCING_KINDS:
            cap1 = _need("capacity_kva", capacity, kind)
            if cap1 >= cap0:
                raise ChangeInputError(f"capacity_kva: {kind} must leave less than the {cap0} kVA in use")
            if kind == "suspension":
                if (
                    r.planned_until is not None
                    and (r.planned_until - r.effective_on).days < rules.suspension_min_days
                ):
                    raise ChangeInputError(
                        f"planned_until: a suspension (暂停) lasts at least {rules.suspension_min_days} days "
                        f"(rule set {rules.version})"
                    )
                year = r.effective_on.year
                n = ServiceChange.objects.filter(
                    service_point=sp, kind="suspension", effective_on__year=year
                ).count()
                if rules.suspension_max_per_year is not None and n >= rules.suspension_max_per_year:
                    raise ChangeInputError(
                        f"kind: at most {rules.suspension_max_per_year} suspensions (暂停) per calendar year "
                        f"(rule set {rules.version}); {year} has {n}"
                    )
            elif (
                rules.reduction_min_days
                and r.planned_until is not None
                and (r.planned_until - r.effective_on).days < rules.reduction_min_days
            ):
                raise ChangeInputError(
                    f"planned_until: a reduction (减容) lasts at least {rules.reduction_min_days} days "
                    f"(rule set {rules.version})"
                )
        elif kind in RESTORING_KINDS:
            wanted = "suspension" if kind == "suspension_restore" else "reduction"
            open_ = ServiceChange.objects.filter(service_point=sp, kind=wanted).exclude(
                restored_by__isnull=False
            )
            if r.restores is not None:
                open_ = open_.filter(pk=r.restores)
            restores = open_.order_by("-effective_on", "-id").first()
            if restores is None:
                raise ChangeInputError(f"restores: no {wanted} of {sp.number} left to restore")
            cap1 = (
                capacity
                if capacity is not None
                else cap0 + (restores.capacity_before - restores.capacity_after)
            )
            if cap1 <= cap0:
                raise ChangeInputError(f"capacity_kva: a restore must bring back capacity (now {cap0} kVA)")
        elif kind == "increase":
            cap1 = _need("capacity_kva", capacity, kind)
            if cap1 <= cap0:
                raise ChangeInputError(f"capacity_kva: an increase (增容) must exceed the {cap0} kVA in use")
        elif kind == "temporary_exchange":
            cap1 = _need("capacity_kva", capacity, kind)
            if cap1 == cap0:
                raise ChangeInputError(f"capacity_kva: 暂换 to the same {cap0} kVA is not a change")
        elif kind == "contract_demand":
            ckw1 = _need("contract_kw", contract, kind)
        elif kind == "reclass":
            if not r.tariff_code:
                raise ChangeInputError("tariff_code: required for reclass (改类)")
            if not TariffVersion.objects.filter(code=r.tariff_code).exists():
                raise ChangeInputError(f"tariff_code: unknown tariff {r.tariff_code!r}")
            if r.tariff_code == tar0 and pf is None:
                raise ChangeInputError(f"tariff_code: the service point is already on {tar0}")
            tar1 = r.tariff_code
        elif kind == "multiplier":
            _need("multiplier", multiplier, kind)
        elif kind == "meter_exchange":
            if not r.meter_serial:
                raise ChangeInputError("meter_serial: required for meter_exchange (换表)")
        elif kind in ("point_retired", "account_closed"):
            in_service1, cap1 = False, ZERO
        elif kind in ("point_added", "account_opened"):
            cap1 = _need("capacity_kva", capacity, kind)
            if r.tariff_code:
                tar1 = r.tariff_code
            if not tar1:
                raise ChangeInputError(f"tariff_code: required for {kind} (no tariff assignment in force)")
        if (
            rules.demand_changes_on_period_boundary
            and kind in DEMAND_BOUNDARY_KINDS
            and ckw0 is not None
            and r.effective_on.day != account.billing_day
        ):
            raise ChangeInputError(
                f"effective_on: a maximum-demand customer changes on a billing-period boundary (day "
                f"{account.billing_day}) under rule set {rules.version}"
            )
        change = ServiceChange.objects.create(
            account=account,
            service_point=sp,
            kind=kind,
            effective_on=r.effective_on,
            planned_until=r.planned_until,
            restores=restores,
            capacity_before=cap0,
            capacity_after=cap1,
            contract_kw_before=ckw0,
            contract_kw_after=ckw1,
            tariff_before=tar0,
            tariff_after=tar1,
            pf_standard_before=pf0,
            pf_standard_after=pf1,
            multiplier_after=multiplier,
            meter_serial=r.meter_serial[:32],
            in_service_after=in_service1,
            reason=r.reason[:200],
            recorded_at=now,
            recorded_by=actor if getattr(actor, "pk", None) else None,
        )
        _follow(sp, change)
        audit.record_batch(
            actor=actor,
            action="changes.record",
            object_repr=f"{kind} {sp.number} {r.effective_on}",
            object_pk=change.pk,
            changes={
                "kind": kind,
                "effective_on": r.effective_on.isoformat(),
                "capacity_kva": (str(cap0), str(cap1)),
                "contract_kw": (None if ckw0 is None else str(ckw0), None if ckw1 is None else str(ckw1)),
                "tariff": (tar0, tar1),
                "pf_standard": (None if pf0 is None else str(pf0), None if pf1 is None else str(pf1)),
                "in_service": (in_service0, in_service1),
                "rule_set": rules.version,
                "reason": r.reason,
            },
        )
    return change


def _follow(sp: ServicePoint, c: ServiceChange) -> None:
    """The service point's current values and tariff assignment follow the latest change."""
    fields = []
    for attr, value in (
        ("capacity_kva", c.capacity_after),
        ("contract_kw", c.contract_kw_after),
        ("pf_standard", c.pf_standard_after),
    ):
        if getattr(sp, attr) != value:
            setattr(sp, attr, value)
            fields.append(attr)
    if fields:
        sp.save(update_fields=fields)
    if c.tariff_after and c.tariff_after != c.tariff_before:
        on = c.effective_on
        TariffAssignment.objects.filter(service_point=sp, effective_from__lt=on).filter(
            effective_to__isnull=True
        ).update(effective_to=on)
        TariffAssignment.objects.filter(service_point=sp, effective_from__lt=on, effective_to__gt=on).update(
            effective_to=on
        )
        TariffAssignment.objects.update_or_create(
            service_point=sp,
            effective_from=on,
            defaults={"tariff_code": c.tariff_after, "effective_to": None},
        )
