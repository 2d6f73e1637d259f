"""VEE — validation, estimation and editing of meter register readings (抄表数据校核).

Pure rules: no Django, no database, no clock, no I/O. The application layer fetches what a rule needs into
the plain dataclasses below, calls these functions, and writes the outcome.

Vocabulary
----------
- *value*: what the register shows (表码/示数), in register units.
- *advance*: value - previous value (走字), in register units; corrected for a rollover (翻转/满码).
- *consumption*: advance x multiplier (倍率), in kWh (kvarh for a reactive register).
- a *max_demand* register is not cumulative: its value x multiplier is the period's maximum demand in kW.

Each check returns :class:`Finding` objects. ``Severity.ERROR`` means "do not bill from this reading until a
person has looked" (reading status ``exception``); ``WARNING`` and ``INFO`` are recorded for follow-up but the
reading stays billable. The defaults of :class:`VeeRules` are documented in ``docs/readings.md``.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

QUANTUM = Decimal("0.0001")  # register values and quantities are kept to 0.0001 (field precision)


def quantize_quantity(x: Decimal) -> Decimal:
    """Round a register value / quantity to 0.0001, ROUND_HALF_UP (the precision readings are stored at)."""
    return x.quantize(QUANTUM, rounding=ROUND_HALF_UP)


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Check(enum.StrEnum):
    """Check codes (stable: stored in ReadingException.check and shown to staff)."""

    NEGATIVE_ADVANCE = "negative_advance"
    ROLLOVER = "rollover"
    METER_EXCHANGE = "meter_exchange"
    ZERO_CONSUMPTION = "zero_consumption"
    SPIKE = "spike"
    ESTIMATED = "estimated"
    TRUE_UP = "true_up"
    REACTIVE_WITHOUT_ACTIVE = "reactive_without_active"
    DEMAND_ABOVE_CAPACITY = "demand_above_capacity"


@dataclass(frozen=True)
class Finding:
    check: Check
    severity: Severity
    reason: str


@dataclass(frozen=True)
class VeeRules:
    """Parameters of the checks (defaults: docs/readings.md)."""

    # Rollover: a drop is a rollover only if the previous value was at least this fraction of the register's
    # full scale (10**digits) AND the corrected advance is at most `rollover_max_advance_fraction` of full scale.
    rollover_min_previous_fraction: Decimal = Decimal("0.9")
    rollover_max_advance_fraction: Decimal = Decimal("0.1")
    # Zero consumption for this many consecutive periods (the current one included) -> warning.
    zero_periods: int = 3
    # Spike: consumption > spike_factor x median of the last `history_periods` periods and above the floor.
    spike_factor: Decimal = Decimal(3)
    spike_floor_kwh: Decimal = Decimal(200)
    spike_min_history: int = 3
    history_periods: int = 12
    # Estimation: same month last year, else the average daily use of the last `estimate_periods` periods.
    estimate_periods: int = 3
    # Demand: max demand above physical limit x tolerance -> error.
    demand_tolerance: Decimal = Decimal("1.0")

    def __post_init__(self) -> None:
        if self.zero_periods < 1:
            raise ValueError("zero_periods must be >= 1")
        if self.spike_factor <= 0:
            raise ValueError("spike_factor must be > 0")
        if self.history_periods < 1 or self.estimate_periods < 1 or self.spike_min_history < 1:
            raise ValueError("history_periods, estimate_periods and spike_min_history must be >= 1")
        if not (Decimal(0) < self.rollover_min_previous_fraction <= Decimal(1)):
            raise ValueError("rollover_min_previous_fraction must be in (0, 1]")


DEFAULT_RULES = VeeRules()


@dataclass(frozen=True)
class Reading:
    read_on: date
    value: Decimal


@dataclass(frozen=True)
class PeriodUsage:
    """Consumption of one past period [start, end) of the same service point and register kind."""

    start: date
    end: date
    kwh: Decimal

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class MeterExchange:
    """换表 inside the period: the old meter was removed (final value) and a new one installed (initial value).

    `old_previous` is the old meter's latest valid reading before the exchange.
    """

    old_previous: Decimal
    old_final: Decimal
    old_multiplier: Decimal
    old_digits: int
    new_initial: Decimal


@dataclass(frozen=True)
class AdvanceResult:
    advance: Decimal | None  # register units (new meter only when there was an exchange)
    consumption: Decimal | None  # kWh / kvarh, multiplier applied (both meters when there was an exchange)
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)


def _full_scale(digits: int) -> Decimal:
    if digits < 1:
        raise ValueError("digits must be >= 1")
    return Decimal(10) ** digits


def register_advance(
    *, previous: Decimal, current: Decimal, digits: int, rules: VeeRules = DEFAULT_RULES
) -> tuple[Decimal, Finding | None]:
    """Advance of a cumulative register, correcting a rollover.

    value < previous is a rollover when previous is close to 10**digits and the wrapped advance is small;
    otherwise it is a true negative advance (ERROR) and the negative advance is returned.
    """
    if current >= previous:
        return current - previous, None
    scale = _full_scale(digits)
    wrapped = current + scale - previous
    if (
        previous >= rules.rollover_min_previous_fraction * scale
        and wrapped <= rules.rollover_max_advance_fraction * scale
    ):
        return wrapped, Finding(
            Check.ROLLOVER,
            Severity.INFO,
            f"register rolled over at {scale}: {previous} -> {current}, advance {wrapped}",
        )
    negative = current - previous
    return negative, Finding(
        Check.NEGATIVE_ADVANCE,
        Severity.ERROR,
        f"reading {current} is below the previous reading {previous} (advance {negative})",
    )


def compute_advance(
    *,
    previous: Reading | None,
    current: Reading,
    digits: int,
    multiplier: Decimal,
    exchange: MeterExchange | None = None,
    rules: VeeRules = DEFAULT_RULES,
) -> AdvanceResult:
    """Advance and consumption of a cumulative register between `previous` and `current`.

    With a meter exchange inside the period the consumption is
    (old final - old previous) x old multiplier + (new current - new initial) x new multiplier,
    and `previous` is ignored (it belonged to the old meter). Without an exchange and without a previous
    reading (first reading of a new register) there is no advance: the reading only opens the register.
    """
    findings: list[Finding] = []
    if exchange is not None:
        old_adv, f_old = register_advance(
            previous=exchange.old_previous,
            current=exchange.old_final,
            digits=exchange.old_digits,
            rules=rules,
        )
        new_adv, f_new = register_advance(
            previous=exchange.new_initial, current=current.value, digits=digits, rules=rules
        )
        findings.extend(f for f in (f_old, f_new) if f is not None)
        consumption = old_adv * exchange.old_multiplier + new_adv * multiplier
        findings.append(
            Finding(
                Check.METER_EXCHANGE,
                Severity.INFO,
                f"meter exchanged in period: old {exchange.old_previous}->{exchange.old_final} "
                f"x{exchange.old_multiplier} + new {exchange.new_initial}->{current.value} x{multiplier} "
                f"= {consumption}",
            )
        )
        return AdvanceResult(new_adv, consumption, tuple(findings))
    if previous is None:
        return AdvanceResult(None, None, ())
    adv, f = register_advance(previous=previous.value, current=current.value, digits=digits, rules=rules)
    if f is not None:
        findings.append(f)
    return AdvanceResult(adv, adv * multiplier, tuple(findings))


def check_zero_consumption(
    *, consumption: Decimal, history: Sequence[PeriodUsage], rules: VeeRules = DEFAULT_RULES
) -> Finding | None:
    """Zero consumption in the current period and the `zero_periods - 1` periods before it (零电量)."""
    if consumption != 0:
        return None
    needed = rules.zero_periods - 1
    if len(history) < needed:
        return None
    if any(h.kwh != 0 for h in history[len(history) - needed :]):
        return None
    return Finding(
        Check.ZERO_CONSUMPTION,
        Severity.WARNING,
        f"zero consumption for {rules.zero_periods} consecutive periods",
    )


def check_spike(
    *,
    consumption: Decimal,
    history: Sequence[PeriodUsage],
    rules: VeeRules = DEFAULT_RULES,
    start: date | None = None,
    end: date | None = None,
) -> Finding | None:
    """Consumption far above the service point's own history (电量突增).

    Flagged when there are at least `spike_min_history` past periods, consumption exceeds the floor, and
    consumption > spike_factor x the baseline. Without the period's dates the baseline is the median of the
    latest `history_periods` periods. With them (``start``/``end``) usage is compared per day, so a reading
    that spans a missed month is not a spike, and the baseline is the larger of the median daily use and the
    daily use of the same period last year, so seasonal use (summer air conditioning, a critical-peak
    register that only runs in summer) is not a spike either.
    """
    window = list(history[-rules.history_periods :])
    if len(window) < rules.spike_min_history or consumption <= rules.spike_floor_kwh:
        return None
    days = (end - start).days if start is not None and end is not None else 0
    if days <= 0 or any(h.days <= 0 for h in window):
        median = statistics.median(h.kwh for h in window)
        limit = rules.spike_factor * median
        basis = f"median {median} of the latest {len(window)} periods"
    else:
        assert start is not None
        daily = statistics.median(h.kwh / h.days for h in window)
        basis = f"median {daily.quantize(Decimal('0.01'))} kWh/day of the latest {len(window)} periods"
        last_year = [h for h in history if h.days > 0 and abs((start - h.start).days - 365) <= 15]
        if last_year:
            same = last_year[-1].kwh / last_year[-1].days
            if same > daily:
                daily = same
                basis = f"{same.quantize(Decimal('0.01'))} kWh/day in the same period last year"
        limit = rules.spike_factor * daily * days
    if consumption > limit:
        return Finding(
            Check.SPIKE,
            Severity.ERROR,
            f"consumption {consumption} > {rules.spike_factor} x {basis}",
        )
    return None


@dataclass(frozen=True)
class Estimate:
    kwh: Decimal
    basis: str  # human-readable: what the estimate was made from (stored as estimated_from)


def estimate_consumption(
    *, start: date, end: date, history: Sequence[PeriodUsage], rules: VeeRules = DEFAULT_RULES
) -> Estimate | None:
    """Estimate consumption for a period [start, end) with no reading (估抄).

    Average daily use of the same month last year (a history period starting in that month), else of the
    latest `estimate_periods` periods, times the days of the period. None when there is no usable history.
    """
    days = (end - start).days
    if days <= 0:
        raise ValueError("end must be after start")
    last_year = [
        h for h in history if h.start.year == start.year - 1 and h.start.month == start.month and h.days > 0
    ]
    if last_year:
        h = last_year[-1]
        kwh = quantize_quantity(h.kwh / h.days * days)
        return Estimate(
            kwh, f"same month last year {h.start.isoformat()}: {h.kwh} kWh / {h.days} d x {days} d"
        )
    recent = [h for h in history if h.days > 0][-rules.estimate_periods :]
    if not recent:
        return None
    total_kwh = sum((h.kwh for h in recent), Decimal(0))
    total_days = sum(h.days for h in recent)
    kwh = quantize_quantity(total_kwh / total_days * days)
    return Estimate(kwh, f"latest {len(recent)} periods: {total_kwh} kWh / {total_days} d x {days} d")


def estimated_reading(
    *, previous: Reading, read_on: date, estimate: Estimate, multiplier: Decimal, digits: int
) -> tuple[Decimal, Decimal]:
    """The register value an estimate implies, and the consumption that value represents.

    value = previous + kwh / multiplier rounded to 0.0001 (wrapped at 10**digits); the returned consumption is
    (value - previous) x multiplier so that the next actual reading trues up exactly.
    """
    if read_on <= previous.read_on:
        raise ValueError("estimated reading must be after the previous reading")
    adv = quantize_quantity(estimate.kwh / multiplier)
    scale = _full_scale(digits)
    value = previous.value + adv
    if value >= scale:
        value -= scale
    return value, adv * multiplier


def true_up(*, actual_consumption: Decimal, estimated_consumption: Decimal) -> tuple[Decimal, Finding]:
    """Consumption to bill at the first actual reading after estimates (估抄冲正).

    `actual_consumption` is the advance since the latest *actual* reading x multiplier; what was estimated
    (and billed) in between is subtracted. A negative result is a credit (over-estimated).
    """
    delta = actual_consumption - estimated_consumption
    severity = Severity.WARNING if delta < 0 else Severity.INFO
    return delta, Finding(
        Check.TRUE_UP,
        severity,
        f"true-up: actual {actual_consumption} - estimated {estimated_consumption} = {delta}",
    )


def check_reactive_without_active(
    *, reactive_consumption: Decimal, active_consumption: Decimal | None
) -> Finding | None:
    """Reactive energy recorded while the active register did not move (or was not read): wiring/CT fault."""
    if reactive_consumption <= 0:
        return None
    if active_consumption is None or active_consumption == 0:
        shown = "not read" if active_consumption is None else "0"
        return Finding(
            Check.REACTIVE_WITHOUT_ACTIVE,
            Severity.ERROR,
            f"reactive {reactive_consumption} kvarh with active energy {shown}",
        )
    return None


def check_demand(
    *,
    value: Decimal,
    multiplier: Decimal,
    max_kw_physical: Decimal | None,
    capacity_kva: Decimal | None,
    rules: VeeRules = DEFAULT_RULES,
) -> tuple[Decimal, Finding | None]:
    """Maximum demand kW = value x multiplier; ERROR above the physical limit (min of the meter's physical
    maximum and the service point capacity, kVA >= kW) x tolerance. Returns (kW, finding)."""
    kw = value * multiplier
    limits = [x for x in (max_kw_physical, capacity_kva) if x is not None and x > 0]
    if not limits:
        return kw, None
    limit = min(limits) * rules.demand_tolerance
    if kw > limit:
        return kw, Finding(
            Check.DEMAND_ABOVE_CAPACITY,
            Severity.ERROR,
            f"maximum demand {kw} kW above the physical limit {limit} kW",
        )
    return kw, None


@dataclass(frozen=True)
class RegisterCheckInput:
    """Everything the checks need for one new reading of a cumulative register."""

    previous: Reading | None
    current: Reading
    digits: int
    multiplier: Decimal
    exchange: MeterExchange | None = None
    history: tuple[PeriodUsage, ...] = ()  # past periods, oldest first
    estimated_since_actual: Decimal | None = None  # consumption estimated since the latest actual reading
    previous_actual: Reading | None = None  # latest actual reading, when estimates followed it


@dataclass(frozen=True)
class RegisterCheckResult:
    advance: Decimal | None
    consumption: Decimal | None
    findings: tuple[Finding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)


def validate_register(inp: RegisterCheckInput, rules: VeeRules = DEFAULT_RULES) -> RegisterCheckResult:
    """Run the cumulative-register checks on one new actual reading.

    When the previous reading was an estimate (`estimated_since_actual` and `previous_actual` given) the
    consumption is trued up: advance since the latest actual reading x multiplier minus what was estimated;
    the spike/zero checks are skipped then (a true-up is not one period's use).
    """
    findings: list[Finding] = []
    if inp.exchange is None and inp.previous_actual is not None and inp.estimated_since_actual is not None:
        base = compute_advance(
            previous=inp.previous_actual,
            current=inp.current,
            digits=inp.digits,
            multiplier=inp.multiplier,
            rules=rules,
        )
        findings.extend(base.findings)
        if base.consumption is None or not base.ok:
            return RegisterCheckResult(base.advance, base.consumption, tuple(findings))
        consumption, f = true_up(
            actual_consumption=base.consumption, estimated_consumption=inp.estimated_since_actual
        )
        findings.append(f)
        return RegisterCheckResult(base.advance, consumption, tuple(findings))
    res = compute_advance(
        previous=inp.previous,
        current=inp.current,
        digits=inp.digits,
        multiplier=inp.multiplier,
        exchange=inp.exchange,
        rules=rules,
    )
    findings.extend(res.findings)
    if res.consumption is None or not res.ok:
        return RegisterCheckResult(res.advance, res.consumption, tuple(findings))
    period_start = inp.previous.read_on if inp.previous is not None else None
    for f2 in (
        check_zero_consumption(consumption=res.consumption, history=inp.history, rules=rules),
        check_spike(
            consumption=res.consumption,
            history=inp.history,
            rules=rules,
            start=period_start,
            end=inp.current.read_on,
        ),
    ):
        if f2 is not None:
            findings.append(f2)
    return RegisterCheckResult(res.advance, res.consumption, tuple(findings))
