"""Reads on receivables: open items, credits, aging (账龄) and the recovery rate (电费回收率).

Open items are derived, never stored: an item is an unreversed ``charge`` or ``late_fee`` ledger entry of a
bill, and its outstanding amount is the entry's amount minus the *live* allocations to it (allocations whose
payment is still ``posted``). A payment's credit is its amount minus its live allocations to unreversed
entries. So, per account, ``ledger balance == sum(outstanding) - sum(credit)`` as long as the account's
entries are charges, late fees, payments and their reversals (adjustments, refunds and write-offs are not
allocated yet).

Every function reads in a fixed number of queries per chunk of accounts (no N+1).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.db import connection, transaction
from django.db.models import Max, Min, OuterRef, Q, QuerySet, Subquery

from wattdesk.core.allocation import OpenItem
from wattdesk.core.money import quantize_ratio, round_fen
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.customers.models import Account, ServicePoint
from wattdesk.domain.fields import MoneySum
from wattdesk.domain.ledger.models import LedgerEntry, LedgerEntryKind
from wattdesk.domain.ledger.queries import id_list, id_set
from wattdesk.domain.payments.models import Payment, PaymentAllocation, PaymentStatus

ZERO = Decimal("0.00")
CHUNK = 5000
Dimension = Literal["region", "route", "class"]
DIMENSIONS: tuple[Dimension, ...] = ("region", "route", "class")
BUCKETS: tuple[str, ...] = ("not_due", "0-30", "31-60", "61-90", "91-180", ">180")
ITEM_KINDS = (LedgerEntryKind.CHARGE, LedgerEntryKind.LATE_FEE)


class UnknownDimension(ValueError):
    """``by`` is not one of region, route, class."""


@dataclass(frozen=True)
class Credit:
    payment_id: int
    account_id: int
    received_on: date
    remaining: Decimal


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    unique = sorted(set(ids))
    for i in range(0, len(unique), CHUNK):
        yield unique[i : i + CHUNK]


def _live_paid(entry_ids: Iterable[int]) -> dict[int, Decimal]:
    rows = (
        PaymentAllocation.objects.filter(
            ledger_entry_id__in=id_list(entry_ids), payment__status=PaymentStatus.POSTED
        )
        .values("ledger_entry_id")
        .annotate(s=MoneySum("amount"))
        .values_list("ledger_entry_id", "s")
    )
    return dict(rows)


def open_items(account_ids: Sequence[int]) -> dict[int, list[OpenItem]]:
    """Each account's open items (outstanding > 0); accounts without any are absent."""
    result: dict[int, list[OpenItem]] = defaultdict(list)
    for part in _chunks(account_ids):
        rows = list(
            LedgerEntry.objects.filter(
                account_id__in=id_list(part),
                kind__in=ITEM_KINDS,
                bill__isnull=False,
                reversed_by__isnull=True,
            )
            .order_by("id")
            .values_list("id", "account_id", "kind", "amount", "bill_id", "bill__due_on", "bill__period")
        )
        paid: dict[int, Decimal] = {}
        for i in range(0, len(rows), CHUNK):
            paid.update(_live_paid(r[0] for r in rows[i : i + CHUNK]))
        for entry_id, account_id, kind, amount, bill_id, due_on, period in rows:
            left = amount - paid.get(entry_id, ZERO)
            if left > 0:
                result[account_id].append(OpenItem(entry_id, bill_id, kind, due_on, period, left))  # type: ignore[arg-type]
    return dict(result)


def open_items_among(rows: Sequence[ItemRow]) -> dict[int, list[OpenItem]]:
    """The open items among candidate rows of :func:`possibly_open_items` (exact: live allocations), by
    account, in entry order. Equal to :func:`open_items` of those accounts when ``rows`` holds every row the
    scan returned for them (their open items are among those rows), without reading their settled history."""
    result: dict[int, list[OpenItem]] = defaultdict(list)
    ordered = sorted(rows, key=lambda r: r.entry_id)
    paid: dict[int, Decimal] = {}
    for i in range(0, len(ordered), CHUNK):
        paid.update(_live_paid(r.entry_id for r in ordered[i : i + CHUNK]))
    for r in ordered:
        left = r.amount - paid.get(r.entry_id, ZERO)
        if left > 0:
            result[r.account_id].append(OpenItem(r.entry_id, r.bill_id, r.kind, r.due_on, r.period, left))  # type: ignore[arg-type]
    return dict(result)


