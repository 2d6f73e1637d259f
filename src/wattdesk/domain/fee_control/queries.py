"""Reads for smart fee control (智能费控): what the daily pass needs per prepaid account, fetched in a fixed
number of queries per chunk of accounts ("fetch, then calculate"), and the lists the page shows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import OuterRef, QuerySet, Subquery

from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import Account, ServicePoint
from wattdesk.domain.fee_control.models import (
    OPEN_STATUSES,
    CommandKind,
    CommandStatus,
    FeeControlState,
    MeterCommand,
)
from wattdesk.domain.fields import MoneySum, QuantitySum
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import id_list
from wattdesk.domain.metering.models import MeterInstallation, RegisterReading
from wattdesk.domain.tariffs.models import TariffAssignment

PENDING = OPEN_STATUSES
#: commands that never reached the meter (given up, or overtaken by a later command): no relay intent
DEAD = (CommandStatus.EXPIRED, CommandStatus.SUPERSEDED)


@dataclass
class PrepaidRow:
    account_id: int
    number: str
    protected: bool
    phone: str
    service_point_id: int | None = None
    capacity_kva: Decimal | None = None
    contract_kw: Decimal | None = None
    tariff_code: str | None = None
    meter_id: int | None = None
    meter_serial: str = ""
    bill_end: date | None = None
    bill_start: date | None = None
    bill_kwh: Decimal | None = None
    bill_total: Decimal | None = None
    kwh_by_kind: dict[str, Decimal] = field(default_factory=dict)
    intended_relay: str = "on"  # the relay state the latest live command asks for
    pending: set[str] = field(default_factory=set)  # kinds of commands not yet acknowledged


def prepaid_account_ids(*, account_ids: Iterable[int] | None = None) -> list[int]:
    qs = Account.objects.filter(prepaid=True)
    if account_ids is not None:
        qs = qs.filter(pk__in=list(account_ids))
    return list(qs.order_by("pk").values_list("pk", flat=True))


def balances(*, account_ids: Sequence[int], posted_before: datetime | None) -> dict[int, Decimal]:
    """Ledger balances (exact, ``MoneySum``) of entries posted before ``posted_before`` (None: all entries);
    0.00 without any."""
    qs = LedgerEntry.objects.filter(account_id__in=id_list(account_ids))
    if posted_before is not None:
        qs = qs.filter(posted_at__lt=posted_before)
    found = dict(qs.values("account_id").annotate(s=MoneySum("amount")).values_list("account_id", "s"))
    zero = Decimal("0.00")
    return {a: found.get(a, zero) for a in account_ids}


def prepaid_rows(*, account_ids: Sequence[int], day: date) -> list[PrepaidRow]:
    """Account, service point, tariff code, meter, latest issued bill, readings since it and relay intent."""
    latest_bill = (
        Bill.objects.filter(account_id=OuterRef("pk"), status=BillStatus.ISSUED, end__lte=day)
        .order_by("-end", "-version")
        .values("pk")[:1]
    )
    rows: dict[int, PrepaidRow] = {}
    bill_ids: list[int] = []
    for a, n, p, ph, bill in (
        Account.objects.filter(pk__in=id_list(account_ids))
        .annotate(latest_bill=Subquery(latest_bill))
        .values_list("pk", "number", "customer__protected", "customer__phone", "latest_bill")
    ):
        rows[a] = PrepaidRow(a, n, bool(p), ph or "")
        if bill is not None:
            bill_ids.append(bill)
    sp_of: dict[int, int] = {}
    for sp_id, acc, cap, ckw in (
        ServicePoint.objects.filter(account_id__in=id_list(account_ids))
        .order_by("account_id", "pk")
        .values_list("pk", "account_id", "capacity_kva", "contract_kw")
    ):
        r = rows[acc]
        if r.service_point_id is None:
            r.service_point_id, r.capacity_kva, r.contract_kw = sp_id, cap, ckw
            sp_of[sp_id] = acc
    for sp_id, code in (
        TariffAssignment.objects.filter(service_point_id__in=id_list(sp_of), effective_from__lte=day)
        .exclude(effective_to__lte=day)
        .order_by("service_point_id", "effective_from")
        .values_list("service_point_id", "tariff_code")
    ):
        rows[sp_of[sp_id]].tariff_code = code  # the latest in force wins
    meter_acc: dict[int, int] = {}
    for meter_id, serial, sp_id in (
        MeterInstallation.objects.filter(service_point_id__in=id_list(sp_of), installed_on__lte=day)
        .exclude(removed_on__lte=day)
        .order_by("installed_on", "pk")
        .values_list("meter_id", "meter__serial", "service_point_id")
    ):
        r = rows[sp_of[sp_id]]
        r.meter_id, r.meter_serial = meter_id, serial
        meter_acc[meter_id] = r.account_id
    for acc, start, end, kwh, total in Bill.objects.filter(pk__in=id_list(bill_ids)).values_list(
        "account_id", "start", "end", "kwh", "total"
    ):
        r = rows[acc]
        r.bill_start, r.bill_end, r.bill_kwh, r.bill_total = start, end, kwh, total
    # usage since the latest bill, summed by the database per meter and register kind: one query per distinct
    # bill end (accounts of one billing cycle share it: a handful of queries per chunk)
    meters_since: dict[date, list[int]] = {}
    for meter_id, acc in meter_acc.items():
        meters_since.setdefault(rows[acc].bill_end or day, []).append(meter_id)
    for since, meter_ids in meters_since.items():
        for meter_id, kind, kwh in (
            RegisterReading.objects.filter(
                register__meter_id__in=id_list(meter_ids),
                read_on__gt=since,
                read_on__lte=day,
                status__in=("valid", "estimated"),
                consumption__isnull=False,
            )
            .values("register__meter_id", "register__kind")
            .annotate(kwh=QuantitySum("consumption"))
            .values_list("register__meter_id", "register__kind", "kwh")
        ):
            rows[meter_acc[meter_id]].kwh_by_kind[kind] = kwh
    for meter_id, kind, status in (
        MeterCommand.objects.filter(meter_id__in=id_list(meter_acc))
        .exclude(status__in=DEAD)
        .order_by("meter_id", "requested_at", "pk")
        .values_list("meter_id", "kind", "status")
    ):
        r = rows[meter_acc[meter_id]]
        r.intended_relay = "off" if kind == CommandKind.DISCONNECT else "on"
        if status in PENDING:
            r.pending.add(kind)
    return [rows[a] for a in account_ids if a in rows]


def existing_keys(*, keys: Iterable[str]) -> set[str]:
    return set(MeterCommand.objects.filter(idem_key__in=list(keys)).values_list("idem_key", flat=True))


def open_command(*, meter_id: int, kind: str) -> int | None:
    """The open (queued, sent or failed) command of this kind for the meter: there is at most one."""
    return (
        MeterCommand.objects.filter(meter_id=meter_id, kind=kind, status__in=PENDING)
        .values_list("pk", flat=True)
        .first()
    )


def restore_may_be_due(*, account_id: int) -> bool:
    """Whether the account's latest live command is a disconnect, or a restore not acknowledged yet (one
    indexed query: the cheap test run on every payment before the full re-estimate)."""
    latest = (
        MeterCommand.objects.filter(account_id=account_id)
        .exclude(status__in=DEAD)
        .order_by("-requested_at", "-pk")
        .values_list("kind", "status")
        .first()
    )
    if latest is None:
        return False
    kind, status = latest
    return kind == CommandKind.DISCONNECT or status in PENDING


def due_commands(*, now: object, ids: Iterable[int] | None = None) -> list[int]:
    qs = MeterCommand.objects.filter(
        status__in=(CommandStatus.QUEUED, CommandStatus.FAILED), next_attempt_at__lte=now
    )
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return list(qs.order_by("requested_at", "pk").values_list("pk", flat=True))


def latest_day(*, accounts: QuerySet[Account]) -> date | None:
    return (
        FeeControlState.objects.filter(account__in=accounts)
        .order_by("-day")
        .values_list("day", flat=True)
        .first()
    )


def states(*, accounts: QuerySet[Account], day: date) -> QuerySet[FeeControlState]:
    return (
        FeeControlState.objects.filter(account__in=accounts, day=day)
        .select_related("account", "account__customer")
        .order_by("estimated_balance", "account__number")
    )


def commands(*, accounts: QuerySet[Account], limit: int = 200) -> QuerySet[MeterCommand]:
    return (
        MeterCommand.objects.filter(account__in=accounts)
        .select_related("account", "meter")
        .order_by("-requested_at", "-pk")[:limit]
    )


def states_of(*, account_id: int) -> QuerySet[FeeControlState]:
    """One account's daily states, newest first."""
    return (
        FeeControlState.objects.filter(account_id=account_id)
        .select_related("account")
        .order_by("-day", "-pk")
    )


def commands_of(*, account_id: int) -> QuerySet[MeterCommand]:
    """One account's meter commands, newest first."""
    return (
        MeterCommand.objects.filter(account_id=account_id)
        .select_related("account", "meter")
        .order_by("-requested_at", "-pk")
    )


def command_queue(*, accounts: QuerySet[Account], status: str = "open") -> QuerySet[MeterCommand]:
    """The commands of these accounts: ``open`` (not yet acknowledged, neither given up nor superseded), one
    status, or ``all``; the next due first (indexed by status and next attempt)."""
    qs = MeterCommand.objects.filter(account__in=accounts).select_related("account", "meter")
    if status == "open":
        qs = qs.filter(status__in=PENDING)
    elif status != "all":
        qs = qs.filter(status=status)
    return qs.order_by("next_attempt_at", "pk")
