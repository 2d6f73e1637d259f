"""退补 (correction of issued bills) and metering-error arithmetic: pure, no Django, no clock.

Sources: ``billing-rules-2.md`` §4 (《供电营业规则》1996 Arts 80, 81). What differs between the error types is
*data* (:class:`PeriodRule`, one per error type, configurable through ``WATTDESK_ADJUSTMENT_PERIOD_RULES``):

================  =========================================  =========  ===================================
error type        corrected quantity of one affected bill    share      period (span)
================  =========================================  =========  ===================================
wrong_reading     the correct kWh the clerk enters            1          the bill's own period (抄表记录)
kvarh             the correct kvarh (PF re-bill)              1          the bill's own period
multiplier        recorded × correct / used                   1          抄表记录: bills since the error began
meter_error       recorded / (1 + e)                          ½          Art. 80.1: since the last check
stopped_meter     the normal months' average kWh              1          Art. 80.3: bills while stopped
================  =========================================  =========  ===================================

The difference (corrected − recorded) is multiplied by the rule's ``share``: Art. 80.1 settles a meter or CT
error over half the time since the last check; the published case (tk.swop.cn/question.php?id=4161132)
computes it as (900 000 / 0.9 − 900 000) / 2 = 50 000 kWh, i.e. half of the whole difference, which is what a
share of ½ on every affected bill gives.

How the 退补 amount is found (:func:`scale_periods`, :func:`line_differences`): the original bill's
determinants are rebuilt, the corrected quantity is spread over its TOU periods in proportion, and both are
rated by the one exact engine (``core.rating.exact.rate``) with the original period's tariff; the 退补 is
new − original per line. This is a pre-processing step on determinants and a post-processing step on lines:
it adds no rule to the rating engines, so the vectorised path (which rates the same determinants to the same
fen, tests/unit/core/test_vector_equals_exact.py) needs no change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from wattdesk.core.money import quantize_quantity, quantize_ratio
from wattdesk.core.rating.exact import Line

ZERO = Decimal(0)
ONE = Decimal(1)
HALF = Decimal("0.5")

ERROR_TYPES = ("wrong_reading", "kvarh", "multiplier", "meter_error", "stopped_meter")
SPANS = ("bill", "since")


class CorrectionError(ValueError):
    """A correction's parameters do not make sense (a zero multiplier, an error of −100 % …)."""


@dataclass(frozen=True)
class PeriodRule:
    """How far back an error type is corrected and which share of the difference is settled.

    ``span``: ``bill`` = only the bill named; ``since`` = every issued bill of the account from the date the
    error began (the last check / installation / the wrong multiplier's first day) to the day it was corrected.
    ``share``: the part of the difference settled (½ for a meter/CT error, Art. 80.1; 1 otherwise).
    ``source``: where the rule comes from, shown in the docs and on the 退补 document.
    """

    span: str
    share: Decimal
    source: str

    def __post_init__(self) -> None:
        if self.span not in SPANS:
            raise CorrectionError(f"period rule span must be one of {', '.join(SPANS)}, not {self.span!r}")
        if not (ZERO < self.share <= ONE):
            raise CorrectionError("period rule share must be in (0, 1]")


DEFAULT_PERIOD_RULES: Mapping[str, PeriodRule] = {
    "wrong_reading": PeriodRule(
        "bill", ONE, "1996 供电营业规则 Art. 80.3 (抄表记录); staff 错抄 [UNVERIFIED]"
    ),
    "kvarh": PeriodRule("bill", ONE, "PF re-bill at the corrected PF (billing-rules-2.md §4.2)"),
    "multiplier": PeriodRule("since", ONE, "1996 供电营业规则 Art. 81.3 (抄表记录, no ½)"),
    "meter_error": PeriodRule(
        "since", HALF, "1996 供电营业规则 Art. 80.1 (½ of the time since the last check)"
    ),
    "stopped_meter": PeriodRule("since", ONE, "1996 供电营业规则 Art. 80.3 (正常月份用电量)"),
}


def period_rules(overrides: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, PeriodRule]:
    """The default rules with ``overrides`` (error type -> {"span", "share", "source"}) applied."""
    rules = dict(DEFAULT_PERIOD_RULES)
    for kind, spec in (overrides or {}).items():
        if kind not in ERROR_TYPES:
            raise CorrectionError(f"unknown error type {kind!r} in the period rules")
        base = rules[kind]
        rules[kind] = PeriodRule(
            span=str(spec.get("span", base.span)),
            share=Decimal(str(spec.get("share", base.share))),
            source=str(spec.get("source", base.source)),
        )
    return rules


