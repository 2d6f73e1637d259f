"""Use cases of the 退补单 (correction of ISSUED bills): create (draft), approve, issue, cancel.

An issued bill is never changed. When the data behind it turns out wrong — a wrong reading, missed or wrong
kvarh, a wrong multiplier, a meter found fast or slow by calibration, a stopped meter — the clerk creates a
``BillAdjustment`` linked to the bill: the affected bills (the period rule of the error type, data:
``core.rating.correction.PeriodRule``, overridable by ``WATTDESK_ADJUSTMENT_PERIOD_RULES``) are each re-rated
from their own determinants with the corrected quantities on the tariff version in force in their own period
(价格来源: original period), by the one exact engine; the document's lines are corrected − original per
line. A second person approves it (four eyes: never its creator); issuing it posts its amount to the ledger as
ONE ``adjustment`` entry on the original bill (``domain.ledger.operations.post_entry``), positive for a
back-bill (补收), negative for a refund (退还), with the due date of the issue policy.

Settings (defaults documented in docs/billing-cases/corrections.md):

* ``WATTDESK_ADJUSTMENT_PERIOD_RULES``: error type -> {"span", "share", "source"} overrides;
* ``WATTDESK_ADJUSTMENT_LOOKBACK_MONTHS`` (default 24, the 2-year period a Q&A cites, billing-rules-2.md §4.1):
  a correction reaching further back than this from its creation is refused.

Audit entries (``domain.audit.record_batch``, object: the adjustment): ``adjustments.create`` /
``adjustments.approve`` / ``adjustments.issue`` / ``adjustments.cancel`` with status before → after and the
amount. Every action checks ``billing.review`` and locks the adjustment row (and the bill's account on issue).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.db import transaction

from wattdesk.application.billing import fetch, quota
from wattdesk.application.billing import run as billing_run
from wattdesk.application.billing import sub_use as sub_use_billing
from wattdesk.application.billing.account_rating import AccountBill, PointUnit, rate_account
from wattdesk.application.billing.determinants import NotBillable
from wattdesk.application.billing.hold import DEFAULT_HOLD_POLICY
from wattdesk.application.billing.review import BillActionRefused, IssuePolicy
from wattdesk.application.billing.run import BillingInputError, BillNotFound, BillStateError
from wattdesk.application.billing.transformer_loss import BatchLosses
from wattdesk.application.changes.billing import ChangedAccounts, Metered, SegmentedUnit
from wattdesk.core.money import quantize_quantity
from wattdesk.core.period import Period, add_months
from wattdesk.core.rating import correction as corr
from wattdesk.core.rating.exact import Determinants, RatingError
from wattdesk.core.rating.sub_use import SubUseError
from wattdesk.core.tariff import Tariff
from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import has_capability
from wattdesk.domain.billing.models import (
    AdjustmentErrorType,
    AdjustmentStatus,
    Bill,
    BillAdjustment,
    BillAdjustmentLine,
    BillStatus,
)
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger.models import LedgerEntryKind
from wattdesk.domain.ledger.operations import post_entry
from wattdesk.domain.metering.queries import consumption_by_account

ZERO = Decimal(0)
UPDATE = LogEntry.Action.UPDATE
DEFAULT_LOOKBACK_MONTHS = 24
MAX_TEXT = 300
REASON_CODE_MAX = 40

#: what each error type asks the clerk for (``inputs``); ``since`` is a date, the others decimals
REQUIRED_INPUTS: Mapping[str, tuple[str, ...]] = {
    "wrong_reading": ("correct_kwh",),
    "kvarh": ("correct_kvarh",),
    "multiplier": ("used_multiplier", "correct_multiplier"),
    "meter_error": ("error_percent", "since"),
    "stopped_meter": ("since",),
}
OPTIONAL_INPUTS: Mapping[str, tuple[str, ...]] = {
    "multiplier": ("since",),
    "stopped_meter": ("normal_months",),
}
DEFAULT_NORMAL_MONTHS = 3
DEFAULT_ISSUE_POLICY = IssuePolicy()


class AdjustmentInputError(BillingInputError):
    """Bad input for a 退补 (a missing parameter, a bill that is not issued, a period beyond the look-back)."""


# --- settings ---------------------------------------------------------------------------------------------


def configured_rules() -> dict[str, corr.PeriodRule]:
    return corr.period_rules(getattr(settings, "WATTDESK_ADJUSTMENT_PERIOD_RULES", None))


def lookback_months() -> int:
    return int(getattr(settings, "WATTDESK_ADJUSTMENT_LOOKBACK_MONTHS", DEFAULT_LOOKBACK_MONTHS))


# --- reading the input ------------------------------------------------------------------------------------


def _decimal(inputs: Mapping[str, Any], name: str) -> Decimal:
    raw = str(inputs.get(name, "")).strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise AdjustmentInputError(f"{name}: {raw!r} is not a number") from None
    if not value.is_finite():
        raise AdjustmentInputError(f"{name}: {raw!r} is not a number")
    return value


def _date(inputs: Mapping[str, Any], name: str) -> date:
    raw = str(inputs.get(name, "")).strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise AdjustmentInputError(f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None


def _text(value: str | None, what: str, limit: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if not text:
        raise AdjustmentInputError(f"a {what} is required")
    if len(text) > limit:
        raise AdjustmentInputError(f"the {what} is longer than {limit} characters")
    return text


def _check(user: Any) -> None:
    if user is not None and not has_capability(user, roles.BILLING_REVIEW):
        name = getattr(user, "get_username", lambda: str(user))()
        raise BillActionRefused(
            f"user {name!r} may not do this: it needs the {roles.BILLING_REVIEW} capability"
        )


# --- rebuilding a bill's determinants -----------------------------------------------------------------------


@dataclass(frozen=True)
class RatedUnit:
    """One service point of a bill: the tariff (original period's version), its metered determinants (quota
    applied, before 变损) and what the run composed them with (``account_rating``): the reactive register,
    the sub-uses in force and the batch's transformer archive."""

    tariff: Tariff
    det: Determinants
    tariff_label: str
    sp_id: int = 0
    metered_kvarh: Decimal | None = None
    sub_uses: sub_use_billing.InForce | None = None
    losses: BatchLosses = dataclasses.field(default_factory=BatchLosses)
    segment: int | None = None  # a segment (its index) of a point billed by segments (变更用电)
    resplit: Resplit | None = None  # the run's segmented step for the bill's account, on given quantities


