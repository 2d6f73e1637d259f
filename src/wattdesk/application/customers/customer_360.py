"""Read-side use cases: customer search and the customer 360° view (客户全景视图).

Both take the caller's *scoped* account queryset (``wattdesk.domain.access.queries.accounts_for(user)``), so
they never see an account outside the user's territory. Fetch, then calculate: a fixed number of bulk queries
per page (no query per row), assembled into plain frozen dataclasses the templates render.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.paginator import Paginator
from django.db.models import OuterRef, QuerySet, Subquery

from wattdesk.core.period import period_text
from wattdesk.domain.billing.models import Bill, BillLine
from wattdesk.domain.customers.models import Account, Customer, CustomerKind, ServicePoint
from wattdesk.domain.ledger import queries as ledger_queries
from wattdesk.domain.metering.models import (
    CUMULATIVE_KINDS,
    MeterInstallation,
    MeterRegister,
    ReadingStatus,
    RegisterKind,
    RegisterReading,
)

PAGE_SIZE = 50
READING_MONTHS = 24  # readings shown on the 360° page: the latest two years
LEDGER_ROWS = 100  # ledger entries shown (the running balance is computed over all of them)


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``: the first 3 and last 4 digits only."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


# --- search ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchRow:
    account_number: str
    customer_name: str
    customer_class: str
    customer_class_label: str
    status: str
    address: str


@dataclass(frozen=True)
class SearchPage:
    query: str
    rows: tuple[SearchRow, ...]
    number: int
    num_pages: int
    count: int
    capped: bool = False  # more accounts match than a search shows (MAX_RESULTS): narrow the query

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages


#: A search shows at most this many accounts per key (type more of the number or name to narrow it down).
MAX_RESULTS = 500


def search_accounts(*, accounts: QuerySet[Account], query: str, page: int = 1) -> SearchPage:
    """Accounts in ``accounts`` whose customer name or a service-point address contains ``query``, or whose
    account number or an installed meter's serial starts with it; 50 per page, ordered by account number.
    An empty query finds nothing. At most ``MAX_RESULTS`` accounts are shown: when more match, the page says
    so (``capped``) instead of presenting a count that is only where the search stopped."""
    query = query.strip()
    if not query:
        return SearchPage(query="", rows=(), number=1, num_pages=1, count=0)
    # Four index-friendly lookups (prefix: B-tree pattern indexes; contains: trigram indexes on PostgreSQL,
    # migration customers.0002), each capped, instead of one OR across four tables that no index can serve.
    # Each lookup is limited to the user's scope before its cap, so a scoped user's matches are not crowded
    # out by accounts they may not see; for company-wide staff the scope has no condition and adds nothing.
    cap = MAX_RESULTS + 1
    scoped = bool(accounts.query.where)
    in_scope = {"account_id__in": accounts.values("pk")} if scoped else {}
    found = [
        list(accounts.filter(number__istartswith=query).values_list("pk", flat=True)[:cap]),
        list(accounts.filter(customer__name__icontains=query).values_list("pk", flat=True)[:cap]),
        list(
            ServicePoint.objects.filter(address__icontains=query, **in_scope)
            .order_by()
            .values_list("account_id", flat=True)
            .distinct()[:cap]
        ),
        list(
            MeterInstallation.objects.filter(
                meter__serial__istartswith=query,
                **({"service_point__account_id__in": accounts.values("pk")} if scoped else {}),
            )
            .order_by()
            .values_list("service_point__account_id", flat=True)
            .distinct()[:cap]
        ),
    ]
    ids: set[int] = set().union(*found)
    capped = len(ids) > MAX_RESULTS or any(len(f) == cap for f in found)
    first_address = Subquery(
        ServicePoint.objects.filter(account_id=OuterRef("pk")).order_by("id").values("address")[:1]
    )
    qs = (
        accounts.filter(pk__in=sorted(ids))
        .annotate(first_address=first_address)
        .values("number", "customer__name", "customer__customer_class", "status", "first_address")
        .order_by("number")
    )[:MAX_RESULTS]
    paginator = Paginator(qs, PAGE_SIZE)
    p = paginator.get_page(page)
    labels = dict(Customer._meta.get_field("customer_class").choices or [])
    rows = tuple(
        SearchRow(
            account_number=r["number"],
            customer_name=r["customer__name"],
            customer_class=r["customer__customer_class"],
            customer_class_label=str(
                labels.get(r["customer__customer_class"], r["customer__customer_class"])
            ),
            status=r["status"],
            address=r["first_address"] or "",
        )
        for r in p.object_list
    )
    return SearchPage(
        query=query,
        rows=rows,
        number=p.number,
        num_pages=paginator.num_pages,
        count=paginator.count,
        capped=capped,
    )


# --- 360° view ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerInfo:
    number: str
    name: str
    kind: str
    kind_label: str
    customer_class: str
    customer_class_label: str
    age: int | None  # individuals only
    phone_masked: str
    id_number_masked: str
    protected: bool


@dataclass(frozen=True)
class AccountInfo:
    number: str
    status: str
    status_label: str
    opened_on: date
    closed_on: date | None
    billing_day: int
    prepaid: bool
    billing_address: str


@dataclass(frozen=True)
class InstallationInfo:
    """One meter at a service point (换表 history: an exchanged meter has ``removed_on``)."""

    meter_serial: str
    multiplier: Decimal
    digits: int
    interval: bool
    registers: tuple[str, ...]  # register kinds
    installed_on: date
    removed_on: date | None
    initial_values: dict[str, str]
    final_values: dict[str, str]


@dataclass(frozen=True)
class ServicePointInfo:
    number: str
    address: str
    region: str
    route: str  # 抄表段 "code name"
    transformer_area: str  # 台区 "code name"
    voltage_kv: Decimal
    capacity_kva: Decimal
    contract_kw: Decimal | None
    pf_standard: Decimal | None
    lat: Decimal | None
    lon: Decimal | None
    installations: tuple[InstallationInfo, ...]  # latest first


@dataclass(frozen=True)
class ReadingRow:
    read_on: date
    meter_serial: str
    register_kind: str
    value: Decimal
    consumption: Decimal | None
    source: str
    status: str


@dataclass(frozen=True)
class BillRow:
    id: int
    period: str
    version: int
    status: str
    status_label: str
    kwh: Decimal
    total: Decimal
    due_on: date | None
    hold_reason: str


@dataclass(frozen=True)
class LedgerRow:
    posted_at: object  # datetime
    kind: str
    kind_label: str
    amount: Decimal
    balance: Decimal  # running balance after this entry
    memo: str
    bill_period: str


@dataclass(frozen=True)
class ConsumptionSeries:
    """Monthly consumption per register kind, for the chart (months oldest first)."""

    months: tuple[str, ...]
    series: tuple[tuple[str, tuple[Decimal | None, ...]], ...]  # (register kind, value per month)


@dataclass(frozen=True)
class Customer360:
    customer: CustomerInfo
    account: AccountInfo
    service_points: tuple[ServicePointInfo, ...]
    readings: tuple[ReadingRow, ...]  # latest first
    consumption: ConsumptionSeries
    bills: tuple[BillRow, ...]  # latest first
    ledger: tuple[LedgerRow, ...]  # latest LEDGER_ROWS, oldest first
    ledger_count: int
    balance: Decimal


def _label(model: type, field: str, value: str) -> str:
    choices = dict(model._meta.get_field(field).choices or [])  # type: ignore[attr-defined]
    return str(choices.get(value, value))


def _month_add(d: date, months: int) -> date:
    m = d.year * 12 + d.month - 1 + months
    return date(m // 12, m % 12 + 1, 1)


def customer_360(*, account: Account, as_of: date) -> Customer360:
    """Everything about one account (already fetched through the user's scoped queryset) as of ``as_of``."""
    c = Customer.objects.get(pk=account.customer_id)
    customer = CustomerInfo(
        number=c.number,
        name=c.name,
        kind=c.kind,
        kind_label=_label(Customer, "kind", c.kind),
        customer_class=c.customer_class,
        customer_class_label=_label(Customer, "customer_class", c.customer_class),
        age=as_of.year - c.birth_year if c.kind == CustomerKind.INDIVIDUAL and c.birth_year else None,
        phone_masked=mask_phone(c.phone),
        id_number_masked=c.id_number_masked,
        protected=c.protected,
    )
    account_info = AccountInfo(
        number=account.number,
        status=account.status,
        status_label=_label(Account, "status", account.status),
        opened_on=account.opened_on,
        closed_on=account.closed_on,
        billing_day=account.billing_day,
        prepaid=account.prepaid,
        billing_address=account.billing_address,
    )

    # Service points, installations, meters and registers: three queries.
    sps = list(
        ServicePoint.objects.filter(account_id=account.pk)
        .select_related("region", "route", "transformer_area")
        .order_by("number")
    )
    insts = list(
        MeterInstallation.objects.filter(service_point__in=sps)
        .select_related("meter")
        .order_by("-installed_on", "-id")
    )
    meter_ids = {i.meter_id for i in insts}
    kinds_by_meter: dict[int, list[str]] = defaultdict(list)
    register_meta: dict[int, tuple[int, str]] = {}
    for reg_id, meter_id, kind in (
        MeterRegister.objects.filter(meter_id__in=meter_ids)
        .order_by("id")
        .values_list("id", "meter_id", "kind")
    ):
        kinds_by_meter[meter_id].append(kind)
        register_meta[reg_id] = (meter_id, kind)
    insts_by_sp: dict[int, list[InstallationInfo]] = defaultdict(list)
    for i in insts:
        insts_by_sp[i.service_point_id].append(
            InstallationInfo(
                meter_serial=i.meter.serial,
                multiplier=i.meter.multiplier,
                digits=i.meter.digits,
                interval=i.meter.interval,
                registers=tuple(kinds_by_meter[i.meter_id]),
                installed_on=i.installed_on,
                removed_on=i.removed_on,
                initial_values={str(k): str(v) for k, v in (i.initial_values or {}).items()},
                final_values={str(k): str(v) for k, v in (i.final_values or {}).items()},
            )
        )
    service_points = tuple(
        ServicePointInfo(
            number=sp.number,
            address=sp.address,
            region=sp.region.name,
            route=f"{sp.route.code} {sp.route.name}" if sp.route else "",
            transformer_area=f"{sp.transformer_area.code} {sp.transformer_area.name}"
            if sp.transformer_area
            else "",
            voltage_kv=sp.voltage_kv,
            capacity_kva=sp.capacity_kva,
            contract_kw=sp.contract_kw,
            pf_standard=sp.pf_standard,
            lat=sp.lat,
            lon=sp.lon,
            installations=tuple(insts_by_sp[sp.pk]),
        )
        for sp in sps
    )

    # Readings of those registers while the meter was installed here: one query.
    serial_by_meter = {i.meter_id: i.meter.serial for i in insts}
    windows: dict[int, list[tuple[date, date | None]]] = defaultdict(list)
    for i in insts:
        windows[i.meter_id].append((i.installed_on, i.removed_on))
    since = _month_add(date(as_of.year, as_of.month, 1), -READING_MONTHS)
    readings: list[ReadingRow] = []
    for reg_id, read_on, value, consumption, source, status in (
        RegisterReading.objects.filter(register_id__in=register_meta, read_on__gte=since)
        .order_by("-read_on", "register_id")
        .values_list("register_id", "read_on", "value", "consumption", "source", "status")
    ):
        meter_id, kind = register_meta[reg_id]
        if not any(start <= read_on and (end is None or read_on <= end) for start, end in windows[meter_id]):
            continue
        readings.append(
            ReadingRow(
                read_on=read_on,
                meter_serial=serial_by_meter[meter_id],
                register_kind=kind,
                value=value,
                consumption=consumption,
                source=source,
                status=status,
            )
        )
    series = monthly_consumption(readings)

    bills = tuple(
        BillRow(
            id=b.pk,
            period=b.period,
            version=b.version,
            status=b.status,
            status_label=_label(Bill, "status", b.status),
            kwh=b.kwh,
            total=b.total,
            due_on=b.due_on,
            hold_reason=b.hold_reason,
        )
        for b in Bill.objects.filter(account_id=account.pk).order_by("-period", "-version")
    )

    entries = list(ledger_queries.entries(account_id=account.pk).select_related("bill"))
    running = Decimal("0.00")
    ledger: list[LedgerRow] = []
    kind_labels = dict(entries[0]._meta.get_field("kind").choices or []) if entries else {}
    for e in entries:
        running += e.amount
        ledger.append(
            LedgerRow(
                posted_at=e.posted_at,
                kind=e.kind,
                kind_label=str(kind_labels.get(e.kind, e.kind)),
                amount=e.amount,
                balance=running,
                memo=e.memo,
                bill_period=e.bill.period if e.bill else "",
            )
        )
    return Customer360(
        customer=customer,
        account=account_info,
        service_points=service_points,
        readings=tuple(readings),
        consumption=series,
        bills=bills,
        ledger=tuple(ledger[-LEDGER_ROWS:]),
        ledger_count=len(ledger),
        balance=ledger_queries.balance(account_id=account.pk),
    )


def monthly_consumption(readings: list[ReadingRow]) -> ConsumptionSeries:
    """Sum the consumption of billable readings (valid / estimated) per month of ``read_on`` and register
    kind; energy registers only (not maximum demand)."""
    billable = {ReadingStatus.VALID.value, ReadingStatus.ESTIMATED.value}
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    months: set[str] = set()
    kinds: set[str] = set()
    for r in readings:
        if r.status not in billable or r.consumption is None or r.register_kind not in CUMULATIVE_KINDS:
            continue
        month = period_text(r.read_on)
        sums[(month, r.register_kind)] += r.consumption
        months.add(month)
        kinds.add(r.register_kind)
    ordered_months = tuple(sorted(months))
    kind_order = [k.value for k in RegisterKind if k.value in kinds]
    return ConsumptionSeries(
        months=ordered_months,
        series=tuple((k, tuple(sums.get((m, k)) for m in ordered_months)) for k in kind_order),
    )


@dataclass(frozen=True)
class LineRow:
    seq: int
    code: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal


def bill_lines(*, bill_id: int) -> tuple[LineRow, ...]:
    """The lines of a bill (fetched by the caller through its scoped bill queryset)."""
    return tuple(
        LineRow(**row)
        for row in BillLine.objects.filter(bill_id=bill_id)
        .order_by("seq")
        .values("seq", "code", "description", "quantity", "unit", "rate", "amount")
    )
