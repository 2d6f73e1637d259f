"""Transformer loss (变损) of a customer metered on the low-voltage side of its own transformer (高供低计).

Pure: no Django, no clock, no I/O. Rules and sources: ``shared/reference/billing-rules-2.md`` §1 and
``docs/billing-cases/transformer-loss.md``.

1996 《供电营业规则》 Art. 74: where the meter is not at the property boundary, the owner bears the active and
reactive losses of its transformer, and they are counted in the energy charge and the power-factor adjustment.
So the loss is added to the billed quantities **before rating**:

* :func:`compute_loss` gives the period's active (kWh) and reactive (kvarh) loss by the transformer's method:

  - ``formula`` (公式法, §1.2b, riozenc/fms-cfs ``calculateByFormula``), with T = run hours, A = kWh, R = kvarh,
    Se = kVA, K = correction factor (修正系数), Pk the load loss of the transformer's vector group::

        ΔA = P0·T + K·Pk·(A² + R²) / (T·Se²)          (= P0·T + K·Pk·β²·T, β = √(A²+R²) / T / Se)
        ΔQ = I0%/100·Se·T + K·Uk%/100·(A² + R²) / (T·Se)

    without a kvarh meter A² + R² is replaced by (A / cosφ)², cosφ the policy's ``assumed_cos_phi`` (0.8);
  - ``simplified`` (铁损 + % of kWh, §1.2c): ΔA = P0·T + A·c, with c = ``copper_high`` (3 %) when the load
    rate A / (T·Se·``load_rate_basis``) exceeds ``load_rate_threshold`` (40 %), else ``copper_low`` (2 %);
    ΔQ by the formula's reactive part when ``simplified_reactive`` is ``formula`` (the default), else 0;
  - ``table`` (查表法, §1.2a): the row of the utility's loss table for the capacity, the transformer's shift
    (班次) and the month's kWh band (``basis = kwh``) or load ratio A / (Se·T) (``basis = load_ratio``); its
    monthly kWh and kvarh are prorated by run hours / ``hours_per_month``;
  - ``fixed`` (协议变损): the agreed monthly kWh and kvarh, prorated the same way;
  - ``none``: no loss.

  Each result is rounded once, half-up, to the policy's ``loss_step`` (integer kWh by default, as fms-cfs), with
  exact integer arithmetic (:func:`wattdesk.core.money.quantize_ratio`): no intermediate rounding.
* :func:`split_by_period` spreads the active loss over the TOU periods (§1.3): ``pro_rata_remainder_to_flat``
  (default: every period but 平 gets loss × its kWh / total kWh, rounded to ``loss_step``; 平 gets the rest, so
  the parts add up exactly) or ``all_to_flat``. A tariff without a 平 period gives the remainder to its last
  period; a month with no metered kWh puts all the (iron) loss on the remainder period.
* :func:`apply_loss` returns new :class:`~wattdesk.core.rating.exact.Determinants` with the loss added per
  period and, when ``loss_in_pf`` (default yes, Art. 74), to the kvarh. It is the ONE loss step shared by both
  rating paths: the exact path (``core.rating.exact.rate``) and the vectorised path
  (``core.rating.vector.columns_from_determinants`` / ``rate_columns``) both rate the determinants it returns,
  so neither path knows about loss and they stay equal to the fen by construction. With ``loss_in_pf`` off
  the power factor is computed from the metered kWh and kvarh only (``Determinants.pf_kwh``).
* :func:`share` divides one transformer's loss over the service points it feeds (by kWh, the rest to the
  first), the same rounding as the TOU split.

Run hours are an input: the caller counts the transformer's hours in service in the period (sealing day
excluded, unsealing day included; ``hours_per_month`` for a whole month in service).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from wattdesk.core.money import quantize_quantity, quantize_ratio
from wattdesk.core.rating.exact import Determinants

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
FLAT_KEY = "flat"


class LossError(ValueError):
    """The loss cannot be computed (missing parameter, no table row, no policy in force ...)."""


class LossMethod(StrEnum):
    NONE = "none"
    FORMULA = "formula"
    TABLE = "table"
    SIMPLIFIED = "simplified"
    FIXED = "fixed"


class VectorGroup(StrEnum):
    DYN11 = "Dyn11"
    YYN0 = "Yyn0"


class SplitStrategy(StrEnum):
    PRO_RATA_REMAINDER_TO_FLAT = "pro_rata_remainder_to_flat"
    ALL_TO_FLAT = "all_to_flat"


class TableBasis(StrEnum):
    KWH = "kwh"  # the month's metered kWh falls in [lower, upper)
    LOAD_RATIO = "load_ratio"  # A / (Se x T) falls in [lower, upper)


@dataclass(frozen=True)
class LossPolicy:
    """One effective-dated version of the utility's loss settings (config/transformer-loss-policy.yaml)."""

    effective_from: date
    tou_split: SplitStrategy = SplitStrategy.PRO_RATA_REMAINDER_TO_FLAT
    loss_in_pf: bool = True
    loss_step: Decimal = ONE
    hours_per_month: Decimal = Decimal(720)
    copper_low: Decimal = Decimal("0.02")
    copper_high: Decimal = Decimal("0.03")
    load_rate_threshold: Decimal = Decimal("0.40")
    load_rate_basis: Decimal = Decimal("0.8")
    assumed_cos_phi: Decimal = Decimal("0.8")
    simplified_reactive: str = "formula"  # formula | none
    source: str = ""

    def __post_init__(self) -> None:
        if self.loss_step <= 0 or self.hours_per_month <= 0:
            raise LossError("loss_step and hours_per_month must be > 0")
        if not ZERO < self.assumed_cos_phi <= ONE:
            raise LossError("assumed_cos_phi must be in (0, 1]")
        if self.simplified_reactive not in ("formula", "none"):
            raise LossError("simplified_reactive must be formula or none")