Resplit = Callable[[Mapping[int, Sequence[Metered | None]] | None], tuple[Any, list[SegmentedUnit]]]


def rate_units(units: Sequence[RatedUnit], dets: Sequence[Determinants]) -> AccountBill:
    """The bill of ``units`` rated on ``dets`` (theirs or corrected ones) as the run composes it: 变损 on the
    (corrected) metered quantities, sub-uses, quota (``account_rating.rate_account``); the segments of a point
    billed by segments through the run's own segmented step (``ChangedAccounts.split`` with the quantities)."""
    pairs = [(u, d) for u, d in zip(units, dets, strict=True) if u.segment is None]
    seg_pairs = [(u, d) for u, d in zip(units, dets, strict=True) if u.segment is not None]
    try:
        bill = AccountBill((), (), (), ZERO, ZERO, "")
        if pairs:
            points = [PointUnit(u.sp_id, u.tariff, d, u.metered_kvarh, u.sub_uses) for u, d in pairs]
            bill = rate_account(
                start=pairs[0][1].start, end=pairs[0][1].end, points=points, losses=pairs[0][0].losses
            )
        if seg_pairs:
            resplit = seg_pairs[0][0].resplit
            assert resplit is not None
            metered: dict[int, list[Metered | None]] = {}
            for u, d in seg_pairs:
                assert u.segment is not None
                metered.setdefault(u.sp_id, [])
                slots = metered[u.sp_id]
                slots.extend([None] * (u.segment + 1 - len(slots)))
                slots[u.segment] = (d.kwh_by_period, d.kvarh)
            _keep, seg_units = resplit(metered)
            seg_lines = tuple(r[0] for su in seg_units for r in su.rows if len(r) == 1)
            bill = AccountBill(
                bill.lines + seg_lines,
                bill.notes,
                bill.loss_rows,
                bill.total + sum((su.total for su in seg_units), ZERO),
                bill.kwh + sum((su.kwh for su in seg_units), ZERO),
                bill.hold or next((su.hold for su in seg_units if su.hold), ""),
            )
        return bill
    except NotBillable as nb:
        raise AdjustmentInputError(f"{nb.reason} {nb.detail}".strip()) from None