def credits(account_ids: Sequence[int]) -> dict[int, list[Credit]]:
    """Each account's posted payments with unallocated money, oldest first; accounts without are absent."""
    result: dict[int, list[Credit]] = defaultdict(list)
    for part in _chunks(account_ids):
        payments = list(
            Payment.objects.filter(account_id__in=id_list(part), status=PaymentStatus.POSTED)
            .order_by("received_at", "id")
            .values_list("id", "account_id", "received_on", "amount")
        )
        used = dict(
            PaymentAllocation.objects.filter(
                payment__account_id__in=id_list(part),
                payment__status=PaymentStatus.POSTED,
                ledger_entry__reversed_by__isnull=True,
            )
            .values("payment_id")
            .annotate(s=MoneySum("amount"))
            .values_list("payment_id", "s")
        )
        for payment_id, account_id, received_on, amount in payments:
            left = amount - used.get(payment_id, ZERO)
            if left > 0:
                result[account_id].append(Credit(payment_id, account_id, received_on, left))
    return dict(result)


@dataclass
class Receivables:
    """One account's open items (entry order), credits (oldest first) and ledger balance, read together."""

    items: list[OpenItem]
    credits: list[Credit]
    balance: Decimal


def receivables(account_ids: Sequence[int]) -> dict[int, Receivables]:
    """:func:`open_items`, :func:`credits` and the ledger balance (``ledger.queries.balance``) of each account
    in one statement per chunk (posting one payment, or a batch, reads this once). Same definitions: an
    item's outstanding is its amount minus the live allocations to it (payment posted), a credit is a posted
    payment's amount minus its allocations to unreversed entries. Money is summed in integer fen, exact on
    both engines. Every account asked for is in the result."""
    result = {a: Receivables([], [], ZERO) for a in account_ids}
    items: list[tuple[int, int, OpenItem]] = []
    found: list[tuple[int, Any, int, Credit]] = []
    with connection.cursor() as cur:
        for part in _chunks(account_ids):
            marks, arg = id_set(part)
            cur.execute(_receivables_sql().format(ids=marks), [arg, arg, arg])
            for tag, account_id, pk, kind, amount, bill_id, day, period, at, used in cur.fetchall():
                if tag == "b":
                    result[account_id].balance += _fen(amount)
                    continue
                left = (amount or 0) - (used or 0)
                if left <= 0:
                    continue
                if tag == "i":
                    items.append(
                        (account_id, pk, OpenItem(pk, bill_id, kind, _date(day), period, _fen(left)))
                    )
                else:
                    found.append((account_id, at, pk, Credit(pk, account_id, _date(day), _fen(left))))  # type: ignore[arg-type]
    for account_id, _, item in sorted(items, key=lambda r: r[1]):
        result[account_id].items.append(item)
    for account_id, _, _, credit in sorted(found, key=lambda r: (r[1], r[2])):
        result[account_id].credits.append(credit)
    return result


@functools.cache
def _receivables_sql() -> str:
    """The statement of :func:`receivables`, ``{ids}`` standing for the id set (built once per process)."""
    qn = connection.ops.quote_name
    le, pa, pay, bill = (
        qn(LedgerEntry._meta.db_table),
        qn(PaymentAllocation._meta.db_table),
        qn(Payment._meta.db_table),
        qn(Bill._meta.db_table),
    )
    fen = "CAST(ROUND({} * 100) AS BIGINT)"
    posted = PaymentStatus.POSTED.value
    kinds = ", ".join(f"'{k}'" for k in ITEM_KINDS)
    sql = f"""
        SELECT 'i', c.account_id, c.id, c.kind, {fen.format("c.amount")}, c.bill_id, b.due_on, b.period, NULL,
               (SELECT SUM({fen.format("a.amount")}) FROM {pa} a JOIN {pay} p ON p.id = a.payment_id
                WHERE a.ledger_entry_id = c.id AND p.status = '{posted}')
        FROM {le} c JOIN {bill} b ON b.id = c.bill_id
        WHERE c.account_id IN ({{ids}}) AND c.kind IN ({kinds})
          AND NOT EXISTS (SELECT 1 FROM {le} r WHERE r.reverses_id = c.id)
        UNION ALL
        SELECT 'c', p.account_id, p.id, NULL, {fen.format("p.amount")}, NULL, p.received_on, NULL, p.received_at,
               (SELECT SUM({fen.format("a.amount")}) FROM {pa} a
                WHERE a.payment_id = p.id
                  AND NOT EXISTS (SELECT 1 FROM {le} r WHERE r.reverses_id = a.ledger_entry_id))
        FROM {pay} p
        WHERE p.account_id IN ({{ids}}) AND p.status = '{posted}'
        UNION ALL
        SELECT 'b', e.account_id, NULL, NULL, SUM({fen.format("e.amount")}), NULL, NULL, NULL, NULL, NULL
        FROM {le} e WHERE e.account_id IN ({{ids}}) GROUP BY e.account_id
    """
    return sql


