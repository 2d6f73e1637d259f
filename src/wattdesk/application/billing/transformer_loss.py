"""The billing run's transformer-loss step (变损, 高供低计): fetch the archive of a batch, then add each account's
loss to its determinants BEFORE rating.

Fetch, then calculate: :meth:`BatchLosses.fetch` reads the customer transformers feeding the batch's service
points, their models and the loss table in a fixed number of queries; :meth:`BatchLosses.apply` is pure. It
calls ``core.rating.transformer_loss`` — ``compute_loss`` on the metered kWh and kvarh of the points the
transformer feeds, ``share`` over those points by kWh, ``apply_loss`` per point — so the loss is one step on the
determinants that both rating paths then rate (the exact path in the run, the vectorised path in quotes and
benchmarks): neither path has a loss rule of its own, and they agree to the fen as they do without loss.

Rules (docs/billing-cases/transformer-loss.md):

* a service point has loss when a customer transformer in force in the period feeds it with a method other than
  ``none``; the version in force at the end of the period gives the method, vector group, K and model;
* run hours = the policy's ``hours_per_month`` (720) when the transformer's versions cover the whole period,
  else 24 x the days they cover (half-open dates: a transformer ended (sealed) on day D is not in service on D,
  one starting (unsealed) on day D is);
* metered kvarh is the point's reactive register (also when the point is not assessed for PF); without a
  reactive register the formula assumes the policy's cosφ;
* the bill carries the loss as informational lines of amount 0 (rule ``loss``): ``loss.active.<period>`` (kWh per
  TOU period, or ``loss.active`` for a single-period tariff) and ``loss.reactive`` (kvarh, when it entered the
  PF); the energy lines are priced on metered + loss.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from wattdesk.application.billing.determinants import NotBillable
from wattdesk.application.metering.transformers import load_policies
from wattdesk.core.rating import Determinants
from wattdesk.core.rating.transformer_loss import (
    Loss,
    LossError,
    LossMethod,
    LossPolicy,
    LossTableRow,
    TableBasis,
    TransformerParams,
    VectorGroup,
    apply_loss,
    compute_loss,
    policy_on,
    share,
)
from wattdesk.core.tariff import Tariff
from wattdesk.domain.metering import transformers as archive

ZERO = Decimal(0)
HOURS_PER_DAY = Decimal(24)
QTY_STEP = Decimal("0.0001")
LOSS_RULE = "loss"

LineRow = tuple[Any, ...]  # (code, description, quantity, unit, rate, amount, rule), as run._line_row


@dataclass
class BatchLosses:
    """The transformer archive of one batch of accounts."""

    by_sp: dict[int, list[archive.TransformerVersion]] = field(default_factory=dict)
    models: dict[str, list[archive.ModelVersion]] = field(default_factory=dict)
    tables: dict[date, tuple[LossTableRow, ...]] = field(default_factory=dict)
    policies: tuple[LossPolicy, ...] = ()

    @classmethod
    def fetch(cls, *, sp_ids: Sequence[int], windows: Iterable[tuple[date, date]]) -> BatchLosses:
        """Transformer versions of ``sp_ids`` overlapping the batch's billing ``windows`` ([start, end))."""
        spans = sorted(set(windows))
        if not spans:
            return cls()
        start, end = spans[0][0], max(e for _s, e in spans)
        versions = archive.transformer_versions(sp_ids=sp_ids, start=start, end=end)
        if not versions:
            return cls()
        by_sp: defaultdict[int, list[archive.TransformerVersion]] = defaultdict(list)
        for v in versions:
            for sp_id in v.sp_ids:
                by_sp[sp_id].append(v)
        tables: dict[date, tuple[LossTableRow, ...]] = {}
        if any(v.loss_method == LossMethod.TABLE for v in versions):
            for day in sorted({s for s, _e in spans}):  # the table in force at each period start
                tables[day] = _table(day)
        return cls(
            by_sp=dict(by_sp),
            models=archive.model_versions(codes={v.model_code for v in versions}),
            tables=tables,
            policies=load_policies(),
        )

    def apply(
        self,
        *,
        start: date,
        end: date,
        sp_ids: Sequence[int],
        dets: Sequence[tuple[Tariff, Determinants]],
        metered_kvarh: Mapping[int, Decimal | None],
        period: tuple[date, date] | None = None,
    ) -> tuple[list[tuple[Tariff, Determinants]], list[LineRow]]:
        """The account's determinants (one per service point, in ``sp_ids`` order) with the loss added, and the
        loss lines to show. Raises ``NotBillable("transformer_loss", ...)`` when the loss cannot be computed.

        ``period``: the billing period when ``[start, end)`` is one segment of it (变更用电,
        ``application.changes.billing``): the segment's own transformer and run hours (24 x its days, never
        the whole month's ``hours_per_month``), the policy and loss table of the period start."""
        out = list(dets)
        rows: list[LineRow] = []
        if not self.by_sp or not any(sp in self.by_sp for sp in sp_ids):
            return out, rows
        index = {sp: i for i, sp in enumerate(sp_ids)}
        done: set[str] = set()
        try:
            policy = policy_on(self.policies, start if period is None else period[0])
            for sp in sp_ids:
                for number in sorted({v.number for v in self.by_sp.get(sp, ())}):
                    if number in done:
                        continue
                    done.add(number)
                    rows.extend(self._one(number, sp, start, end, index, out, metered_kvarh, policy, period))
        except LossError as exc:
            raise NotBillable("transformer_loss", str(exc)) from None
        return out, rows

    def _one(
        self,
        number: str,
        sp: int,
        start: date,
        end: date,
        index: Mapping[int, int],
        out: list[tuple[Tariff, Determinants]],
        metered_kvarh: Mapping[int, Decimal | None],
        policy: LossPolicy,
        period: tuple[date, date] | None = None,
    ) -> list[LineRow]:
        versions = [
            v
            for v in self.by_sp[sp]
            if v.number == number
            and v.effective_from < end
            and (v.effective_to is None or v.effective_to > start)
        ]
        if not versions:
            return []
        days = sum(
            ((min(end, v.effective_to or end) - max(start, v.effective_from)).days for v in versions), 0
        )
        p_start, p_end = period or (start, end)
        whole = days >= (p_end - p_start).days
        run_hours = policy.hours_per_month if whole else HOURS_PER_DAY * days
        v = versions[-1]
        if v.loss_method == LossMethod.NONE:
            return []
        last_day = min(end, v.effective_to or end) - timedelta(days=1)
        model = archive.in_force(self.models.get(v.model_code, []), last_day)
        if model is None:
            raise LossError(f"transformer {number}: no version of model {v.model_code} on {last_day}")
        pk = model.pk_dyn11_kw if v.vector_group == VectorGroup.DYN11 else model.pk_yyn0_kw
        params = TransformerParams(
            capacity_kva=model.capacity_kva,
            p0_kw=model.p0_kw,
            pk_kw=ZERO if pk is None else pk,
            i0_percent=model.i0_percent,
            uk_percent=model.uk_percent,
            correction_k=v.correction_k,
            method=LossMethod(v.loss_method),
            fixed_kwh=v.fixed_kwh,
            fixed_kvarh=v.fixed_kvarh,
            shift=v.shift,
        )
        fed = [s for s in v.sp_ids if s in index]  # the points of this account the transformer feeds
        kwh = [out[index[s]][1].kwh for s in fed]
        reactive = [metered_kvarh.get(s) for s in fed]
        kvarh = (
            None if any(r is None for r in reactive) else sum((r for r in reactive if r is not None), ZERO)
        )
        loss = compute_loss(
            transformer=params,
            kwh=sum(kwh, ZERO),
            kvarh=kvarh,
            run_hours=run_hours,
            policy=policy,
            table=self.tables.get(p_start, ()),
        )
        step = policy.loss_step
        kwh_parts = share(amount=loss.kwh, weights=kwh, rest_to=0, step=step)
        kvarh_parts = share(amount=loss.kvarh, weights=kwh, rest_to=0, step=step)
        rows: list[LineRow] = []
        for s, a, q in zip(fed, kwh_parts, kvarh_parts, strict=True):
            tariff, det = out[index[s]]
            new, parts = apply_loss(
                det=det, period_keys=[p.key for p in tariff.energy.periods], loss=Loss(a, q), policy=policy
            )
            out[index[s]] = (tariff, new)
            rows.extend(_rows(tariff, parts, q if new.kvarh != det.kvarh else None, number, run_hours))
        return rows


