"""Use cases: collection management and assessment (催费管理与考核).

* ``worklist(collector=, as_of=)``: the accounts on the routes assigned to the collector on ``as_of`` that have
  overdue debt, ordered by ``core.worklist`` (amount, age, risk, distance from the collector's base).
* ``record_visit``: a visit outcome, only on an account of the collector's routes (money itself is posted by
  ``application.payments.post_payment``).
* ``scorecards(period=, by=)``: KPIs per collector, route or region for a month, with ranking and a six-month
  trend of the recovery rate.
* ``recovery_by_collector(period=)`` / ``aging_by_collector(as_of=)``: the payments reports
  (``domain.payments.queries.recovery_rate`` / ``aging``) grouped by collector (the ``collector`` dimension of
  ``wattdesk collect recovery|aging --by`` and of the API).

KPI definitions (period P = one month [first day, first day of next month)):

* recovery rate (电费回收率): ``domain.payments.queries.recovery_rate`` of P — collected against P's bills /
  billed for P;
* arrears (欠费) at a date D: what is outstanding on D of the charges and late fees whose bill fell due
  before D (posted before D, less live allocations made before D); arrears reduction = arrears at the start of
  P - arrears at the start of the next month (positive: arrears went down);
* on-time collection: share of P's bills (unreversed charges) fully settled by allocations dated on or before
  the bill's due date;
* visits: visits made in P; complaints: complaints received in P.

An account belongs to the route of its first service point; a route to its collector for P
(``period_collectors``: the assignment in force on the last day of P, the latest when several are; else the
assignment that ended latest within P); a collector is ranked on the accounts of their routes, their own
visits and the complaints naming them. Ranking: recovery rate descending, then
arrears reduction descending, then on-time share descending, then key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery

from wattdesk.application.errors import InputError
from wattdesk.application.payments.posting import money
from wattdesk.application.periods import period_input
from wattdesk.core.money import quantize_ratio
from wattdesk.core.period import Period
from wattdesk.core.worklist import DEFAULT_POLICY, Candidate, WorkItem, WorklistPolicy, prioritize
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.billing.queries import latest_billed_period
from wattdesk.domain.collection import queries as collection_queries
from wattdesk.domain.collection.models import CollectorAssignment, Complaint, Visit, VisitOutcome
from wattdesk.domain.customers.models import Account, ReadingRoute, ServicePoint
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.domain.ledger.queries import id_list
from wattdesk.domain.payments import queries as pay_queries
from wattdesk.domain.payments.models import PaymentAllocation, PaymentStatus

ZERO = Decimal("0.00")
By = Literal["collector", "route", "region"]
GROUPINGS: tuple[By, ...] = ("collector", "route", "region")
TREND_PERIODS = 6
ITEM_KINDS = (LedgerEntryKind.CHARGE, LedgerEntryKind.LATE_FEE)


# --- helpers -----------------------------------------------------------------------------------------------


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class Place:
    route_id: int | None
    route: str
    region: str
    lat: float | None
    lon: float | None


def account_places(account_ids: Iterable[int] | None = None) -> dict[int, Place]:
    """Each account's route / region code and location (its first service point)."""
    qs = ServicePoint.objects.all()
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    out: dict[int, Place] = {}
    for acc, route_id, route, region, lat, lon in qs.order_by("account_id", "pk").values_list(
        "account_id", "route_id", "route__code", "region__code", "lat", "lon"
    ):
        if acc not in out:
            out[acc] = Place(
                route_id,
                route or "-",
                region or "-",
                None if lat is None else float(lat),
                None if lon is None else float(lon),
            )
    return out


_in_force = collection_queries.in_force


def assigned_routes(*, collector: Any, on: date) -> list[int]:
    """Route ids assigned to the collector on ``on``."""
    return collection_queries.assigned_route_ids(user=collector, on=on)


