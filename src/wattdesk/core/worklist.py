"""The collector's worklist (催费工单): which accounts to visit first. Pure: no Django, no I/O, no clock.

Each candidate account gets a priority score, the weighted sum of four normalised factors (each in [0, 1]):

* ``amount``: amount due / ``amount_cap`` (capped at 1): the bigger the debt, the sooner;
* ``age``: days past the oldest due date / ``age_cap_days`` (capped at 1; 0 when nothing is overdue);
* ``risk``: the customer's risk score (``payment_profile["risk"]``, 0..1) when known, else ``default_risk``;
* ``distance``: 1 - distance from the collector's base / ``distance_cap_km`` (capped at 0): nearer first.
  Unknown locations (no base or no premise coordinates) score ``default_distance``.

Weights and caps are policy data (:class:`WorklistPolicy`). Items are ordered by score descending, then by
amount due descending, then by key (stable, deterministic). The score and each factor's weighted part are
returned so the screen can show why an account is where it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

EARTH_RADIUS_KM = 6371.0088


class WorklistError(ValueError):
    """Bad policy or candidate (negative weight, non-positive cap, risk outside 0..1)."""


@dataclass(frozen=True)
class WorklistPolicy:
    weight_amount: float = 0.40
    weight_age: float = 0.30
    weight_risk: float = 0.20
    weight_distance: float = 0.10
    amount_cap: Decimal = Decimal("2000.00")  # yuan: a debt this large or larger scores 1
    age_cap_days: int = 90  # overdue this long or longer scores 1
    distance_cap_km: float = 20.0  # this far or farther scores 0
    default_risk: float = 0.5
    default_distance: float = 0.0

    def check(self) -> None:
        weights = (self.weight_amount, self.weight_age, self.weight_risk, self.weight_distance)
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise WorklistError("weights must be >= 0 and not all 0")
        if self.amount_cap <= 0 or self.age_cap_days <= 0 or self.distance_cap_km <= 0:
            raise WorklistError("caps must be > 0")


DEFAULT_POLICY = WorklistPolicy()


@dataclass(frozen=True)
class Candidate:
    key: str  # account number
    amount_due: Decimal
    days_overdue: int  # days past the oldest unpaid due date (<= 0: nothing overdue yet)
    risk: float | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Breakdown:
    amount: float
    age: float
    risk: float
    distance: float


@dataclass(frozen=True)
class WorkItem:
    key: str
    score: float  # 0..sum of weights, rounded to 6 places
    amount_due: Decimal
    days_overdue: int
    distance_km: float | None
    parts: Breakdown  # weighted contribution of each factor (they add up to the score)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def score(
    c: Candidate, *, base: tuple[float, float] | None, policy: WorklistPolicy = DEFAULT_POLICY
) -> WorkItem:
    """The priority of one candidate."""
    if c.risk is not None and not 0.0 <= c.risk <= 1.0:
        raise WorklistError(f"risk of {c.key} must be in 0..1, got {c.risk}")
    amount_f = float(min(max(c.amount_due, Decimal(0)) / policy.amount_cap, Decimal(1)))
    age_f = min(max(c.days_overdue, 0) / policy.age_cap_days, 1.0)
    risk_f = policy.default_risk if c.risk is None else c.risk
    dist_km: float | None = None
    if base is not None and c.lat is not None and c.lon is not None:
        dist_km = haversine_km(base[0], base[1], c.lat, c.lon)
        dist_f = max(0.0, 1.0 - dist_km / policy.distance_cap_km)
    else:
        dist_f = policy.default_distance
    parts = Breakdown(
        amount=round(policy.weight_amount * amount_f, 6),
        age=round(policy.weight_age * age_f, 6),
        risk=round(policy.weight_risk * risk_f, 6),
        distance=round(policy.weight_distance * dist_f, 6),
    )
    total = round(parts.amount + parts.age + parts.risk + parts.distance, 6)
    return WorkItem(
        key=c.key,
        score=total,
        amount_due=c.amount_due,
        days_overdue=c.days_overdue,
        distance_km=None if dist_km is None else round(dist_km, 3),
        parts=parts,
    )


def prioritize(
    candidates: Sequence[Candidate],
    *,
    base: tuple[float, float] | None = None,
    policy: WorklistPolicy = DEFAULT_POLICY,
) -> list[WorkItem]:
    """Candidates with something due, highest priority first (score, then amount, then key)."""
    policy.check()
    items = [score(c, base=base, policy=policy) for c in candidates if c.amount_due > 0]
    return sorted(items, key=lambda i: (-i.score, -i.amount_due, i.key))
