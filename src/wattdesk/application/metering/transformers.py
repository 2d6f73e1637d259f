"""Use cases of the transformer archive (变压器档案) for transformer loss (变损), and the loss policy.

A clerk registers, through the API (``/api/transformers/...``):

* ``register_model``: a transformer model's nameplate losses (型号参数: capacity, P0, Pk Dyn11 / Yyn0, I0 %,
  Uk %) from a date; a new version of the same code from a later date ends the open one there;
* ``install_transformer``: a customer's own transformer at its service point(s) (高供低计) with its vector group,
  correction factor K and loss method (none / formula / table / simplified / fixed with the agreed kWh/kvarh),
  from a date; a new version of the same number from a later date ends the open one there (a method change, a
  re-rating), and ``end_transformer`` takes it out of service (removed, or sealed for 暂停: the sealing day is
  then the end date, excluded from the run hours; the unsealing day starts a new version, included);
* ``load_loss_table``: the utility's loss table (变损查对表) from a date, all rows at once.

Each is one transaction with a row lock on what it versions, and one audit entry (``audit.record_batch``).
Bad input raises :class:`TransformerInputError` (an ``InputError``: the API answers 422 with the reason).

``load_policies`` reads the utility's settings (``config/transformer-loss-policy.yaml``, effective-dated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import yaml
from django.db import IntegrityError, transaction
from django.db.models import Q

from wattdesk.application.errors import InputError
from wattdesk.application.tariffs.reference_data import _config_text
from wattdesk.core.rating.transformer_loss import LossError, LossPolicy, SplitStrategy
from wattdesk.domain import audit
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.metering import transformers as archive
from wattdesk.domain.metering.models import (
    CustomerTransformer,
    LossMethod,
    LossTableBasis,
    LossTableRow,
    TransformerModel,
    VectorGroup,
)

POLICY_FILE = "transformer-loss-policy.yaml"


class TransformerInputError(InputError):
    """A transformer, model or loss-table entry that cannot be registered; the message names the field."""


# --- the policy ----------------------------------------------------------------------------------------------


def parse_policies(doc: Any, *, where: str = f"config/{POLICY_FILE}") -> tuple[LossPolicy, ...]:
    """``{versions: [{effective_from, tou_split, loss_in_pf, ...}]}`` -> policies (see the YAML's comments)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("versions"), list) or not doc["versions"]:
        raise InputError(f"{where}: versions: must be a non-empty list")
    out = []
    for i, v in enumerate(doc["versions"]):
        try:
            out.append(
                LossPolicy(
                    effective_from=v["effective_from"],
                    tou_split=SplitStrategy(v.get("tou_split", SplitStrategy.PRO_RATA_REMAINDER_TO_FLAT)),
                    loss_in_pf=bool(v.get("loss_in_pf", True)),
                    loss_step=Decimal(str(v.get("loss_step", "1"))),
                    hours_per_month=Decimal(str(v.get("hours_per_month", "720"))),
                    copper_low=Decimal(str(v.get("copper_low", "0.02"))),
                    copper_high=Decimal(str(v.get("copper_high", "0.03"))),
                    load_rate_threshold=Decimal(str(v.get("load_rate_threshold", "0.40"))),
                    load_rate_basis=Decimal(str(v.get("load_rate_basis", "0.8"))),
                    assumed_cos_phi=Decimal(str(v.get("assumed_cos_phi", "0.8"))),
                    simplified_reactive=str(v.get("simplified_reactive", "formula")),
                    source=str(v.get("source", "")),
                )
            )
            if not isinstance(out[-1].effective_from, date):
                raise ValueError("effective_from: not a date")
        except (KeyError, TypeError, ValueError, ArithmeticError, LossError) as exc:
            raise InputError(f"{where}: versions[{i}]: {exc}") from None
    return tuple(out)


@cache
def load_policies() -> tuple[LossPolicy, ...]:
    """The effective-dated loss settings shipped in config/transformer-loss-policy.yaml (cached)."""
    return parse_policies(yaml.safe_load(_config_text(POLICY_FILE)))


# --- use cases -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInput:
    code: str
    capacity_kva: Decimal
    p0_kw: Decimal
    i0_percent: Decimal
    uk_percent: Decimal
    effective_from: date
    pk_dyn11_kw: Decimal | None = None
    pk_yyn0_kw: Decimal | None = None
    series: str = ""
    source: str = ""


@dataclass(frozen=True)
class TransformerInput:
    number: str
    model_code: str
    service_points: Sequence[str]
    effective_from: date
    vector_group: str = VectorGroup.DYN11
    correction_k: Decimal = Decimal(1)
    loss_method: str = LossMethod.FORMULA
    fixed_kwh: Decimal = Decimal(0)
    fixed_kvarh: Decimal = Decimal(0)
    shift: str = ""


@dataclass(frozen=True)
class TableRowInput:
    capacity_kva: Decimal
    basis: str
    lower: Decimal
    upper: Decimal | None
    loss_kwh: Decimal
    loss_kvarh: Decimal = Decimal(0)
    shift: str = ""


def _bad(message: str) -> TransformerInputError:
    return TransformerInputError(message)


def _nonneg(name: str, value: Decimal | None) -> None:
    if value is not None and value < 0:
        raise _bad(f"{name}: must not be negative, got {value}")


def register_model(*, actor: Any, data: ModelInput) -> TransformerModel:
    """A transformer model version from ``data.effective_from`` (see the module docstring)."""
    code = data.code.strip()
    if not code:
        raise _bad("code: required")
    if data.capacity_kva <= 0:
        raise _bad(f"capacity_kva: must be > 0, got {data.capacity_kva}")
    for name in ("p0_kw", "i0_percent", "uk_percent", "pk_dyn11_kw", "pk_yyn0_kw"):
        _nonneg(name, getattr(data, name))
    if data.pk_dyn11_kw is None and data.pk_yyn0_kw is None:
        raise _bad("pk_dyn11_kw / pk_yyn0_kw: give the load loss of at least one vector group")
    with transaction.atomic():
        versions = list(
            TransformerModel.objects.select_for_update().filter(code=code).order_by("effective_from")
        )
        if any(v.effective_from >= data.effective_from for v in versions):
            raise _bad(
                f"effective_from: model {code} already has a version from {versions[-1].effective_from}"
            )
        ended = archive.close_open_versions(model=TransformerModel, key=Q(code=code), on=data.effective_from)
        model = TransformerModel.objects.create(
            code=code,
            series=data.series.strip(),
            capacity_kva=data.capacity_kva,
            p0_kw=data.p0_kw,
            pk_dyn11_kw=data.pk_dyn11_kw,
            pk_yyn0_kw=data.pk_yyn0_kw,
            i0_percent=data.i0_percent,
            uk_percent=data.uk_percent,
            effective_from=data.effective_from,
            source=data.source.strip(),
        )
        audit.record_batch(
            actor=actor,
            action="metering.transformer_model",
            object_repr=f"transformer model {code} from {data.effective_from}",
            object_pk=model.pk,
            changes={
                "code": code,
                "capacity_kva": str(data.capacity_kva),
                "p0_kw": str(data.p0_kw),
                "pk_dyn11_kw": None if data.pk_dyn11_kw is None else str(data.pk_dyn11_kw),
                "pk_yyn0_kw": None if data.pk_yyn0_kw is None else str(data.pk_yyn0_kw),
                "i0_percent": str(data.i0_percent),
                "uk_percent": str(data.uk_percent),
                "effective_from": data.effective_from.isoformat(),
                "versions_ended": ended,
            },
        )
    return model


def install_transformer(*, actor: Any, data: TransformerInput) -> CustomerTransformer:
    """A customer transformer version from ``data.effective_from`` (see the module docstring)."""
    number = data.number.strip()
    if not number:
        raise _bad("number: required")
    if data.vector_group not in VectorGroup.values:
        raise _bad(f"vector_group: one of {', '.join(VectorGroup.values)}, got {data.vector_group!r}")
    if data.loss_method not in LossMethod.values:
        raise _bad(f"loss_method: one of {', '.join(LossMethod.values)}, got {data.loss_method!r}")
    if data.correction_k <= 0:
        raise _bad(f"correction_k: must be > 0, got {data.correction_k}")
    _nonneg("fixed_kwh", data.fixed_kwh)
    _nonneg("fixed_kvarh", data.fixed_kvarh)
    if data.loss_method == LossMethod.FIXED and data.fixed_kwh == 0 and data.fixed_kvarh == 0:
        raise _bad("fixed_kwh: the agreed loss (协议变损) is required for loss_method fixed")
    wanted = [s.strip() for s in data.service_points]
    if not wanted or any(not s for s in wanted):
        raise _bad("service_points: at least one service point number")
    points = list(ServicePoint.objects.filter(number__in=wanted).order_by("id"))
    missing = sorted(set(wanted) - {p.number for p in points})
    if missing:
        raise _bad(f"service_points: unknown service point {missing[0]!r}")
    if len({p.account_id for p in points}) != 1:
        raise _bad("service_points: a transformer's service points must belong to one account")
    models_ = archive.model_versions(codes=[data.model_code.strip()])
    model = archive.in_force(models_.get(data.model_code.strip(), []), data.effective_from)
    if model is None:
        raise _bad(
            f"model_code: no version of transformer model {data.model_code!r} on {data.effective_from}"
        )
    pk = model.pk_dyn11_kw if data.vector_group == VectorGroup.DYN11 else model.pk_yyn0_kw
    if pk is None and data.loss_method in (LossMethod.FORMULA, LossMethod.SIMPLIFIED):
        raise _bad(f"vector_group: model {model.code} has no load loss Pk for {data.vector_group}")
    with transaction.atomic():
        list(ServicePoint.objects.select_for_update().filter(pk__in=[p.pk for p in points]))
        versions = list(
            CustomerTransformer.objects.select_for_update().filter(number=number).order_by("effective_from")
        )
        if any(v.effective_from >= data.effective_from for v in versions):
            raise _bad(
                f"effective_from: transformer {number} already has a version from {versions[-1].effective_from}"
            )
        other = (
            CustomerTransformer.objects.filter(service_points__in=points)
            .exclude(number=number)
            .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=data.effective_from))
            .values_list("number", flat=True)
            .first()
        )
        if other is not None:
            raise _bad(
                f"service_points: already fed by transformer {other} on or after {data.effective_from}"
            )
        ended = archive.close_open_versions(
            model=CustomerTransformer, key=Q(number=number), on=data.effective_from
        )
        tr = CustomerTransformer.objects.create(
            number=number,
            model_code=model.code,
            vector_group=data.vector_group,
            correction_k=data.correction_k,
            loss_method=data.loss_method,
            fixed_kwh=data.fixed_kwh,
            fixed_kvarh=data.fixed_kvarh,
            shift=data.shift.strip(),
            effective_from=data.effective_from,
        )
        tr.service_points.set(points)
        audit.record_batch(
            actor=actor,
            action="metering.customer_transformer",
            object_repr=f"customer transformer {number} from {data.effective_from}",
            object_pk=tr.pk,
            changes={
                "number": number,
                "model_code": model.code,
                "service_points": ", ".join(p.number for p in points),
                "vector_group": data.vector_group,
                "correction_k": str(data.correction_k),
                "loss_method": data.loss_method,
                "fixed_kwh": str(data.fixed_kwh),
                "fixed_kvarh": str(data.fixed_kvarh),
                "shift": data.shift.strip(),
                "effective_from": data.effective_from.isoformat(),
                "versions_ended": ended,
            },
        )
    return tr