def period_collectors(*, period: str) -> dict[int, tuple[int, str]]:
    """route id -> (user id, username) of the route's collector for ``period``.

    The assignment in force on the period's last day (the latest one if several, as ``route_collectors``);
    a route whose assignment ended during the period keeps the collector who held it latest in the period;
    a route nobody was assigned to during the period has no collector.
    """
    start, end = period_input(period).bounds
    last_day = end - timedelta(days=1)
    best: dict[int, tuple[tuple[int, date, date, int], tuple[int, str]]] = {}
    for route_id, user_id, username, from_date, to_date, pk in CollectorAssignment.objects.filter(
        Q(from_date__lte=last_day) & (Q(to_date__isnull=True) | Q(to_date__gte=start))
    ).values_list("route_id", "user_id", "user__username", "from_date", "to_date", "id"):
        # in force on the last day: latest start wins; otherwise the latest end, then the latest start
        if to_date is None or to_date >= last_day:
            rank = (1, from_date, from_date, pk)
        else:
            rank = (0, to_date, from_date, pk)
        if route_id not in best or rank > best[route_id][0]:
            best[route_id] = (rank, (user_id, username))
    return {route_id: owner for route_id, (_rank, owner) in best.items()}


def route_collectors(*, on: date) -> dict[int, tuple[int, str]]:
    """route id -> (user id, username) of the assignment in force on ``on`` (the latest one if several)."""
    out: dict[int, tuple[int, str]] = {}
    for route_id, user_id, username in (
        CollectorAssignment.objects.filter(_in_force(on))
        .order_by("route_id", "from_date", "id")
        .values_list("route_id", "user_id", "user__username")
    ):
        out[route_id] = (user_id, username)
    return out


# --- worklist ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorklistRow:
    rank: int
    account_number: str
    customer_name: str
    phone: str
    address: str
    route: str
    item: WorkItem  # score, amount due, days overdue, distance, breakdown
    last_visit: str  # outcome of the latest visit ('' if none)


def worklist(
    *,
    collector: Any,
    as_of: date,
    policy: WorklistPolicy = DEFAULT_POLICY,
    limit: int | None = None,
) -> list[WorklistRow]:
    """The collector's prioritized worklist on ``as_of``: the accounts 走收 lists for them — their debtors
    (``domain.collection.queries.collector_accounts`` and ``debtors``: the accounts of the routes assigned to
    them on ``as_of`` that owe) — scored on what they owe and how long it has been overdue (an account whose
    bill is not yet due scores no age)."""
    owing = collection_queries.debtors(
        accounts=collection_queries.collector_accounts(user=collector, on=as_of)
    )
    if not owing:
        return []
    account_ids = [d.account_id for d in owing]
    places = account_places(account_ids)
    details = {d.account_id: d for d in collection_queries.debtor_details(debtors=owing, on=as_of)}
    overdue = {
        acc: (d.owed, (as_of - d.oldest_due_on).days if d.oldest_due_on is not None else 0)
        for acc, d in details.items()
    }
    accounts = {
        a["id"]: a
        for a in Account.objects.filter(pk__in=id_list(account_ids)).values(
            "id", "number", "customer__name", "customer__phone", "customer__payment_profile"
        )
    }
    addresses = {acc: d.address for acc, d in details.items()}
    base = _base(collector=collector, on=as_of, places=[places[a] for a in account_ids if a in places])
    candidates = []
    number_to_id = {}
    for acc, (amount, days) in overdue.items():
        info = accounts[acc]
        profile = info["customer__payment_profile"] or {}
        risk = profile.get("risk") if isinstance(profile, dict) else None
        place = places.get(acc)
        candidates.append(
            Candidate(
                key=info["number"],
                amount_due=amount,
                days_overdue=days,
                risk=None if risk is None else min(1.0, max(0.0, float(risk))),
                lat=place.lat if place else None,
                lon=place.lon if place else None,
            )
        )
        number_to_id[info["number"]] = acc
    items = prioritize(candidates, base=base, policy=policy)
    if limit is not None:
        items = items[:limit]
    ids = [number_to_id[i.key] for i in items]
    last: dict[int, str] = {}
    for acc, outcome in (
        Visit.objects.filter(account_id__in=ids)
        .order_by("account_id", "visited_at", "id")
        .values_list("account_id", "outcome")
    ):
        last[acc] = outcome
    rows = []
    for rank, item in enumerate(items, 1):
        acc = number_to_id[item.key]
        info = accounts[acc]
        place = places.get(acc)
        rows.append(
            WorklistRow(
                rank=rank,
                account_number=item.key,
                customer_name=info["customer__name"],
                phone=info["customer__phone"] or "",
                address=addresses.get(acc, ""),
                route=place.route if place else "-",
                item=item,
                last_visit=last.get(acc, ""),
            )
        )
    return rows


