"""Use cases: 窃电 / 违约用电 inspection cases (用电检查), issue 9 part 7, billing-rules-2.md §5.

The status machine, one function per transition, whatever starts it (the API ``/api/inspection-cases``, the
back-office page ``/inspection/``):

=================  ==============================  ==========================================================
function           status                          audit action (object: the case)
=================  ==============================  ==========================================================
``open_case``      → open                          ``inspection.open``: account, behaviour, found_on, inspector
``compute_case``   open | computed → computed      ``inspection.compute``: rule set, facts, energy, amounts
``approve_case``   computed → approved             ``inspection.approve``: total, note; by a second person
``post_case``      approved → posted               ``inspection.post``: the ledger entry ids and amounts
``reject_case``    open | computed | approved      ``inspection.reject``: reason
                   → rejected
``reverse_case``   posted → reversed               ``inspection.reverse``: reason, the reversal entry ids
=================  ==============================  ==========================================================

Every action needs ``billing.review`` (the 核算员 / admin roles) and an account in the user's scope; each
takes the account then the case row lock (``domain.inspection.operations.lock_case``) and writes its audit entry
in the same transaction. Four-eyes: the approver is neither who opened nor who computed the case (a database
check as well). The amounts come from ``core.inspection`` under the rule set in force on the day the finding
was made (``found_on``); a case found after the 1996 set ended (2024-05-31) is refused until an administrator
enters the 2024 set.

Posting: the case is its own document (``InspectionLine``: 补交电费 and 违约使用电费 as separate lines, not a
``billing.Bill``, whose one-live-bill-per-period rule and run-derived lines do not fit a back-billing); each
line is posted as its own ledger entry of kind ``adjustment`` through ``domain.ledger.operations.post_entries``
and linked from the line. The caller passes every time; the clock is never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from auditlog.models import LogEntry
from django.db import transaction
from django.utils import timezone

from wattdesk.application.errors import InputError
from wattdesk.core import inspection as core
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, has_capability
from wattdesk.domain.fields import (
    MONEY_DECIMAL_PLACES,
    MONEY_MAX_DIGITS,
    QUANTITY_DECIMAL_PLACES,
    QUANTITY_MAX_DIGITS,
)
from wattdesk.domain.inspection.models import (
    BehaviourCode,
    CaseStatus,
    InspectionCase,
    InspectionLine,
)
from wattdesk.domain.inspection.operations import CaseMissing, lock_case
from wattdesk.domain.inspection.queries import NoRuleSet, rule_set_on, to_core
from wattdesk.domain.ledger.models import LedgerEntryKind
from wattdesk.domain.ledger.operations import Posting, post_entries, reverse_entry

MAX_TEXT = 300
MAX_EVIDENCE = 2000
MAX_USAGES = 20
MAX_MONEY = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES)  # exclusive, the money column's bound
MAX_KWH = Decimal(10) ** (QUANTITY_MAX_DIGITS - QUANTITY_DECIMAL_PLACES)


class CaseRefused(InputError):
    """The action is not allowed: capability, state, four-eyes, or a fact the rule cannot use. (``reason_code`` and ``params``: see
    ``application.errors.InputError``)."""


class FourEyesRefused(CaseRefused):
    """The approver opened or computed the case."""


class CaseStateError(CaseRefused):
    """The case is not in the state the action needs (someone acted first)."""


class CaseNotFound(InputError):
    """No such case (or account, behaviour) in the user's scope."""


def _require(user: Any) -> None:
    if not has_capability(user, roles.BILLING_REVIEW):
        raise CaseRefused("inspection cases need the billing.review capability", "inspection.capability")


def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    text = str(value or "").strip()
    if not text:
        raise CaseRefused(f"{what}: required", "required", field=what)
    if len(text) > limit:
        raise CaseRefused(f"{what}: longer than {limit} characters", "too_long", field=what, limit=limit)
    return text


def _locked(*, case_id: int, user: Any, allowed: tuple[str, ...], action: str) -> InspectionCase:
    _require(user)
    try:
        case = lock_case(case_id=case_id)
    except CaseMissing:
        raise CaseNotFound(f"no inspection case {case_id}") from None
    if not accounts_for(user).filter(pk=case.account_id).exists():
        raise CaseNotFound(f"no inspection case {case_id}")
    if case.status not in allowed:
        raise CaseStateError(
            f"inspection case {case_id} is {case.status}: cannot {action} it",
            "inspection.state",
            case_id=case_id,
            status=case.status,
            action=action,
        )
    return case


