"""Reads of the billing run: everything a batch of accounts needs, in a fixed number of bulk queries.

Fetch, then calculate: these functions return plain tuples / dataclasses; nothing here rates or writes.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from django.db.models import Exists, OuterRef, Q

from wattdesk.core.pf import PfTable, parse_pf_table
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import Account, ServicePoint
from wattdesk.domain.metering.models import MeterInstallation, ReadingException
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

CHUNK = 10_000  # ids per IN (...) list, under SQLite's and PostgreSQL's parameter limits


def chunked(items: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@cache
def pf_table() -> PfTable:
    """The power-factor adjustment table (config/pf-adjustment.csv), read once per process."""
    text = resources.files("wattdesk.config").joinpath("pf-adjustment.csv").read_text(encoding="utf-8")
    return parse_pf_table(csv.DictReader(text.splitlines()))


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


# --- per batch ---------------------------------------------------------------------------------------------


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


def service_points(*, account_ids: Sequence[int]) -> list[SpRow]:
    rows: list[SpRow] = []
    fields = (
        "id",
        "account_id",
        "account__number",
        "account__customer__customer_class",
        "account__opened_on",
        "account__closed_on",
        "account__billing_day",
        "capacity_kva",
        "contract_kw",
        "pf_standard",
    )
    for part in chunked(account_ids):
        qs = (
            ServicePoint.objects.filter(account_id__in=part).order_by("account_id", "id").values_list(*fields)
        )
        rows.extend(SpRow(*r) for r in qs)
    return rows


def assignments(
    *, sp_ids: Sequence[int], on_or_before: date
) -> dict[int, list[tuple[date, date | None, str]]]:
    """Tariff assignments (from, to, code) of the service points starting on or before a date, by sp."""
    out: dict[int, list[tuple[date, date | None, str]]] = defaultdict(list)
    for part in chunked(sp_ids):
        qs = TariffAssignment.objects.filter(service_point_id__in=part, effective_from__lte=on_or_before)
        for sp_id, eff_from, eff_to, code in qs.values_list(
            "service_point_id", "effective_from", "effective_to", "tariff_code"
        ):
            out[sp_id].append((eff_from, eff_to, code))
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


def history(
    *, account_ids: Sequence[int], period: str, since_period: str
) -> dict[int, list[tuple[str, Decimal, Decimal]]]:
    """Live bills (period, kwh, total) of the accounts in [since_period, period), most recent first."""
    out: dict[int, list[tuple[str, Decimal, Decimal]]] = defaultdict(list)
    for part in chunked(account_ids):
        qs = (
            Bill.objects.filter(account_id__in=part, period__gte=since_period, period__lt=period)
            .exclude(status=BillStatus.CANCELLED)
            .order_by("account_id", "-period")
            .values_list("account_id", "period", "kwh", "total")
        )
        for acc, p, kwh, total in qs:
            out[acc].append((p, kwh, total))
    return out


def period_bills(*, account_ids: Sequence[int], period: str) -> dict[int, tuple[int, int, bool]]:
    """Per account: (highest version, its bill id, whether any bill of the period is live)."""
    out: dict[int, tuple[int, int, bool]] = {}
    for part in chunked(account_ids):
        qs = Bill.objects.filter(account_id__in=part, period=period).values_list(
            "account_id", "id", "version", "status"
        )
        for acc, bill_id, version, status in qs:
            live = status != BillStatus.CANCELLED
            cur = out.get(acc)
            if cur is None:
                out[acc] = (version, bill_id, live)
            else:
                best_v, best_id, any_live = cur
                if version > best_v:
                    best_v, best_id = version, bill_id
                out[acc] = (best_v, best_id, any_live or live)
    return out
