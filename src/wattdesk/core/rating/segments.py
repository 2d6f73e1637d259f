"""Mid-period changes (变更用电) split a billing period into segments (分段计费). Pure: no Django, no clock.

A change (改类, 减容, 暂停, 减容恢复, 暂停恢复, 增容, 暂换, contract-demand change, 换表, CT/PT change, service
point added / retired, account opened / closed) takes effect on a date; the period ``[start, end)`` is split at
those dates into segments, each with its own capacity, contract demand, tariff (and so PF standard) and kWh.

How a segmented period is rated (billing-rules-2.md §3, §7) — a shared combine step over per-segment EXACT
rating (``core.rating.exact.rate``); the vectorised path is not used for segmented bills (the billing run rates
exactly in any case, and the combine step below is the only place segment rules live):

1. Each segment is rated on its own tariff with the PF adjustment, fixed charges and the minimum taken out:
   energy (its own kWh, its own tariff), demand, basic charge and funds, lines rounded as the tariff says.
   Its kWh already carry its own 变损 (the run's loss step on the segment, ``application.changes.billing``)
   and its tier bounds its share of a 一户多人口 uplift (``Segment.tier_uplift_kwh``, :func:`segment_uplift`).
2. Basic charge (基本电费) by days: consecutive segments with the same basic lines (same capacity, price ...)
   form one run; a run covering the whole period is charged the full month, any other run
   ``quantity x price x days / denominator`` (``ChangeRules.denominator``: ``30`` (default, §7), the days of
   the calendar month the period starts in, or the days of the period), at most one month per run, one
   ``round_fen`` per line. Capacity sealed under the 1996 two-year rule (新装/增容 within two years, §3.1) is
   still charged at ``two_year_factor`` (50 %) on its own line.
3. Power factor (功率因数): ONE value for the month from the total kWh and kvarh of all segments; each segment's
   own PF standard (its tariff's rule) is applied to that segment's base (its rounded basic + energy lines as
   printed; rule.base), one PF line per segment (§3.4).
4. Fixed charges of the tariff in force at the end of the period, once. Its minimum charge (最低电费, per
   month or per day) tops the segmented total up to the floor over the whole period; a per-year minimum (a
   December top-up on the year's charges) is not applied to a segmented bill.

Day semantics are in :func:`split_dates`: the sealing day (加封) is not charged, the unsealing day (启封) is,
a part day counts as one day (whole dates only), all configurable in :class:`ChangeRules`.
"""

from __future__ import annotations

import calendar
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any, Literal

from wattdesk.core.money import quantize_quantity, quantize_ratio, round_fen
from wattdesk.core.pf import power_factor
from wattdesk.core.rating.exact import Determinants, Line, RatedBill, RatingError, rate

ZERO = Decimal(0)
ONE = Decimal(1)

Denominator = Literal["30", "days_in_month", "days_in_period"]
DENOMINATORS: tuple[str, ...] = ("30", "days_in_month", "days_in_period")
SubUseShare = Literal["by_days", "last_segment"]
SUB_USE_SHARES: tuple[str, ...] = ("by_days", "last_segment")
AnnualOnReclass = Literal["carry", "restart"]
ANNUAL_ON_RECLASS: tuple[str, ...] = ("carry", "restart")