def _table(day: date) -> tuple[LossTableRow, ...]:
    return tuple(
        LossTableRow(
            capacity_kva=r.capacity_kva,
            basis=TableBasis(r.basis),
            lower=r.lower,
            upper=r.upper,
            kwh=r.loss_kwh,
            kvarh=r.loss_kvarh,
            shift=r.shift,
        )
        for r in archive.loss_table(on=day)
    )


def _qty(x: Decimal) -> Decimal:
    return x.quantize(QTY_STEP, rounding=ROUND_HALF_UP)


def _rows(
    tariff: Tariff, parts: Sequence[Decimal], kvarh: Decimal | None, number: str, run_hours: Decimal
) -> list[LineRow]:
    zh = tariff.locale == "zh"
    label = "变损电量" if zh else "Transformer loss"
    where = f" ({number}, {_qty(run_hours).normalize():f} h)"
    periods = tariff.energy.periods
    out: list[LineRow] = []
    for p, q in zip(periods, parts, strict=True):
        code = "loss.active" if len(periods) == 1 else f"loss.active.{p.key}"
        name = "" if len(periods) == 1 else f" {p.name}"
        out.append((code, f"{label}{name}{where}"[:200], _qty(q), "kWh", ZERO, ZERO, f"{LOSS_RULE}.active"))
    if kvarh is not None:
        reactive = "变损无功电量" if zh else "Transformer reactive loss"
        out.append(
            (
                "loss.reactive",
                f"{reactive}{where}"[:200],
                _qty(kvarh),
                "kvarh",
                ZERO,
                ZERO,
                f"{LOSS_RULE}.reactive",
            )
        )
    return out


def account_loss(
    *,
    start: date,
    end: date,
    sp_ids: Sequence[int],
    dets: Sequence[tuple[Tariff, Determinants]],
    metered_kvarh: Mapping[int, Decimal | None],
) -> tuple[list[tuple[Tariff, Determinants]], list[LineRow]]:
    """Fetch and apply for one account (a re-bill or a re-rating outside a run), as the run does per batch."""
    losses = BatchLosses.fetch(sp_ids=sp_ids, windows=[(start, end)])
    return losses.apply(start=start, end=end, sp_ids=sp_ids, dets=dets, metered_kvarh=metered_kvarh)
