"""Use case: payment outlets and candidate sites for the synthetic county (清溪县), random but deterministic.

Existing outlets are concentrated in the county seat (城关镇): the service hall with its counter, an agent
point and a self-service terminal within about a kilometre, plus one agent point in 东湖镇 — the situation
the outlet planner is asked to improve. Candidate sites are at every township centre (jittered a few hundred
metres: the market street rather than the map point), along the county roads from the seat to each township
(at a quarter, half and three quarters of the way), and on the edge of the seat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db import transaction

from wattdesk.application.errors import InputError
from wattdesk.core.outlets import KM_PER_DEGREE_LAT
from wattdesk.domain.customers.models import Region
from wattdesk.domain.outlets.models import CandidateSite, OutletKind, PaymentOutlet
from wattdesk.synthetic.population import TOWNSHIPS


class SeedError(InputError):
    """The outlets cannot be seeded (no synthetic county, outlets already present)."""


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    kind: str
    lat: Decimal
    lon: Decimal
    region_code: str = ""  # outlets only
    cost: Decimal | None = None  # candidates only


@dataclass(frozen=True)
class SeedSummary:
    outlets: int
    candidates: int


def _offset(rng: np.random.Generator, lat: float, lon: float, km: float) -> tuple[Decimal, Decimal]:
    """A point about ``km`` (normal, per axis) from (lat, lon), at the stored 6 decimal places."""
    dy, dx = rng.normal(0.0, km, 2)
    dlat = float(dy) / KM_PER_DEGREE_LAT
    dlon = float(dx) / (KM_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    return Decimal(f"{lat + dlat:.6f}"), Decimal(f"{lon + dlon:.6f}")


def outlet_rows(*, seed: int) -> tuple[list[Site], list[Site]]:
    """The outlets and the candidate sites (deterministic for a seed; no database)."""
    rng = np.random.default_rng([seed, 0x0A7])
    seat_code, seat_name, seat_lat, seat_lon, _ = TOWNSHIPS[0]
    outlets: list[Site] = []
    for i, (kind, label) in enumerate(
        (
            (OutletKind.COUNTER, "供电营业厅"),
            (OutletKind.AGENT, "农商银行代收点"),
            (OutletKind.SELF_SERVICE, "自助缴费终端(商场)"),
        ),
        start=1,
    ):
        lat, lon = _offset(rng, seat_lat, seat_lon, 0.6)
        outlets.append(Site(f"OUT-{i:03d}", f"{seat_name}{label}", kind, lat, lon, region_code=seat_code))
    e_code, e_name, e_lat, e_lon, _ = TOWNSHIPS[1]
    lat, lon = _offset(rng, e_lat, e_lon, 1.2)
    outlets.append(Site("OUT-004", f"{e_name}邮政代收点", OutletKind.AGENT, lat, lon, region_code=e_code))

    candidates: list[Site] = []

    def add(name: str, kind: str, lat: Decimal, lon: Decimal) -> None:
        # a counter needs a rented hall and staff; an agent point or a terminal a contract and a machine
        units = (
            int(rng.integers(8, 40)) * 10_000
            if kind == OutletKind.COUNTER
            else int(rng.integers(2, 9)) * 5_000
        )
        code = f"CAND-{len(candidates) + 1:03d}"
        candidates.append(Site(code, name, kind, lat, lon, cost=Decimal(units)))

    for _code, name, t_lat, t_lon, _share in TOWNSHIPS[1:]:
        lat, lon = _offset(rng, t_lat, t_lon, 0.4)
        add(f"{name}中心街", OutletKind.COUNTER, lat, lon)
    for _code, name, t_lat, t_lon, _share in TOWNSHIPS[1:]:
        for frac, label in ((0.25, "近城段"), (0.5, "中段"), (0.75, "近镇段")):
            lat, lon = _offset(
                rng, seat_lat + frac * (t_lat - seat_lat), seat_lon + frac * (t_lon - seat_lon), 0.3
            )
            add(f"{seat_name}至{name}公路{label}", OutletKind.AGENT, lat, lon)
    for label in ("城东新区", "城西工业园", "城南小区", "城北客运站"):
        lat, lon = _offset(rng, seat_lat, seat_lon, 2.2)
        add(f"{seat_name}{label}", OutletKind.SELF_SERVICE, lat, lon)
    return outlets, candidates


def seed_outlets(*, seed: int) -> SeedSummary:
    """Write the synthetic county's outlets and candidate sites (one transaction). Needs the county's regions
    (``generate_county``) and no outlet or candidate yet."""
    outlets, candidates = outlet_rows(seed=seed)
    wanted = {o.region_code for o in outlets}
    regions = {r.code: r for r in Region.objects.filter(code__in=wanted)}
    missing = sorted(wanted - set(regions))
    if missing:
        raise SeedError(
            f"no region {', '.join(missing)}: generate the synthetic county first (wattdesk synth)"
        )
    if PaymentOutlet.objects.exists() or CandidateSite.objects.exists():
        raise SeedError("payment outlets or candidate sites already exist: nothing seeded")
    with transaction.atomic():
        PaymentOutlet.objects.bulk_create(
            PaymentOutlet(
                code=o.code, name=o.name, kind=o.kind, lat=o.lat, lon=o.lon, region=regions[o.region_code]
            )
            for o in outlets
        )
        CandidateSite.objects.bulk_create(
            CandidateSite(code=c.code, name=c.name, kind=c.kind, lat=c.lat, lon=c.lon, cost=c.cost)
            for c in candidates
        )
    return SeedSummary(outlets=len(outlets), candidates=len(candidates))