def _fen(value: Any) -> Decimal:
    """An integer number of fen (a ``CAST(ROUND(x * 100) AS BIGINT)``) as yuan."""
    return ZERO if value is None else Decimal(int(value)).scaleb(-2).quantize(Decimal("0.01"))


def accounts_with_credit(*, account_ids: Sequence[int] | None = None) -> list[int]:
    """Accounts that have a posted payment not fully allocated (candidates for applying credit).

    ``account_ids``: only among these (the nightly pass asks among the accounts that may owe something).
    Set-based in two steps, so the nightly pass does not sum every payment ever made: the database selects
    the posted payments that *may* have money left (the sum of all their allocations is below the amount,
    or one of their allocations went to an entry that was reversed since), per chunk of accounts or, for
    all accounts, per range of payment ids; then :func:`credits` checks those accounts exactly (live
    allocations only).
    """
    candidates: set[int] = set()
    qn = connection.ops.quote_name
    p, pa, le = Payment._meta.db_table, PaymentAllocation._meta.db_table, LedgerEntry._meta.db_table
    reversed_target = f"""
        OR p.id IN (SELECT a2.payment_id FROM {qn(pa)} a2
                    WHERE a2.ledger_entry_id IN (SELECT r.reverses_id FROM {qn(le)} r WHERE r.kind = %s))"""
    tail = [PaymentStatus.POSTED.value, LedgerEntryKind.REVERSAL.value]
    with connection.cursor() as cur:
        if account_ids is None:
            sql = f"""
                SELECT DISTINCT p.account_id
                FROM {qn(p)} p
                LEFT JOIN (
                    SELECT a.payment_id AS pid, SUM(a.amount) AS used
                    FROM {qn(pa)} a
                    WHERE a.payment_id > %s AND a.payment_id <= %s
                    GROUP BY a.payment_id
                ) s ON s.pid = p.id
                WHERE p.id > %s AND p.id <= %s AND p.status = %s
                  AND (s.pid IS NULL OR s.used < p.amount - {HALF_FEN} {reversed_target})
            """
            for lo, hi in _id_ranges(Payment):
                candidates.update(r[0] for r in _serial(cur, sql, [lo, hi, lo, hi, *tail]))
        else:
            for part in _chunks(account_ids):
                marks, arg = id_set(part)
                sql = f"""
                    SELECT DISTINCT p.account_id
                    FROM {qn(p)} p
                    LEFT JOIN (
                        SELECT a.payment_id AS pid, SUM(a.amount) AS used
                        FROM {qn(pa)} a JOIN {qn(p)} p2 ON p2.id = a.payment_id
                        WHERE p2.account_id IN ({marks})
                        GROUP BY a.payment_id
                    ) s ON s.pid = p.id
                    WHERE p.account_id IN ({marks}) AND p.status = %s
                      AND (s.pid IS NULL OR s.used < p.amount - {HALF_FEN} {reversed_target})
                """
                candidates.update(r[0] for r in _serial(cur, sql, [arg, arg, *tail]))
    return sorted(credits(sorted(candidates)))


#: a bound between "fully allocated" and "one fen short" that a floating-point SUM (SQLite) cannot cross
HALF_FEN = "0.005"
#: ids per range query of the set-based scans (a keyset over the primary key: bounded work per query)
ID_SPAN = 200_000