def _record(user: Any, action: str, case: InspectionCase, changes: Mapping[str, Any]) -> None:
    audit.record_batch(
        actor=user,
        action=action,
        object_repr=f"inspection case {case.pk} account {case.account.number}",
        object_pk=case.pk,
        changes=changes,
        kind=LogEntry.Action.CREATE if action == "inspection.open" else LogEntry.Action.UPDATE,
    )


# --- open --------------------------------------------------------------------------------------------------


def open_case(
    *,
    user: Any,
    account_number: str,
    behaviour_code: str,
    found_on: date,
    inspector: str,
    evidence: str,
    opened_at: datetime,
) -> InspectionCase:
    """Record a finding (立案): the account, what was found (behaviour code), when, by which inspector, evidence."""
    _require(user)
    inspector = _text(inspector, "inspector", 64)
    evidence = _text(evidence, "evidence", MAX_EVIDENCE)
    if found_on > timezone.localdate(opened_at):
        raise CaseRefused(
            f"found_on: {found_on} is after the day the case is opened",
            "inspection.found_on_late",
            found_on=found_on,
        )
    behaviour = BehaviourCode.objects.filter(code=(behaviour_code or "").strip(), active=True).first()
    if behaviour is None:
        raise CaseRefused(
            f"behaviour: no active behaviour code {behaviour_code!r}",
            "inspection.behaviour",
            code=behaviour_code,
        )
    with transaction.atomic():
        account = accounts_for(user).select_for_update().filter(number=(account_number or "").strip()).first()
        if account is None:
            raise CaseNotFound(f"account: no account {account_number!r}")
        case = InspectionCase.objects.create(
            account=account,
            behaviour=behaviour,
            found_on=found_on,
            inspector=inspector,
            evidence=evidence,
            opened_by=user,
            opened_at=opened_at,
        )
        _record(user, "inspection.open", case, {
            "status": (None, CaseStatus.OPEN), "behaviour": behaviour.code, "found_on": found_on.isoformat(),
            "inspector": inspector,
        })  # fmt: skip
    return case


# --- compute -----------------------------------------------------------------------------------------------