def rebuild_bill(bill: Bill) -> list[RatedUnit]:
    """The determinants the billing run rated ``bill`` from, rebuilt from the stored readings with the run's
    own fetch and determinant code, on the tariff versions in force at the bill's start (价格来源: the original
    period). Raises AdjustmentInputError when the bill cannot be reproduced to the fen from them."""
    p = Period.parse(bill.period)
    acc = bill.account_id
    ctx = billing_run._Ctx(
        period=bill.period,
        year=p.year,
        month=p.month,
        run_id=0,
        run_at=datetime(bill.start.year, bill.start.month, bill.start.day, tzinfo=UTC),
        policy=DEFAULT_HOLD_POLICY,
        versions=fetch.tariff_versions(),
        blocked=set(),
    )
    sps = fetch.service_points(lo=acc, hi=acc)
    usage = consumption_by_account(period_start=bill.start, period_end=bill.end, account_ids=[acc])
    assigned = fetch.assignments(lo=acc, hi=acc, on_or_before=bill.start)
    since = str(p.shift(-max(12, ctx.policy.max_history)))
    past = fetch.history(lo=acc, hi=acc, period=bill.period, since_period=since)
    grants = quota.grants(lo=acc, hi=acc).get(acc, [])  # 一户多人口 tier quotas, as the run applies them
    agreements = sub_use_billing.agreements(lo=acc, hi=acc, on_or_before=bill.start)  # 定量定比, as the run
    losses = BatchLosses.fetch(sp_ids=[sp.sp_id for sp in sps], windows=[(bill.start, bill.end)])  # 变损
    units: list[RatedUnit] = []
    # 变更用电: the points billed by segments, by the run's own step (application.changes.billing)
    changed = ChangedAccounts.fetch(lo=acc, hi=acc, account_ids=[acc])

    def resplit(
        metered: Mapping[int, Sequence[Metered | None]] | None,
    ) -> tuple[list[fetch.SpRow], list[SegmentedUnit]]:
        in_force = {
            sp.sp_id: f
            for sp in sps
            if sp.sp_id in agreements
            and (f := billing_run._sub_uses(ctx, agreements[sp.sp_id], bill.start)).sub_uses
        }
        return changed.split(
            acc_id=acc,
            rows=sps,
            start=bill.start,
            end=bill.end,
            tariff_of=partial(billing_run._tariff_on, ctx),
            line_row=lambda ln: (ln,),  # the Line itself: a 退补 compares lines
            losses=losses,
            grants=grants,
            sub_uses=in_force,
            history=past.get(acc, ()),
            metered=metered,
        )

    try:
        kept, segmented = resplit(None)
    except NotBillable as nb:
        raise AdjustmentInputError(
            f"bill {bill.pk} cannot be re-rated: {nb.reason} {nb.detail}".strip()
        ) from None
    for su in segmented:
        for i, (m, (s_start, s_end, code)) in enumerate(zip(su.metered, su.spans, strict=True)):
            if m is None:
                continue
            version = fetch.version_in_force(ctx.versions.get(code, ()), s_start)
            det = Determinants(start=s_start, end=s_end, kwh_by_period=m[0], kvarh=m[1])
            label = f"{version.code} {version.version}" if version else code
            try:
                tariff = billing_run._tariff_on(ctx, code, s_start, None)
            except NotBillable as nb:
                raise AdjustmentInputError(
                    f"bill {bill.pk} cannot be re-rated: {nb.reason} {nb.detail}"
                ) from None
            units.append(RatedUnit(tariff, det, label, su.sp_id, m[1], None, losses, i, resplit))
    for sp in kept:
        u = usage.get(sp.sp_id)
        try:  # the run's own step: determinants, 一户多人口 uplift, 定量定比 sub-uses
            tariff, det, in_force = billing_run._point(
                ctx, sp, bill.start, bill.end, u, assigned, past, grants, agreements
            )
        except NotBillable as nb:
            if nb.reason == "no_readings" and len(sps) > 1:
                continue  # a service point without readings is not on the bill either
            raise AdjustmentInputError(
                f"bill {bill.pk} cannot be re-rated: {nb.reason} {nb.detail}".strip()
            ) from None
        a = fetch.assignment_in_force(assigned.get(sp.sp_id, ()), bill.start)
        version = fetch.version_in_force(ctx.versions.get(a[2], ()), bill.start) if a else None
        label = f"{version.code} {version.version}" if version else ""
        kvarh = u.kvarh if u is not None else None
        units.append(RatedUnit(tariff, det, label, sp.sp_id, kvarh, in_force, losses))
    try:
        total = rate_units(units, [u.det for u in units]).total
    except (SubUseError, RatingError) as exc:
        raise AdjustmentInputError(f"bill {bill.pk} cannot be re-rated: {exc}") from None
    if total != bill.total:
        raise AdjustmentInputError(
            f"bill {bill.pk} cannot be reproduced from the stored readings (issued {bill.total}, re-rated "
            f"{total}): the data behind it changed; correct it by hand"
        )
    return units


