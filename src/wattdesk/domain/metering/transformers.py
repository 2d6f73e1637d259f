"""The transformer archive of 高供低计 customers (变损 data): reads and writes.

Kept apart from ``queries.py`` / ``operations.py`` (readings and meters) because it is its own small area:
transformer models (nameplate losses), customer transformers (which service points, method, K) and the loss
table, all effective-dated on half-open ``[effective_from, effective_to)``.

Reads return plain frozen dataclasses for the billing run (fetch, then calculate); writes are called by the use
cases in ``application.metering.transformers``, which own the transaction, the lock and the audit entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q

from wattdesk.domain.metering.models import CustomerTransformer, LossTableRow, TransformerModel

# --- queries -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelVersion:
    code: str
    capacity_kva: Decimal
    p0_kw: Decimal
    pk_dyn11_kw: Decimal | None
    pk_yyn0_kw: Decimal | None
    i0_percent: Decimal
    uk_percent: Decimal
    effective_from: date
    effective_to: date | None


@dataclass(frozen=True)
class TransformerVersion:
    """One setting version of a customer transformer with the ids of the service points it feeds."""

    id: int
    number: str
    model_code: str
    vector_group: str
    correction_k: Decimal
    loss_method: str
    fixed_kwh: Decimal
    fixed_kvarh: Decimal
    shift: str
    effective_from: date
    effective_to: date | None
    sp_ids: tuple[int, ...]


@dataclass(frozen=True)
class TableRow:
    capacity_kva: Decimal
    shift: str
    basis: str
    lower: Decimal
    upper: Decimal | None
    loss_kwh: Decimal
    loss_kvarh: Decimal
    effective_from: date


def _overlaps(start: date, end: date) -> Q:
    return Q(effective_from__lt=end) & (Q(effective_to__isnull=True) | Q(effective_to__gt=start))


def transformer_versions(*, sp_ids: Iterable[int], start: date, end: date) -> list[TransformerVersion]:
    """Every version of every customer transformer feeding one of ``sp_ids`` that overlaps ``[start, end)``,
    with all its service points (also those outside ``sp_ids``), by number and date."""
    ids = sorted(set(sp_ids))
    if not ids:
        return []
    numbers = set(
        CustomerTransformer.objects.filter(_overlaps(start, end), service_points__id__in=ids).values_list(
            "number", flat=True
        )
    )
    if not numbers:
        return []
    rows = list(
        CustomerTransformer.objects.filter(_overlaps(start, end), number__in=numbers).order_by(
            "number", "effective_from"
        )
    )
    links: defaultdict[int, list[int]] = defaultdict(list)
    through = CustomerTransformer.service_points.through
    for tr_id, sp_id in (
        through.objects.filter(customertransformer_id__in=[r.pk for r in rows])
        .order_by("servicepoint_id")
        .values_list("customertransformer_id", "servicepoint_id")
    ):
        links[tr_id].append(sp_id)
    return [
        TransformerVersion(
            r.pk,
            r.number,
            r.model_code,
            r.vector_group,
            r.correction_k,
            r.loss_method,
            r.fixed_kwh,
            r.fixed_kvarh,
            r.shift,
            r.effective_from,
            r.effective_to,
            tuple(links[r.pk]),
        )
        for r in rows
    ]


def model_versions(*, codes: Iterable[str]) -> dict[str, list[ModelVersion]]:
    """Every version of the transformer models ``codes``, by code and date."""
    out: defaultdict[str, list[ModelVersion]] = defaultdict(list)
    for m in TransformerModel.objects.filter(code__in=set(codes)).order_by("code", "effective_from"):
        out[m.code].append(
            ModelVersion(
                m.code,
                m.capacity_kva,
                m.p0_kw,
                m.pk_dyn11_kw,
                m.pk_yyn0_kw,
                m.i0_percent,
                m.uk_percent,
                m.effective_from,
                m.effective_to,
            )
        )
    return dict(out)


def in_force(versions: Sequence[ModelVersion], day: date) -> ModelVersion | None:
    for v in reversed(versions):
        if v.effective_from <= day and (v.effective_to is None or day < v.effective_to):
            return v
    return None


def loss_table(*, on: date) -> list[TableRow]:
    """The loss table in force on ``on``: the rows of the latest ``effective_from`` on or before it (not ended)."""
    latest = (
        LossTableRow.objects.filter(effective_from__lte=on)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on))
        .order_by("-effective_from")
        .values_list("effective_from", flat=True)
        .first()
    )
    if latest is None:
        return []
    return [
        TableRow(
            r.capacity_kva, r.shift, r.basis, r.lower, r.upper, r.loss_kwh, r.loss_kvarh, r.effective_from
        )
        for r in LossTableRow.objects.filter(effective_from=latest)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on))
        .order_by("capacity_kva", "shift", "basis", "lower")
    ]


# --- operations ----------------------------------------------------------------------------------------------


def close_open_versions(
    *, model: type[TransformerModel] | type[CustomerTransformer], key: Q, on: date
) -> int:
    """End the open version(s) matching ``key`` that started before ``on`` at ``on`` (a new version starts)."""
    return model.objects.filter(key, effective_from__lt=on, effective_to__isnull=True).update(effective_to=on)
