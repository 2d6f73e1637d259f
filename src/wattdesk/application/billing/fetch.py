"""Reads of the billing run: everything a batch of accounts needs, in a fixed number of bulk queries.

Fetch, then calculate: these functions return plain tuples / dataclasses; nothing here rates or writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q

from wattdesk.core.money import round_fen
from wattdesk.domain import sql
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import Account, Customer, ServicePoint
from wattdesk.domain.metering.models import (
    MeterInstallation,
    ReadingException,
)
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

CHUNK = 10_000  # ids per IN (...) list, under SQLite's and PostgreSQL's parameter limits


def chunked(items: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- scope of a run ----------------------------------------------------------------------------------------


def candidate_accounts(
    *, period: str, month_start: date, latest_end: date, route_id: int | None
) -> tuple[list[int], int]:
    """(ids of accounts to bill, ordered; number of accounts in scope that already have a live bill).

    In scope: opened before the latest possible period end, not closed before the month began, with a
    service point (on ``route_id`` when given). The exact per-account window (billing day) is checked later.
    """
    sp = ServicePoint.objects.filter(account_id=OuterRef("pk"))
    if route_id is not None:
        sp = sp.filter(route_id=route_id)
    live = Bill.objects.filter(account_id=OuterRef("pk"), period=period).exclude(status=BillStatus.CANCELLED)
    scope = (
        Account.objects.filter(opened_on__lt=latest_end)
        .filter(Q(closed_on__isnull=True) | Q(closed_on__gte=month_start))
        .filter(Exists(sp))
        .annotate(billed=Exists(live))
    )
    ids: list[int] = []
    already = 0
    for acc_id, billed in scope.order_by("id").values_list("id", "billed").iterator(chunk_size=50_000):
        if billed:
            already += 1
        else:
            ids.append(acc_id)
    return ids, already


def blocked_accounts(*, period: str, month_start: date, latest_end: date) -> set[int]:
    """Accounts with an unresolved blocking (severity error) ReadingException for the period."""
    meter_ids = set(
        ReadingException.objects.filter(period=period, resolved=False, severity="error").values_list(
            "meter_id", flat=True
        )
    )
    if not meter_ids:
        return set()
    out: set[int] = set()
    for part in chunked(sorted(meter_ids)):
        out.update(
            MeterInstallation.objects.filter(meter_id__in=part, installed_on__lt=latest_end)
            .filter(Q(removed_on__isnull=True) | Q(removed_on__gte=month_start))
            .values_list("service_point__account_id", flat=True)
        )
    return out


# --- per batch: raw SQL over a range of account ids -------------------------------------------------------
# The batch's accounts are a slice of an id-ordered list, so every per-batch query selects
# ``account_id BETWEEN lo AND hi`` (an index range scan) and the caller ignores accounts outside the batch.
# Raw SQL here, for speed at a million accounts: no per-parameter preparation of 10,000-long IN lists and no
# per-value converters. Table and column names come from the models' _meta so they cannot drift.


_t, _c, _qty = sql.table, sql.col, sql.read_qty  # the raw-SQL helpers the consumption query uses too


def read_money(x: Any) -> Decimal:
    """A money column as the driver returns it (SQLite: float or int; PostgreSQL: Decimal), exact."""
    if isinstance(x, Decimal):
        return x
    return round_fen(Decimal(repr(x) if isinstance(x, float) else x))


_money = read_money  # the name the rounding-path tests check


def _date(x: Any) -> date | None:
    if x is None or isinstance(x, date):
        return x
    return date.fromisoformat(str(x))


def _day(x: Any) -> date:
    return x if isinstance(x, date) else date.fromisoformat(str(x))


@dataclass(frozen=True, slots=True)
class SpRow:
    sp_id: int
    account_id: int
    account_number: str
    customer_class: str
    opened_on: date
    closed_on: date | None
    billing_day: int
    capacity_kva: Decimal | None
    contract_kw: Decimal | None
    pf_standard: Decimal | None


def service_points(*, lo: int, hi: int) -> list[SpRow]:
    """Service points of accounts lo..hi with what billing needs of the account and customer, by account."""
    sql = (
        f"SELECT sp.id, a.id, a.{_c(Account, 'number')}, c.{_c(Customer, 'customer_class')}, "
        f"a.{_c(Account, 'opened_on')}, a.{_c(Account, 'closed_on')}, a.{_c(Account, 'billing_day')}, "
        f"sp.{_c(ServicePoint, 'capacity_kva')}, sp.{_c(ServicePoint, 'contract_kw')}, "
        f"sp.{_c(ServicePoint, 'pf_standard')} "
        f"FROM {_t(ServicePoint)} sp JOIN {_t(Account)} a ON a.id = sp.{_c(ServicePoint, 'account')} "
        f"JOIN {_t(Customer)} c ON c.id = a.{_c(Account, 'customer')} "
        f"WHERE sp.{_c(ServicePoint, 'account')} BETWEEN %s AND %s AND a.id BETWEEN %s AND %s "
        "ORDER BY a.id, sp.id"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [lo, hi, lo, hi])
        return [
            SpRow(r[0], r[1], r[2], r[3], _day(r[4]), _date(r[5]), r[6], _qty(r[7]), _qty(r[8]), _qty(r[9]))
            for r in cur.fetchall()
        ]


def assignments(*, lo: int, hi: int, on_or_before: date) -> dict[int, list[tuple[date, date | None, str]]]:
    """Tariff assignments (from, to, code) starting on or before a date, of the accounts' service points."""
    ta, sp = TariffAssignment, ServicePoint
    cols = f"t.{_c(ta, 'effective_from')}, t.{_c(ta, 'effective_to')}, t.{_c(ta, 'tariff_code')}"
    cond = f"t.{_c(ta, 'service_point')} = sp.id AND t.{_c(ta, 'effective_from')} <= %s"
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT sp.id, t.* FROM {_t(sp)} sp CROSS JOIN LATERAL "
            f"(SELECT {cols} FROM {_t(ta)} t WHERE {cond} OFFSET 0) t "
            f"WHERE sp.{_c(sp, 'account')} BETWEEN %s AND %s"
        )
        params: list[Any] = [connection.ops.adapt_datefield_value(on_or_before), lo, hi]
    else:
        sql = (
            f"SELECT sp.id, {cols} FROM {_t(sp)} sp JOIN {_t(ta)} t ON {cond} "
            f"WHERE sp.{_c(sp, 'account')} BETWEEN %s AND %s"
        )
        params = [connection.ops.adapt_datefield_value(on_or_before), lo, hi]
    out: dict[int, list[tuple[date, date | None, str]]] = defaultdict(list)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for sp_id, eff_from, eff_to, code in cur.fetchall():
            out[sp_id].append((_date(eff_from), _date(eff_to), code))  # type: ignore[arg-type]
    return out


