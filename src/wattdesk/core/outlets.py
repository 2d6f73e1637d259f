"""Payment-outlet planning math (网点规划): pure numpy + SciPy's HiGHS MILP; no Django, no DB, no clock, no I/O.

Vocabulary
- *customers*: premise coordinates (lat, lon in degrees), one per account / service point.
- *demand points*: customers aggregated to a grid, each with a weight = number of customers
  (``aggregate_demand``); the models are solved on demand points to stay small, while the before / after
  figures are always evaluated exactly on the individual customers (``evaluate``).
- *existing* outlets (营业厅 / 代收点 / 自助终端) and *candidate* sites where a new outlet could open.

Models (both solved with ``scipy.optimize.milp``, i.e. HiGHS branch-and-cut):
- MCLP, maximal covering location problem (``objective="coverage"``): open ``k`` candidates (existing outlets
  kept, or up to ``relocate`` of them closed and replaced) maximizing the weight of demand within ``radius_km``
  of an open outlet. Ties are broken lexicographically: among the solutions with the optimal coverage, the
  second stage minimizes the total (hence mean) distance to the nearest open outlet.
- p-median (``objective="median"``): the same choice minimizing the total weighted distance to the nearest
  open outlet (no coverage target).

Relocation: with ``relocate=r`` at most ``r`` existing outlets may close; the number of open outlets after the
plan is always ``existing + k``, so every closed outlet is replaced by one more candidate (``k=0, r=2`` is a
pure relocation of two outlets). The solver closes fewer than ``r`` when closing does not pay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array, csr_array, vstack

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Objective = Literal["coverage", "median"]

EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius
KM_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_KM / 180.0
_CHUNK = 65_536  # customers per block when computing nearest distances (bounds memory at ~0.5 MB x sites)


class PlanningError(ValueError):
    """The planning problem is malformed (k larger than the candidates, negative radius, ...)."""


class SolverError(RuntimeError):
    """HiGHS did not return an optimal solution (time limit, numerical trouble)."""


# --- distances ---------------------------------------------------------------------------------------------


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Great-circle distance in km (haversine, spherical Earth of mean radius); broadcasts like numpy."""
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    h = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=np.float64)


def distance_matrix(
    lat: FloatArray, lon: FloatArray, site_lat: FloatArray, site_lon: FloatArray
) -> FloatArray:
    """(n points x m sites) haversine distances in km."""
    return haversine_km(lat[:, None], lon[:, None], site_lat[None, :], site_lon[None, :])


def nearest_km(lat: FloatArray, lon: FloatArray, site_lat: FloatArray, site_lon: FloatArray) -> FloatArray:
    """Distance from every point to its nearest site (km), computed in blocks; +inf when there is no site."""
    n = lat.shape[0]
    out = np.full(n, np.inf)
    if site_lat.shape[0] == 0:
        return out
    for s in range(0, n, _CHUNK):
        e = min(n, s + _CHUNK)
        out[s:e] = distance_matrix(lat[s:e], lon[s:e], site_lat, site_lon).min(axis=1)
    return out