def policy_on(versions: Sequence[LossPolicy], day: date) -> LossPolicy:
    """The version in force on ``day`` (latest ``effective_from`` <= day)."""
    in_force = [v for v in versions if v.effective_from <= day]
    if not in_force:
        raise LossError(f"no transformer-loss policy in force on {day.isoformat()}")
    return max(in_force, key=lambda v: v.effective_from)


@dataclass(frozen=True)
class TransformerParams:
    """Nameplate data of a transformer model (变压器型号) and the installation's own settings."""

    capacity_kva: Decimal
    p0_kw: Decimal  # no-load loss 空载损耗
    pk_kw: Decimal  # load loss 负载损耗 of the installed vector group
    i0_percent: Decimal  # no-load current 空载电流 %
    uk_percent: Decimal  # impedance voltage 短路阻抗 %
    correction_k: Decimal = ONE  # 修正系数 K
    method: LossMethod = LossMethod.FORMULA
    fixed_kwh: Decimal = ZERO  # 协议变损, per month
    fixed_kvarh: Decimal = ZERO
    shift: str = ""  # 生产班次 for the loss table ("" = any)

    def __post_init__(self) -> None:
        if self.capacity_kva <= 0:
            raise LossError("transformer capacity must be > 0 kVA")
        for name in ("p0_kw", "pk_kw", "i0_percent", "uk_percent", "fixed_kwh", "fixed_kvarh"):
            if getattr(self, name) < 0:
                raise LossError(f"{name} must not be negative")
        if self.correction_k <= 0:
            raise LossError("correction factor K must be > 0")


@dataclass(frozen=True)
class LossTableRow:
    """One row of a loss table (变损查对表): capacity x band (x shift) -> monthly loss kWh and kvarh."""

    capacity_kva: Decimal
    basis: TableBasis
    lower: Decimal
    upper: Decimal | None  # exclusive; None = open
    kwh: Decimal
    kvarh: Decimal = ZERO
    shift: str = ""  # "" = any shift