def _base(*, collector: Any, on: date, places: Sequence[Place]) -> tuple[float, float] | None:
    """The collector's base: from the assignment in force, else the centroid of the route's premises."""
    row = (
        CollectorAssignment.objects.filter(
            _in_force(on), user=collector, base_lat__isnull=False, base_lon__isnull=False
        )
        .order_by("-from_date", "-id")
        .values_list("base_lat", "base_lon")
        .first()
    )
    if row is not None and row[0] is not None and row[1] is not None:
        return float(row[0]), float(row[1])
    located = [(p.lat, p.lon) for p in places if p.lat is not None and p.lon is not None]
    if not located:
        return None
    return (
        sum(p[0] for p in located if p[0] is not None) / len(located),
        sum(p[1] for p in located if p[1] is not None) / len(located),
    )


# --- visits ------------------------------------------------------------------------------------------------


def record_visit(
    *,
    collector: Any,
    account_number: str,
    visited_at: datetime,
    outcome: str,
    promised_on: date | None = None,
    amount_collected: Any = "0",
    note: str = "",
) -> Visit:
    """Record one visit outcome. The account must be on a route assigned to the collector that day."""
    if outcome not in VisitOutcome.values:
        raise InputError(f"unknown outcome {outcome!r}: use one of {', '.join(VisitOutcome.values)}")
    if visited_at.tzinfo is None:
        raise InputError("visited_at must be timezone-aware")
    day = visited_at.astimezone(_tz()).date()
    if outcome == VisitOutcome.PROMISED:
        if promised_on is None:
            raise InputError("a promise to pay needs the promised date")
        if promised_on < day:
            raise InputError("the promised date must not be before the visit")
    else:
        promised_on = None
    amount = money(amount_collected or "0", name="amount collected", allow_zero=True)
    routes = assigned_routes(collector=collector, on=day)
    account = (
        Account.objects.filter(number=account_number, service_points__route_id__in=routes).only("id").first()
    )
    if account is None:
        raise InputError(f"account {account_number!r} is not on your routes")
    with transaction.atomic():
        return Visit.objects.create(
            collector=collector,
            account=account,
            visited_at=visited_at,
            outcome=outcome,
            promised_on=promised_on,
            amount_collected=amount,
            note=(note or "").strip()[:300],
        )


# --- scorecards --------------------------------------------------------------------------------------------


@dataclass
class Kpi:
    key: str
    label: str
    billed: Decimal = ZERO
    collected: Decimal = ZERO
    arrears_start: Decimal = ZERO
    arrears_end: Decimal = ZERO
    bills: int = 0
    bills_on_time: int = 0
    visits: int = 0
    complaints: int = 0
    accounts: int = 0
    rank: int = 0
    parent: str = ""  # region of a route, region of a collector's first route

    @property
    def recovery_rate(self) -> Decimal:
        return pay_queries.recovery_ratio(self.collected, self.billed)

    @property
    def arrears_reduction(self) -> Decimal:
        return self.arrears_start - self.arrears_end

    @property
    def on_time_share(self) -> Decimal:
        return (
            quantize_ratio(Decimal(self.bills_on_time), Decimal(self.bills))
            if self.bills
            else Decimal("0.0000")
        )


@dataclass
class Scorecards:
    period: str
    by: By
    rows: list[Kpi]
    total: Kpi
    trend_periods: list[str] = field(default_factory=list)
    trend: dict[str, list[Decimal]] = field(default_factory=dict)  # key -> recovery rate per trend period


