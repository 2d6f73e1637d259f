"""Use case: payment-outlet coverage and planning (网点规划). Fetch, then calculate (``wattdesk.core.outlets``).

Customers are the service points (用电点) of accounts that are not closed and have coordinates: one premise,
one customer. The model is solved on those premises aggregated to a grid of ``cell_km`` (default 0.5 km:
each premise is at most 0.71 km from its demand point); the before / after figures are evaluated exactly on
every premise. Outlets are the active ``PaymentOutlet`` rows, candidates every ``CandidateSite``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import FloatField
from django.db.models.functions import Cast

from wattdesk.application.errors import InputError
from wattdesk.core import outlets as core
from wattdesk.domain.customers.models import AccountStatus, ServicePoint
from wattdesk.domain.outlets import queries

MAX_K = 50


@dataclass(frozen=True)
class Site:
    code: str
    name: str
    kind: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Figures:
    customers: int
    covered: int
    coverage: float  # share of customers within the radius of an outlet
    mean_km: float | None  # mean distance to the nearest outlet

    def to_json(self) -> dict[str, Any]:
        return {
            "coverage": round(self.coverage, 4),
            "mean_km": None if self.mean_km is None else round(self.mean_km, 3),
            "customers": self.customers,
            "covered": self.covered,
        }


@dataclass(frozen=True)
class CoverageReport:
    radius_km: float
    figures: Figures
    outlets: tuple[Site, ...]
    candidates: tuple[Site, ...]


@dataclass(frozen=True)
class PlanReport:
    radius_km: float
    k: int
    relocate: int
    objective: str
    before: Figures
    after: Figures
    sites: tuple[Site, ...]  # candidates to open
    closed: tuple[Site, ...]  # existing outlets to close (relocation)
    kept: tuple[Site, ...]  # existing outlets that stay
    candidates: tuple[Site, ...]
    demand_points: int
    cell_km: float
    milp_variables: int

    def to_json(self) -> dict[str, Any]:
        def site(s: Site) -> dict[str, Any]:
            return {"code": s.code, "name": s.name, "kind": s.kind, "lat": s.lat, "lon": s.lon}

        return {
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "sites": [site(s) for s in self.sites],
            "closed": [site(s) for s in self.closed],
            "radius_km": self.radius_km,
            "k": self.k,
            "relocate": self.relocate,
            "objective": self.objective,
            "model": {
                "solver": "HiGHS (scipy.optimize.milp)",
                "demand_points": self.demand_points,
                "cell_km": self.cell_km,
                "variables": self.milp_variables,
            },
        }


# --- fetch ---------------------------------------------------------------------------------------------


def customer_coordinates() -> tuple[core.FloatArray, core.FloatArray]:
    """(lat, lon) of every premise of an account that is not closed, as float arrays (ordered by id)."""
    rows = (
        ServicePoint.objects.filter(lat__isnull=False, lon__isnull=False)
        .exclude(account__status=AccountStatus.CLOSED)
        .order_by("id")
        .values_list(Cast("lat", FloatField()), Cast("lon", FloatField()))
    )
    arr = np.array(list(rows), dtype=np.float64).reshape(-1, 2)
    return arr[:, 0].copy(), arr[:, 1].copy()


def _sites(qs: Any) -> tuple[Site, ...]:
    return tuple(Site(o.code, o.name, o.kind, float(o.lat), float(o.lon)) for o in qs)


def _coords(sites: tuple[Site, ...]) -> tuple[core.FloatArray, core.FloatArray]:
    return (
        np.array([s.lat for s in sites], dtype=np.float64),
        np.array([s.lon for s in sites], dtype=np.float64),
    )


def _figures(c: core.Coverage) -> Figures:
    return Figures(customers=c.customers, covered=c.covered, coverage=c.coverage, mean_km=c.mean_km)


def _check_radius(radius_km: float) -> None:
    if not (math.isfinite(radius_km) and 0 < radius_km <= 100):
        raise InputError("radius must be a number of km greater than 0 and at most 100")


# --- use cases -----------------------------------------------------------------------------------------


def coverage(*, radius_km: float) -> CoverageReport:
    """Today's coverage: share of customers within ``radius_km`` of an active outlet, mean nearest distance."""
    _check_radius(radius_km)
    lat, lon = customer_coordinates()
    outlets = _sites(queries.active_outlets())
    o_lat, o_lon = _coords(outlets)
    c = core.evaluate(lat=lat, lon=lon, site_lat=o_lat, site_lon=o_lon, radius_km=radius_km)
    return CoverageReport(
        radius_km=radius_km,
        figures=_figures(c),
        outlets=outlets,
        candidates=_sites(queries.candidate_sites()),
    )