def _id_ranges(model: type[Any], span: int = ID_SPAN) -> Iterator[tuple[int, int]]:
    """Consecutive half-open ranges ``(lo, hi]`` covering every primary key of ``model``'s table."""
    bounds = model.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return
    lo = bounds["lo"] - 1
    while lo < bounds["hi"]:
        yield lo, lo + span
        lo += span


@dataclass(frozen=True)
class ItemRow:
    """An unreversed bill item (charge or late fee) that may be open, with what the nightly pass needs."""

    entry_id: int
    account_id: int
    kind: str
    amount: Decimal
    bill_id: int
    due_on: date | None
    period: str
    customer_class: str
    #: the item is returned only because of an allocation on this day (inside the catch-up window): it is
    #: fully paid and untouched by a reversed payment. None: it is returned whatever the window
    recent_until: date | None = None


def possibly_open_items(
    *,
    kinds: Sequence[str] = ITEM_KINDS,
    due_on_lte: date | None = None,
    allocated_since: date | None = None,
    recent_after_due_only: bool = False,
    span: int = ID_SPAN,
    entry_ids: Sequence[int] | None = None,
) -> Iterator[list[ItemRow]]:
    """Unreversed bill items of ``kinds`` that may be open, one list per range of bill ids (ascending).

    A superset, chosen in SQL so that settled history never reaches Python: an item is returned when the
    sum of its allocations is below its amount (no allocation, partly paid), when one of its allocations is
    on or after ``allocated_since`` (if given; with ``recent_after_due_only``, only an allocation made after
    the bill's due date counts: an item settled by its due date accrued nothing), or when it has an
    allocation from a payment that was reversed (that money no longer counts). Callers check the exact live
    outstanding themselves (:func:`_live_paid`, :func:`open_items`). ``due_on_lte``: only items of bills due
    on or before it.

    Each query covers one range of bill ids (keyset over the bill primary key, ``span`` ids): the range's
    bills, their items (``ledger_entry.bill`` index) and their allocations (``payment_allocation.bill``
    index) are read by range and joined per range, so the work of one query does not grow with the tables.
    Allocations are matched through the bill they name; an allocation naming another bill would only make
    the item look less paid (still returned), so the result stays a superset.

    ``entry_ids``: check only these ledger entries (the nightly pass's incremental open-item set, see
    ``ledger.open_items``), ``span`` of them per query, with the same rule; their allocations are read by
    entry (``payment_allocation.ledger_entry`` index), so the work follows the ids given, not the tables.
    """
    if entry_ids is not None:
        yield from _possibly_open_among(
            entry_ids,
            kinds=kinds,
            due_on_lte=due_on_lte,
            allocated_since=allocated_since,
            recent_after_due_only=recent_after_due_only,
            span=span,
        )
        return
    qn = connection.ops.quote_name
    le, pa, pay = LedgerEntry._meta.db_table, PaymentAllocation._meta.db_table, Payment._meta.db_table
    bill = Bill._meta.db_table
    kinds, kind_in, due, recent = _open_rule(kinds, due_on_lte, allocated_since, recent_after_due_only)
    held = f"""c.id IN (SELECT a2.ledger_entry_id FROM {qn(pa)} a2 JOIN {qn(pay)} p ON p.id = a2.payment_id
                         WHERE p.ledger_entry_id IN (SELECT r.reverses_id FROM {qn(le)} r WHERE r.kind = %s))"""
    sql = f"""
        SELECT c.id, c.account_id, c.kind, c.amount, c.bill_id, b.due_on, b.period,
               CASE WHEN s.eid IS NULL OR s.paid < c.amount - {HALF_FEN} OR {held} THEN NULL ELSE s.latest END
        FROM {qn(bill)} b
        JOIN {qn(le)} c ON c.bill_id = b.id
        LEFT JOIN (
            SELECT a.bill_id AS bid, a.ledger_entry_id AS eid, SUM(a.amount) AS paid,
                   MAX(a.allocated_on) AS latest
            FROM {qn(pa)} a
            WHERE a.bill_id > %s AND a.bill_id <= %s
            GROUP BY a.bill_id, a.ledger_entry_id
        ) s ON s.bid = c.bill_id AND s.eid = c.id
        WHERE b.id > %s AND b.id <= %s {due}
          AND c.bill_id > %s AND c.bill_id <= %s AND c.kind IN ({kind_in})
          AND (s.eid IS NULL OR s.paid < c.amount - {HALF_FEN} {recent} OR {held})
          AND NOT EXISTS (SELECT 1 FROM {qn(le)} r2 WHERE r2.reverses_id = c.id)
        ORDER BY c.bill_id, c.id
    """
    with connection.cursor() as cur:
        for lo, hi in _id_ranges(Bill, span):
            params: list[Any] = [LedgerEntryKind.REVERSAL.value, lo, hi, lo, hi]
            if due_on_lte is not None:
                params.append(due_on_lte)
            params += [lo, hi, *kinds]
            if allocated_since is not None:
                params.append(allocated_since)
            params.append(LedgerEntryKind.REVERSAL.value)
            found = _serial(cur, sql, params)
            if not found:
                continue
            yield _item_rows(found)


