"""Reads on collection: who collects on which route (催费员 → 抄表段) and one definition of "this collector's
debtors" (欠费户), used by the collector's phone screen (走收), by the worklist (催费工单) and by the check
that a collector may take cash on an account — so the two screens always list the same accounts.

* ``collector_accounts(user=, on=)``: the accounts a user collects on, on day ``on``: those of the reading
  routes assigned to them that day (``CollectorAssignment`` in force). Without an assignment that day, a
  collector (催费员 role) collects on nothing, and any other user who may collect (a supervisor or an
  administrator standing in) on every account of their access scope (``access.queries.accounts_for``).
* ``debtors(accounts=)``: those of the accounts that owe — a positive ledger balance — largest debt first, in
  one grouped query (no query per account).
* ``debtor_details(debtors=, on=)``: name, first address, open items (oldest due date, overdue part) of a
  page of debtors, in a fixed number of queries.
* ``route_assignments(on=)``: each route's collector in force on a day and its meter readers (抄表员, the
  routes of their ``StaffScope``), for the supervisor's assignment page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from wattdesk.domain.access import roles
from wattdesk.domain.access.models import StaffScope
from wattdesk.domain.access.queries import accounts_for, role_names
from wattdesk.domain.collection.models import CollectorAssignment
from wattdesk.domain.customers.models import Account, ReadingRoute, ServicePoint
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import id_list
from wattdesk.domain.payments import queries as payment_queries

ZERO = Decimal("0.00")


def in_force(on: date) -> Q:
    """Assignments in force on ``on`` (``to_date`` inclusive, open-ended when null)."""
    return Q(from_date__lte=on) & (Q(to_date__isnull=True) | Q(to_date__gte=on))


def assigned_route_ids(*, user: Any, on: date) -> list[int]:
    """Route ids assigned to the user (as collector) on ``on``."""
    return sorted(
        set(CollectorAssignment.objects.filter(in_force(on), user=user).values_list("route_id", flat=True))
    )


def works_by_assignment(user: Any) -> bool:
    """A collector (催费员) collects on their assigned routes; other staff who may collect do not need one."""
    return roles.COLLECTOR in role_names(user) and not user.is_superuser


def collector_accounts(*, user: Any, on: date) -> QuerySet[Account]:
    """The accounts ``user`` collects on, on ``on`` (see the module docstring)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Account.objects.none()
    routes = assigned_route_ids(user=user, on=on)
    if routes:
        return Account.objects.filter(
            pk__in=ServicePoint.objects.filter(route_id__in=routes).values("account_id")
        )
    if works_by_assignment(user):
        return Account.objects.none()
    return accounts_for(user)


@dataclass(frozen=True)
class Debtor:
    account_id: int
    account_number: str
    owed: Decimal  # the ledger balance, > 0


def debtors(*, accounts: QuerySet[Account]) -> list[Debtor]:
    """The accounts of ``accounts`` with a positive ledger balance, largest first (then by account number).

    One grouped query over the ledger; the balance is what the customer owes (charges and late fees less
    payments, with reversals), the amount a collector is asked to take."""
    qs = LedgerEntry.objects.all()
    if accounts.query.where:  # company-wide staff: no condition, no account subquery
        qs = qs.filter(account__in=accounts)
    rows = qs.values("account_id", "account__number").annotate(s=MoneySum("amount")).order_by()
    out = [
        Debtor(acc, number, s) for acc, number, s in rows.values_list("account_id", "account__number", "s")
    ]
    out = [d for d in out if d.owed > 0]
    out.sort(key=lambda d: (-d.owed, d.account_number))
    return out


@dataclass(frozen=True)
class DebtorDetail:
    account_id: int
    account_number: str
    customer_name: str
    address: str
    owed: Decimal  # ledger balance
    overdue: Decimal  # open items whose bill fell due before the day
    oldest_due_on: date | None  # the oldest due date of an open item
    items: int  # open items (bill charges and late fees)


def debtor_details(*, debtors: Sequence[Debtor], on: date) -> list[DebtorDetail]:
    """Details of ``debtors`` (one page of them), in their order, in a fixed number of queries."""
    ids = [d.account_id for d in debtors]
    if not ids:
        return []
    names = dict(Account.objects.filter(pk__in=id_list(ids)).values_list("pk", "customer__name"))
    addresses: dict[int, str] = {}
    for acc, address in (
        ServicePoint.objects.filter(account_id__in=id_list(ids))
        .order_by("account_id", "pk")
        .values_list("account_id", "address")
    ):
        addresses.setdefault(acc, address)
    items = payment_queries.open_items(ids)
    out = []
    for d in debtors:
        its = items.get(d.account_id, [])
        dues = [i.due_on for i in its if i.due_on is not None]
        out.append(
            DebtorDetail(
                account_id=d.account_id,
                account_number=d.account_number,
                customer_name=names.get(d.account_id, ""),
                address=addresses.get(d.account_id, ""),
                owed=d.owed,
                overdue=sum((i.outstanding for i in its if i.due_on is not None and i.due_on < on), ZERO),
                oldest_due_on=min(dues) if dues else None,
                items=len(its),
            )
        )
    return out


# --- the supervisor's view of the routes ---------------------------------------------------------------


@dataclass(frozen=True)
class RouteAssignment:
    route_id: int
    route_code: str
    route_name: str
    region: str
    collector: str  # username of the collector in force ("" when none)
    collector_from: date | None
    collector_to: date | None
    upcoming: tuple[tuple[str, date], ...]  # assignments starting after the day: (username, from)
    readers: tuple[str, ...]  # meter readers (抄表员) whose scope names the route


def route_assignments(*, on: date) -> list[RouteAssignment]:
    """Every reading route with its collector on ``on``, the assignments to come, and its meter readers."""
    current: dict[int, CollectorAssignment] = {}
    upcoming: dict[int, list[tuple[str, date]]] = defaultdict(list)
    for a in (
        CollectorAssignment.objects.filter(Q(to_date__isnull=True) | Q(to_date__gte=on))
        .select_related("user")
        .order_by("route_id", "from_date", "id")
    ):
        if a.from_date <= on:
            current[a.route_id] = a  # the latest start in force wins
        else:
            upcoming[a.route_id].append((a.user.get_username(), a.from_date))
    readers: dict[int, list[str]] = defaultdict(list)
    for route_id, username in (
        StaffScope.routes.through.objects.filter(staffscope__user__groups__name=roles.METER_READER)
        .order_by("staffscope__user__username")
        .values_list("readingroute_id", "staffscope__user__username")
        .distinct()
    ):
        readers[route_id].append(username)
    out = []
    for route in ReadingRoute.objects.select_related("region").order_by("code"):
        held = current.get(route.pk)
        out.append(
            RouteAssignment(
                route_id=route.pk,
                route_code=route.code,
                route_name=route.name,
                region=route.region.name,
                collector=held.user.get_username() if held else "",
                collector_from=held.from_date if held else None,
                collector_to=held.to_date if held else None,
                upcoming=tuple(upcoming.get(route.pk, [])),
                readers=tuple(readers.get(route.pk, [])),
            )
        )
    return out


def staff_with_role(role: str) -> QuerySet[Any]:
    """Active users holding ``role``, by username (the choices of the assignment page)."""
    return get_user_model().objects.filter(is_active=True, groups__name=role).order_by("username").distinct()