def plan(
    *,
    k: int,
    radius_km: float,
    relocate: int = 0,
    objective: core.Objective = "coverage",
    cell_km: float = 0.5,
) -> PlanReport:
    """The best ``k`` new sites (and, with ``relocate``, up to that many outlets moved) and before / after."""
    _check_radius(radius_km)
    if not 0 <= k <= MAX_K:
        raise InputError(f"k must be between 0 and {MAX_K}")
    if relocate < 0:
        raise InputError("relocate must be 0 or more")
    if objective not in ("coverage", "median"):
        raise InputError("objective must be coverage or median")
    if not 0.0 <= cell_km <= 5.0:
        raise InputError("cell size must be between 0 and 5 km")
    lat, lon = customer_coordinates()
    if lat.shape[0] == 0:
        raise InputError("no customer has coordinates: nothing to plan")
    outlets = _sites(queries.active_outlets())
    candidates = _sites(queries.candidate_sites())
    if k + relocate > len(candidates):
        raise InputError(f"k + relocate = {k + relocate} exceeds the {len(candidates)} candidate sites")
    if relocate > len(outlets):
        raise InputError(f"cannot relocate {relocate} outlets: {len(outlets)} are active")
    if k + len(outlets) == 0:
        raise InputError("no active outlet and k = 0: nothing to plan")
    o_lat, o_lon = _coords(outlets)
    c_lat, c_lon = _coords(candidates)
    demand = core.aggregate_demand(lat=lat, lon=lon, cell_km=cell_km)
    try:
        sol = core.solve(
            demand=demand,
            existing_lat=o_lat,
            existing_lon=o_lon,
            candidate_lat=c_lat,
            candidate_lon=c_lon,
            k=k,
            radius_km=radius_km,
            relocate=relocate,
            objective=objective,
        )
    except core.PlanningError as exc:
        raise InputError(str(exc)) from None
    before = core.evaluate(lat=lat, lon=lon, site_lat=o_lat, site_lon=o_lon, radius_km=radius_km)
    kept = tuple(o for i, o in enumerate(outlets) if i not in set(sol.closed))
    opened = tuple(candidates[j] for j in sol.opened)
    a_lat, a_lon = _coords(kept + opened)
    after = core.evaluate(lat=lat, lon=lon, site_lat=a_lat, site_lon=a_lon, radius_km=radius_km)
    return PlanReport(
        radius_km=radius_km,
        k=k,
        relocate=relocate,
        objective=objective,
        before=_figures(before),
        after=_figures(after),
        sites=opened,
        closed=tuple(outlets[i] for i in sol.closed),
        kept=kept,
        candidates=candidates,
        demand_points=demand.size,
        cell_km=cell_km,
        milp_variables=sol.variables,
    )


def customer_sample(*, size: int, seed: int = 0) -> tuple[core.FloatArray, core.FloatArray]:
    """At most ``size`` customer premises drawn without replacement (deterministic), for plotting."""
    lat, lon = customer_coordinates()
    if lat.shape[0] <= size:
        return lat, lon
    idx = np.sort(np.random.default_rng(seed).choice(lat.shape[0], size=size, replace=False))
    return lat[idx], lon[idx]
