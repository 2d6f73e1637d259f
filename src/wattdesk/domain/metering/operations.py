"""Writes of the metering domain: record readings with VEE, record interval files, estimate missing reads,
resolve exceptions. Fetch, then calculate (wattdesk.core.vee), then bulk write. Callers own the transaction
(the application layer wraps each use case in one ``transaction.atomic``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection

from wattdesk.core import vee
from wattdesk.core.period import period_text
from wattdesk.domain import bulk
from wattdesk.domain.metering import queries as q
from wattdesk.domain.metering.models import (
    CUMULATIVE_KINDS,
    DEMAND_KINDS,
    ImportBatch,
    ReadingException,
    ReadingSource,
    ReadingStatus,
    RegisterKind,
    RegisterReading,
)

BULK_BATCH = 5000
HISTORY_DAYS = 400  # how far back readings are fetched for history (covers 12 months + same month last year)


class MeteringError(Exception):
    pass


@dataclass(frozen=True)
class NewReading:
    register_id: int
    meter_id: int
    read_on: date
    value: Decimal
    supersedes: int | None = None  # id of the held (status exception) actual reading this one corrects


@dataclass
class RecordOutcome:
    readings: int = 0
    held: int = 0  # readings stored in status "exception"
    superseded: int = 0
    corrected: int = 0  # held readings superseded by a correction on the same date
    findings_by_check: Counter[str] = field(default_factory=Counter)


@dataclass
class _Row:
    """A reading about to be inserted (lighter than a model instance at 60,000 rows)."""

    register_id: int
    read_on: date
    value: Decimal
    source: str
    status: str
    advance: Decimal | None
    consumption: Decimal | None
    estimated_from: str = ""
    pk: int | None = None


@dataclass
class _Chain:
    """Billable readings of one register, oldest first (what 'previous reading' means)."""

    items: list[q.StoredReading] = field(default_factory=list)


class _Context:
    """Everything VEE needs about a set of meters, fetched in a fixed number of bulk queries."""

    def __init__(self, *, meter_ids: Iterable[int], since: date) -> None:
        meter_ids = set(meter_ids)
        self.installations = q.installations_for_meters(meter_ids=meter_ids)
        self.inst_by_meter: dict[int, list[q.Installation]] = defaultdict(list)
        self.inst_by_sp: dict[int, list[q.Installation]] = defaultdict(list)
        for inst in self.installations:
            self.inst_by_meter[inst.meter_id].append(inst)
            self.inst_by_sp[inst.service_point_id].append(inst)
        all_meters = meter_ids | set(self.inst_by_meter)
        self.regs = q.registers_of_meters(meter_ids=all_meters)
        self.reg_by_meter_kind = {(r.meter_id, r.kind): r.id for r in self.regs.values()}
        stored = q.stored_readings(register_ids=self.regs, since=since)
        self.chains: dict[int, _Chain] = {rid: _Chain(list(items)) for rid, items in stored.items()}
        self.history: dict[tuple[int, str], list[vee.PeriodUsage]] = defaultdict(list)
        self._last_date: dict[tuple[int, str], date] = {}
        # history per (service point, register kind), across meter exchanges
        flat = sorted(
            ((r.read_on, r) for items in stored.values() for r in items),
            key=lambda t: (t[0], t[1].register_id),
        )
        for _, r in flat:
            reg = self.regs[r.register_id]
            found = self.installation(reg.meter_id, r.read_on)
            if found is None:
                continue
            self._add_history(found, reg.kind, r.read_on, r.consumption)

    def _add_history(
        self, inst: q.Installation, kind: str, read_on: date, consumption: Decimal | None
    ) -> None:
        key = (inst.service_point_id, kind)
        prev = self._last_date.get(key)
        self._last_date[key] = read_on
        if consumption is None or kind in DEMAND_KINDS:
            return
        if prev is not None and prev < read_on:
            start = prev
        elif inst.installed_on < read_on:  # first reading after installation: measured from the initial value
            start = inst.installed_on
        else:
            start = read_on - timedelta(days=30)
        self.history[key].append(vee.PeriodUsage(start, read_on, consumption))

    def installation(self, meter_id: int, d: date) -> q.Installation | None:
        for inst in self.inst_by_meter.get(meter_id, ()):
            if inst.covers(d):
                return inst
        return None

    def predecessor(self, inst: q.Installation) -> q.Installation | None:
        """The installation at the same service point that ended when `inst` began (换表)."""
        best = None
        for other in self.inst_by_sp.get(inst.service_point_id, ()):
            if other is inst or other.removed_on is None or other.removed_on > inst.installed_on:
                continue
            if best is None or other.removed_on > (best.removed_on or date.min):
                best = other
        return best


def _dec(x: object) -> Decimal | None:
    if x is None or x == "":
        return None
    return Decimal(str(x))


def _exchange_for(ctx: _Context, reg: q.RegisterInfo, inst: q.Installation) -> vee.MeterExchange | None:
    pred = ctx.predecessor(inst)
    if pred is None:
        return None
    old_final = _dec(pred.final_values.get(reg.kind))
    old_reg_id = ctx.reg_by_meter_kind.get((pred.meter_id, reg.kind))
    if old_final is None or old_reg_id is None:
        return None
    assert pred.removed_on is not None
    old_chain = [r for r in ctx.chains.get(old_reg_id, _Chain()).items if r.read_on <= pred.removed_on]
    old_prev = old_chain[-1].value if old_chain else _dec(pred.initial_values.get(reg.kind))
    if old_prev is None:
        return None
    old = ctx.regs[old_reg_id]
    return vee.MeterExchange(
        old_previous=old_prev,
        old_final=old_final,
        old_multiplier=old.multiplier,
        old_digits=old.digits,
        new_initial=_dec(inst.initial_values.get(reg.kind)) or Decimal(0),
    )


def record_register_readings(
    *, batch: ImportBatch, readings: Sequence[NewReading], rules: vee.VeeRules = vee.DEFAULT_RULES
) -> RecordOutcome:
    """Store new actual register readings with their VEE outcome (advance, consumption, status, exceptions).

    Readings must have been validated by the caller (known registers, one per register and date, dated after
    the register's latest billable reading or on the date of an estimate, which they supersede).

    A reading with ``supersedes`` corrects a held reading (status ``exception``) of the same register and
    date: the held reading is kept as history in status ``superseded`` with its exceptions closed, never
    edited in place, and the correction goes through VEE like any new reading.
    """
    outcome = RecordOutcome()
    if not readings:
        return outcome
    corrected_ids = [r.supersedes for r in readings if r.supersedes is not None]
    if corrected_ids:
        # Before the insert: the unique (register, read_on, source) index skips superseded readings.
        outcome.corrected = supersede_held_readings(reading_ids=corrected_ids)
    since = min(r.read_on for r in readings) - timedelta(days=HISTORY_DAYS)
    ctx = _Context(meter_ids={r.meter_id for r in readings}, since=since)

    to_create: list[_Row] = []
    findings_of: list[tuple[_Row, q.RegisterInfo, vee.Finding]] = []
    superseded_ids: list[int] = []
    ordered = sorted(readings, key=lambda r: (r.read_on, r.register_id))
    # active consumption per (meter, date), for the reactive check
    active_by_meter_day: dict[tuple[int, date], dict[str, Decimal]] = defaultdict(dict)
    new_meters = {r.meter_id for r in readings}
    for rid, chain in ctx.chains.items():
        reg = ctx.regs[rid]
        if reg.kind.startswith("active") and reg.meter_id in new_meters:
            for s in chain.items:
                if s.consumption is not None:
                    active_by_meter_day[(reg.meter_id, s.read_on)][reg.kind] = s.consumption
    reactive_new: list[tuple[_Row, q.RegisterInfo]] = []

    for new in ordered:
        reg = ctx.regs[new.register_id]
        inst = ctx.installation(reg.meter_id, new.read_on)
        if inst is None:
            raise MeteringError(f"meter {reg.meter_id} is not installed on {new.read_on}")
        found: list[vee.Finding] = []
        advance: Decimal | None = None
        consumption: Decimal | None = None
        chain = ctx.chains.setdefault(new.register_id, _Chain())
        if reg.kind in DEMAND_KINDS:
            kw, f = vee.check_demand(
                value=new.value,
                multiplier=reg.multiplier,
                max_kw_physical=reg.max_kw_physical,
                capacity_kva=inst.capacity_kva or None,
                rules=rules,
            )
            consumption = kw
            if f is not None:
                found.append(f)
            ok = f is None or f.severity is not vee.Severity.ERROR
            true_up = False
        else:
            if (
                chain.items
                and chain.items[-1].source == ReadingSource.ESTIMATED
                and chain.items[-1].read_on == new.read_on
            ):
                superseded_ids.append(chain.items.pop().id)
            previous = chain.items[-1] if chain.items else None
            exchange = None
            prev_reading: vee.Reading | None = None
            previous_actual: vee.Reading | None = None
            estimated_since: Decimal | None = None
            if previous is not None:
                prev_reading = vee.Reading(previous.read_on, previous.value)
                if previous.source == ReadingSource.ESTIMATED:
                    actual_idx = [i for i, s in enumerate(chain.items) if s.source == ReadingSource.ACTUAL]
                    if actual_idx:
                        a = chain.items[actual_idx[-1]]
                        previous_actual = vee.Reading(a.read_on, a.value)
                        estimated_since = sum(
                            (s.consumption or Decimal(0) for s in chain.items[actual_idx[-1] + 1 :]),
                            Decimal(0),
                        )
            else:
                exchange = _exchange_for(ctx, reg, inst)
                if exchange is None:
                    initial = _dec(inst.initial_values.get(reg.kind))
                    if initial is not None:
                        prev_reading = vee.Reading(inst.installed_on, initial)
            res = vee.validate_register(
                vee.RegisterCheckInput(
                    previous=prev_reading,
                    current=vee.Reading(new.read_on, new.value),
                    digits=reg.digits,
                    multiplier=reg.multiplier,
                    exchange=exchange,
                    history=tuple(ctx.history.get((inst.service_point_id, reg.kind), ())),
                    estimated_since_actual=estimated_since,
                    previous_actual=previous_actual,
                ),
                rules,
            )
            found.extend(res.findings)
            advance, consumption, ok = res.advance, res.consumption, res.ok
            true_up = previous_actual is not None
        if consumption is not None:
            consumption = vee.quantize_quantity(consumption)
        obj = _Row(
            register_id=new.register_id,
            read_on=new.read_on,
            value=new.value,
            source=ReadingSource.ACTUAL,
            status=ReadingStatus.VALID if ok else ReadingStatus.EXCEPTION,
            advance=advance,
            consumption=consumption,
        )
        to_create.append(obj)
        findings_of.extend((obj, reg, f) for f in found)
        if ok:
            # chain + history see it at once: a file may hold several months of one register
            chain.items.append(
                q.StoredReading(
                    0, new.register_id, new.read_on, new.value, ReadingSource.ACTUAL, obj.status, consumption
                )
            )
            self_consumption = None if true_up else consumption
            ctx._add_history(inst, reg.kind, new.read_on, self_consumption)
            if reg.kind.startswith("active") and consumption is not None:
                active_by_meter_day[(reg.meter_id, new.read_on)][reg.kind] = consumption
            if reg.kind == RegisterKind.REACTIVE and consumption is not None:
                reactive_new.append((obj, reg))

    for obj, reg in reactive_new:
        actives = active_by_meter_day.get((reg.meter_id, obj.read_on), {})
        if RegisterKind.ACTIVE_TOTAL in actives:
            active: Decimal | None = actives[RegisterKind.ACTIVE_TOTAL]
        elif actives:
            active = sum(actives.values(), Decimal(0))
        else:
            active = None
        assert obj.consumption is not None
        f = vee.check_reactive_without_active(reactive_consumption=obj.consumption, active_consumption=active)
        if f is not None:
            findings_of.append((obj, reg, f))
            obj.status = ReadingStatus.EXCEPTION

    _insert_readings(to_create, batch_id=batch.id)
    if findings_of:
        ids = dict(
            (
                ((reg_id, d), pk)
                for pk, reg_id, d in RegisterReading.objects.filter(import_batch=batch).values_list(
                    "id", "register_id", "read_on"
                )
            )
        )
        for obj in to_create:
            obj.pk = ids[(obj.register_id, obj.read_on)]
    for part in q.chunked(superseded_ids):
        RegisterReading.objects.filter(id__in=part).update(status=ReadingStatus.SUPERSEDED)
    _write_findings(batch=batch, findings=findings_of)
    outcome.readings = len(to_create)
    outcome.held = sum(1 for o in to_create if o.status == ReadingStatus.EXCEPTION)
    outcome.superseded = len(superseded_ids)
    outcome.findings_by_check.update(f.check.value for _, _, f in findings_of)
    return outcome


_READING_COLUMNS = (
    "register_id",
    "read_on",
    "value",
    "source",
    "status",
    "import_batch_id",
    "advance",
    "consumption",
    "estimated_from",
)


def supersede_held_readings(*, reading_ids: Sequence[int]) -> int:
    """Mark held readings (status exception) superseded by a correction and close their open exceptions.
    Raises :class:`MeteringError` if one of them is no longer held (changed since it was validated)."""
    ids = sorted(set(reading_ids))
    changed = 0
    for part in q.chunked(ids):
        changed += RegisterReading.objects.filter(id__in=part, status=ReadingStatus.EXCEPTION).update(
            status=ReadingStatus.SUPERSEDED
        )
        ReadingException.objects.filter(reading_id__in=part, resolved=False).update(resolved=True)
    if changed != len(ids):
        raise MeteringError("a held reading being corrected changed meanwhile: import the file again")
    return changed


def _insert_readings(objs: Sequence[_Row | RegisterReading], *, batch_id: int | None) -> None:
    """Write the readings with the one bulk writer (``domain.bulk``: COPY on PostgreSQL, multi-row INSERT on
    SQLite).

    Same effect as bulk_create(batch_size=BULK_BATCH) without the per-field ORM compilation, which costs
    ~3x the database time at 60,000 rows. Values are adapted by the backend's own adapters (portable);
    primary keys are not set on `objs` (the caller re-reads them by batch when it needs them).
    """
    ops = connection.ops

    def dec(v: Decimal | None) -> object:
        return None if v is None else ops.adapt_decimalfield_value(v, 16, 4)

    bulk.insert_rows(
        RegisterReading,
        _READING_COLUMNS,
        (
            (
                o.register_id,
                ops.adapt_datefield_value(o.read_on),
                dec(o.value),
                o.source,
                o.status,
                batch_id,
                dec(o.advance),
                dec(o.consumption),
                o.estimated_from,
            )
            for o in objs
        ),
    )


def _write_findings(
    *,
    batch: ImportBatch | None,
    findings: Iterable[tuple[_Row | RegisterReading, q.RegisterInfo, vee.Finding]],
) -> None:
    """One ReadingException per finding. INFO findings are recorded already resolved (nothing to do)."""
    ReadingException.objects.bulk_create(
        [
            ReadingException(
                meter_id=reg.meter_id,
                register_id=reg.id,
                reading_id=obj.pk,
                import_batch=batch,
                period=period_text(obj.read_on),
                check_code=f.check.value,
                reason=f.reason,
                severity=f.severity.value,
                resolved=f.severity is vee.Severity.INFO,
            )
            for obj, reg, f in findings
        ],
        batch_size=BULK_BATCH,
    )


@dataclass(frozen=True)
class EstimateOutcome:
    estimated: int
    no_history: int


def estimate_missing_readings(
    *,
    period_start: date,
    period_end: date,
    read_on: date,
    meter_ids: Iterable[int],
    rules: vee.VeeRules = vee.DEFAULT_RULES,
) -> EstimateOutcome:
    """Estimate (估抄) every cumulative register of the given meters that has no billable reading in
    [period_start, period_end): value = previous + estimate / multiplier, dated `read_on`, source and status
    "estimated", with an unresolved WARNING exception so a real read gets arranged. The next actual reading
    is trued up against it (vee.validate_register)."""
    if not (period_start <= read_on < period_end):
        raise MeteringError("read_on must lie inside the period")
    ctx = _Context(meter_ids=meter_ids, since=period_start - timedelta(days=HISTORY_DAYS))
    wanted = set(meter_ids)
    created: list[RegisterReading] = []
    findings: list[tuple[_Row | RegisterReading, q.RegisterInfo, vee.Finding]] = []
    no_history = 0
    for rid, reg in ctx.regs.items():
        if reg.meter_id not in wanted or reg.kind not in CUMULATIVE_KINDS:
            continue
        inst = ctx.installation(reg.meter_id, read_on)
        if inst is None:
            continue
        chain = ctx.chains.get(rid, _Chain()).items
        if not chain or any(period_start <= s.read_on < period_end for s in chain):
            continue
        previous = chain[-1]
        if previous.read_on >= read_on:
            continue
        est = vee.estimate_consumption(
            start=previous.read_on,
            end=read_on,
            history=tuple(ctx.history.get((inst.service_point_id, reg.kind), ())),
            rules=rules,
        )
        if est is None:
            no_history += 1
            continue
        value, kwh = vee.estimated_reading(
            previous=vee.Reading(previous.read_on, previous.value),
            read_on=read_on,
            estimate=est,
            multiplier=reg.multiplier,
            digits=reg.digits,
        )
        obj = RegisterReading(
            register_id=rid,
            read_on=read_on,
            value=value,
            source=ReadingSource.ESTIMATED,
            status=ReadingStatus.ESTIMATED,
            advance=vee.quantize_quantity(kwh / reg.multiplier),
            consumption=vee.quantize_quantity(kwh),
            estimated_from=est.basis[:255],
        )
        created.append(obj)
        findings.append(
            (
                obj,
                reg,
                vee.Finding(
                    vee.Check.ESTIMATED, vee.Severity.WARNING, f"estimated {kwh} kWh from {est.basis}"
                ),
            )
        )
    RegisterReading.objects.bulk_create(created, batch_size=BULK_BATCH)
    _write_findings(batch=None, findings=findings)
    return EstimateOutcome(estimated=len(created), no_history=no_history)


def resolve_exception(*, exception_id: int, accept_reading: bool) -> None:
    """Close a reading exception. accept_reading=True makes its reading billable (status valid) when the
    reading's other error findings are resolved too; False leaves the reading out of billing."""
    exc = ReadingException.objects.select_for_update().get(id=exception_id)
    exc.resolved = True
    exc.save(update_fields=["resolved"])
    if accept_reading and exc.reading_id is not None:
        still_open = ReadingException.objects.filter(
            reading_id=exc.reading_id, resolved=False, severity=vee.Severity.ERROR.value
        ).exists()
        if not still_open:
            RegisterReading.objects.filter(id=exc.reading_id, status=ReadingStatus.EXCEPTION).update(
                status=ReadingStatus.VALID
            )


def record_interval_files(*, batch: ImportBatch, files: Sequence[Mapping[str, object]]) -> int:
    """Index rows for the interval data of one batch (one per meter)."""
    from wattdesk.domain.metering.models import IntervalFile

    IntervalFile.objects.bulk_create([IntervalFile(batch=batch, **f) for f in files], batch_size=BULK_BATCH)
    return len(files)


def record_opening_readings(*, batch: ImportBatch, readings: Sequence[NewReading]) -> int:
    """Store opening register values taken over from a legacy system (期初示数): one actual, valid reading per
    register dated the legacy system's last bill date, with no advance and no consumption.

    Such a reading only opens the register (docs/billing.md, "Which readings"): it bills nothing itself and is
    the previous reading of the next one, so the first reading after migration bills only its advance. The
    caller has checked that the registers have no reading yet (the opening must be the first of the chain); it
    is checked again here under row locks on the registers (a reading stored meanwhile: :class:`MeteringError`).
    """
    from wattdesk.domain.metering.models import MeterRegister

    ids = sorted({r.register_id for r in readings})
    for part in q.chunked(ids):
        list(MeterRegister.objects.select_for_update().filter(id__in=part).values_list("id", flat=True))
        taken = (
            RegisterReading.objects.filter(register_id__in=part)
            .exclude(status=ReadingStatus.SUPERSEDED)
            .values_list("register_id", flat=True)
            .first()
        )
        if taken is not None:
            raise MeteringError(f"register {taken} got a reading meanwhile: its opening value was not stored")
    rows = [
        _Row(
            register_id=r.register_id,
            read_on=r.read_on,
            value=r.value,
            source=ReadingSource.ACTUAL,
            status=ReadingStatus.VALID,
            advance=None,
            consumption=None,
        )
        for r in readings
    ]
    _insert_readings(rows, batch_id=batch.id)
    return len(rows)