# --- the affected bills and their corrected quantities ---------------------------------------------------------


@dataclass(frozen=True)
class BillCorrection:
    bill: Bill
    units: tuple[RatedUnit, ...]
    corrected: tuple[Determinants, ...]
    diffs: tuple[corr.LineDifference, ...]

    @property
    def kwh_difference(self) -> Decimal:
        return sum((c.kwh - u.det.kwh for u, c in zip(self.units, self.corrected, strict=True)), ZERO)

    @property
    def kvarh_difference(self) -> Decimal:
        return sum(
            (
                (c.kvarh or ZERO) - (u.det.kvarh or ZERO)
                for u, c in zip(self.units, self.corrected, strict=True)
            ),
            ZERO,
        )


@dataclass(frozen=True)
class Plan:
    """What a 退补 would be, before it is stored (also the preview a page shows)."""

    bill: Bill
    error_type: str
    rule: corr.PeriodRule
    period_from: date
    period_to: date
    inputs: dict[str, str]
    bills: tuple[BillCorrection, ...]

    @property
    def amount(self) -> Decimal:
        return sum((d.amount for b in self.bills for d in b.diffs), ZERO)

    @property
    def kwh_difference(self) -> Decimal:
        return sum((b.kwh_difference for b in self.bills), ZERO)

    @property
    def kvarh_difference(self) -> Decimal:
        return sum((b.kvarh_difference for b in self.bills), ZERO)


def _spread(values: Sequence[Decimal], difference: Decimal) -> tuple[Decimal, ...]:
    """Spread a difference over the service points in proportion to their quantity (core scale_periods)."""
    return corr.scale_periods(list(values), difference)


