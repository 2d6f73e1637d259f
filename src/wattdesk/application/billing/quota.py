"""Tier quotas (一户多人口) in the billing run: read the grants of a batch, widen the determinants' tiers.

Fetch, then calculate: :func:`grants` is one query per batch (account-id range), :func:`apply` is pure and
sets ``Determinants.tier_uplift_kwh`` by ``core.rating.quota.tier_uplift``, which both rating paths apply
(docs/billing-cases/household-quota.md). ``ytd_kwh_before`` is left as the run computed it, so the annual
position (kWh already billed in the tier year) is kept.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, cast

from wattdesk.core.rating import Determinants
from wattdesk.core.rating.quota import AnnualMode, QuotaGrant, TiersAffected, Unit, tier_uplift
from wattdesk.core.tariff import Tariff
from wattdesk.domain.customers.models import TierQuotaGrant

ZERO = Decimal(0)


def grants(*, lo: int, hi: int) -> dict[int, list[QuotaGrant]]:
    """Quota grants of the accounts lo..hi (all of them: a handful per account at most), by account."""
    out: dict[int, list[QuotaGrant]] = defaultdict(list)
    rows = TierQuotaGrant.objects.filter(account_id__gte=lo, account_id__lte=hi).values_list(
        "account_id",
        "valid_from",
        "valid_to",
        "uplift_kwh",
        "unit",
        "tiers",
        "policy__annual_mode",
        "ended_from",
    )
    for acc, valid_from, valid_to, uplift, unit, tiers, mode, ended in rows.order_by(
        "account_id", "valid_from"
    ):
        out[acc].append(
            QuotaGrant(
                valid_from,
                valid_to,
                uplift,
                cast(Unit, unit),
                cast(TiersAffected, tiers),
                cast(AnnualMode, mode),
                ended,
            )
        )
    return out


def boundaries(tariff: Tariff) -> int:
    """Tier boundaries of the tariff's energy charge (tiers - 1 of its most tiered period)."""
    return max((len(p.tiers) for p in tariff.energy.periods), default=1) - 1


def apply(*, tariff: Tariff, det: Determinants, account_grants: Sequence[QuotaGrant]) -> Determinants:
    """``det`` with the tier uplift of the account's grants for its period (unchanged without any)."""
    if not account_grants:
        return det
    uplift = tier_uplift(
        grants=account_grants,
        period_start=det.start,
        tier_basis=tariff.energy.tier_basis,
        boundaries=boundaries(tariff),
        tier_year_start_month=tariff.energy.tier_year_start_month,
    )
    return dataclasses.replace(det, tier_uplift_kwh=uplift) if uplift else det


NOTE_CODE = "note.tier_quota"


def note(dets: Iterable[Determinants]) -> tuple[Any, ...] | None:
    """The bill's note line (code, description, quantity, unit, rate, amount, rule) naming the widened tier
    boundaries, from the first rated unit that has an uplift; None without one."""
    uplift = next((d.tier_uplift_kwh for d in dets if d.tier_uplift_kwh), ())
    if not uplift:
        return None
    parts = ", ".join(f"第{i + 1}档 +{_kwh(u)} kWh" for i, u in enumerate(uplift) if u)
    text = f"一户多人口 阶梯电量基数增加 (tier quota): {parts}"
    return (NOTE_CODE, text[:200], ZERO, "", ZERO, ZERO, "tier_quota")


def _kwh(x: Decimal) -> str:
    return f"{x.normalize():f}" if x == x.to_integral_value() else f"{x:f}"