def _arrears(day: date) -> dict[int, Decimal]:
    """account id -> arrears at the start of ``day``: overdue items posted before, less allocations before."""
    cutoff = datetime.combine(day, time.min, tzinfo=_tz())
    owed = dict(
        LedgerEntry.objects.filter(
            kind__in=ITEM_KINDS, bill__isnull=False, bill__due_on__lt=day, posted_at__lt=cutoff
        )
        .filter(Q(reversed_by__isnull=True) | Q(reversed_by__posted_at__gte=cutoff))
        .values("account_id")
        .annotate(s=MoneySum("amount"))
        .values_list("account_id", "s")
    )
    paid = dict(
        PaymentAllocation.objects.filter(
            ledger_entry__bill__due_on__lt=day,
            ledger_entry__posted_at__lt=cutoff,
            allocated_on__lt=day,
            payment__status=PaymentStatus.POSTED,
        )
        .filter(
            Q(ledger_entry__reversed_by__isnull=True) | Q(ledger_entry__reversed_by__posted_at__gte=cutoff)
        )
        .values("ledger_entry__account_id")
        .annotate(s=MoneySum("amount"))
        .values_list("ledger_entry__account_id", "s")
    )
    out = {}
    for acc, s in owed.items():
        left = s - paid.get(acc, ZERO)
        if left > 0:
            out[acc] = left
    return out


def _billed_collected(period: str) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """Per account: billed for ``period`` and collected against it (recovery_rate's definition)."""
    billed = dict(
        LedgerEntry.objects.filter(kind=LedgerEntryKind.CHARGE, bill__period=period, reversed_by__isnull=True)
        .values("account_id")
        .annotate(s=MoneySum("amount"))
        .values_list("account_id", "s")
    )
    collected = dict(
        PaymentAllocation.objects.filter(
            kind=LedgerEntryKind.CHARGE,
            ledger_entry__bill__period=period,
            ledger_entry__reversed_by__isnull=True,
            payment__status=PaymentStatus.POSTED,
        )
        .values("ledger_entry__account_id")
        .annotate(s=MoneySum("amount"))
        .values_list("ledger_entry__account_id", "s")
    )
    return billed, collected


def _on_time(period: str) -> tuple[dict[int, int], dict[int, int]]:
    """Per account: number of the period's bills, and of those fully paid by their due date."""
    charges = list(
        LedgerEntry.objects.filter(
            kind=LedgerEntryKind.CHARGE,
            bill__period=period,
            reversed_by__isnull=True,
            bill__due_on__isnull=False,
        ).values_list("id", "account_id", "amount")
    )
    paid = dict(
        PaymentAllocation.objects.filter(
            kind=LedgerEntryKind.CHARGE,
            ledger_entry__bill__period=period,
            ledger_entry__reversed_by__isnull=True,
            payment__status=PaymentStatus.POSTED,
            allocated_on__lte=F("ledger_entry__bill__due_on"),
        )
        .values("ledger_entry_id")
        .annotate(s=MoneySum("amount"))
        .values_list("ledger_entry_id", "s")
    )
    bills: dict[int, int] = defaultdict(int)
    on_time: dict[int, int] = defaultdict(int)
    for entry_id, acc, amount in charges:
        bills[acc] += 1
        if paid.get(entry_id, ZERO) >= amount:
            on_time[acc] += 1
    return bills, on_time


def _check_by(by: str) -> By:
    if by not in GROUPINGS:
        raise InputError(f"unknown grouping {by!r}: use one of {', '.join(GROUPINGS)}")
    return by


def _keys_for(by: By, place: Place | None, owners: dict[int, tuple[int, str]]) -> str | None:
    if place is None:
        return None
    if by == "route":
        return place.route
    if by == "region":
        return place.region
    owner = owners.get(place.route_id) if place.route_id is not None else None
    return owner[1] if owner else None