def _corrected_dets(
    error_type: str,
    inputs: Mapping[str, Any],
    rule: corr.PeriodRule,
    units: Sequence[RatedUnit],
    normal: Decimal,
) -> tuple[Determinants, ...]:
    dets = [u.det for u in units]
    recorded = [d.kwh for d in dets]
    share = rule.share
    if error_type == "wrong_reading":
        target = _decimal(inputs, "correct_kwh")
        if target < 0:
            raise AdjustmentInputError("correct_kwh: must not be negative")
        diff = corr.settled_difference(recorded=sum(recorded, ZERO), corrected=target, share=share)
        new_kwh = _spread(recorded, diff)
    elif error_type == "stopped_meter":
        diff = corr.settled_difference(recorded=sum(recorded, ZERO), corrected=normal, share=share)
        new_kwh = _spread(recorded, diff)
    elif error_type == "meter_error":
        e = _decimal(inputs, "error_percent") / 100
        new_kwh = tuple(
            k
            + corr.settled_difference(
                recorded=k, corrected=corr.true_kwh_of_meter_error(recorded=k, error=e), share=share
            )
            for k in recorded
        )
    elif error_type == "multiplier":
        used, correct = _decimal(inputs, "used_multiplier"), _decimal(inputs, "correct_multiplier")
        new_kwh = tuple(
            k
            + corr.settled_difference(
                recorded=k, corrected=corr.multiplier_kwh(recorded=k, used=used, correct=correct), share=share
            )
            for k in recorded
        )
    else:  # kvarh: the active energy stays
        new_kwh = tuple(recorded)
    out = []
    for d, k in zip(dets, new_kwh, strict=True):
        nd = dataclasses.replace(d, kwh_by_period=corr.scale_periods(d.kwh_by_period, k - d.kwh))
        if error_type == "multiplier" and d.kvarh is not None:
            used, correct = _decimal(inputs, "used_multiplier"), _decimal(inputs, "correct_multiplier")
            nd = dataclasses.replace(
                nd,
                kvarh=d.kvarh
                + corr.settled_difference(
                    recorded=d.kvarh,
                    corrected=corr.multiplier_kwh(recorded=d.kvarh, used=used, correct=correct),
                    share=share,
                ),
            )
        out.append(nd)
    if error_type == "kvarh":
        target = _decimal(inputs, "correct_kvarh")
        if target < 0:
            raise AdjustmentInputError("correct_kvarh: must not be negative")
        assessed = [i for i, d in enumerate(dets) if d.kvarh is not None]
        if not assessed:
            raise AdjustmentInputError(
                "correct_kvarh: the bill has no power-factor assessment (no kvarh billed)"
            )
        old = [dets[i].kvarh or ZERO for i in assessed]
        diff = corr.settled_difference(recorded=sum(old, ZERO), corrected=target, share=share)
        for i, v in zip(assessed, _spread(old, diff), strict=True):
            out[i] = dataclasses.replace(out[i], kvarh=quantize_quantity(v))
    return tuple(out)


def _affected_bills(
    bill: Bill, rule: corr.PeriodRule, inputs: Mapping[str, Any]
) -> tuple[list[Bill], date, date]:
    if rule.span == "bill":
        return [bill], bill.start, bill.end
    since = _date(inputs, "since") if str(inputs.get("since", "")).strip() else bill.start
    if since > bill.start:
        raise AdjustmentInputError(f"since: {since} is after the start of bill {bill.pk} ({bill.start})")
    bills = list(
        Bill.objects.filter(
            account_id=bill.account_id, status=BillStatus.ISSUED, start__gte=since, end__lte=bill.end
        ).order_by("start")
    )
    return bills, since, bill.end


def _normal_months(bill: Bill, since: date, inputs: Mapping[str, Any]) -> Decimal:
    raw = str(inputs.get("normal_months", "")).strip()
    n = DEFAULT_NORMAL_MONTHS if not raw else int(_decimal(inputs, "normal_months"))
    if n < 1:
        raise AdjustmentInputError("normal_months: must be at least 1")
    kwh = list(
        Bill.objects.filter(account_id=bill.account_id, status=BillStatus.ISSUED, end__lte=since)
        .order_by("-start")
        .values_list("kwh", flat=True)[:n]
    )
    try:
        return corr.normal_month_average(kwh)
    except corr.CorrectionError as exc:
        raise AdjustmentInputError(str(exc)) from None


