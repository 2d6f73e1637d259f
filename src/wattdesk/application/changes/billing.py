"""The billing run's part of mid-period changes (变更用电): which service points of a batch are billed by
segments, which are not billed at all (retired / closed before the period), and their rated lines.

Called by ``application.billing.run._prepare_batch`` (fetch, then calculate):

* ``ChangedAccounts.fetch`` — one query for the batch's accounts that have any change, one for their changes;
* ``ChangedAccounts.split`` — per account: the service points the normal path bills (no change inside the
  period; retired or closed before it, or every meter removed before it (a point retired by taking its meter
  away): dropped, so a retired point never blocks its account's bill) and the
  segmented units of the others, rated by ``core.rating.segments.rate_segments`` with the rule set in force at
  the period start (``domain.changes.queries.rules_in_force``).

Per segment the kWh are the validated consumption of the readings dated in the segment's reading window (the
one consumption query, ``domain.metering.queries.consumption_by_account``; a meter exchange is already each
meter's advance x its own multiplier there); the kvarh of all segments make the month's one power factor.
Each segment carries the 变损 of its own transformer (billing-rules-2.md §3.5, :func:`_segment_losses`): the
run's loss step (``application.billing.transformer_loss.BatchLosses.apply`` with ``period``) once per run of
consecutive segments on the same transformer versions (a 换表 or 改类 alone: one loss for the month, as unsplit),
shared back by kWh; a segment without readings carries no loss. 一户多人口 quotas: the period's tier uplift (``core.rating.quota.tier_uplift``) scaled to each segment as
its tier bounds are (``core.rating.segments.segment_uplift``). Annual tiers keep the tier-year position
across the segments (:class:`_Annual`; a 改类 inside the tier year by ``annual_tiers_on_reclass``). 定量定比:
each read segment splits its own kWh (:func:`_split_sub_uses`). Not handled on a segmented service point
(docs/billing-cases/composition.md): a sub-use inside the PF base (skipped as ``segmented_sub_use``, never
silently ignored), a per-year minimum charge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from wattdesk.application.billing import quota
from wattdesk.application.billing.determinants import (
    NotBillable,
    energy_by_period,
    tier_year_fraction,
    tier_year_start,
)
from wattdesk.application.billing.sub_use import InForce
from wattdesk.application.billing.sub_use import _hold as sub_use_hold
from wattdesk.application.billing.transformer_loss import BatchLosses
from wattdesk.application.changes.segmenting import Piece, changes_inside, pieces, timeline, values_on
from wattdesk.core.period import period_text
from wattdesk.core.rating import RatingError
from wattdesk.core.rating.exact import Determinants, Line, RatedBill, rate
from wattdesk.core.rating.quota import QuotaGrant, tier_uplift
from wattdesk.core.rating.segments import (
    ChangeRules,
    Segment,
    annual_positions,
    fixed_kwh_shares,
    rate_segments,
    segment_uplift,
)
from wattdesk.core.rating.sub_use import Deduction, SubUseError
from wattdesk.core.rating.sub_use import combine as combine_sub_uses
from wattdesk.core.rating.sub_use import split as split_sub_uses
from wattdesk.core.rating.transformer_loss import policy_on, share
from wattdesk.core.tariff import Tariff
from wattdesk.domain.changes.queries import (
    ChangeRow,
    NoRuleSet,
    accounts_with_changes,
    changes_of_accounts,
    meters_removed,
    rules_in_force,
)
from wattdesk.domain.metering.queries import consumption_by_account

ZERO = Decimal(0)

KIND_LABELS = {
    "": "变更前",
    "reclass": "改类",
    "reduction": "减容",
    "suspension": "暂停",
    "reduction_restore": "减容恢复",
    "suspension_restore": "暂停恢复",
    "suspension_expired": "暂停期满",
    "increase": "增容",
    "temporary_exchange": "暂换",
    "contract_demand": "需量变更",
    "meter_exchange": "换表",
    "multiplier": "倍率变更",
    "point_added": "新增用电点",
    "point_retired": "拆除",
    "account_opened": "新装",
    "account_closed": "销户",
}


class _Sp(Protocol):
    @property
    def sp_id(self) -> int: ...
    @property
    def account_id(self) -> int: ...
    @property
    def opened_on(self) -> date: ...


S = TypeVar("S", bound=_Sp)
Metered = tuple[tuple[Decimal, ...], Decimal | None]  # a segment's metered kWh by period and kvarh
TariffOf = Callable[[str, date, Decimal | None], Tariff]
LineRow = Callable[[Line], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class SegmentedUnit:
    """One service point billed by segments: total, kWh and the line rows (without bill id and seq)."""

    total: Decimal
    kwh: Decimal
    rows: tuple[tuple[Any, ...], ...]
    hold: str = ""  # a reason to hold the bill (a capped 定量定比 sub-use)
    sp_id: int = 0
    metered: tuple[Metered | None, ...] = ()  # per segment: metered (kWh by period, kvarh); None: not read
    spans: tuple[tuple[date, date, str], ...] = ()  # per segment: start, end, tariff code


@dataclass
class ChangedAccounts:
    ids: set[int]
    changes: dict[int, list[ChangeRow]]
    unmetered: dict[int, date] = field(default_factory=dict)  # service point -> its last meter's removal
    rules: dict[date, ChangeRules] = field(default_factory=dict)

    @classmethod
    def fetch(cls, *, lo: int, hi: int, account_ids: Iterable[int]) -> ChangedAccounts:
        ids = accounts_with_changes(lo=lo, hi=hi) & set(account_ids)
        return cls(
            ids=ids,
            changes=changes_of_accounts(account_ids=ids) if ids else {},
            unmetered=meters_removed(lo=lo, hi=hi),
        )

    def _rules(self, on: date) -> ChangeRules:
        rules = self.rules.get(on)
        if rules is None:
            try:
                rules = rules_in_force(on=on)
            except NoRuleSet as exc:
                raise NotBillable("no_change_rules", str(exc)) from None
            self.rules[on] = rules
        return rules

    def split(
        self,
        *,
        acc_id: int,
        rows: Sequence[S],
        start: date,
        end: date,
        tariff_of: TariffOf,
        line_row: LineRow,
        losses: BatchLosses | None = None,
        grants: Sequence[QuotaGrant] = (),
        sub_uses: Mapping[int, InForce] | None = None,
        metered: Mapping[int, Sequence[Metered | None]] | None = None,
        history: Sequence[tuple[str, Decimal, Decimal]] = (),
    ) -> tuple[list[S], list[SegmentedUnit]]:
        """(service points the normal path bills, segmented units); ``NotBillable`` when nothing is left to
        bill or a segment cannot be rated. ``losses``: the batch's transformer archive (变损 per segment);
        ``grants``: the account's tier quotas; ``sub_uses``: the 定量定比 sub-uses in force by point;
        ``history``: the account's earlier live bills (period, kWh, total) for the annual tiers' year to date.
        ``metered``: per point, its segments' metered quantities to rate instead of the readings' (a 退补's
        corrected ones, ``SegmentedUnit.metered`` corrected; the maximum demand stays the readings')."""
        if acc_id not in self.ids and not any(sp.sp_id in self.unmetered for sp in rows):
            return list(rows), []
        keep: list[S] = []
        units: list[SegmentedUnit] = []
        for sp in rows:
            recorded = self.changes.get(sp.sp_id)
            if not recorded:
                removed = self.unmetered.get(sp.sp_id)
                if removed is None or removed >= start:
                    keep.append(sp)  # a meter removed inside the period still has its readings to bill
                continue
            rules = self._rules(start)
            line = timeline(changes=recorded, rules=rules, opened_on=sp.opened_on, default_tariff="")
            now = values_on(line, start)
            if not changes_inside(line, start, end) and (now is None or not now.sealed_half_kva):
                if now is None:
                    keep.append(sp)
                elif now.in_service:
                    # the values of the period start come from the records (the point's row already holds
                    # those of a later change recorded in advance)
                    keep.append(
                        dataclasses.replace(  # type: ignore[type-var]
                            sp,
                            capacity_kva=now.capacity_kva,
                            contract_kw=now.contract_kw,
                            pf_standard=now.pf_standard,
                        )
                    )
                continue  # retired / closed before the period: not billed, never blocks the account
            ps = pieces(line=line, start=start, end=end)
            in_force = (sub_uses or {}).get(sp.sp_id)
            if ps and in_force is not None and any(su.in_pf_base for su in in_force.sub_uses):
                # its PF line needs the month's one power factor, which only the combine step knows
                raise NotBillable("segmented_sub_use", "a sub-use in the PF base is not billed by segments")
            if ps:
                units.append(
                    _rate(
                        sp,
                        ps,
                        start,
                        end,
                        rules,
                        tariff_of,
                        line_row,
                        losses or BatchLosses(),
                        grants,
                        _Annual(line=line, history=history),
                        in_force,
                        {r.sp_id for r in rows},
                        (metered or {}).get(sp.sp_id),
                    )
                )
        if not keep and not units:
            raise NotBillable("not_in_service", "every service point is retired or closed in the period")
        return keep, units


def _tariff_since(line: Sequence[tuple[date, date, Any, str]], day: date, opened_on: date) -> date:
    """The day the tariff in force on ``day`` came in by the change records (a 改类's first charged day; the
    opening values: the day the account opened)."""
    since, code = opened_on, None
    for split_on, _cut, values, _kind in line:
        if split_on > day:
            break
        if code is not None and values.tariff_code != code:
            since = split_on
        code = values.tariff_code
    return max(since, opened_on)


@dataclass(frozen=True)
class _Annual:
    """Annual tiers (年阶梯) on a segmented period: each annual-tier segment keeps the tier-year position (the
    year to date of the account's earlier bills, then the earlier segments' kWh: ``annual_positions``) and the
    tier-year share of its bounds (``tier_year_fraction`` from the day its tariff came in). A 改类 between
    tariffs inside the tier year follows ``ChangeRules.annual_tiers_on_reclass``: ``carry`` keeps the position
    and the share of the first annual tariff of the period, ``restart`` starts the new tariff at 0 kWh with the
    share of the tier year from the change. The tier year is the one the period starts in (as the run does)."""

    line: Sequence[tuple[date, date, Any, str]]
    history: Sequence[tuple[str, Decimal, Decimal]]

    def place(
        self, segments: list[Segment], codes: list[str], opened_on: date, start: date, rules: ChangeRules
    ) -> list[Segment]:
        first = next((s for s in segments if s.tariff.energy.tier_basis == "annual"), None)
        if first is None:
            return segments
        ty_start = tier_year_start(period_start=start, start_month=first.tariff.energy.tier_year_start_month)
        since_period = period_text(ty_start)
        ytd = sum((k for p, k, _t in self.history if p >= since_period), ZERO)
        positions = annual_positions(
            codes=codes, kwh=[sum(s.kwh_by_period, ZERO) for s in segments], ytd_kwh_before=ytd, rules=rules
        )
        carried = _tariff_since(self.line, first.start, opened_on)
        out: list[Segment] = []
        for s, position in zip(segments, positions, strict=True):
            if s.tariff.energy.tier_basis != "annual":
                out.append(s)
                continue
            since = (
                carried
                if rules.annual_tiers_on_reclass == "carry"
                else _tariff_since(self.line, s.start, opened_on)
            )
            fraction = tier_year_fraction(tier_year_begins=ty_start, on_tariff_since=since)
            out.append(dataclasses.replace(s, ytd_kwh_before=position, tier_year_fraction=fraction))
        return out


def _rate(
    sp: _Sp,
    ps: Sequence[Piece],
    start: date,
    end: date,
    rules: ChangeRules,
    tariff_of: TariffOf,
    line_row: LineRow,
    losses: BatchLosses,
    grants: Sequence[QuotaGrant],
    annual: _Annual | None = None,
    in_force: InForce | None = None,
    account_sps: Collection[int] = (),
    override: Sequence[Metered | None] | None = None,
) -> SegmentedUnit:
    segments: list[Segment] = []
    codes: list[str] = []  # each segment's tariff code
    kvarh: Decimal | None = None
    read_any = False
    read: list[bool] = []  # per segment: any reading dated in it
    seg_kvarh: list[Decimal | None] = []  # per segment: the metered kvarh
    month_uplift: tuple[Decimal, ...] = ()
    for n, p in enumerate(ps):
        v = p.values
        if not v.tariff_code:
            raise NotBillable("no_tariff", f"no tariff for the segment from {p.start}")
        tariff = tariff_of(v.tariff_code, p.start, v.pf_standard)
        if v.pf_standard is None and tariff.power_factor is not None:
            tariff = dataclasses.replace(tariff, power_factor=None)
        u = consumption_by_account(
            period_start=p.read_from, period_end=p.read_to, account_ids=[sp.account_id]
        ).get(sp.sp_id)
        if u is not None and u.exceptions:
            raise NotBillable("reading_exception", f"{u.exceptions} reading(s) in exception status")
        if u is not None and u.readings:
            read_any = True
            kwh = energy_by_period(tariff=tariff, kwh_by_kind=u.kwh_by_kind)
            u_kvarh = u.kvarh
            if override is not None and (corrected := override[n]) is not None:  # a 退补's quantities
                kwh, u_kvarh = corrected
            if any(k < 0 for k in kwh):
                raise NotBillable("negative_usage", "negative validated consumption")
            if u_kvarh is not None:
                kvarh = (kvarh or ZERO) + u_kvarh
            seg_kvarh.append(u_kvarh)
            max_kw = u.max_kw
        else:
            kwh = tuple(ZERO for _ in tariff.energy.periods)
            max_kw = None
            seg_kvarh.append(None)
        uplift = tier_uplift(
            grants=grants,
            period_start=start,  # the period belongs to the month it starts in, whatever the segment
            tier_basis=tariff.energy.tier_basis,
            boundaries=quota.boundaries(tariff),
            tier_year_start_month=tariff.energy.tier_year_start_month,
        )
        month_uplift = month_uplift or uplift
        segments.append(
            Segment(
                start=p.start,
                end=p.end,
                tariff=tariff,
                kwh_by_period=kwh,
                capacity_kva=v.capacity_kva,
                contract_kw=v.contract_kw,
                max_kw=max_kw,
                sealed_half_kva=v.sealed_half_kva,
                label=KIND_LABELS.get(p.label, p.label),
                tier_uplift_kwh=segment_uplift(uplift=uplift, tariff=tariff, start=p.start, end=p.end),
            )
        )
        codes.append(v.tariff_code)
        read.append(u is not None and bool(u.readings))
    raw = list(segments)  # the metered quantities (a 退补 corrects these: adjustment.rebuild_bill)
    # 变损 per transformer run (billing-rules-2.md §3.5), before the annual positions (they count billed kWh)
    segments, loss_rows, reactive_loss = _segment_losses(
        sp.sp_id, segments, read, seg_kvarh, start, end, losses, account_sps
    )
    if reactive_loss:
        kvarh = (kvarh or ZERO) + reactive_loss
    if annual is not None:
        segments = annual.place(segments, codes, sp.opened_on, start, rules)
    if not read_any and ps[-1].end == end:
        raise NotBillable("no_readings", "no billable reading dated in the period")
    kwh_total = sum((k for s in segments for k in s.kwh_by_period), ZERO)  # the whole meter's
    subs = _SubUses(ZERO, [], "")
    if in_force is not None and in_force.sub_uses:
        segments, subs = _split_sub_uses(segments, read, in_force, start, end, rules, line_row)
    try:
        bill = rate_segments(segments=segments, kvarh=kvarh, period_start=start, period_end=end, rules=rules)
    except RatingError as exc:
        raise NotBillable("rating_error", str(exc)) from None
    rows = [line_row(ln) for ln in bill.lines] + subs.rows + loss_rows  # 变损电量: quantities only, amount 0
    note = quota.note([Determinants(start=start, end=end, kwh_by_period=(), tier_uplift_kwh=month_uplift)])
    if note is not None:
        rows.append(note)
    metered = tuple((s.kwh_by_period, q) if r else None for s, r, q in zip(raw, read, seg_kvarh, strict=True))
    spans = tuple((s.start, s.end, code) for s, code in zip(raw, codes, strict=True))
    return SegmentedUnit(bill.total + subs.total, kwh_total, tuple(rows), subs.hold, sp.sp_id, metered, spans)


def _segment_losses(
    sp_id: int,
    segments: list[Segment],
    read: list[bool],
    seg_kvarh: list[Decimal | None],
    start: date,
    end: date,
    losses: BatchLosses,
    account_sps: Collection[int] = (),
) -> tuple[list[Segment], list[tuple[Any, ...]], Decimal]:
    """变损 of a segmented point (billing-rules-2.md §3.5: each segment carries the loss of its own
    transformer): consecutive read segments on the same transformer versions and TOU periods form one run (a
    换表 or a 改类 alone does not change the transformer: one loss for the run, as for an unsplit month); the
    run's loss is the run's own loss step (``BatchLosses.apply`` on the run's summed metered kWh and kvarh,
    with the billing ``period``: 24 h x the run's days unless one transformer covers the whole period) and is
    shared back to the run's segments by kWh per TOU period (reactive loss by total kWh; ``core.rating.
    transformer_loss.share``). Returns the segments with the loss in their kWh, the loss rows (amount 0,
    tagged with the run's span when the period has several segments) and the reactive loss that entered the
    power factor. A transformer that also feeds another point of the account is refused
    (``transformer_loss``): the points would each count its no-load loss."""
    versions = losses.by_sp.get(sp_id, [])
    if not versions:
        return segments, [], ZERO

    def key(s: Segment) -> tuple[Any, ...]:
        on = tuple(
            (v.number, v.effective_from)
            for v in versions
            if v.effective_from < s.end and (v.effective_to is None or v.effective_to > s.start)
        )
        return (on, tuple(p.key for p in s.tariff.energy.periods))

    runs: list[list[int]] = []
    for i, s in enumerate(segments):
        if not read[i]:
            continue
        if (
            runs
            and runs[-1][-1] == i - 1
            and segments[i - 1].end == s.start
            and key(segments[i - 1]) == key(s)
        ):
            runs[-1].append(i)
        else:
            runs.append([i])
    out = list(segments)
    rows_out: list[tuple[Any, ...]] = []
    reactive = ZERO
    for run in runs:
        first, last = segments[run[0]], segments[run[-1]]
        # (points of other accounts do not count: the run shares a loss over the account's points only)
        shared = {s for v in versions if v.loss_method != "none" for s in v.sp_ids} & set(account_sps) - {
            sp_id
        }
        if shared:
            raise NotBillable(
                "transformer_loss",
                f"the transformer also feeds service point(s) {sorted(shared)}: its loss is not split by segments",
            )
        n = len(first.kwh_by_period)
        kwh = tuple(sum((segments[i].kwh_by_period[k] for i in run), ZERO) for k in range(n))
        metered_kvarh = [seg_kvarh[i] for i in run]
        total_kvarh = (
            None if any(q is None for q in metered_kvarh) else sum((q or ZERO for q in metered_kvarh), ZERO)
        )
        assessed = total_kvarh if first.tariff.power_factor is not None else None
        det = Determinants(start=first.start, end=last.end, kwh_by_period=kwh, kvarh=assessed)
        [(_t, lossy)], rows = losses.apply(
            start=first.start,
            end=last.end,
            sp_ids=[sp_id],
            dets=[(first.tariff, det)],
            metered_kvarh={sp_id: total_kvarh},
            period=(start, end),
        )
        if not rows:
            continue
        step = policy_on(losses.policies, start).loss_step
        per_period = [lossy.kwh_by_period[k] - kwh[k] for k in range(n)]
        parts = [
            share(
                amount=per_period[k],
                weights=[segments[i].kwh_by_period[k] for i in run],
                rest_to=len(run) - 1,
                step=step,
            )
            for k in range(n)
        ]
        if lossy.kvarh is not None and assessed is not None:
            reactive += lossy.kvarh - assessed
        for j, i in enumerate(run):
            s = segments[i]
            new_kwh = tuple(s.kwh_by_period[k] + parts[k][j] for k in range(n))
            pf_kwh = None if lossy.pf_kwh is None else sum(s.kwh_by_period, ZERO)  # loss kept out of the PF
            out[i] = dataclasses.replace(s, kwh_by_period=new_kwh, pf_kwh=pf_kwh)
        tag = f"[{first.label} {first.start:%m-%d}~] " if len(runs) > 1 else ""
        rows_out += [(r[0], (tag + r[1])[:200], *r[2:]) for r in rows]
    return out, rows_out, reactive


@dataclass
class _SubUses:
    total: Decimal
    rows: list[tuple[Any, ...]]
    hold: str


def _split_sub_uses(
    segments: list[Segment],
    read: list[bool],
    in_force: InForce,
    start: date,
    end: date,
    rules: ChangeRules,
    line_row: LineRow,
) -> tuple[list[Segment], _SubUses]:
    """定量定比 on a segmented period: each read segment's kWh split by ``core.rating.sub_use.split`` as the run
    splits a month (定量 first, then 定比 on the segment's total); a 定量's monthly kWh shared by the segments as
    ``ChangeRules.sub_use_fixed_kwh`` says (``fixed_kwh_shares``), the share of a segment without readings
    going to the next read one (its kWh were read there). The main use stays in the segment (rated by the
    combine step, its PF on the whole meter: ``pf_kwh``); each sub-use is rated on its own tariff, energy and
    funds only, as in the run (``sub_use.combine``)."""
    spans = [(s.start, s.end) for s in segments]
    read_at = [i for i, r in enumerate(read) if r]
    shares: dict[int, list[Decimal]] = {}
    for n, su in enumerate(in_force.sub_uses):
        if su.mode != "fixed_kwh":
            continue
        got = list(
            fixed_kwh_shares(value=su.value, spans=spans, period_start=start, period_end=end, rules=rules)
        )
        for i, r in enumerate(read):
            if not r and got[i]:
                to = next((j for j in read_at if j > i), read_at[-1] if read_at else i)
                got[to], got[i] = got[to] + got[i], ZERO
        shares[n] = got
    out_segments: list[Segment] = []
    out = _SubUses(ZERO, [], "")
    capped: list[Deduction] = []
    multi = len(segments) > 1
    for i, s in enumerate(segments):
        wanted = [
            dataclasses.replace(su, value=shares[n][i]) if n in shares else su
            for n, su in enumerate(in_force.sub_uses)
            if n not in shares or shares[n][i] > 0
        ]
        if not read[i] or not wanted:
            out_segments.append(s)
            continue
        det = Determinants(start=s.start, end=s.end, kwh_by_period=s.kwh_by_period, pf_kwh=s.pf_kwh)
        try:
            parts = split_sub_uses(tariff=s.tariff, det=det, sub_uses=wanted)
            rated = combine_sub_uses(
                RatedBill((), ZERO), [(d, rate(tariff=t, det=sd)) for d, t, sd in parts.parts], ZERO
            )
        except SubUseError as exc:
            raise NotBillable("sub_use_error", str(exc)) from None
        except RatingError as exc:
            raise NotBillable("rating_error", str(exc)) from None
        out_segments.append(
            dataclasses.replace(s, kwh_by_period=parts.main.kwh_by_period, pf_kwh=parts.main.pf_kwh)
        )
        tag = f"[{s.label or i + 1} {s.start:%m-%d}~] " if multi else ""
        out.rows += [
            line_row(dataclasses.replace(ln, description=tag + ln.description)) for ln in rated.lines
        ]
        out.total += rated.total
        capped += parts.capped
    out.hold = sub_use_hold(capped)
    return out_segments, out