@dataclass(frozen=True)
class Loss:
    """Active and reactive loss of one billing period, rounded to the policy's ``loss_step``."""

    kwh: Decimal
    kvarh: Decimal


NO_LOSS = Loss(ZERO, ZERO)


def _round(num: Decimal, den: Decimal, step: Decimal) -> Decimal:
    return quantize_ratio(num, den, step)


def _apparent_squared(kwh: Decimal, kvarh: Decimal | None, cos_phi: Decimal) -> tuple[Decimal, Decimal]:
    """(A² + R²) as a fraction (numerator, denominator): A² + R², or A² / cos²φ without a kvarh meter."""
    if kvarh is None:
        return kwh * kwh, cos_phi * cos_phi
    return kwh * kwh + kvarh * kvarh, ONE


def _reactive_formula(
    t: TransformerParams, run_hours: Decimal, s_num: Decimal, s_den: Decimal, step: Decimal
) -> Decimal:
    # ΔQ = I0/100·Se·T + K·Uk/100·S²/(T·Se), S² = s_num/s_den; over the common denominator 100·T·Se·s_den
    se, h = t.capacity_kva, run_hours
    num = t.i0_percent * se * h * h * se * s_den + t.correction_k * t.uk_percent * s_num
    return _round(num, HUNDRED * h * se * s_den, step)


def compute_loss(
    *,
    transformer: TransformerParams,
    kwh: Decimal,
    kvarh: Decimal | None,
    run_hours: Decimal,
    policy: LossPolicy,
    table: Sequence[LossTableRow] = (),
) -> Loss:
    """The period's loss (see the module docstring). ``kvarh`` None: no reactive meter."""
    t, step = transformer, policy.loss_step
    if kwh < 0 or (kvarh is not None and kvarh < 0):
        raise LossError("metered kWh and kvarh must not be negative")
    if run_hours < 0:
        raise LossError("run hours must not be negative")
    if t.method == LossMethod.NONE or run_hours == 0:
        return NO_LOSS
    h, se = run_hours, t.capacity_kva
    if t.method == LossMethod.FIXED:
        return Loss(
            _round(t.fixed_kwh * h, policy.hours_per_month, step),
            _round(t.fixed_kvarh * h, policy.hours_per_month, step),
        )
    if t.method == LossMethod.TABLE:
        row = table_row(table=table, capacity_kva=se, shift=t.shift, kwh=kwh, run_hours=h)
        return Loss(
            _round(row.kwh * h, policy.hours_per_month, step),
            _round(row.kvarh * h, policy.hours_per_month, step),
        )
    s_num, s_den = _apparent_squared(kwh, kvarh, policy.assumed_cos_phi)
    if t.method == LossMethod.FORMULA:
        # ΔA = P0·T + K·Pk·S²/(T·Se²), over the common denominator T·Se²·s_den
        num = t.p0_kw * h * h * se * se * s_den + t.correction_k * t.pk_kw * s_num
        active = _round(num, h * se * se * s_den, step)
        return Loss(active, _reactive_formula(t, h, s_num, s_den, step))
    if t.method == LossMethod.SIMPLIFIED:
        # load rate = A / (T·Se·basis) > threshold  <=>  A > threshold·T·Se·basis (no division)
        high = kwh > policy.load_rate_threshold * h * se * policy.load_rate_basis
        copper = kwh * (policy.copper_high if high else policy.copper_low)
        active = _round(t.p0_kw * h + copper, ONE, step)
        reactive = (
            _reactive_formula(t, h, s_num, s_den, step) if policy.simplified_reactive == "formula" else ZERO
        )
        return Loss(active, reactive)
    raise LossError(f"unknown loss method {t.method!r}")