def plan_adjustment(*, bill_id: int, error_type: str, inputs: Mapping[str, Any], today: date) -> Plan:
    """Compute (without storing) the 退补 of an issued bill. ``today`` bounds the look-back window."""
    if error_type not in corr.ERROR_TYPES:
        raise AdjustmentInputError(f"error_type: {error_type!r} is not one of {', '.join(corr.ERROR_TYPES)}")
    bill = Bill.objects.select_related("account").filter(pk=bill_id).first()
    if bill is None:
        raise BillNotFound(f"no bill {bill_id}")
    if bill.status != BillStatus.ISSUED:
        raise BillStateError(
            f"bill {bill_id} is {bill.status}: only an issued bill is corrected by a 退补 (cancel and re-bill a draft or held one)"
        )
    allowed = set(REQUIRED_INPUTS[error_type]) | set(OPTIONAL_INPUTS.get(error_type, ()))
    clean = {k: str(v).strip() for k, v in inputs.items() if str(v).strip()}
    unknown = sorted(set(clean) - allowed)
    if unknown:
        raise AdjustmentInputError(f"{unknown[0]}: not a parameter of a {error_type} correction")
    for name in REQUIRED_INPUTS[error_type]:
        if name not in clean:
            raise AdjustmentInputError(f"{name}: required for a {error_type} correction")
    rule = configured_rules()[error_type]
    bills, period_from, period_to = _affected_bills(bill, rule, clean)
    limit = add_months(today, -lookback_months())
    if period_from < limit:
        raise AdjustmentInputError(
            f"the correction reaches back to {period_from}, beyond the look-back limit of {lookback_months()} "
            f"months ({limit})"
        )
    normal = _normal_months(bill, period_from, clean) if error_type == "stopped_meter" else ZERO
    out = []
    try:
        for b in bills:
            units = tuple(rebuild_bill(b))
            corrected = _corrected_dets(error_type, clean, rule, units, normal)
            original_lines = list(rate_units(units, [u.det for u in units]).lines)
            corrected_lines = list(rate_units(units, corrected).lines)
            out.append(
                BillCorrection(b, units, corrected, corr.line_differences(original_lines, corrected_lines))
            )
    except (corr.CorrectionError, RatingError) as exc:
        raise AdjustmentInputError(str(exc)) from None
    return Plan(bill, error_type, rule, period_from, period_to, clean, tuple(out))


# --- the use cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdjustmentResult:
    adjustment_id: int
    bill_id: int
    account_number: str
    status: str
    amount: Decimal
    kwh_difference: Decimal


def _result(a: BillAdjustment) -> AdjustmentResult:
    return AdjustmentResult(a.pk, a.original_bill_id, a.account.number, a.status, a.amount, a.kwh_difference)


def _repr(a: BillAdjustment) -> str:
    return f"退补 {a.pk} bill {a.original_bill_id} {a.account.number}"