def scorecards(
    *,
    period: str,
    by: str = "collector",
    region: str | None = None,
    route: str | None = None,
    trend: bool = True,
) -> Scorecards:
    """KPI scorecards of ``period`` grouped ``by`` collector, route or region, ranked, with a 6-month trend.

    ``region`` / ``route`` restrict the rows to one region or route (drill-down).
    """
    dim = _check_by(by)
    start, end = period_input(period).bounds
    places = account_places()
    owners = period_collectors(period=period)

    def key_of(acc: int) -> str | None:
        place = places.get(acc)
        if place is None:
            return None
        if region and place.region != region:
            return None
        if route and place.route != route:
            return None
        return _keys_for(dim, place, owners)

    rows: dict[str, Kpi] = {}

    def row(key: str) -> Kpi:
        if key not in rows:
            rows[key] = Kpi(key=key, label=key)
        return rows[key]

    for acc in places:
        k = key_of(acc)
        if k is not None:
            r = row(k)
            r.accounts += 1
            if not r.parent:
                r.parent = places[acc].region
    billed, collected = _billed_collected(period)
    for acc, s in billed.items():
        if (k := key_of(acc)) is not None:
            row(k).billed += s
    for acc, s in collected.items():
        if (k := key_of(acc)) is not None:
            row(k).collected += s
    for acc, s in _arrears(start).items():
        if (k := key_of(acc)) is not None:
            row(k).arrears_start += s
    for acc, s in _arrears(end).items():
        if (k := key_of(acc)) is not None:
            row(k).arrears_end += s
    n_bills, n_on_time = _on_time(period)
    for acc, n in n_bills.items():
        if (k := key_of(acc)) is not None:
            row(k).bills += n
            row(k).bills_on_time += n_on_time.get(acc, 0)
    t0 = datetime.combine(start, time.min, tzinfo=_tz())
    t1 = datetime.combine(end, time.min, tzinfo=_tz())
    _count_events(
        dim,
        Visit.objects.filter(visited_at__gte=t0, visited_at__lt=t1),
        key_of,
        row,
        "visits",
        region,
        route,
        places,
        owners,
    )
    _count_events(
        dim,
        Complaint.objects.filter(received_at__gte=t0, received_at__lt=t1),
        key_of,
        row,
        "complaints",
        region,
        route,
        places,
        owners,
    )
    if dim == "collector":
        names = {
            u["username"]: (f"{u['last_name']}{u['first_name']}".strip() or u["username"])
            for u in get_user_model()
            .objects.filter(username__in=list(rows))
            .values("username", "first_name", "last_name")
        }
        for r in rows.values():
            r.label = names.get(r.key, r.key)
    ranked = sorted(
        rows.values(), key=lambda r: (-r.recovery_rate, -r.arrears_reduction, -r.on_time_share, r.key)
    )
    for i, r in enumerate(ranked, 1):
        r.rank = i
    total = Kpi(key="all", label="all")
    for r in ranked:
        total.billed += r.billed
        total.collected += r.collected
        total.arrears_start += r.arrears_start
        total.arrears_end += r.arrears_end
        total.bills += r.bills
        total.bills_on_time += r.bills_on_time
        total.visits += r.visits
        total.complaints += r.complaints
        total.accounts += r.accounts
    result = Scorecards(period=period, by=dim, rows=ranked, total=total)
    if trend:
        result.trend_periods = [str(p) for p in period_input(period).back(TREND_PERIODS)]
        series: dict[str, list[Decimal]] = {r.key: [] for r in ranked}
        series["all"] = []
        for p in result.trend_periods:
            b, c = _billed_collected(p)
            bs: dict[str, Decimal] = defaultdict(lambda: ZERO)
            cs: dict[str, Decimal] = defaultdict(lambda: ZERO)
            for acc, s in b.items():
                if (k := key_of(acc)) is not None:
                    bs[k] += s
                    bs["all"] += s
            for acc, s in c.items():
                if (k := key_of(acc)) is not None:
                    cs[k] += s
                    cs["all"] += s
            for k in series:
                series[k].append(pay_queries.recovery_ratio(cs[k], bs[k]))
        result.trend = series
    return result


def _count_events(
    dim: By,
    qs: Any,
    key_of: Any,
    row: Any,
    attr: str,
    region: str | None,
    route: str | None,
    places: dict[int, Place],
    owners: dict[int, tuple[int, str]],
) -> None:
    """Visits / complaints: by the account's route or region; by the named collector for collectors."""
    if dim != "collector":
        for acc, n in qs.values("account_id").annotate(n=Count("id")).values_list("account_id", "n"):
            if (k := key_of(acc)) is not None:
                setattr(row(k), attr, getattr(row(k), attr) + n)
        return
    allowed = None
    if region or route:
        info = {p.route_id: p for p in places.values() if p.route_id is not None}
        allowed = {
            owner[1]
            for rid, owner in owners.items()
            if rid in info
            and (not region or info[rid].region == region)
            and (not route or info[rid].route == route)
        }
    for username, n in (
        qs.filter(collector__isnull=False)
        .values("collector__username")
        .annotate(n=Count("id"))
        .values_list("collector__username", "n")
    ):
        if allowed is not None and username not in allowed:
            continue
        setattr(row(username), attr, getattr(row(username), attr) + n)


