"""From the recorded changes of a service point to the pieces of a billing period. Pure: no Django, no clock.

A piece is a stretch of the period with one set of values (in service, capacity in use, contract demand,
tariff, PF standard, capacity charged at the two-year factor) plus the window of reading dates whose
consumption belongs to it. Rules (billing-rules-2.md §3, §7; ``core.rating.segments.ChangeRules``):

* the values of a day are the "after" values of the latest change whose first charged day
  (``core.rating.segments.split_date``: sealing day not charged, unsealing day charged) is on or before it;
  before the first change, that change's "before" values;
* a reading dated on a change day closes the stretch before the change (it is the reading taken at the
  sealing / exchange), so reading windows are cut on the day after each change;
* a 暂停 restored after fewer than ``suspension_min_days`` with ``short_suspension_charged_in_full`` is
  charged as if not suspended (暂停时间少于十五天者，暂停期间基本电费照收);
* ``two_year_rule`` (1996): capacity reduced or suspended within two years of 新装 (the account's opening) or of
  the latest 增容 is still charged at ``two_year_factor`` until it is restored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from wattdesk.core.period import add_months
from wattdesk.core.rating.segments import ChangeRules, Effect, split_date
from wattdesk.domain.changes.queries import ChangeRow

ZERO = Decimal(0)

SEAL_KINDS = frozenset({"reduction", "suspension", "temporary_exchange", "point_retired", "account_closed"})
EXPIRED = "suspension_expired"  # not recorded: the yearly 暂停 cap reached without a restore
UNSEAL_KINDS = frozenset(
    {"reduction_restore", "suspension_restore", "increase", "point_added", "account_opened", EXPIRED}
)
REDUCING_KINDS = frozenset({"reduction", "suspension"})
RESTORING_KINDS = frozenset({"reduction_restore", "suspension_restore"})
_RESTORES = RESTORING_KINDS | {EXPIRED}


def effect_of(kind: str) -> Effect:
    if kind in SEAL_KINDS:
        return "seal"
    if kind in UNSEAL_KINDS:
        return "unseal"
    return "neutral"


@dataclass(frozen=True)
class Values:
    """The values in force on a day."""

    in_service: bool
    capacity_kva: Decimal
    contract_kw: Decimal | None
    tariff_code: str
    pf_standard: Decimal | None
    sealed_half_kva: Decimal = ZERO


@dataclass(frozen=True)
class Piece:
    start: date  # first charged day
    end: date  # exclusive
    read_from: date  # readings dated in [read_from, read_to)
    read_to: date
    values: Values
    label: str


def _before(c: ChangeRow, default_tariff: str) -> Values:
    return Values(
        in_service=c.kind not in ("account_opened", "point_added"),
        capacity_kva=c.capacity_before,
        contract_kw=c.contract_kw_before,
        tariff_code=c.tariff_before or default_tariff,
        pf_standard=c.pf_standard_before,
    )


def _short_suspensions(changes: Sequence[ChangeRow], rules: ChangeRules) -> set[int]:
    """Ids of 暂停 and their restores that are charged as if not suspended (shorter than the minimum)."""
    if not rules.short_suspension_charged_in_full:
        return set()
    by_id = {c.id: c for c in changes}
    out: set[int] = set()
    for r in changes:
        s = by_id.get(r.restores_id) if r.restores_id is not None else None
        if (
            r.kind == "suspension_restore"
            and s is not None
            and s.kind == "suspension"
            and (r.effective_on - s.effective_on).days < rules.suspension_min_days
        ):
            out |= {s.id, r.id}
    return out


def _expiries(changes: Sequence[ChangeRow], ignored: set[int], rules: ChangeRules) -> list[ChangeRow]:
    """The capacity a 暂停 took away comes back (is charged again) once the calendar year's suspended days
    reach ``suspension_max_days_per_year``, restored or not (1996 Art. 24: 暂停期满或每一日历年内累计暂停用电时间超过
    六个月者，不论用户是否申请恢复用电，供电企业须从期满之日起，按合同约定的容量计收其基本电费). A 暂停 counts toward
    the year it starts in."""
    restore_of = {c.restores_id: c for c in changes if c.kind == "suspension_restore" and c.restores_id}
    used: dict[int, int] = {}
    out: list[ChangeRow] = []
    for c in changes:
        if c.kind != "suspension" or c.id in ignored:
            continue
        year = c.effective_on.year
        left = max(rules.suspension_max_days_per_year - used.get(year, 0), 0)
        expiry = c.effective_on + timedelta(days=left)
        restored = restore_of.get(c.id)
        if restored is not None and restored.effective_on <= expiry:
            used[year] = used.get(year, 0) + (restored.effective_on - c.effective_on).days
            continue
        used[year] = used.get(year, 0) + left
        out.append(
            dataclasses.replace(
                c,
                id=-c.id,
                kind=EXPIRED,
                effective_on=expiry,
                capacity_before=c.capacity_after,
                capacity_after=c.capacity_before,
                contract_kw_before=c.contract_kw_after,
                contract_kw_after=c.contract_kw_before,
                tariff_before=c.tariff_after,
                tariff_after=c.tariff_before,
                pf_standard_before=c.pf_standard_after,
                pf_standard_after=c.pf_standard_before,
            )
        )
    return out


def timeline(
    *, changes: Sequence[ChangeRow], rules: ChangeRules, opened_on: date, default_tariff: str
) -> list[tuple[date, date, Values, str]]:
    """(first charged day, reading cut day, values from then, kind) per effective change, in order, with the
    opening values first (dated ``date.min``)."""
    if not changes:
        return []
    ignored = _short_suspensions(changes, rules)
    live = sorted(
        [c for c in changes if c.id not in ignored] + _expiries(changes, ignored, rules),
        key=lambda c: (c.effective_on, c.id),
    )
    first = changes[0]
    values = _before(first, default_tariff)
    out: list[tuple[date, date, Values, str]] = [(date.min, date.min, values, "")]
    grown_on = opened_on  # 新装 or latest 增容 (two-year rule)
    for c in live:
        sealed = values.sealed_half_kva
        if c.kind == "increase":
            grown_on = c.effective_on
        if (
            rules.two_year_rule
            and c.kind in REDUCING_KINDS
            and c.effective_on < add_months(grown_on, 24)
            and c.capacity_before > c.capacity_after
        ):
            sealed += c.capacity_before - c.capacity_after
        elif c.kind in _RESTORES and sealed > 0:
            sealed = max(ZERO, sealed - max(ZERO, c.capacity_after - c.capacity_before))
        values = Values(
            in_service=c.in_service_after,
            capacity_kva=c.capacity_after,
            contract_kw=c.contract_kw_after,
            tariff_code=c.tariff_after or values.tariff_code,
            pf_standard=c.pf_standard_after,
            sealed_half_kva=sealed,
        )
        split = split_date(effective_on=c.effective_on, effect=effect_of(c.kind), rules=rules)
        out.append((split, c.effective_on + timedelta(days=1), values, c.kind))
    return out


def values_on(line: Sequence[tuple[date, date, Values, str]], day: date) -> Values | None:
    """The values in force on ``day`` (None: no change recorded)."""
    best = None
    for split, _cut, values, _kind in line:
        if split <= day:
            best = values
    return best


def changes_inside(line: Sequence[tuple[date, date, Values, str]], start: date, end: date) -> bool:
    """Whether a change takes effect (or cuts the readings) strictly inside ``[start, end)``."""
    return any(start < split < end or start < cut < end for split, cut, _v, kind in line if kind)


def pieces(*, line: Sequence[tuple[date, date, Values, str]], start: date, end: date) -> list[Piece]:
    """The in-service pieces of ``[start, end)``; consecutive pieces with equal values are merged (their
    reading windows joined)."""
    cuts: list[tuple[date, date, Values, str]] = []
    for split, cut, values, kind in line:
        if split <= start:
            cuts = [(start, start, values, kind)]
        elif split < end:
            cuts.append((split, min(max(cut, start), end), values, kind))
    out: list[Piece] = []
    for i, (s, read_from, values, kind) in enumerate(cuts):
        e = cuts[i + 1][0] if i + 1 < len(cuts) else end
        read_to = cuts[i + 1][1] if i + 1 < len(cuts) else end
        if i == 0:
            read_from = start
        if not values.in_service or e <= s:
            continue
        if out and out[-1].end == s and out[-1].values == values:
            out[-1] = dataclasses.replace(out[-1], end=e, read_to=read_to)
            continue
        out.append(Piece(s, e, read_from, read_to, values, kind))
    return out