def create_adjustment(
    *,
    bill_id: int,
    error_type: str,
    reason_code: str,
    reason: str,
    inputs: Mapping[str, Any],
    user: Any,
    created_at: datetime,
    today: date,
) -> AdjustmentResult:
    """Create a draft 退补 of an issued bill (see the module docstring). Nothing is posted yet."""
    _check(user)
    reason_code = _text(reason_code, "reason code", REASON_CODE_MAX)
    reason = _text(reason, "reason")
    with transaction.atomic():
        Account.objects.select_for_update().filter(bills__pk=bill_id).first()
        plan = plan_adjustment(bill_id=bill_id, error_type=error_type, inputs=inputs, today=today)
        earlier = (
            BillAdjustmentLine.objects.filter(
                bill_id__in=[b.bill.pk for b in plan.bills], adjustment__error_type=error_type
            )
            .exclude(adjustment__status=AdjustmentStatus.CANCELLED)
            .values_list("adjustment_id", "bill_id")
            .first()
        )
        if earlier is not None:  # the same error settled twice would bill it twice
            raise BillStateError(
                f"bill {earlier[1]} already has 退补 {earlier[0]} for a {error_type} error: cancel it first or "
                "correct that 退补"
            )
        if plan.amount == 0 and plan.kwh_difference == 0 and plan.kvarh_difference == 0:
            raise AdjustmentInputError("the correction changes nothing on the bill: no 退补 to make")
        labels = sorted({u.tariff_label for b in plan.bills for u in b.units if u.tariff_label})
        adj = BillAdjustment.objects.create(
            original_bill=plan.bill,
            account_id=plan.bill.account_id,
            error_type=error_type,
            reason_code=reason_code,
            reason=reason,
            period_from=plan.period_from,
            period_to=plan.period_to,
            period_rule=f"{plan.rule.span} × {plan.rule.share}: {plan.rule.source}"[:200],
            price_source=("original period: " + ", ".join(labels))[:200],
            inputs=plan.inputs,
            kwh_difference=plan.kwh_difference,
            kvarh_difference=plan.kvarh_difference,
            amount=plan.amount,
            status=AdjustmentStatus.DRAFT,
            created_at=created_at,
            created_by=user,
        )
        seq = 0
        rows = []
        for b in plan.bills:
            for d in b.diffs:
                seq += 1
                rows.append(
                    BillAdjustmentLine(
                        adjustment=adj,
                        seq=seq,
                        bill=b.bill,
                        code=d.code[:64],
                        description=d.description[:200],
                        unit=d.unit[:16],
                        rate=d.rate.quantize(billing_run.RATE_STEP),
                        rule=d.rule[:64],
                        original_quantity=quantize_quantity(d.original_quantity),
                        corrected_quantity=quantize_quantity(d.corrected_quantity),
                        quantity=quantize_quantity(d.quantity),
                        original_amount=d.original_amount,
                        corrected_amount=d.corrected_amount,
                        amount=d.amount,
                    )
                )
        BillAdjustmentLine.objects.bulk_create(rows)
        audit.record_batch(
            actor=user,
            action="adjustments.create",
            object_repr=_repr(adj),
            object_pk=adj.pk,
            changes={
                "status": (None, AdjustmentStatus.DRAFT),
                "error_type": error_type,
                "amount": str(adj.amount),
                "kwh": str(adj.kwh_difference),
                "bills": [b.bill.pk for b in plan.bills],
                "reason": reason,
            },
        )
    return _result(adj)


def _locked(adjustment_id: int) -> BillAdjustment:
    adj = (
        BillAdjustment.objects.select_for_update().select_related("account").filter(pk=adjustment_id).first()
    )
    if adj is None:
        raise BillNotFound(f"no 退补 {adjustment_id}")
    return adj


def _move(adj: BillAdjustment, before: str, after: str, **fields: Any) -> None:
    updated = BillAdjustment.objects.filter(pk=adj.pk, status=before).update(status=after, **fields)
    if updated != 1:
        raise BillStateError(f"退补 {adj.pk} changed meanwhile")
    adj.status = after
    for k, v in fields.items():
        setattr(adj, k, v)


def approve_adjustment(*, adjustment_id: int, user: Any, approved_at: datetime) -> AdjustmentResult:
    """Approve a draft 退补: by a person other than its creator (four eyes)."""
    _check(user)
    with transaction.atomic():
        adj = _locked(adjustment_id)
        if adj.status != AdjustmentStatus.DRAFT:
            raise BillStateError(f"退补 {adj.pk} is {adj.status}, only a draft can be approved")
        if user is not None and adj.created_by_id == user.pk:
            raise BillActionRefused(f"退补 {adj.pk} must be approved by someone other than its creator")
        _move(
            adj, AdjustmentStatus.DRAFT, AdjustmentStatus.APPROVED, approved_at=approved_at, approved_by=user
        )
        audit.record_batch(
            actor=user,
            action="adjustments.approve",
            object_repr=_repr(adj),
            object_pk=adj.pk,
            kind=UPDATE,
            changes={
                "status": (AdjustmentStatus.DRAFT, AdjustmentStatus.APPROVED),
                "amount": str(adj.amount),
            },
        )
    return _result(adj)