class ChangeRuleError(ValueError):
    """A rule-set document is not valid (``path``: the key)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class ChangeRules:
    """A rule set for mid-period changes (versioned data, ``domain.changes.models.ChangeRuleSet``).

    Defaults are the 1583 reading (发改办价格〔2016〕1583号 as summarised, billing-rules-2.md §3.2) with the
    1996 day rules (§3.3, §7); the 1996 rule set differs in ``two_year_rule`` (on, 50 %).
    """

    version: str = "1583"
    denominator: Denominator = "30"  # §7: 每日按全月基本电费三十分之一计算
    sealing_day_charged: bool = False  # §3.3: 变压器封停当天不收基本电费
    unsealing_day_charged: bool = True  # §3.3: 启封当天应计收基本电费
    suspension_min_days: int = 15  # 暂停 每次不得少于十五天 (1996 Art. 24)
    suspension_max_per_year: int | None = 2  # 1996 Art. 24; removed by 1583? [UNVERIFIED] -> data
    suspension_max_days_per_year: int = 183  # 一年累计暂停时间不得超过六个月
    short_suspension_charged_in_full: bool = True  # 暂停时间少于十五天者，暂停期间基本电费照收
    reduction_min_days: int = 0  # 1996: 6 months; 1583 as summarised: not bound -> 0 (no check)
    two_year_rule: bool = False  # 1996 Art. 23: 新装/增容 二年内 减容/暂停 部分 50 %; off under 1583
    two_year_factor: Decimal = Decimal("0.5")
    demand_changes_on_period_boundary: bool = True  # §3.2: 需量 users by 日历月 / 抄表结算周期
    # how a 定量 sub-use (kWh per month) is shared by the segments of a changed period: "by_days" (each
    # segment its days / the period's days, the last in-service segment the rest) or "last_segment" (all of
    # it in the last segment). [UNVERIFIED] billing-rules-2.md §2: "mid-month change of Q (prorate by days?)"
    sub_use_fixed_kwh: SubUseShare = "by_days"
    # 改类 inside the tier year on annual tiers (no published rule; docs/billing-cases/mid-period-changes.md):
    # "carry" (default, as the run does at a period boundary): the year-to-date position and the tier-year
    # share go on across the change; "restart": the new tariff counts from 0 kWh on a share of the tier year
    # from the change day
    annual_tiers_on_reclass: AnnualOnReclass = "carry"

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> ChangeRules:
        """Parse a rule-set document (JSON object); missing keys take the defaults above."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in doc.items():
            if key not in known:
                raise ChangeRuleError(key, "unknown key")
            if key == "denominator":
                if str(value) not in DENOMINATORS:
                    raise ChangeRuleError(key, f"must be one of {', '.join(DENOMINATORS)}")
                kwargs[key] = str(value)
            elif key == "sub_use_fixed_kwh":
                if str(value) not in SUB_USE_SHARES:
                    raise ChangeRuleError(key, f"must be one of {', '.join(SUB_USE_SHARES)}")
                kwargs[key] = str(value)
            elif key in (
                "sealing_day_charged",
                "unsealing_day_charged",
                "short_suspension_charged_in_full",
                "two_year_rule",
                "demand_changes_on_period_boundary",
            ):
                if not isinstance(value, bool):
                    raise ChangeRuleError(key, "must be true or false")
                kwargs[key] = value
            elif key == "two_year_factor":
                try:
                    factor = Decimal(str(value))
                except ArithmeticError:
                    raise ChangeRuleError(key, "must be a number") from None
                if not ZERO <= factor <= ONE:
                    raise ChangeRuleError(key, "must be between 0 and 1")
                kwargs[key] = factor
            elif key == "annual_tiers_on_reclass":
                if str(value) not in ANNUAL_ON_RECLASS:
                    raise ChangeRuleError(key, f"must be one of {', '.join(ANNUAL_ON_RECLASS)}")
                kwargs[key] = str(value)
            elif key == "version":
                kwargs[key] = str(value)
            else:  # day counts
                if value is None and key == "suspension_max_per_year":
                    kwargs[key] = None
                    continue
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ChangeRuleError(key, "must be a whole number >= 0")
                kwargs[key] = value
        return cls(**kwargs)


def days_denominator(*, rules: ChangeRules, start: date, end: date) -> int:
    """The proration denominator of the period ``[start, end)``."""
    if rules.denominator == "30":
        return 30
    if rules.denominator == "days_in_month":
        return calendar.monthrange(start.year, start.month)[1]
    return (end - start).days


Effect = Literal["seal", "unseal", "neutral"]


def split_date(*, effective_on: date, effect: Effect, rules: ChangeRules) -> date:
    """First day charged on the new values of a change dated ``effective_on``.

    ``seal`` (减容, 暂停, 销户, a point retired, the old transformer of a 暂换): the sealing day is not charged
    on the old values unless ``sealing_day_charged``. ``unseal`` (恢复, 增容, 新装, a point added): the
    unsealing day is charged on the new values unless ``unsealing_day_charged`` is false. ``neutral`` (改类,
    换表, CT/PT, contract demand): the new values from that day.
    """
    if effect == "seal" and rules.sealing_day_charged:
        return effective_on + timedelta(days=1)
    if effect == "unseal" and not rules.unsealing_day_charged:
        return effective_on + timedelta(days=1)
    return effective_on


