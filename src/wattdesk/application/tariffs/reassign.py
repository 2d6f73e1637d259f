"""Use case: bulk tariff-assignment changes with an effective date (批量调整电价 / 改价).

A price-category change decided for many accounts at once (a notice moves a class of customers onto another
tariff, a county's migration maps legacy categories onto the catalog) is a file of rows:

======================  =========================================================================================
account_number          an account known to WattDesk
tariff_code             a tariff in the catalog with a version in force on ``effective_from``
effective_from          YYYY-MM-DD: the first day billed on the new tariff
service_point_number    optional: only this service point of the account (default: all of its service points)
======================  =========================================================================================

CSV or Excel (.xlsx), header on row 1. Every row is validated first and any bad row rejects the whole file
(``row N, column: reason``); nothing is written then. Refused: an unknown account, tariff or service point, a
tariff without a version in force on the date, a date inside a period the account already has a live bill for
(cancel that bill first, then rebill), a service point that already has an assignment starting on or after the
date, the same service point twice in the file. A row that puts a service point on the tariff it is already on
is counted as unchanged and writes nothing.

Written in one transaction, under row locks on the service points' assignments: the assignment in force on the
date is closed (``effective_to`` = the date) and a new one opens. One audit entry (``tariffs.reassign``) names
the acting user and lists every change (account, service point, old → new, date).

The billing run takes the assignment in force at the start of the account's billing period
(``application.billing.fetch.assignment_in_force``), so a change effective on the first day of a period bills
that whole period on the new tariff. A date inside a period is split there only where the mid-period-change
rule (issue 9 part 4) applies; otherwise that period is billed on the tariff in force at its start.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max

from wattdesk.application.errors import InputError
from wattdesk.application.tabular import ImportRejected, RowError, column_index, read_table
from wattdesk.domain.audit import record_batch
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.customers.models import Account, ServicePoint
from wattdesk.domain.tariffs import operations
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

REQUIRED = ("account_number", "tariff_code", "effective_from")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
AUDIT_DETAIL_LIMIT = 500  # changes listed one by one in the audit entry; beyond that only counted


@dataclass(frozen=True)
class ReassignResult:
    file_name: str
    changed: int  # service points moved onto another tariff
    unchanged: int  # rows for service points already on that tariff

    @property
    def message(self) -> str:
        return (
            f"{self.file_name}: {self.changed} service point(s) moved onto a new tariff, "
            f"{self.unchanged} already on it"
        )


@dataclass(frozen=True)
class _Planned:
    row: int
    account_id: int
    account_number: str
    sp_id: int
    sp_number: str
    tariff_code: str
    effective_from: date
    previous: str | None


def _in_force(rows: Sequence[tuple[str, date, date | None]], on: date) -> str | None:
    best: tuple[str, date, date | None] | None = None
    for code, eff_from, eff_to in rows:
        if eff_from <= on and (eff_to is None or eff_to > on) and (best is None or eff_from > best[1]):
            best = (code, eff_from, eff_to)
    return best[0] if best else None


def plan_changes(
    *, file_name: str, header: Sequence[str], rows: Sequence[Sequence[str]]
) -> tuple[list[_Planned], list[RowError], int]:
    """(changes to make, every row error, rows already on their tariff)."""
    col = column_index(file_name, header, REQUIRED)
    sp_col = col.get("service_point_number")
    if not rows:
        return [], [RowError(2, "-", "the file has no data rows", "no_rows")], 0

    def cell(raw: Sequence[str], i: int | None) -> str:
        return raw[i].strip() if i is not None and i < len(raw) else ""

    numbers = {cell(r, col["account_number"]) for r in rows}
    accounts = {a.number: a for a in Account.objects.filter(number__in=numbers)}
    sps: dict[int, list[tuple[int, str]]] = {}
    for sp_id, acc_id, number in ServicePoint.objects.filter(account__in=accounts.values()).values_list(
        "id", "account_id", "number"
    ):
        sps.setdefault(acc_id, []).append((sp_id, number))
    assigned: dict[int, list[tuple[str, date, date | None]]] = {}
    for sp_id, code, f, t in TariffAssignment.objects.filter(
        service_point_id__in=[s for v in sps.values() for s, _ in v]
    ).values_list("service_point_id", "tariff_code", "effective_from", "effective_to"):
        assigned.setdefault(sp_id, []).append((code, f, t))
    billed_to = dict(
        Bill.objects.filter(account__in=accounts.values())
        .exclude(status=BillStatus.CANCELLED)
        .values("account_id")
        .annotate(end=Max("end"))
        .values_list("account_id", "end")
    )
    codes = {cell(r, col["tariff_code"]) for r in rows}
    versions: dict[str, list[tuple[date, date | None]]] = {}
    for code, f, t in TariffVersion.objects.filter(code__in=codes).values_list(
        "code", "effective_from", "effective_to"
    ):
        versions.setdefault(code, []).append((f, t))

    errors: list[RowError] = []
    planned: list[_Planned] = []
    unchanged = 0
    seen: dict[int, int] = {}
    for n, raw in enumerate(rows, start=2):
        number, code, date_s = (cell(raw, col[c]) for c in REQUIRED)
        sp_number = cell(raw, sp_col)
        row_errors: list[RowError] = []
        account = accounts.get(number)
        if not number:
            row_errors.append(RowError(n, "account_number", "required", "required"))
        elif account is None:
            row_errors.append(
                RowError(
                    n, "account_number", f"unknown account {number!r}", "unknown_account", {"account": number}
                )
            )
        eff: date | None = None
        if _DATE_RE.match(date_s):
            try:
                eff = date.fromisoformat(date_s)
            except ValueError:
                eff = None
        if eff is None:
            row_errors.append(
                RowError(
                    n,
                    "effective_from",
                    f"bad date {date_s!r} (expected YYYY-MM-DD)",
                    "bad_date",
                    {"value": date_s},
                )
            )
        if not code:
            row_errors.append(RowError(n, "tariff_code", "required", "required"))
        elif code not in versions:
            row_errors.append(
                RowError(
                    n, "tariff_code", f"no tariff {code!r} in the catalog", "unknown_tariff", {"tariff": code}
                )
            )
        elif eff is not None and not any(f <= eff and (t is None or t > eff) for f, t in versions[code]):
            row_errors.append(
                RowError(
                    n,
                    "tariff_code",
                    f"tariff {code} has no version in force on {eff}",
                    "no_version",
                    {"tariff": code, "date": str(eff)},
                )
            )
        targets: list[tuple[int, str]] = []
        if account is not None:
            own = sps.get(account.pk, [])
            if sp_number:
                targets = [s for s in own if s[1] == sp_number]
                if not targets:
                    row_errors.append(
                        RowError(
                            n,
                            "service_point_number",
                            f"account {number} has no service point {sp_number!r}",
                            "unknown_service_point",
                            {"account": number, "service_point": sp_number},
                        )
                    )
            else:
                targets = own
                if not own:
                    row_errors.append(
                        RowError(
                            n, "account_number", f"account {number} has no service point", "no_service_point"
                        )
                    )
            if eff is not None:
                end = billed_to.get(account.pk)
                if end is not None and eff < end:
                    row_errors.append(
                        RowError(
                            n,
                            "effective_from",
                            f"account {number} is already billed up to {end}: a change effective {eff} needs "
                            "its bills from that date cancelled first (cancel-and-rebill)",
                            "already_billed",
                            {"account": number, "date": str(eff), "billed_to": str(end)},
                        )
                    )
                if account.closed_on is not None and eff >= account.closed_on:
                    row_errors.append(
                        RowError(
                            n,
                            "effective_from",
                            f"account {number} is closed from {account.closed_on}",
                            "account_closed",
                            {"account": number, "closed_on": str(account.closed_on)},
                        )
                    )
        for sp_id, spn in targets:
            if sp_id in seen:
                row_errors.append(
                    RowError(
                        n,
                        "account_number",
                        f"service point {spn} is also changed on row {seen[sp_id]}",
                        "duplicate_row",
                        {"service_point": spn, "first_row": str(seen[sp_id])},
                    )
                )
            else:
                seen[sp_id] = n
            if eff is not None and code and _in_force(assigned.get(sp_id, ()), eff) == code:
                continue  # already on that tariff on that date: counted as unchanged below, never an error
            later = [f for _c, f, _t in assigned.get(sp_id, ()) if eff is not None and f >= eff]
            if later:
                row_errors.append(
                    RowError(
                        n,
                        "effective_from",
                        f"service point {spn} already has a tariff assignment from {min(later)}",
                        "later_assignment",
                        {"service_point": spn, "date": str(min(later))},
                    )
                )
        if row_errors:
            errors.extend(row_errors)
            continue
        assert account is not None and eff is not None
        for sp_id, spn in targets:
            previous = _in_force(assigned.get(sp_id, ()), eff)
            if previous == code:
                unchanged += 1
                continue
            planned.append(_Planned(n, account.pk, number, sp_id, spn, code, eff, previous))
    return planned, errors, unchanged


def _billed_to(*, accounts: set[int], planned: Sequence[_Planned]) -> bool:
    """True if a live bill of a planned account ends after that change's effective date."""
    ends: dict[int, date] = {}
    ids = sorted(accounts)
    for i in range(0, len(ids), 10_000):
        ends.update(
            Bill.objects.filter(account_id__in=ids[i : i + 10_000])
            .exclude(status=BillStatus.CANCELLED)
            .values("account_id")
            .annotate(end=Max("end"))
            .values_list("account_id", "end")
        )
    return any(p.account_id in ends and ends[p.account_id] > p.effective_from for p in planned)