def _decimal(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> Decimal | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CaseRefused(f"{where}{key}: required")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise CaseRefused(f"{where}{key}: a number is expected, not {value!r}")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise CaseRefused(f"{where}{key}: {value!r} is not a number") from None
    if not d.is_finite() or d <= 0 or d >= Decimal(10) ** 9:
        raise CaseRefused(f"{where}{key}: must be a positive number below 10^9, not {value!r}")
    return d


def _int(raw: Mapping[str, Any], key: str, default: int | None) -> int | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        n = int(str(value).strip())
    except ValueError:
        raise CaseRefused(f"{key}: a whole number is expected, not {value!r}") from None
    if isinstance(value, bool) or not 0 < n <= 100_000:
        raise CaseRefused(f"{key}: must be a whole number from 1 to 100000, not {value!r}")
    return n


def _bool(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("1", "true", "on", "yes"):
        return True
    if str(value).strip().lower() in ("", "0", "false", "off", "no"):
        return False
    raise CaseRefused(f"{key}: true or false expected, not {value!r}")


def _usage(raw: Any, i: int, method: core.Method) -> core.Usage:
    where = f"usages[{i}]."
    if not isinstance(raw, Mapping):
        raise CaseRefused(f"usages[{i}]: an object is expected")
    use = str(raw.get("use") or "").strip()
    if use not in (core.Use.POWER, core.Use.LIGHTING):
        raise CaseRefused(f"{where}use: 'power' (动力) or 'lighting' (照明), not {raw.get('use')!r}")
    price = _decimal(raw, "price", where, required=True)
    hours = _decimal(raw, "hours_per_day", where)
    kw = _decimal(raw, "capacity_kw", where)
    if kw is None and method == core.Method.METER_CAPACITY:
        phases = _int(raw, "phases", 1)
        try:
            kw = core.meter_capacity_kw(
                phase_voltage=_decimal(raw, "phase_voltage", where, required=True) or Decimal(0),
                rated_current=_decimal(raw, "rated_current", where, required=True) or Decimal(0),
                phases=phases or 1,
                ct_ratio=_decimal(raw, "ct_ratio", where) or Decimal(1),
            )
        except core.InspectionInputError as exc:
            raise CaseRefused(f"{where}{exc}") from None
    if kw is None:
        raise CaseRefused(f"{where}capacity_kw: required")
    assert price is not None
    return core.Usage(capacity_kw=kw, use=core.Use(use), price=price, hours_per_day=hours)


def parse_facts(*, method: str, found_on: date, raw: Mapping[str, Any]) -> core.CaseFacts:
    """The case facts from what the clerk entered (API body / form, strings or numbers), refusing with the
    field's name. ``found_on`` is the case's own date (the end of the months of use)."""
    m = core.Method(method)
    usages_raw = raw.get("usages") or []
    if not isinstance(usages_raw, list) or len(usages_raw) > MAX_USAGES:
        raise CaseRefused(f"usages: a list of at most {MAX_USAGES} pieces of equipment is expected")
    used_from_raw = raw.get("used_from")
    used_from = None
    if used_from_raw not in (None, ""):
        try:
            used_from = date.fromisoformat(str(used_from_raw))
        except ValueError:
            raise CaseRefused(f"used_from: {used_from_raw!r} is not a date (YYYY-MM-DD)") from None
    return core.CaseFacts(
        method=m,
        usages=tuple(_usage(u, i, m) for i, u in enumerate(usages_raw)),
        days=_int(raw, "days", None),
        base_price=_decimal(raw, "base_price", ""),
        residential=_bool(raw, "residential"),
        two_part=_bool(raw, "two_part"),
        capacity_kw=_decimal(raw, "capacity_kw", ""),
        basic_price=_decimal(raw, "basic_price", ""),
        used_from=used_from,
        found_on=found_on,
        events=_int(raw, "events", 1) or 1,
    )


def _jsonable(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The facts as entered, stored with the case (numbers as strings: no float)."""

    def conv(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, bool) or v is None:
            return v
        return str(v)

    out: dict[str, Any] = conv(dict(raw))
    return out


def compute_case(
    *, case_id: int, user: Any, facts: Mapping[str, Any], computed_at: datetime
) -> InspectionCase:
    """Compute the back charge and penalty from the facts under the rule set in force on ``found_on``; the
    case's lines are replaced (a computed case may be computed again until it is approved)."""
    with transaction.atomic():
        case = _locked(
            case_id=case_id, user=user, allowed=(CaseStatus.OPEN, CaseStatus.COMPUTED), action="compute"
        )
        parsed = parse_facts(method=case.behaviour.method, found_on=case.found_on, raw=facts)
        try:
            rule_row = rule_set_on(case.found_on)
        except NoRuleSet as exc:
            raise CaseRefused(str(exc)) from None
        try:
            result = core.assess(facts=parsed, rules=to_core(rule_row))
        except core.InspectionInputError as exc:
            raise CaseRefused(str(exc)) from None
        except InvalidOperation:  # beyond Decimal's 28 digits
            raise CaseRefused(
                "the facts give an amount beyond what a bill can hold: check them", "inspection.too_large"
            ) from None
        if result.total <= 0:
            raise CaseRefused(
                "the facts give nothing to charge (0.00): check the dates and capacity", "inspection.nothing"
            )
        if result.total >= MAX_MONEY or result.energy_kwh >= MAX_KWH:
            raise CaseRefused(
                f"the facts give {result.total} 元 / {result.energy_kwh} kWh, beyond what a bill can hold: "
                "check the capacity, days and price",
                "inspection.too_large",
            )
        before = (case.status, str(case.total) if case.total is not None else None)
        InspectionLine.objects.filter(case=case).delete()
        InspectionLine.objects.bulk_create(
            InspectionLine(case=case, seq=i, kind=ln.kind, label=ln.label, amount=ln.amount, formula=ln.formula[:500])
            for i, ln in enumerate((ln for ln in result.lines if ln.amount != 0), start=1)
        )  # fmt: skip
        case.status = CaseStatus.COMPUTED
        case.facts = _jsonable(facts)
        case.rule_set = rule_row
        case.energy_kwh = result.energy_kwh
        case.back_charge = result.back_charge
        case.penalty = result.penalty
        case.total = result.total
        case.computed_by = user
        case.computed_at = computed_at
        case.save()
        _record(user, "inspection.compute", case, {
            "status": (before[0], CaseStatus.COMPUTED), "total": (before[1], str(result.total)),
            "rule_set": rule_row.code, "energy_kwh": str(result.energy_kwh),
            "back_charge": str(result.back_charge), "penalty": str(result.penalty), "facts": case.facts,
        })  # fmt: skip
    return case


# --- approve, post, reject ---------------------------------------------------------------------------------


def approve_case(*, case_id: int, user: Any, approved_at: datetime, note: str = "") -> InspectionCase:
    """A second person approves the computed amounts (审批): not who opened or computed the case."""
    note = str(note or "").strip()[:MAX_TEXT]
    with transaction.atomic():
        case = _locked(case_id=case_id, user=user, allowed=(CaseStatus.COMPUTED,), action="approve")
        if user.pk in (case.opened_by_id, case.computed_by_id):
            raise FourEyesRefused(
                f"four-eyes: inspection case {case_id} is approved by someone other than who opened or computed it",
                "inspection.four_eyes",
                case_id=case_id,
            )
        case.status = CaseStatus.APPROVED
        case.approved_by = user
        case.approved_at = approved_at
        case.save(update_fields=["status", "approved_by", "approved_at"])
        _record(user, "inspection.approve", case, {
            "status": (CaseStatus.COMPUTED, CaseStatus.APPROVED), "total": str(case.total), "note": note,
            "computed_by": case.computed_by_id,
        })  # fmt: skip
    return case


def post_case(*, case_id: int, user: Any, posted_at: datetime) -> InspectionCase:
    """Post an approved case: each line (补交电费, 违约使用电费) becomes its own ledger entry (adjustment)."""
    with transaction.atomic():
        case = _locked(case_id=case_id, user=user, allowed=(CaseStatus.APPROVED,), action="post")
        lines = list(InspectionLine.objects.filter(case=case).order_by("seq"))
        ids = post_entries(
            entries=[
                Posting(
                    account_id=case.account_id,
                    kind=LedgerEntryKind.ADJUSTMENT,
                    amount=ln.amount,
                    posted_at=posted_at,
                    memo=f"用电检查 #{case.pk} {case.behaviour.code} {ln.label}"[:300],
                )
                for ln in lines
            ]
        )
        for ln, entry_id in zip(lines, ids, strict=True):
            ln.ledger_entry_id = entry_id
        InspectionLine.objects.bulk_update(lines, ["ledger_entry"])
        case.status = CaseStatus.POSTED
        case.posted_by = user
        case.posted_at = posted_at
        case.save(update_fields=["status", "posted_by", "posted_at"])
        _record(user, "inspection.post", case, {
            "status": (CaseStatus.APPROVED, CaseStatus.POSTED), "total": str(case.total),
            "ledger_entries": [f"{i}:{ln.amount}" for i, ln in zip(ids, lines, strict=True)],
        })  # fmt: skip
    return case


def reject_case(*, case_id: int, user: Any, rejected_at: datetime, reason: str) -> InspectionCase:
    """Close a case without posting (the finding did not hold, or the amounts are wrong), with a reason."""
    reason = _text(reason, "reason")
    with transaction.atomic():
        case = _locked(
            case_id=case_id,
            user=user,
            allowed=(CaseStatus.OPEN, CaseStatus.COMPUTED, CaseStatus.APPROVED),
            action="reject",
        )
        before = case.status
        case.status = CaseStatus.REJECTED
        case.rejected_by = user
        case.rejected_at = rejected_at
        case.reject_reason = reason
        case.save(update_fields=["status", "rejected_by", "rejected_at", "reject_reason"])
        _record(user, "inspection.reject", case, {"status": (before, CaseStatus.REJECTED), "reason": reason})
    return case


def reverse_case(*, case_id: int, user: Any, reversed_at: datetime, reason: str) -> InspectionCase:
    """Reverse a posted case (冲正: an appeal upheld, a wrong finding): each of its ledger entries gets its
    reversal (``domain.ledger.operations.reverse_entry``); the lines keep their original entries. A corrected
    finding is a new case."""
    reason = _text(reason, "reason")
    with transaction.atomic():
        case = _locked(case_id=case_id, user=user, allowed=(CaseStatus.POSTED,), action="reverse")
        lines = list(InspectionLine.objects.filter(case=case, ledger_entry__isnull=False).order_by("seq"))
        reversals = [
            reverse_entry(
                entry_id=ln.ledger_entry_id or 0,
                posted_at=reversed_at,
                memo=f"冲正 用电检查 #{case.pk} {ln.label}: {reason}"[:300],
            )
            for ln in lines
        ]
        case.status = CaseStatus.REVERSED
        case.reversed_by = user
        case.reversed_at = reversed_at
        case.reversal_reason = reason
        case.save(update_fields=["status", "reversed_by", "reversed_at", "reversal_reason"])
        _record(user, "inspection.reverse", case, {
            "status": (CaseStatus.POSTED, CaseStatus.REVERSED), "total": str(case.total), "reason": reason,
            "reversals": [f"{r.pk}:{r.amount}" for r in reversals],
        })  # fmt: skip
    return case