@dataclass(frozen=True)
class Segment:
    """One segment ``[start, end)`` of a billing period with the values in force and its usage.

    ``capacity_kva``: capacity in use (charged in full); ``sealed_half_kva``: capacity sealed within two years
    of 新装/增容 under a rule set with ``two_year_rule`` (charged at ``two_year_factor``).
    """

    start: date
    end: date
    tariff: Any  # core.tariff.Tariff (Any: frozen dataclass equality is all this module needs)
    kwh_by_period: tuple[Decimal, ...]
    capacity_kva: Decimal | None = None
    contract_kw: Decimal | None = None
    max_kw: Decimal | None = None
    sealed_half_kva: Decimal = ZERO
    label: str = ""
    tier_uplift_kwh: tuple[Decimal, ...] = ()  # 一户多人口 quota of this segment (:func:`segment_uplift`)
    pf_kwh: Decimal | None = None  # kWh of the month's PF when not this segment's kWh (变损 off the PF)
    # annual tiers: the tier-year position before this segment and the share of the tier year the bounds get
    # (:func:`annual_positions`)
    ytd_kwh_before: Decimal = ZERO
    tier_year_fraction: Decimal = ONE

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class SegmentedBill:
    """The rated lines of a segmented period (rounded to the fen), the total and the PF used."""

    lines: tuple[Line, ...]
    total: Decimal
    power_factor: Decimal | None


def _span(start: date, end: date) -> str:
    last = end - timedelta(days=1)
    return f"{start:%m-%d}~{last:%m-%d}"


def _percent(x: Decimal) -> str:
    return f"{(x * 100).normalize():f}%"


def _basic_key(lines: Sequence[Line], half: Decimal) -> tuple[Any, ...]:
    return (tuple((ln.code, ln.quantity, ln.rate) for ln in lines), half)