def collectors_period_default(today: date) -> str:
    """The default scorecard period: the latest period with issued bills (a recovery rate needs bills that were
    sent out: the previous calendar month may not be billed yet, and a period just billed, still in draft, has
    collected nothing yet), else the latest billed period, else the last complete month before ``today``."""
    latest = latest_billed_period(Bill.objects.filter(status=BillStatus.ISSUED)) or latest_billed_period()
    return latest if latest is not None else str(Period.of(today).previous())


# --- recovery rate and aging by collector ------------------------------------------------------------------

NO_COLLECTOR = "-"


def _route_of(account_path: str) -> Subquery:
    """The route id of the account's first service point (the rule of ``account_places``)."""
    sp = ServicePoint.objects.filter(account_id=OuterRef(account_path)).order_by("pk").values("route_id")[:1]
    return Subquery(sp)


def _by_route(qs: Any, account_path: str) -> dict[int | None, Decimal]:
    rows = (
        qs.annotate(route_key=_route_of(account_path))
        .values("route_key")
        .annotate(s=MoneySum("amount"))
        .values_list("route_key", "s")
    )
    return {route_id: s for route_id, s in rows}


def recovery_by_collector(*, period: str, as_of: date | None = None) -> list[pay_queries.RecoveryRow]:
    """电费回收率 of ``period`` by collector: ``recovery_rate``'s billed and collected (same definition, same
    ``as_of`` cut-off) summed over the accounts of the routes each collector holds for the period
    (``period_collectors``). Accounts of a route without a collector, or without a route, are under ``"-"``.
    Rows sorted by username, then a final ``"all"`` row (equal to ``recovery_rate(period=)``'s)."""
    period_input(period)
    billed_qs, coll_qs = pay_queries.recovery_querysets(period=period, as_of=as_of)
    owners = period_collectors(period=period)

    def key(route_id: int | None) -> str:
        owner = owners.get(route_id) if route_id is not None else None
        return owner[1] if owner else NO_COLLECTOR

    billed: dict[str, Decimal] = defaultdict(lambda: ZERO)
    collected: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for route_id, s in _by_route(billed_qs, "account_id").items():
        billed[key(route_id)] += s
    for route_id, s in _by_route(coll_qs, "ledger_entry__account_id").items():
        collected[key(route_id)] += s
    rows = [
        pay_queries.recovery_row(k, billed[k], collected[k]) for k in sorted(set(billed) | set(collected))
    ]
    rows.append(pay_queries.recovery_row("all", sum(billed.values(), ZERO), sum(collected.values(), ZERO)))
    return rows


def aging_by_collector(*, as_of: date) -> list[pay_queries.AgingRow]:
    """账龄 on ``as_of`` by collector: ``aging(by="route")`` summed over the routes each collector is assigned
    on ``as_of`` (``route_collectors``); routes without a collector and accounts without a route are
    under ``"-"``. Sorted by username."""
    owners = route_collectors(on=as_of)
    code_to_id = {code: pk for pk, code in ReadingRoute.objects.values_list("pk", "code")}
    table: dict[str, dict[str, Decimal]] = {}
    for row in pay_queries.aging(as_of=as_of, by="route"):
        route_id = code_to_id.get(row.key)
        owner = owners.get(route_id) if route_id is not None else None
        buckets = table.setdefault(
            owner[1] if owner else NO_COLLECTOR, dict.fromkeys(pay_queries.BUCKETS, ZERO)
        )
        for b, amount in row.buckets.items():
            buckets[b] += amount
    return [pay_queries.AgingRow(k, v, sum(v.values(), ZERO)) for k, v in sorted(table.items())]