def issue_adjustment(
    *,
    adjustment_id: int,
    user: Any,
    issued_at: datetime,
    issued_on: date,
    policy: IssuePolicy = DEFAULT_ISSUE_POLICY,
) -> AdjustmentResult:
    """Issue an approved 退补: its amount becomes owed (or credited) — one ledger ``adjustment`` entry on the
    original bill, through the one checked ledger path — and it gets a due date."""
    _check(user)
    with transaction.atomic():
        adj = _locked(adjustment_id)
        Account.objects.select_for_update().filter(pk=adj.account_id).first()
        if adj.status != AdjustmentStatus.APPROVED:
            raise BillStateError(f"退补 {adj.pk} is {adj.status}, only an approved 退补 can be issued")
        due_on = issued_on + timedelta(days=policy.due_days)
        _move(
            adj,
            AdjustmentStatus.APPROVED,
            AdjustmentStatus.ISSUED,
            issued_at=issued_at,
            issued_by=user,
            due_on=due_on,
        )
        entry_id = None
        if adj.amount != 0:
            entry_id = post_entry(
                account_id=adj.account_id,
                kind=LedgerEntryKind.ADJUSTMENT,
                amount=adj.amount,
                posted_at=issued_at,
                bill_id=adj.original_bill_id,
                memo=f"退补 {adj.pk} {AdjustmentErrorType(adj.error_type).label} ({adj.original_bill.period})"[
                    :300
                ],
            ).pk
        audit.record_batch(
            actor=user,
            action="adjustments.issue",
            object_repr=_repr(adj),
            object_pk=adj.pk,
            kind=UPDATE,
            changes={
                "status": (AdjustmentStatus.APPROVED, AdjustmentStatus.ISSUED),
                "amount": str(adj.amount),
                "ledger_entry": entry_id,
                "due_on": due_on.isoformat(),
            },
        )
    return _result(adj)


def cancel_adjustment(
    *, adjustment_id: int, user: Any, cancelled_at: datetime, reason: str
) -> AdjustmentResult:
    """Cancel a draft or approved 退补 (an issued one is corrected by another 退补)."""
    _check(user)
    reason = _text(reason, "reason")
    with transaction.atomic():
        adj = _locked(adjustment_id)
        before = adj.status
        if before not in (AdjustmentStatus.DRAFT, AdjustmentStatus.APPROVED):
            raise BillStateError(f"退补 {adj.pk} is {before}, only a draft or approved 退补 can be cancelled")
        _move(adj, before, AdjustmentStatus.CANCELLED)
        audit.record_batch(
            actor=user,
            action="adjustments.cancel",
            object_repr=_repr(adj),
            object_pk=adj.pk,
            kind=UPDATE,
            changes={
                "status": (before, AdjustmentStatus.CANCELLED),
                "amount": str(adj.amount),
                "reason": reason,
            },
        )
    return _result(adj)


# --- reads ------------------------------------------------------------------------------------------------


def adjustments_of_bill(*, bill_id: int) -> list[BillAdjustment]:
    return list(BillAdjustment.objects.filter(original_bill_id=bill_id).order_by("created_at", "id"))


def adjustments_of_account(*, account_id: int, issued_only: bool = False) -> list[BillAdjustment]:
    qs = BillAdjustment.objects.filter(account_id=account_id).select_related("original_bill")
    if issued_only:
        qs = qs.filter(status=AdjustmentStatus.ISSUED)
    return list(qs.order_by("-created_at", "-id"))