def rate_segments(
    *,
    segments: Sequence[Segment],
    kvarh: Decimal | None,
    period_start: date,
    period_end: date,
    rules: ChangeRules,
    engine: SegmentEngine | None = None,
) -> SegmentedBill:
    """Rate a billing period split into ``segments`` (consecutive, inside the period, gaps allowed for days
    the account or point was not in service). See the module docstring for the rules.

    ``engine``: the rating path of step 1 (:func:`exact_engine`, the default, or
    ``core.rating.segments_vector.vector_engine``); steps 2-4 are this combine step, shared by both."""
    engine = engine or exact_engine
    if not segments:
        raise RatingError("a segmented bill needs at least one segment")
    for a, b in pairwise(segments):
        if b.start < a.end:
            raise RatingError("segments overlap or are out of order")
    for s in segments:
        if s.end <= s.start or s.start < period_start or s.end > period_end:
            raise RatingError(f"segment {s.start}..{s.end} is empty or outside the period")
    den = days_denominator(rules=rules, start=period_start, end=period_end)
    per_seg: list[tuple[Segment, list[Line], list[Line]]] = []  # (segment, basic lines, other lines)
    items: list[tuple[Any, Determinants]] = []
    for s in segments:
        t = dataclasses.replace(s.tariff, power_factor=None, fixed=(), minimum=None)
        det = Determinants(
            start=s.start,
            end=s.end,
            kwh_by_period=s.kwh_by_period,
            max_kw=s.max_kw,
            capacity_kva=s.capacity_kva,
            contract_kw=s.contract_kw,
            tier_uplift_kwh=s.tier_uplift_kwh,
            ytd_kwh_before=s.ytd_kwh_before,
            tier_year_fraction=s.tier_year_fraction,
        )
        items.append((t, det))
    for s, seg_lines in zip(segments, engine(items), strict=True):
        basic = [ln for ln in seg_lines if ln.rule.startswith("basic")]
        other = [ln for ln in seg_lines if not ln.rule.startswith("basic")]
        per_seg.append((s, basic, other))

    # basic charge per run of equal basic lines
    basic_of: dict[int, list[Line]] = {i: [] for i in range(len(segments))}
    i = 0
    while i < len(per_seg):
        s0, basic0, _ = per_seg[i]
        key = _basic_key(basic0, s0.sealed_half_kva)
        j = i
        while (
            j + 1 < len(per_seg)
            and per_seg[j + 1][0].start == per_seg[j][0].end
            and _basic_key(per_seg[j + 1][1], per_seg[j + 1][0].sealed_half_kva) == key
        ):
            j += 1
        run_start, run_end = s0.start, per_seg[j][0].end
        days = (run_end - run_start).days
        whole = run_start == period_start and run_end == period_end
        fraction_days = min(days, den)
        out: list[Line] = []
        factor_text = "" if whole else f" {_span(run_start, run_end)} {fraction_days}/{den}天"
        for ln in basic0:
            exact_amount = ln.quantity * ln.rate
            amount = ln.amount if whole else round_fen(exact_amount * fraction_days / den)
            out.append(dataclasses.replace(ln, description=ln.description + factor_text, amount=amount))
        if s0.sealed_half_kva > 0 and s0.tariff.basic is not None:
            half_rate = s0.tariff.basic.rate * rules.two_year_factor
            exact_amount = s0.sealed_half_kva * half_rate
            amount = round_fen(exact_amount if whole else exact_amount * fraction_days / den)
            out.append(
                Line(
                    "basic.capacity.sealed",
                    f"基本电费(新装/增容二年内减容暂停部分按{_percent(rules.two_year_factor)}计收){factor_text}",
                    s0.sealed_half_kva,
                    "kVA",
                    half_rate,
                    amount,
                    "basic.capacity.two_year",
                )
            )
        basic_of[i] = out
        i = j + 1

    # one power factor for the month
    total_kwh = sum(
        (
            sum((quantize_quantity(k) for k in s.kwh_by_period), ZERO) if s.pf_kwh is None else s.pf_kwh
            for s in segments
        ),
        ZERO,
    )
    pf: Decimal | None = None
    if kvarh is not None and total_kwh > 0:
        pf = power_factor(kwh=total_kwh, kvarh=kvarh)

    multi = len(segments) > 1
    lines: list[Line] = []
    for n, (s, _basic, other) in enumerate(per_seg):
        tag = f"[{s.label or n + 1} {_span(s.start, s.end)}] " if multi else ""
        seg_lines = [dataclasses.replace(ln, description=tag + ln.description) for ln in basic_of[n]]
        seg_lines += [dataclasses.replace(ln, description=tag + ln.description) for ln in other]
        rule = s.tariff.power_factor
        if pf is not None and rule is not None:
            base = sum((ln.amount for ln in seg_lines if ln.rule.split(".", 1)[0] in rule.base), ZERO)
            percent = rule.table.percent(standard=rule.standard, power_factor=pf)
            rate_ = percent.scaleb(-2)
            zh = s.tariff.locale == "zh"
            seg_lines.append(
                Line(
                    "pf",
                    tag
                    + (
                        f"功率因数调整电费(实际{pf}, 标准{rule.standard})"
                        if zh
                        else f"Power-factor adjustment (PF {pf}, standard {rule.standard})"
                    ),
                    base,
                    "元",
                    rate_,
                    round_fen(base * rate_),
                    f"pf.{rule.standard}",
                )
            )
        lines += seg_lines
    last = segments[-1]
    if last.tariff.fixed:
        t = dataclasses.replace(
            last.tariff,
            power_factor=None,
            minimum=None,
            basic=None,
            flat_demand=None,
            tou_demand=None,
            funds=(),
        )
        zero = tuple(ZERO for _ in last.kwh_by_period)
        [fixed] = engine([(t, Determinants(start=period_start, end=period_end, kwh_by_period=zero))])
        lines += [ln for ln in fixed if ln.rule.split(".", 1)[0] == "fixed"]
    total = sum((ln.amount for ln in lines), ZERO)
    minimum = last.tariff.minimum
    if minimum is not None and minimum.per != "year":
        # 最低电费 of the tariff in force at the end, over the whole period: its floor (per month, or per day x
        # the period's days) is the minimum line of a bill with nothing else on it; the top-up is the floor less
        # the segments' total (whole fen, so rounding the difference = the rounded floor less the total)
        t = dataclasses.replace(
            last.tariff,
            power_factor=None,
            fixed=(),
            basic=None,
            flat_demand=None,
            tou_demand=None,
            funds=(),
        )
        zero = tuple(ZERO for _ in last.kwh_by_period)
        det = Determinants(start=period_start, end=period_end, kwh_by_period=zero, max_kw=ZERO)
        [alone] = engine([(t, det)])
        floor = sum((ln.amount for ln in alone if ln.rule == "minimum"), ZERO)
        if floor > total:
            top = next(ln for ln in alone if ln.rule == "minimum")
            lines.append(dataclasses.replace(top, quantity=ONE, rate=floor - total, amount=floor - total))
            total = floor
    return SegmentedBill(lines=tuple(lines), total=total, power_factor=pf)