def table_row(
    *, table: Sequence[LossTableRow], capacity_kva: Decimal, shift: str, kwh: Decimal, run_hours: Decimal
) -> LossTableRow:
    """The loss-table row for a capacity, shift and month; a row for the exact shift beats an any-shift row."""

    def inside(row: LossTableRow) -> bool:
        scale = ONE if row.basis == TableBasis.KWH else capacity_kva * run_hours  # load ratio = A / (Se·T)
        return row.lower * scale <= kwh and (row.upper is None or kwh < row.upper * scale)

    found = [r for r in table if r.capacity_kva == capacity_kva and r.shift in ("", shift) and inside(r)]
    if not found:
        raise LossError(
            f"no loss-table row for {capacity_kva} kVA, shift {shift or '-'}, {kwh} kWh in {run_hours} h"
        )
    found.sort(key=lambda r: (r.shift != shift, r.lower))
    return found[0]


def _remainder_index(period_keys: Sequence[str]) -> int:
    return period_keys.index(FLAT_KEY) if FLAT_KEY in period_keys else len(period_keys) - 1


def share(*, amount: Decimal, weights: Sequence[Decimal], rest_to: int, step: Decimal) -> tuple[Decimal, ...]:
    """``amount`` split in proportion to ``weights``: every part but ``rest_to`` rounded half-up to ``step``,
    ``rest_to`` gets what is left, so the parts add up to ``amount`` exactly. All weights 0: all to ``rest_to``."""
    if not weights:
        raise LossError("nothing to share the loss over")
    total = sum(weights, ZERO)
    out = [ZERO] * len(weights)
    if total > 0:
        for i, w in enumerate(weights):
            if i != rest_to:
                out[i] = _round(amount * w, total, step)
    out[rest_to] = amount - sum(out, ZERO)
    return tuple(out)


def split_by_period(
    *, loss_kwh: Decimal, kwh_by_period: Sequence[Decimal], period_keys: Sequence[str], policy: LossPolicy
) -> tuple[Decimal, ...]:
    """The active loss per TOU period (in the tariff's period order), adding up to ``loss_kwh``."""
    if len(kwh_by_period) != len(period_keys):
        raise LossError(f"{len(kwh_by_period)} periods of kWh for {len(period_keys)} tariff periods")
    rest = _remainder_index(period_keys)
    if policy.tou_split == SplitStrategy.ALL_TO_FLAT:
        weights: Sequence[Decimal] = [ZERO] * len(period_keys)
    elif policy.tou_split == SplitStrategy.PRO_RATA_REMAINDER_TO_FLAT:
        weights = [quantize_quantity(k) for k in kwh_by_period]
    else:
        raise LossError(f"unknown TOU split strategy {policy.tou_split!r}")
    return share(amount=loss_kwh, weights=weights, rest_to=rest, step=policy.loss_step)


def apply_loss(
    *, det: Determinants, period_keys: Sequence[str], loss: Loss, policy: LossPolicy
) -> tuple[Determinants, tuple[Decimal, ...]]:
    """Determinants with the loss added (the shared pre-rating step), and the active loss per period.

    kWh per period += its share of the loss; kvarh += the reactive loss when ``loss_in_pf`` and the point is
    assessed for PF (``det.kvarh`` not None). With ``loss_in_pf`` off, ``pf_kwh`` keeps the PF on the metered
    kWh. ``det.pf_kwh`` already set (a sub-use deducted from the main use) grows by the loss when it counts.
    """
    parts = split_by_period(
        loss_kwh=loss.kwh, kwh_by_period=det.kwh_by_period, period_keys=period_keys, policy=policy
    )
    kwh = tuple(q + p for q, p in zip(det.kwh_by_period, parts, strict=True))
    if policy.loss_in_pf:
        kvarh = None if det.kvarh is None else det.kvarh + loss.kvarh
        pf_kwh = None if det.pf_kwh is None else det.pf_kwh + loss.kwh
    else:
        kvarh = det.kvarh
        pf_kwh = det.kwh if det.pf_kwh is None else det.pf_kwh
    return dataclasses.replace(det, kwh_by_period=kwh, kvarh=kvarh, pf_kwh=pf_kwh), parts