def _open_rule(
    kinds: Sequence[str], due_on_lte: date | None, allocated_since: date | None, recent_after_due_only: bool
) -> tuple[list[str], str, str, str]:
    """The SQL fragments of the open-item rule that both scans of :func:`possibly_open_items` share: the kinds
    (and their placeholders), the due-date filter and the recent-allocation clause."""
    kinds = [str(k) for k in kinds]
    recent = ""
    if allocated_since is not None:
        recent = "OR (s.latest >= %s" + (" AND s.latest > b.due_on)" if recent_after_due_only else ")")
    due = "AND b.due_on <= %s" if due_on_lte is not None else ""
    return kinds, ", ".join(["%s"] * len(kinds)), due, recent


def _item_rows(found: list[tuple[Any, ...]]) -> list[ItemRow]:
    classes = dict(
        Account.objects.filter(pk__in=id_list({r[1] for r in found})).values_list(
            "pk", "customer__customer_class"
        )
    )
    return [
        ItemRow(e, a, k, _money(amt), b, _date(d), per, classes[a], _date(until))
        for e, a, k, amt, b, d, per, until in found
    ]


def _possibly_open_among(
    entry_ids: Sequence[int],
    *,
    kinds: Sequence[str],
    due_on_lte: date | None,
    allocated_since: date | None,
    recent_after_due_only: bool,
    span: int,
) -> Iterator[list[ItemRow]]:
    """:func:`possibly_open_items` restricted to ``entry_ids`` (ascending, one list per ``span`` ids)."""
    qn = connection.ops.quote_name
    le, pa, pay = LedgerEntry._meta.db_table, PaymentAllocation._meta.db_table, Payment._meta.db_table
    bill = Bill._meta.db_table
    kinds, kind_in, due, recent = _open_rule(kinds, due_on_lte, allocated_since, recent_after_due_only)
    ids = sorted({int(i) for i in entry_ids})
    for i in range(0, len(ids), span):
        marks, arg = id_set(ids[i : i + span])
        held = f"""EXISTS (SELECT 1 FROM {qn(pa)} a2
                              JOIN {qn(pay)} p ON p.id = a2.payment_id
                              JOIN {qn(le)} r ON r.reverses_id = p.ledger_entry_id
                              WHERE a2.ledger_entry_id = c.id AND r.kind = %s)"""
        sql = f"""
            SELECT c.id, c.account_id, c.kind, c.amount, c.bill_id, b.due_on, b.period,
                   CASE WHEN s.eid IS NULL OR s.paid < c.amount - {HALF_FEN} OR {held} THEN NULL
                        ELSE s.latest END
            FROM {qn(le)} c
            JOIN {qn(bill)} b ON b.id = c.bill_id
            LEFT JOIN (
                SELECT a.ledger_entry_id AS eid, SUM(a.amount) AS paid, MAX(a.allocated_on) AS latest
                FROM {qn(pa)} a
                WHERE a.ledger_entry_id IN ({marks})
                GROUP BY a.ledger_entry_id
            ) s ON s.eid = c.id
            WHERE c.id IN ({marks}) {due} AND c.kind IN ({kind_in})
              AND (s.eid IS NULL OR s.paid < c.amount - {HALF_FEN} {recent} OR {held})
              AND NOT EXISTS (SELECT 1 FROM {qn(le)} r2 WHERE r2.reverses_id = c.id)
            ORDER BY c.bill_id, c.id
        """
        params: list[Any] = [LedgerEntryKind.REVERSAL.value, arg, arg]
        if due_on_lte is not None:
            params.append(due_on_lte)
        params += kinds
        if allocated_since is not None:
            params.append(allocated_since)
        params.append(LedgerEntryKind.REVERSAL.value)
        with connection.cursor() as cur:
            found = _serial(cur, sql, params)
        if found:
            yield _item_rows(found)