SegmentEngine = Callable[[Sequence[tuple[Any, Determinants]]], list[list[Line]]]
"""Step 1's rating path: the lines of each (tariff, determinants) item, rounded to the fen as ``exact.rate``
rounds them. The combine step reads a line's ``rule`` category (``basic`` / ``energy`` / ``fund`` ...) and, for
the basic lines it prorates, ``code``, ``quantity`` and ``rate``."""


def exact_engine(items: Sequence[tuple[Any, Determinants]]) -> list[list[Line]]:
    """Step 1 on the exact path (``core.rating.exact.rate``), one item at a time."""
    return [list(rate(tariff=t, det=d).lines) for t, d in items]


def annual_positions(
    *, codes: Sequence[str], kwh: Sequence[Decimal], ytd_kwh_before: Decimal, rules: ChangeRules
) -> tuple[Decimal, ...]:
    """The tier-year position before each segment of a period on annual tiers (``codes``: each segment's
    tariff code, ``kwh``: its kWh): the year to date before the period, then each earlier segment's kWh added,
    so the segments of one tariff fill its annual tiers in order as one unsegmented period would. On a 改类
    (the code changes) ``rules.annual_tiers_on_reclass`` says whether the position goes on (``carry``) or the
    new tariff starts from 0 kWh (``restart``)."""
    out: list[Decimal] = []
    position = ytd_kwh_before
    for i, (code, k) in enumerate(zip(codes, kwh, strict=True)):
        if i and code != codes[i - 1] and rules.annual_tiers_on_reclass == "restart":
            position = ZERO
        out.append(position)
        position += k
    return tuple(out)


def segment_uplift(
    *, uplift: tuple[Decimal, ...], tariff: Any, start: date, end: date
) -> tuple[Decimal, ...]:
    """A period's tier uplift (一户多人口, ``core.rating.quota.tier_uplift``) carried by the segment
    ``[start, end)``: scaled as the rating scales that segment's tier bounds (billing-rules-2.md §6 "每户每月增加
    ... 电量", the month's amount shared like the month's tiers), so a segment's widened bound is
    ``bound x f + uplift x f`` with one quantization each: monthly tiers on ``average_month`` proration and a
    segment that is not a calendar month: ``f = days x 12 / 365`` (``core.money.quantize_ratio``, as
    ``core.rating.exact`` prorates the bounds); otherwise (``proration: none``, kWh/kW tiers) the whole
    amount, as the bounds are whole. Annual tiers are not billed by segments."""
    if not uplift:
        return uplift
    energy = tariff.energy
    calendar_month = start.day == 1 and end == date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    if energy.tier_basis != "monthly" or energy.proration != "average_month" or calendar_month:
        return uplift
    num, den = Decimal((end - start).days * 12), Decimal(365)
    return tuple(quantize_ratio(u * num, den) for u in uplift)


def fixed_kwh_shares(
    *,
    value: Decimal,
    spans: Sequence[tuple[date, date]],
    period_start: date,
    period_end: date,
    rules: ChangeRules,
) -> tuple[Decimal, ...]:
    """A 定量 sub-use's kWh (``value`` per month) in each segment ``spans[i]`` of the period, by
    ``rules.sub_use_fixed_kwh``: ``by_days`` -> ``value x days / period days`` quantized to 0.0001 kWh, the last
    segment taking the rest when the segments cover the whole period (so a month in service bills exactly
    ``value``); ``last_segment`` -> all of it in the last segment."""
    if not spans:
        return ()
    if rules.sub_use_fixed_kwh == "last_segment":
        return (*(ZERO for _ in spans[:-1]), value)
    period_days = Decimal((period_end - period_start).days)
    shares = [quantize_ratio(value * (b - a).days, period_days) for a, b in spans]
    if sum((b - a).days for a, b in spans) == (period_end - period_start).days:
        shares[-1] = value - sum(shares[:-1], ZERO)
    return tuple(shares)


def as_rated_bill(bill: SegmentedBill) -> RatedBill:
    return RatedBill(lines=bill.lines, total=bill.total)