def history(
    *, lo: int, hi: int, period: str, since_period: str
) -> dict[int, list[tuple[str, Decimal, Decimal]]]:
    """Live bills (period, kwh, total) of accounts lo..hi in [since_period, period), most recent first."""
    b = Bill
    sql = (
        f"SELECT {_c(b, 'account')}, {_c(b, 'period')}, {_c(b, 'kwh')}, {_c(b, 'total')} FROM {_t(b)} "
        f"WHERE {_c(b, 'account')} BETWEEN %s AND %s AND {_c(b, 'period')} >= %s AND {_c(b, 'period')} < %s "
        f"AND {_c(b, 'status')} <> %s ORDER BY {_c(b, 'account')}, {_c(b, 'period')} DESC"
    )
    out: dict[int, list[tuple[str, Decimal, Decimal]]] = defaultdict(list)
    with connection.cursor() as cur:
        cur.execute(sql, [lo, hi, since_period, period, str(BillStatus.CANCELLED)])
        for acc, p, kwh, total in cur.fetchall():
            out[acc].append((p, _qty(kwh), read_money(total)))  # type: ignore[arg-type]
    return out


def period_bills(*, lo: int, hi: int, period: str) -> dict[int, tuple[int, int, bool]]:
    """Per account lo..hi: (highest version, its bill id, whether a bill of the period is live)."""
    b = Bill
    sql = (
        f"SELECT {_c(b, 'account')}, id, {_c(b, 'version')}, {_c(b, 'status')} FROM {_t(b)} "
        f"WHERE {_c(b, 'account')} BETWEEN %s AND %s AND {_c(b, 'period')} = %s"
    )
    out: dict[int, tuple[int, int, bool]] = {}
    with connection.cursor() as cur:
        cur.execute(sql, [lo, hi, period])
        for acc, bill_id, version, status in cur.fetchall():
            live = status != BillStatus.CANCELLED
            cur_best = out.get(acc)
            if cur_best is None:
                out[acc] = (version, bill_id, live)
            else:
                best_v, best_id, any_live = cur_best
                if version > best_v:
                    best_v, best_id = version, bill_id
                out[acc] = (best_v, best_id, any_live or live)
    return out


def assignment_in_force(
    rows: Iterable[tuple[date, date | None, str]], on: date
) -> tuple[date, date | None, str] | None:
    """The assignment in force on ``on`` (latest effective_from wins if several overlap)."""
    best = None
    for row in rows:
        eff_from, eff_to, _code = row
        if eff_from <= on and (eff_to is None or eff_to > on) and (best is None or eff_from > best[0]):
            best = row
    return best


@dataclass(frozen=True, slots=True)
class TariffVersionRow:
    id: int
    code: str
    version: str
    effective_from: date
    effective_to: date | None
    document: Any


def tariff_versions() -> dict[str, list[TariffVersionRow]]:
    """All tariff versions by code, oldest first (a small table: loaded once per run)."""
    out: dict[str, list[TariffVersionRow]] = defaultdict(list)
    qs = TariffVersion.objects.order_by("code", "effective_from").values_list(
        "id", "code", "version", "effective_from", "effective_to", "document"
    )
    for r in qs:
        out[r[1]].append(TariffVersionRow(*r))
    return out


def version_in_force(versions: Sequence[TariffVersionRow], on: date) -> TariffVersionRow | None:
    best = None
    for v in versions:
        if v.effective_from <= on and (v.effective_to is None or v.effective_to > on):
            best = v
    return best
