"""The audit trail (审计): who changed what, when, from where, before -> after.

Row-by-row changes are recorded by django-auditlog from model signals, for the models registered in
``register_models`` (called once from ``wattdesk.domain.auditing.apps.AuditingConfig.ready``). The actor and
the remote address come from ``AuditMiddleware`` (after Django's ``AuthenticationMiddleware``); outside a
request (CLI, scheduled jobs) wrap the work in ``auditlog.context.set_actor(user)`` to name an actor.

Bulk writes bypass signals: ``bulk_create``, ``QuerySet.update`` and raw SQL (billing runs, readings and
tariff imports, synthetic data, onboarding files, issuing / cancelling many bills at once) leave no row
entries. Such a use case records **one entry per batch or run** with ``record_batch``:

    from wattdesk.domain import audit
    audit.record_batch(actor=user, action="billing.run", object_repr=f"billing run {run.pk} {run.period}",
                       object_pk=run.pk, changes={"status": ("running", "done"), "bills": (None, 1234)})

Reads for the audit page (``entries``, ``change_rows``) are here too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from auditlog.context import auditlog_value
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet

#: (app_label.ModelName, options for auditlog.register). Money and status fields are what matters most.
AUDITED: tuple[tuple[str, dict[str, Any]], ...] = (
    ("customers.Region", {}),
    ("customers.ReadingRoute", {}),
    ("customers.TransformerArea", {}),
    ("customers.Customer", {}),
    ("customers.Account", {}),
    ("customers.ServicePoint", {}),
    ("customers.HouseholdQuotaPolicy", {}),
    ("metering.Meter", {}),
    ("metering.MeterRegister", {}),
    ("metering.MeterInstallation", {}),
    ("metering.RegisterReading", {}),
    ("tariffs.TariffVersion", {}),
    ("tariffs.TariffAssignment", {}),
    # 窃电 / 违约用电 policy data, edited in the admin (the cases' own transitions are batch entries)
    ("inspection.BehaviourCode", {}),
    ("inspection.InspectionRuleSet", {}),
    ("billing.BillingRun", {"include_fields": ["status", "finished_at"]}),
    ("billing.Bill", {"include_fields": ["status", "hold_reason", "total", "kwh", "due_on", "replaces"]}),
    ("billing.BillLine", {}),
    # append-only: its entries are creates. Its own columns only: with the default (every field) auditlog also
    # reads the reverse one-to-ones (payment, reversal, late-fee assessment) on every posting, 3 SELECTs each.
    (
        "ledger.LedgerEntry",
        {"include_fields": ["account", "kind", "amount", "bill", "posted_at", "reverses", "memo"]},
    ),
    ("fee_control.MeterCommand", {"include_fields": ["status", "attempts", "ack_id", "acknowledged_at"]}),
    ("counter.Receipt", {}),
    ("counter.CashClose", {}),
    ("counter.CashHandover", {}),
    ("bank.WithholdingMandate", {}),
    ("collection.CollectorAssignment", {}),
    ("collection.Visit", {}),
    ("collection.Complaint", {}),
    ("access.StaffScope", {"m2m_fields": {"regions", "routes"}}),
    ("access.CustomerLogin", {}),
    # Never the password hash (not even masked); last_login would log every sign-in.
    ("auth.User", {"exclude_fields": ["password", "last_login"], "m2m_fields": {"groups"}}),
    ("auth.Group", {"m2m_fields": {"permissions"}}),
)

BATCH_MODEL = "auditing.BatchOperation"


def register_models() -> None:
    """Register the audited models with django-auditlog (idempotent)."""
    for label, options in AUDITED:
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, **options)


def audited_models() -> list[type[Model]]:
    return [apps.get_model(label) for label, _ in AUDITED] + [apps.get_model(BATCH_MODEL)]


# --- batch writes ----------------------------------------------------------------------------------------


def record_batch(
    *,
    actor: Any,
    action: str,
    object_repr: str,
    changes: Mapping[str, Any],
    object_pk: Any = "",
    remote_addr: str | None = None,
    kind: int = LogEntry.Action.CREATE,
) -> LogEntry:
    """One audit entry for a whole batch / run written in bulk (one row per run, not per object).

    ``action`` names the business operation ("billing.run", "readings.import", "tariffs.import",
    "customers.onboard", "bills.issue", "bills.cancel"); ``changes`` maps a name to ``(before, after)`` or to
    a single value (recorded as ``(None, value)``), e.g. ``{"bills": (None, 1234), "status": ("draft",
    "issued")}``. ``actor`` is a user or None (a scheduled job); inside a request the actor and remote
    address default to the request's (from ``AuditMiddleware``).
    """
    context = _request_context()
    if actor is None:
        actor = context.get("actor")
    if remote_addr is None:
        remote_addr = context.get("remote_addr")
    normalized = {str(k): _pair(v) for k, v in changes.items()}
    entry = LogEntry(
        content_type=ContentType.objects.get_for_model(apps.get_model(BATCH_MODEL), for_concrete_model=False),
        object_pk=str(object_pk),
        object_id=int(object_pk) if str(object_pk).isdigit() else None,
        object_repr=object_repr[:1000],
        action=kind,
        changes=normalized,
        changes_text="",
        actor=actor if getattr(actor, "pk", None) is not None else None,
        actor_email=getattr(actor, "email", None) or None,
        remote_addr=remote_addr,
        additional_data={"batch": action},
    )
    entry.save()
    return entry


def _pair(value: Any) -> list[Any]:
    if isinstance(value, tuple | list) and len(value) == 2:
        return [_plain(value[0]), _plain(value[1])]
    return [None, _plain(value)]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)  # Decimal, date, datetime: exact text


def _request_context() -> dict[str, Any]:
    try:
        value = auditlog_value.get()
    except LookupError:
        return {}
    return value if isinstance(value, dict) else {}


# --- reads for the audit page ----------------------------------------------------------------------------


def content_type_choices() -> list[tuple[int, str]]:
    """(content type id, "app.Model · verbose name") of every audited model, for the filter."""
    out = []
    for model in audited_models():
        ct = ContentType.objects.get_for_model(model, for_concrete_model=False)
        out.append((ct.pk, f"{model._meta.app_label}.{model.__name__} · {model._meta.verbose_name}"))
    return out


def entries(
    *,
    content_type_id: int | None = None,
    username: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[LogEntry]:
    """Log entries, newest first; ``date_to`` is inclusive (a whole local day)."""
    qs: QuerySet[LogEntry] = LogEntry.objects.select_related("actor", "content_type").order_by(
        "-timestamp", "-id"
    )
    if content_type_id is not None:
        qs = qs.filter(content_type_id=content_type_id)
    if username:
        qs = qs.filter(Q(actor__username__iexact=username) | Q(actor_email__iexact=username))
    tz = ZoneInfo(settings.TIME_ZONE)
    if date_from is not None:
        qs = qs.filter(timestamp__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to is not None:
        qs = qs.filter(timestamp__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=tz))
    return qs


@dataclass(frozen=True)
class ChangeRow:
    field: str
    before: str
    after: str


def change_rows(entry: LogEntry) -> list[ChangeRow]:
    """The entry's changes as (field, before, after) text; a JSON document (a tariff) is compared leaf by
    leaf so a price change reads ``document.energy.rates[1].price: 0.5283 -> 0.5583``."""
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    rows: list[ChangeRow] = []
    for field, pair in changes.items():
        if isinstance(pair, dict) and pair.get("type") == "m2m":  # m2m: {"type","operation","objects"}
            sign = "+" if pair.get("operation") == "add" else "-"
            objs = ", ".join(str(o) for o in pair.get("objects", []))
            rows.append(ChangeRow(field, "", f"{sign} {objs}"))
            continue
        before, after = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
        before, after = _maybe_json(before), _maybe_json(after)
        if isinstance(before, dict | list) or isinstance(after, dict | list):
            leaves = list(_leaf_diff(before, after, field))
            if leaves:
                rows.extend(leaves)
                continue
        rows.append(ChangeRow(field, _text(before), _text(after)))
    return rows


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _leaf_diff(before: Any, after: Any, path: str) -> Iterator[ChangeRow]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            yield from _leaf_diff(before.get(key), after.get(key), f"{path}.{key}")
    elif isinstance(before, list) and isinstance(after, list):
        for i in range(max(len(before), len(after))):
            b = before[i] if i < len(before) else None
            a = after[i] if i < len(after) else None
            yield from _leaf_diff(b, a, f"{path}[{i}]")
    elif before != after:
        yield ChangeRow(path, _text(before), _text(after))


def _text(value: Any) -> str:
    if value is None or value == "None":
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def action_label(entry: LogEntry) -> str:
    batch = (entry.additional_data or {}).get("batch") if isinstance(entry.additional_data, dict) else None
    if batch:
        return f"batch {batch}"
    return {0: "create", 1: "update", 2: "delete", 3: "access"}.get(entry.action, str(entry.action))