def _serial(cur: Any, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Run one range query without parallel workers on PostgreSQL: each worker would rebuild the whole merge
    of the range (three times the work on a small machine for the same wall time at best)."""
    if connection.vendor != "postgresql":
        cur.execute(sql, params)
        return list(cur.fetchall())
    with transaction.atomic():
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cur.execute(sql, params)
        rows = list(cur.fetchall())
        cur.execute("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")
    return rows


def _money(value: Any) -> Decimal:
    """A money column read through a raw cursor: Decimal on PostgreSQL, a float on SQLite (<= 15 digits)."""
    if isinstance(value, Decimal):
        return value
    return round_fen(Decimal(str(value)))


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _dimension_expr(by: Dimension, account_path: str) -> Subquery | str:
    if by == "class":
        return f"{account_path}customer__customer_class"
    field = "region__code" if by == "region" else "route__code"
    sp = ServicePoint.objects.filter(account_id=OuterRef(f"{account_path}id" if account_path else "id"))
    return Subquery(sp.order_by("pk").values(field)[:1])


def _check_dimension(by: str) -> Dimension:
    if by not in DIMENSIONS:
        raise UnknownDimension(f"unknown grouping {by!r}: use one of {', '.join(DIMENSIONS)}")
    return by


def bucket(days_past_due: int | None) -> str:
    """The aging bucket of an item ``days_past_due`` days after its due date (None: no due date)."""
    if days_past_due is None or days_past_due <= 0:
        return "not_due"
    if days_past_due <= 30:
        return "0-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    if days_past_due <= 180:
        return "91-180"
    return ">180"


@dataclass(frozen=True)
class AgingRow:
    key: str
    buckets: dict[str, Decimal]
    total: Decimal


def aging(*, as_of: date, by: str = "region") -> list[AgingRow]:
    """Outstanding charges and late fees by group and days past due on ``as_of`` (sorted by key).

    Buckets: not yet due, 0-30 (1 to 30 days past due), 31-60, 61-90, 91-180, >180.
    """
    dim = _check_dimension(by)
    key_expr = _dimension_expr(dim, "account__")
    rows = (
        LedgerEntry.objects.filter(kind__in=ITEM_KINDS, bill__isnull=False, reversed_by__isnull=True)
        .annotate(
            group_key=key_expr if isinstance(key_expr, Subquery) else _field(key_expr),
            paid=MoneySum("allocations__amount", filter=Q(allocations__payment__status=PaymentStatus.POSTED)),
        )
        .values_list("group_key", "bill__due_on", "amount", "paid")
    )
    table: dict[str, dict[str, Decimal]] = {}
    for key, due_on, amount, paid in rows.iterator(chunk_size=CHUNK):
        left = amount - (paid or ZERO)
        if left <= 0:
            continue
        days = (as_of - due_on).days if due_on is not None else None
        groups = table.setdefault(str(key or "-"), dict.fromkeys(BUCKETS, ZERO))
        groups[bucket(days)] += left
    return [AgingRow(k, v, sum(v.values(), ZERO)) for k, v in sorted(table.items())]


def _field(path: str) -> Subquery | str:
    from django.db.models import F

    return F(path)  # type: ignore[return-value]


@dataclass(frozen=True)
class RecoveryRow:
    key: str
    billed: Decimal
    collected: Decimal
    rate: Decimal  # collected / billed, 4 places (0.9731 = 97.31 %); 0 when nothing was billed


def recovery_rate(*, period: str, by: str | None = None, as_of: date | None = None) -> list[RecoveryRow]:
    """电费回收率 of a period: collected against the period's bills / billed for the period.

    Billed = unreversed charge entries of the period's bills; collected = live allocations of posted payments
    to those entries (allocated on or before ``as_of`` when given). One row per group (or one row "all"),
    plus, when grouped, a final "all" row.
    """
    dim = _check_dimension(by) if by else None
    billed_qs, coll_qs = recovery_querysets(period=period, as_of=as_of)
    if dim is None:
        billed = {"all": billed_qs.aggregate(s=MoneySum("amount", default=ZERO))["s"]}
        collected = {"all": coll_qs.aggregate(s=MoneySum("amount", default=ZERO))["s"]}
    else:
        b_expr = _dimension_expr(dim, "account__")
        c_expr = _dimension_expr(dim, "ledger_entry__account__")
        billed = _grouped(billed_qs, b_expr)
        collected = _grouped(coll_qs, c_expr)
    rows = [
        recovery_row(k, billed.get(k, ZERO), collected.get(k, ZERO))
        for k in sorted(set(billed) | set(collected))
    ]
    if dim is not None:
        rows.append(recovery_row("all", sum(billed.values(), ZERO), sum(collected.values(), ZERO)))
    return rows


def recovery_querysets(
    *, period: str, as_of: date | None = None
) -> tuple[QuerySet[LedgerEntry], QuerySet[PaymentAllocation]]:
    """What the recovery rate sums: the period's unreversed charge entries (billed), and the live allocations
    of posted payments to them, allocated on or before ``as_of`` when given (collected)."""
    billed_qs = LedgerEntry.objects.filter(
        kind=LedgerEntryKind.CHARGE, bill__period=period, reversed_by__isnull=True
    )
    coll_qs = PaymentAllocation.objects.filter(
        kind=LedgerEntryKind.CHARGE,
        ledger_entry__bill__period=period,
        ledger_entry__reversed_by__isnull=True,
        payment__status=PaymentStatus.POSTED,
    )
    if as_of is not None:
        coll_qs = coll_qs.filter(allocated_on__lte=as_of)
    return billed_qs, coll_qs


def _grouped(qs: object, expr: Subquery | str) -> dict[str, Decimal]:
    from django.db.models import F

    annotated = qs.annotate(group_key=expr if isinstance(expr, Subquery) else F(expr))  # type: ignore[attr-defined]
    rows = annotated.values("group_key").annotate(s=MoneySum("amount")).values_list("group_key", "s")
    return {str(k or "-"): v for k, v in rows}


def recovery_ratio(collected: Decimal, billed: Decimal) -> Decimal:
    """电费回收率 as a ratio to 4 places (0.9731 = 97.31 %); 0 when nothing was billed. The one definition:
    recovery rows, the collectors' scorecards and their trend use it."""
    return quantize_ratio(collected, billed) if billed else Decimal("0.0000")


def recovery_row(key: str, billed: Decimal, collected: Decimal) -> RecoveryRow:
    return RecoveryRow(key, billed, collected, recovery_ratio(collected, billed))


@dataclass(frozen=True)
class AllocationRow:
    """One allocation of a payment; ``voided_at`` is set when it no longer counts: the entry it settled was
    reversed (a waived late fee, a cancelled bill: the earlier reversal's time) or the payment was."""

    bill_id: int | None
    kind: str
    amount: Decimal
    ledger_entry_id: int
    voided_at: datetime | None


def payment_allocations(*, payment_id: int) -> list[AllocationRow]:
    """The allocations of one payment in order, each marked void or not (two queries)."""
    payment_reversed_at = (
        Payment.objects.filter(pk=payment_id, reversal_entry__isnull=False)
        .values_list("reversal_entry__posted_at", flat=True)
        .first()
    )
    reversal_at = LedgerEntry.objects.filter(reverses_id=OuterRef("ledger_entry_id")).values("posted_at")[:1]
    rows = (
        PaymentAllocation.objects.filter(payment_id=payment_id)
        .annotate(entry_reversed_at=Subquery(reversal_at))
        .order_by("id")
        .values_list("bill_id", "kind", "amount", "ledger_entry_id", "entry_reversed_at")
    )
    out = []
    for bill_id, kind, amount, entry_id, entry_reversed_at in rows:
        times = [t for t in (entry_reversed_at, payment_reversed_at) if t is not None]
        out.append(AllocationRow(bill_id, kind, amount, entry_id, min(times) if times else None))
    return out
