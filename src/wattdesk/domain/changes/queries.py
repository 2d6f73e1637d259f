"""Reads of service changes (变更用电) and of the rule set in force."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Max, Q

from wattdesk.core.rating.segments import ChangeRules
from wattdesk.domain.changes.models import ChangeRuleSet, ServiceChange
from wattdesk.domain.metering.models import MeterInstallation


class NoRuleSet(LookupError):
    """No change rule set is in force on the date asked."""


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """A service change as the billing run and the use cases need it (plain values)."""

    id: int
    account_id: int
    sp_id: int
    kind: str
    effective_on: date
    planned_until: date | None
    restores_id: int | None
    capacity_before: Decimal
    capacity_after: Decimal
    contract_kw_before: Decimal | None
    contract_kw_after: Decimal | None
    tariff_before: str
    tariff_after: str
    pf_standard_before: Decimal | None
    pf_standard_after: Decimal | None
    in_service_after: bool


_FIELDS = (
    "id",
    "account_id",
    "service_point_id",
    "kind",
    "effective_on",
    "planned_until",
    "restores_id",
    "capacity_before",
    "capacity_after",
    "contract_kw_before",
    "contract_kw_after",
    "tariff_before",
    "tariff_after",
    "pf_standard_before",
    "pf_standard_after",
    "in_service_after",
)


def changes_of_accounts(*, account_ids: Iterable[int]) -> dict[int, list[ChangeRow]]:
    """Every change of the accounts' service points, by service point id, in effective order."""
    ids = sorted(set(account_ids))
    out: dict[int, list[ChangeRow]] = defaultdict(list)
    if not ids:
        return out
    qs = ServiceChange.objects.filter(account_id__in=ids).order_by("service_point_id", "effective_on", "id")
    for row in qs.values_list(*_FIELDS):
        out[row[2]].append(ChangeRow(*row))
    return out


def accounts_with_changes(*, lo: int, hi: int) -> set[int]:
    """Accounts lo..hi that have any recorded change (one small indexed query per billing batch)."""
    return set(
        ServiceChange.objects.filter(account_id__gte=lo, account_id__lte=hi)
        .values_list("account_id", flat=True)
        .distinct()
    )


def rules_in_force(*, on: date) -> ChangeRules:
    """The change rules in force on ``on`` (the latest rule set starting on or before it)."""
    row = (
        ChangeRuleSet.objects.filter(effective_from__lte=on)
        .exclude(effective_to__lte=on)
        .order_by("-effective_from")
        .first()
    )
    if row is None:
        raise NoRuleSet(f"no change rule set in force on {on}")
    return ChangeRules.from_document(row.document)


def meters_removed(*, lo: int, hi: int) -> dict[int, date]:
    """Service points of accounts lo..hi whose every meter was removed (none installed now), with the latest
    removal day: a point retired by taking its meter away, before service changes were recorded."""
    rows = (
        MeterInstallation.objects.filter(service_point__account_id__gte=lo, service_point__account_id__lte=hi)
        .values("service_point_id")
        .annotate(last=Max("removed_on"), open=Count("id", filter=Q(removed_on__isnull=True)))
    )
    return {r["service_point_id"]: r["last"] for r in rows if r["open"] == 0 and r["last"] is not None}