# --- coverage figures --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Coverage of customers by a set of outlets at a radius.

    ``coverage`` = share of customers (weight) whose nearest outlet is within ``radius_km`` (inclusive);
    ``mean_km`` = mean distance to the nearest outlet (None when there is no outlet or no customer).
    """

    customers: int
    covered: int
    coverage: float
    mean_km: float | None
    radius_km: float


def evaluate(
    *,
    lat: FloatArray,
    lon: FloatArray,
    site_lat: FloatArray,
    site_lon: FloatArray,
    radius_km: float,
    weight: FloatArray | None = None,
) -> Coverage:
    """Coverage and mean nearest distance of points (optionally weighted by integer counts) by the sites."""
    _check_radius(radius_km)
    w = np.ones(lat.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
    total = float(w.sum())
    if total <= 0:
        return Coverage(customers=0, covered=0, coverage=0.0, mean_km=None, radius_km=radius_km)
    d = nearest_km(lat, lon, site_lat, site_lon)
    covered = float(w[d <= radius_km].sum())
    mean = None if site_lat.shape[0] == 0 else float((w * d).sum() / total)
    return Coverage(
        customers=round(total),
        covered=round(covered),
        coverage=covered / total,
        mean_km=mean,
        radius_km=radius_km,
    )


# --- demand aggregation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Demand:
    """Weighted demand points: the weight-averaged position of the customers of a grid cell, and their count."""

    lat: FloatArray
    lon: FloatArray
    weight: FloatArray
    cell_km: float

    @property
    def size(self) -> int:
        return int(self.lat.shape[0])


def aggregate_demand(*, lat: FloatArray, lon: FloatArray, cell_km: float) -> Demand:
    """Aggregate customers into square cells of about ``cell_km`` (an equirectangular grid anchored at the
    south-west corner of the data); each non-empty cell becomes one demand point at the centroid of its
    customers, weighted by their number. A customer is at most one cell diagonal (cell_km x sqrt 2) from its
    point, so distances in the model are off by at most that much; ``cell_km=0`` keeps every distinct
    coordinate (exact)."""
    if lat.shape != lon.shape:
        raise PlanningError("lat and lon must have the same length")
    if not cell_km >= 0:
        raise PlanningError("cell size must be non-negative")
    if lat.shape[0] == 0:
        empty = np.zeros(0)
        return Demand(lat=empty, lon=empty.copy(), weight=empty.copy(), cell_km=cell_km)
    if cell_km == 0:
        keys = np.stack([lat, lon], axis=1)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        counts = np.bincount(inverse.ravel(), minlength=uniq.shape[0]).astype(np.float64)
        return Demand(lat=uniq[:, 0].copy(), lon=uniq[:, 1].copy(), weight=counts, cell_km=0.0)
    dlat = cell_km / KM_PER_DEGREE_LAT
    dlon = dlat / max(math.cos(math.radians(float(np.mean(lat)))), 1e-6)
    iy = np.floor((lat - lat.min()) / dlat).astype(np.int64)
    ix = np.floor((lon - lon.min()) / dlon).astype(np.int64)
    key = iy * (int(ix.max()) + 1) + ix
    uniq_keys, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.ravel()
    m = uniq_keys.shape[0]
    counts = np.bincount(inverse, minlength=m).astype(np.float64)
    clat = np.bincount(inverse, weights=lat, minlength=m) / counts
    clon = np.bincount(inverse, weights=lon, minlength=m) / counts
    return Demand(lat=clat, lon=clon, weight=counts, cell_km=cell_km)


# --- the location models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Solution:
    """Which candidates to open and which existing outlets to close (indices into the inputs, ascending)."""

    opened: tuple[int, ...]
    closed: tuple[int, ...]
    covered_weight: float  # demand weight within the radius, on the demand points
    total_distance: float  # sum of weight x distance to the nearest open outlet, on the demand points
    objective: Objective
    stages: int  # MILPs solved (2 for coverage with its distance tie-break)
    variables: int  # columns of the largest MILP


def _check_radius(radius_km: float) -> None:
    if not (math.isfinite(radius_km) and radius_km > 0):
        raise PlanningError("radius must be a positive number of km")


def solve(
    *,
    demand: Demand,
    existing_lat: FloatArray,
    existing_lon: FloatArray,
    candidate_lat: FloatArray,
    candidate_lon: FloatArray,
    k: int,
    radius_km: float,
    relocate: int = 0,
    objective: Objective = "coverage",
    time_limit_s: float = 120.0,
) -> Solution:
    """Choose ``k`` candidates to open (and up to ``relocate`` existing outlets to close, each replaced by one
    more candidate) by the MCLP with a distance tie-break (``coverage``) or by the p-median (``median``)."""
    _check_radius(radius_km)
    n_e, n_c = int(existing_lat.shape[0]), int(candidate_lat.shape[0])
    if k < 0 or relocate < 0:
        raise PlanningError("k and relocate must be non-negative")
    if relocate > n_e:
        raise PlanningError(f"cannot relocate {relocate} outlets: only {n_e} exist")
    if k + relocate > n_c:
        raise PlanningError(f"k + relocate = {k + relocate} exceeds the {n_c} candidate sites")
    if objective not in ("coverage", "median"):
        raise PlanningError(f"unknown objective {objective!r}")
    if n_e + k == 0:
        raise PlanningError("nothing to plan: no existing outlet and k = 0")

    # Facilities: existing first (0..n_e-1), then candidates (n_e..n_e+n_c-1).
    f_lat = np.concatenate([existing_lat, candidate_lat]).astype(np.float64)
    f_lon = np.concatenate([existing_lon, candidate_lon]).astype(np.float64)
    d = distance_matrix(demand.lat, demand.lon, f_lat, f_lon)
    cover = d <= radius_km
    w = demand.weight
    model = _Model(n_e=n_e, n_c=n_c, k=k, relocate=relocate, d=d, cover=cover, w=w)

    if objective == "coverage":
        x1 = model.solve_coverage(time_limit_s)
        best = float(w @ (cover[:, x1 > 0.5].any(axis=1)))
        x = model.solve_median(time_limit_s, min_covered=best)
        stages = 2
    else:
        x = model.solve_median(time_limit_s, min_covered=None)
        stages = 1
    open_mask = x > 0.5
    covered = float(w @ cover[:, open_mask].any(axis=1)) if open_mask.any() else 0.0
    total = float(w @ d[:, open_mask].min(axis=1)) if open_mask.any() else math.inf
    return Solution(
        opened=tuple(int(j) for j in np.flatnonzero(open_mask[n_e:])),
        closed=tuple(int(j) for j in np.flatnonzero(~open_mask[:n_e])),
        covered_weight=covered,
        total_distance=total,
        objective=objective,
        stages=stages,
        variables=model.largest,
    )


class _Model:
    """Builds the two MILPs over facility variables y (existing, then candidates)."""

    def __init__(
        self,
        *,
        n_e: int,
        n_c: int,
        k: int,
        relocate: int,
        d: FloatArray,
        cover: npt.NDArray[np.bool_],
        w: FloatArray,
    ) -> None:
        self.n_e, self.n_c, self.k, self.relocate = n_e, n_c, k, relocate
        self.m = n_e + n_c
        self.d, self.cover, self.w = d, cover, w
        self.n = int(d.shape[0])
        self.largest = 0

    # y bounds and the count constraints shared by both models: sum(y) = n_e + k, sum(y_existing) >= n_e - r.
    def _facility_rows(self, n_cols: int) -> list[LinearConstraint]:
        rows: list[LinearConstraint] = []
        total = np.zeros(n_cols)
        total[: self.m] = 1.0
        rows.append(LinearConstraint(total[None, :], self.n_e + self.k, self.n_e + self.k))
        if self.n_e and self.relocate > 0:
            keep = np.zeros(n_cols)
            keep[: self.n_e] = 1.0
            rows.append(LinearConstraint(keep[None, :], self.n_e - self.relocate, np.inf))
        return rows

    def _facility_bounds(self) -> tuple[FloatArray, FloatArray]:
        lo = np.zeros(self.m)
        if self.relocate == 0:
            lo[: self.n_e] = 1.0  # existing outlets are kept
        return lo, np.ones(self.m)

    def _run(
        self,
        c: FloatArray,
        cons: list[LinearConstraint],
        lo: FloatArray,
        hi: FloatArray,
        integrality: FloatArray,
        time_limit_s: float,
    ) -> FloatArray:
        self.largest = max(self.largest, int(c.shape[0]))
        res = milp(
            c,
            constraints=cons,
            bounds=Bounds(lo, hi),
            integrality=integrality,
            options={"time_limit": time_limit_s, "mip_rel_gap": 1e-9, "disp": False},
        )
        if res.status != 0 or res.x is None:
            raise SolverError(f"HiGHS: {res.message}")
        return np.asarray(res.x[: self.m], dtype=np.float64)

    def solve_coverage(self, time_limit_s: float) -> FloatArray:
        """MCLP: max sum w_i z_i, z_i <= sum_{j covers i} y_j, z_i in [0, 1]."""
        m = self.m
        useful = self.cover.any(axis=1)  # demand no facility can cover adds nothing: leave it out
        idx = np.flatnonzero(useful)
        nz = idx.shape[0]
        c = np.concatenate([np.zeros(m), -self.w[idx]])
        rows, cols = np.nonzero(self.cover[idx])
        a = coo_array(
            (
                np.concatenate([np.ones(nz), -np.ones(rows.shape[0])]),
                (np.concatenate([np.arange(nz), rows]), np.concatenate([m + np.arange(nz), cols])),
            ),
            shape=(nz, m + nz),
        )
        cons = [LinearConstraint(csr_array(a), -np.inf, 0.0), *self._facility_rows(m + nz)]
        flo, fhi = self._facility_bounds()
        lo = np.concatenate([flo, np.zeros(nz)])
        hi = np.concatenate([fhi, np.ones(nz)])
        integrality = np.concatenate([np.ones(m), np.zeros(nz)])
        return self._run(c, cons, lo, hi, integrality, time_limit_s)

    def _allowed(self) -> npt.NDArray[np.bool_]:
        """Assignment pairs that can be the nearest open facility of a demand point (exact pruning).

        At least n_e - r existing outlets stay open, so the nearest open existing outlet of a point is among its
        r + 1 nearest existing ones, and no facility farther than the (r+1)-th nearest existing outlet is ever
        its nearest open facility (ties kept). With no guaranteed existing outlet nothing is pruned."""
        kept = self.n_e - self.relocate
        if kept <= 0:
            return np.ones((self.n, self.m), dtype=bool)
        de = self.d[:, : self.n_e]
        bound = np.partition(de, self.relocate, axis=1)[:, self.relocate]  # (r+1)-th nearest existing
        return self.d <= bound[:, None]

    def solve_median(self, time_limit_s: float, *, min_covered: float | None) -> FloatArray:
        """p-median: min sum w_i d_ij a_ij, sum_j a_ij = 1, a_ij <= y_j; with ``min_covered`` also the MCLP
        variables z_i and sum w_i z_i >= min_covered (the lexicographic second stage)."""
        m, n = self.m, self.n
        allowed = self._allowed()
        pi, pj = np.nonzero(allowed)
        p = pi.shape[0]
        a0 = m  # first assignment column
        cost = self.w[pi] * self.d[pi, pj]
        # Normalise the objective so HiGHS sees O(1) coefficients.
        scale = max(float(cost.max(initial=0.0)), 1e-9)
        c_parts = [np.zeros(m), cost / scale]
        mats: list[coo_array] = []
        lbs: list[FloatArray] = []
        ubs: list[FloatArray] = []
        n_cols = m + p
        z_idx = np.zeros(0, dtype=np.int64)
        if min_covered is not None:
            z_idx = np.flatnonzero(self.cover.any(axis=1))
            n_cols += z_idx.shape[0]
            c_parts.append(np.zeros(z_idx.shape[0]))
        # sum_j a_ij = 1
        mats.append(coo_array((np.ones(p), (pi, a0 + np.arange(p))), shape=(n, n_cols)))
        lbs.append(np.ones(n))
        ubs.append(np.ones(n))
        # a_ij - y_j <= 0
        mats.append(
            coo_array(
                (
                    np.concatenate([np.ones(p), -np.ones(p)]),
                    (np.concatenate([np.arange(p), np.arange(p)]), np.concatenate([a0 + np.arange(p), pj])),
                ),
                shape=(p, n_cols),
            )
        )
        lbs.append(np.full(p, -np.inf))
        ubs.append(np.zeros(p))
        if min_covered is not None:
            nz = z_idx.shape[0]
            z0 = m + p
            rows, cols = np.nonzero(self.cover[z_idx])
            mats.append(
                coo_array(
                    (
                        np.concatenate([np.ones(nz), -np.ones(rows.shape[0])]),
                        (np.concatenate([np.arange(nz), rows]), np.concatenate([z0 + np.arange(nz), cols])),
                    ),
                    shape=(nz, n_cols),
                )
            )
            lbs.append(np.full(nz, -np.inf))
            ubs.append(np.zeros(nz))
            row = np.zeros((1, n_cols))
            row[0, z0:] = self.w[z_idx]
            # Weights are customer counts: a slack well below one customer keeps the optimum feasible
            # against HiGHS's feasibility tolerance without admitting a worse integer coverage.
            slack = min(0.25, 1e-7 * float(self.w.sum()))
            mats.append(coo_array(row))
            lbs.append(np.array([min_covered - slack]))
            ubs.append(np.array([np.inf]))
        a_all = csr_array(vstack(mats))
        cons = [
            LinearConstraint(a_all, np.concatenate(lbs), np.concatenate(ubs)),
            *self._facility_rows(n_cols),
        ]
        flo, fhi = self._facility_bounds()
        lo = np.concatenate([flo, np.zeros(n_cols - m)])
        hi = np.concatenate([fhi, np.ones(n_cols - m)])
        integrality = np.concatenate([np.ones(m), np.zeros(n_cols - m)])
        if min_covered is not None:
            # z integral in the second stage: with z continuous and the coverage row a hair below the optimum,
            # HiGHS (scipy 1.x) reported a worse plan as optimal (a dual bound above a feasible plan's cost;
            # found by tests/unit/core/test_outlets.py against enumeration). Binary z is the textbook MCLP.
            integrality[m + p :] = 1.0
        return self._run(np.concatenate(c_parts), cons, lo, hi, integrality, time_limit_s)