def end_transformer(*, actor: Any, number: str, end_on: date) -> CustomerTransformer:
    """Take transformer ``number`` out of service from ``end_on`` (removed, or sealed: 加封 day, excluded)."""
    with transaction.atomic():
        tr = (
            CustomerTransformer.objects.select_for_update()
            .filter(number=number.strip(), effective_to__isnull=True)
            .first()
        )
        if tr is None:
            raise _bad(f"number: no transformer {number!r} in service")
        if end_on <= tr.effective_from:
            raise _bad(f"end_on: must be after the version's start {tr.effective_from}")
        tr.effective_to = end_on
        tr.save(update_fields=["effective_to"])
        audit.record_batch(
            actor=actor,
            action="metering.customer_transformer_end",
            object_repr=f"customer transformer {tr.number} ends {end_on}",
            object_pk=tr.pk,
            changes={"effective_to": (None, end_on.isoformat())},
        )
    return tr


def load_loss_table(
    *, actor: Any, rows: Sequence[TableRowInput], effective_from: date, source: str = ""
) -> int:
    """Store the loss table in force from ``effective_from`` (all rows or none); returns the rows stored.

    The table in force on a day is the rows of the latest ``effective_from`` on or before it, so a new table
    replaces the previous one from its date. Rows are checked whole: the error names the row (0-based) and field.
    """
    if not rows:
        raise _bad("rows: at least one row")
    seen: set[tuple[Decimal, str, str, Decimal]] = set()
    for i, r in enumerate(rows):
        where = f"rows[{i}]"
        if r.basis not in LossTableBasis.values:
            raise _bad(f"{where}.basis: one of {', '.join(LossTableBasis.values)}, got {r.basis!r}")
        if r.capacity_kva <= 0:
            raise _bad(f"{where}.capacity_kva: must be > 0")
        for name in ("lower", "loss_kwh", "loss_kvarh"):
            if getattr(r, name) < 0:
                raise _bad(f"{where}.{name}: must not be negative")
        if r.upper is not None and r.upper <= r.lower:
            raise _bad(f"{where}.upper: must be above lower {r.lower}")
        key = (r.capacity_kva, r.shift.strip(), r.basis, r.lower)
        if key in seen:
            raise _bad(
                f"{where}: a second row for {r.capacity_kva} kVA, shift {r.shift or '-'}, from {r.lower}"
            )
        seen.add(key)
    with transaction.atomic():
        if LossTableRow.objects.select_for_update().filter(effective_from=effective_from).exists():
            raise _bad(f"effective_from: a loss table from {effective_from} is already stored")
        try:
            LossTableRow.objects.bulk_create(
                LossTableRow(
                    capacity_kva=r.capacity_kva,
                    shift=r.shift.strip(),
                    basis=r.basis,
                    lower=r.lower,
                    upper=r.upper,
                    loss_kwh=r.loss_kwh,
                    loss_kvarh=r.loss_kvarh,
                    effective_from=effective_from,
                    source=source.strip()[:200],
                )
                for r in rows
            )
        except IntegrityError:
            raise _bad(f"effective_from: a loss table from {effective_from} is already stored") from None
        audit.record_batch(
            actor=actor,
            action="metering.loss_table",
            object_repr=f"transformer loss table from {effective_from}",
            changes={
                "rows": (None, len(rows)),
                "effective_from": effective_from.isoformat(),
                "source": source,
            },
        )
    return len(rows)