def reassign_tariffs(*, path: Path, actor: Any = None) -> ReassignResult:
    """Validate the whole file, then make every change in one transaction with one audit entry."""
    header, rows = read_table(path)
    return reassign_rows(name=path.name, header=header, rows=rows, actor=actor)


def reassign_rows(
    *, name: str, header: Sequence[str], rows: Sequence[Sequence[str]], actor: Any = None
) -> ReassignResult:
    """The same for rows that did not come from a file (the API's items; row 2 = the first item)."""
    planned, errors, unchanged = plan_changes(file_name=name, header=header, rows=rows)
    if errors:
        raise ImportRejected(name, errors)
    if planned:
        with transaction.atomic():
            try:
                operations.change_assignments(
                    changes=[
                        operations.AssignmentChange(p.sp_id, p.tariff_code, p.effective_from) for p in planned
                    ]
                )
            except operations.AssignmentConflict as exc:
                raise InputError(
                    f"{name}: {exc} (changed meanwhile): nothing changed, import again"
                ) from None
            # a bill written meanwhile for a date the change covers (validation read before the lock)
            if _billed_to(accounts={p.account_id for p in planned}, planned=planned):
                raise InputError(f"{name}: an account was billed meanwhile: nothing changed, import again")
            record_batch(
                actor=actor,
                action="tariffs.reassign",
                object_repr=f"tariff changes {name}",
                changes={
                    "service_points": len(planned),
                    "unchanged": unchanged,
                    "changes": [
                        f"{p.account_number}/{p.sp_number}: {p.previous or '-'} -> {p.tariff_code} from "
                        f"{p.effective_from}"
                        for p in planned[:AUDIT_DETAIL_LIMIT]
                    ],
                },
            )
    return ReassignResult(name, len(planned), unchanged)
