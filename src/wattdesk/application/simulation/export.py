"""Determinants export of a simulation: the database -> Parquet boundary (both engines read only this).

For every issued bill of the last ``months`` periods up to ``up_to`` (one row per service point of the
bill's account): the validated register consumption the billing run read for the bill's window ``[start,
end)`` (``domain.metering.queries.consumption_by_account``, the one consumption query), the reactive energy,
the maximum demand, and the service point's capacity, contract demand and power-factor standard; the
account's customer class and the service point's region; the billed total (fen) on the account's first
service point. Quantities are int64 in 0.0001 units (``core.simulation``), null when not read.

Files: ``part-NNNNN.parquet`` under the output directory, each a range of accounts sorted by
(account, start), in account order, so the local engine streams them and Spark can read them as a dataset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from wattdesk.application.billing.fetch import assignment_in_force
from wattdesk.application.errors import InputError
from wattdesk.application.simulation.engine import INPUT_SCHEMA
from wattdesk.core.money import quantize_quantity
from wattdesk.core.period import Period
from wattdesk.core.simulation import DEMAND_COLUMNS, REGISTER_COLUMNS
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.metering.queries import consumption_by_account
from wattdesk.domain.tariffs.models import TariffAssignment

ROWS_PER_FILE = 500_000


@dataclass(frozen=True)
class Exported:
    path: Path
    periods: tuple[str, ...]
    rows: int
    accounts: int


def periods_up_to(*, up_to: str, months: int) -> tuple[str, ...]:
    last = Period.parse(up_to)
    return tuple(str(p) for p in last.back(months)) if months > 1 else (str(last),)


def latest_issued_period() -> str | None:
    return (
        Bill.objects.filter(status=BillStatus.ISSUED)
        .order_by("-period")
        .values_list("period", flat=True)
        .first()
    )


def _units(x: Decimal | None) -> int | None:
    return None if x is None else int(quantize_quantity(x).scaleb(4))


def _fen(x: Any) -> int:
    return int(Decimal(str(x)).scaleb(2).to_integral_value())


def export_determinants(
    *,
    up_to: str,
    months: int,
    out: Path,
    tariff_code: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Exported:
    """Write the determinants of the issued bills of ``months`` periods up to ``up_to`` under ``out``.

    ``tariff_code``: only the service points assigned that tariff at the bill's start (the customers the
    current tariff applies to); None: every service point of every billed account.
    """
    periods = periods_up_to(up_to=up_to, months=months)
    # sort order of Period.back may be oldest first or newest first: the set is what matters
    bills = (
        Bill.objects.filter(period__in=periods, status=BillStatus.ISSUED)
        .order_by("account_id", "start")
        .values_list("account_id", "period", "start", "end", "total")
    )
    by_window: dict[tuple[date, date], list[int]] = defaultdict(list)
    bill_rows: list[tuple[int, str, date, date, int]] = []
    for acc, period, start, end, total in bills.iterator(chunk_size=50_000):
        by_window[(start, end)].append(acc)
        bill_rows.append((acc, period, start, end, _fen(total)))
    if not bill_rows:
        raise InputError(
            f"no issued bills in {periods[0] if len(periods) == 1 else ', '.join(sorted(periods))}"
        )
    if progress:
        progress(f"{len(bill_rows)} issued bills in {len(periods)} period(s)")
    accounts = sorted({r[0] for r in bill_rows})
    sp_info: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in (
        (
            ServicePoint.objects.filter(account_id__in=accounts)
            if len(accounts) < 10_000
            else ServicePoint.objects.filter(account_id__gte=accounts[0], account_id__lte=accounts[-1])
        )
        .order_by("account_id", "id")
        .values_list(
            "id",
            "account_id",
            "account__number",
            "account__customer__customer_class",
            "region__code",
            "capacity_kva",
            "contract_kw",
            "pf_standard",
        )
        .iterator(chunk_size=50_000)
    ):
        sp_info[row[1]].append(row)
    assigned: dict[int, list[tuple[date, date | None, str]]] = defaultdict(list)
    if tariff_code is not None:
        for sp_id, eff_from, eff_to, code in (
            (
                TariffAssignment.objects.filter(
                    service_point_id__in=[r[0] for rows_ in sp_info.values() for r in rows_]
                )
                if len(accounts) < 10_000
                else TariffAssignment.objects.filter(
                    service_point__account_id__gte=accounts[0], service_point__account_id__lte=accounts[-1]
                )
            )
            .values_list("service_point_id", "effective_from", "effective_to", "tariff_code")
            .iterator(chunk_size=50_000)
        ):
            assigned[sp_id].append((eff_from, eff_to, code))

    def on_tariff(sp_id: int, start: date) -> bool:
        if tariff_code is None:
            return True
        found = assignment_in_force(assigned.get(sp_id, ()), start)
        return found is not None and found[2] == tariff_code

    usage: dict[tuple[date, date], dict[int, Any]] = {}
    for (start, end), accs in by_window.items():
        usage[(start, end)] = consumption_by_account(period_start=start, period_end=end, account_ids=accs)
    if progress:
        progress(f"usage of {len(by_window)} billing window(s) read")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    names = INPUT_SCHEMA.names
    buf: dict[str, list[Any]] = {n: [] for n in names}
    part = 0
    rows = 0
    buf_accounts: set[int] = set()

    def flush() -> None:
        nonlocal part
        if not buf["account_id"]:
            return
        table = pa.table({n: buf[n] for n in names}, schema=INPUT_SCHEMA)
        pq.write_table(table, str(out / f"part-{part:05d}.parquet"))
        part += 1
        for v in buf.values():
            v.clear()

    bill_rows.sort(key=lambda r: (r[0], r[2]))
    prev_acc = None
    for acc, period, start, end, billed in bill_rows:
        if prev_acc is not None and acc != prev_acc and len(buf["account_id"]) >= ROWS_PER_FILE:
            flush()
        prev_acc = acc
        window = usage[(start, end)]
        first = True
        for sp_id, _acc, number, cls, region, cap, contract, pf in sp_info.get(acc, ()):
            if not on_tariff(sp_id, start):
                continue
            u = window.get(sp_id)
            kinds = u.kwh_by_kind if u is not None else {}
            demand = u.max_kw_by_kind if u is not None else {}
            buf["account_id"].append(acc)
            buf_accounts.add(acc)
            buf["account_number"].append(number)
            buf["customer_class"].append(cls)
            buf["region"].append(region or "")
            buf["period"].append(period)
            buf["start"].append(start)
            buf["end"].append(end)
            for c in REGISTER_COLUMNS:
                buf[c].append(_units(kinds.get(c)))
            buf["kvarh"].append(_units(u.kvarh) if u is not None else None)
            buf["max_kw"].append(_units(u.max_kw) if u is not None else None)
            for c in DEMAND_COLUMNS:
                buf[c].append(_units(demand.get(c)))
            buf["capacity_kva"].append(_units(cap))
            buf["contract_kw"].append(_units(contract))
            buf["pf_standard"].append(None if pf is None else int(Decimal(str(pf)).scaleb(2)))
            buf["billed_fen"].append(billed if first else 0)
            first = False
            rows += 1
    flush()
    if not rows:
        raise InputError(
            f"no service point on tariff {tariff_code} among the issued bills of {', '.join(sorted(periods))}"
        )
    return Exported(path=out, periods=tuple(sorted(periods)), rows=rows, accounts=len(set(buf_accounts)))