# --- the corrected quantity of one bill ---------------------------------------------------------------------


def true_kwh_of_meter_error(*, recorded: Decimal, error: Decimal) -> Decimal:
    """Art. 80.1 with "0" error as the basis: true = recorded / (1 + e); e = −0.10 for a meter 10 % slow."""
    if error <= -ONE:
        raise CorrectionError("a meter error must be above −100 %")
    return quantize_ratio(recorded, ONE + error)


def multiplier_kwh(*, recorded: Decimal, used: Decimal, correct: Decimal) -> Decimal:
    """Art. 81.3: the quantity the correct multiplier gives, recorded × correct / used (补交系数 = correct /
    used − 1 of the recorded quantity is the difference)."""
    if used <= 0 or correct <= 0:
        raise CorrectionError("multipliers must be positive")
    return quantize_ratio(recorded * correct, used)


def normal_month_average(history: Sequence[Decimal]) -> Decimal:
    """Art. 80.3: the customer's normal months' average kWh (the bills before the fault)."""
    if not history:
        raise CorrectionError("no normal month to estimate from: the account has no earlier issued bill")
    return quantize_ratio(sum(history, ZERO), Decimal(len(history)))


def settled_difference(*, recorded: Decimal, corrected: Decimal, share: Decimal) -> Decimal:
    """The kWh (or kvarh) settled by the 退补: (corrected − recorded) × share, quantized to 0.0001."""
    return quantize_quantity((corrected - recorded) * share)


def scale_periods(kwh_by_period: Sequence[Decimal], difference: Decimal) -> tuple[Decimal, ...]:
    """Add ``difference`` kWh to the TOU periods in proportion to their kWh; the last period with kWh takes the
    remainder so the periods add up to exactly ``sum + difference``. With no kWh at all, the whole
    difference goes to the last period (the flat/only one of a single-period tariff)."""
    total = sum(kwh_by_period, ZERO)
    target = total + difference
    if target < 0:
        raise CorrectionError(f"the corrected quantity would be negative ({target})")
    if not kwh_by_period:
        raise CorrectionError("the bill has no energy periods")
    if total == 0:
        return (*([ZERO] * (len(kwh_by_period) - 1)), target)
    last = max(i for i, k in enumerate(kwh_by_period) if k != 0)
    out = [quantize_ratio(k * target, total) if i != last else ZERO for i, k in enumerate(kwh_by_period)]
    out[last] = target - sum(out, ZERO)
    return tuple(out)


# --- the 退补 lines ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineDifference:
    """One 退补 line: the original and corrected line of the same rule, and the difference."""

    code: str
    description: str
    unit: str
    rate: Decimal
    rule: str
    original_quantity: Decimal
    corrected_quantity: Decimal
    original_amount: Decimal
    corrected_amount: Decimal

    @property
    def quantity(self) -> Decimal:
        return self.corrected_quantity - self.original_quantity

    @property
    def amount(self) -> Decimal:
        return self.corrected_amount - self.original_amount


def line_differences(original: Sequence[Line], corrected: Sequence[Line]) -> tuple[LineDifference, ...]:
    """Pair the lines of the original and the corrected rating by (code, n-th occurrence) and give new − original
    for each pair; a line present on one side only is paired with zero. Lines that do not change are dropped.
    Amounts are already rounded to the fen by the engine, so every difference is exact to the fen."""

    def keyed(lines: Sequence[Line]) -> dict[tuple[str, int], Line]:
        seen: defaultdict[str, int] = defaultdict(int)
        out: dict[tuple[str, int], Line] = {}
        for ln in lines:
            out[(ln.code, seen[ln.code])] = ln
            seen[ln.code] += 1
        return out

    before, after = keyed(original), keyed(corrected)
    order = list(after) + [k for k in before if k not in after]
    diffs = []
    for key in order:
        o, c = before.get(key), after.get(key)
        ref = c or o
        assert ref is not None
        d = LineDifference(
            code=ref.code,
            description=ref.description,
            unit=ref.unit,
            rate=ref.rate,
            rule=ref.rule,
            original_quantity=o.quantity if o else ZERO,
            corrected_quantity=c.quantity if c else ZERO,
            original_amount=o.amount if o else ZERO,
            corrected_amount=c.amount if c else ZERO,
        )
        if d.amount != 0 or d.quantity != 0:
            diffs.append(d)
    return tuple(diffs)
