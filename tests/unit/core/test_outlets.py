"""Payment-outlet planning math: distances, coverage, aggregation, MCLP / p-median against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattdesk.core import outlets as o

KM = 1.0 / o.KM_PER_DEGREE_LAT  # one km north, in degrees of latitude


def arr(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float64)


class TestHaversine:
    def test_beijing_to_shanghai_is_about_1068_km(self) -> None:
        d = float(o.haversine_km(39.9042, 116.4074, 31.2304, 121.4737))
        assert d == pytest.approx(1067.3, abs=1.0)

    def test_one_degree_of_latitude_is_111_2_km(self) -> None:
        assert float(o.haversine_km(30.0, 120.0, 31.0, 120.0)) == pytest.approx(111.195, abs=0.01)

    def test_one_degree_of_longitude_at_60_north_is_half_of_the_equator(self) -> None:
        at_equator = float(o.haversine_km(0.0, 0.0, 0.0, 1.0))
        at_60 = float(o.haversine_km(60.0, 0.0, 60.0, 1.0))
        assert at_60 == pytest.approx(at_equator / 2, rel=1e-3)

    def test_same_point_is_zero_and_matrix_broadcasts(self) -> None:
        d = o.distance_matrix(arr(30, 31), arr(120, 120), arr(30, 31, 30), arr(120, 120, 121))
        assert d.shape == (2, 3)
        assert d[0, 0] == 0.0 and d[1, 1] == 0.0
        assert d[0, 1] == pytest.approx(111.195, abs=0.01)


class TestEvaluate:
    def test_share_within_radius_and_mean_distance(self) -> None:
        # customers 1, 2, 3 and 4 km north of the only outlet
        lat = 30.0 + arr(1, 2, 3, 4) * KM
        cov = o.evaluate(
            lat=lat, lon=arr(120, 120, 120, 120), site_lat=arr(30), site_lon=arr(120), radius_km=2.5
        )
        assert (cov.customers, cov.covered) == (4, 2)
        assert cov.coverage == 0.5
        assert cov.mean_km == pytest.approx(2.5, abs=1e-6)

    def test_radius_is_inclusive_and_weights_count_customers(self) -> None:
        cov = o.evaluate(
            lat=arr(30.0, 30.0 + 3 * KM),
            lon=arr(120, 120),
            site_lat=arr(30.0),
            site_lon=arr(120),
            radius_km=1.0,
            weight=arr(3, 1),
        )
        assert (cov.customers, cov.covered, cov.coverage) == (4, 3, 0.75)
        assert cov.mean_km == pytest.approx(0.75, abs=1e-6)

    def test_no_outlet_covers_nobody_and_has_no_mean(self) -> None:
        cov = o.evaluate(lat=arr(30), lon=arr(120), site_lat=arr(), site_lon=arr(), radius_km=3)
        assert (cov.coverage, cov.mean_km) == (0.0, None)

    def test_bad_radius_is_refused(self) -> None:
        with pytest.raises(o.PlanningError):
            o.evaluate(lat=arr(30), lon=arr(120), site_lat=arr(30), site_lon=arr(120), radius_km=0)


class TestAggregateDemand:
    def test_customers_in_one_cell_become_one_weighted_centroid(self) -> None:
        lat = 30.0 + arr(0.01, 0.02, 0.03, 5.1, 5.2) * KM  # three within 0.03 km, two about 5 km north
        lon = arr(120, 120, 120, 120, 120)
        dem = o.aggregate_demand(lat=lat, lon=lon, cell_km=0.5)
        assert dem.size == 2
        assert sorted(dem.weight.tolist()) == [2.0, 3.0]
        three = int(np.argmax(dem.weight))
        assert dem.lat[three] == pytest.approx(30.0 + 0.02 * KM)
        assert dem.weight.sum() == 5

    def test_cell_zero_keeps_distinct_coordinates(self) -> None:
        dem = o.aggregate_demand(lat=arr(30, 30, 31), lon=arr(120, 120, 120), cell_km=0)
        assert dem.size == 2 and sorted(dem.weight.tolist()) == [1.0, 2.0]


def _clusters() -> tuple[o.Demand, np.ndarray, np.ndarray]:
    """Three clusters of customers: 50 at A (origin), 30 at B (10 km east), 20 at C (10 km north).
    Candidates: 0 at B, 1 at C, 2 half-way between B and C (7.07 km from both), 3 at 20 km west."""
    lat0, lon0 = 30.0, 120.0
    km_lon = KM / math.cos(math.radians(lat0))
    lat = arr(lat0, lat0, lat0 + 10 * KM)
    lon = arr(lon0, lon0 + 10 * km_lon, lon0)
    dem = o.Demand(lat=lat, lon=lon, weight=arr(50, 30, 20), cell_km=0)
    c_lat = arr(lat0, lat0 + 10 * KM, lat0 + 5 * KM, lat0)
    c_lon = arr(lon0 + 10 * km_lon, lon0, lon0 + 5 * km_lon, lon0 - 20 * km_lon)
    return dem, c_lat, c_lon


class TestMaximalCoverage:
    def test_the_two_uncovered_clusters_get_the_two_sites(self) -> None:
        dem, c_lat, c_lon = _clusters()
        sol = o.solve(
            demand=dem,
            existing_lat=arr(30.0),
            existing_lon=arr(120.0),
            candidate_lat=c_lat,
            candidate_lon=c_lon,
            k=2,
            radius_km=3,
        )
        assert sol.opened == (0, 1) and sol.closed == ()
        assert sol.covered_weight == 100
        assert sol.total_distance == pytest.approx(0.0, abs=1e-6)
        assert sol.stages == 2

    def test_one_site_goes_to_the_bigger_cluster(self) -> None:
        dem, c_lat, c_lon = _clusters()
        sol = o.solve(
            demand=dem,
            existing_lat=arr(30.0),
            existing_lon=arr(120.0),
            candidate_lat=c_lat,
            candidate_lon=c_lon,
            k=1,
            radius_km=3,
        )
        assert sol.opened == (0,) and sol.covered_weight == 80

    def test_tie_on_coverage_is_broken_by_distance(self) -> None:
        # At 8 km the half-way site 2 is 7.07 km from A, B and C: with k=1, sites 0, 1 and 2 cover 80, 70
        # and 100 -> site 2. At 15 km the existing outlet at A already covers everybody, so every choice ties
        # on coverage (100) and the total distance decides: B leaves C 10 km from A (20 x 10 = 200), C leaves
        # B at 10 km (300), the half-way site leaves B and C at 7.07 km (354), the far west site 500 -> B.
        dem, c_lat, c_lon = _clusters()
        common = {
            "demand": dem,
            "existing_lat": arr(30.0),
            "existing_lon": arr(120.0),
            "candidate_lat": c_lat,
            "candidate_lon": c_lon,
            "k": 1,
        }
        assert o.solve(**common, radius_km=8).opened == (2,)  # type: ignore[arg-type]
        at_15 = o.solve(**common, radius_km=15)  # type: ignore[arg-type]
        assert at_15.covered_weight == 100
        assert at_15.opened == (0,)
        assert at_15.total_distance == pytest.approx(20 * 10, rel=1e-3)

    def test_relocation_closes_the_badly_placed_outlet(self) -> None:
        dem, c_lat, c_lon = _clusters()
        # Existing: one at A (kept: it serves 50) and one 20 km west (serves nobody). Relocate 1, k = 1.
        sol = o.solve(
            demand=dem,
            existing_lat=arr(30.0, float(c_lat[3])),
            existing_lon=arr(120.0, float(c_lon[3])),
            candidate_lat=c_lat[:3],
            candidate_lon=c_lon[:3],
            k=1,
            relocate=1,
            radius_km=3,
        )
        assert sol.closed == (1,)
        assert sol.opened == (0, 1)
        assert sol.covered_weight == 100

    def test_bad_arguments_are_refused(self) -> None:
        dem, c_lat, c_lon = _clusters()
        kw = {"demand": dem, "existing_lat": arr(30), "existing_lon": arr(120), "radius_km": 3.0}
        with pytest.raises(o.PlanningError, match="candidate"):
            o.solve(**kw, candidate_lat=c_lat, candidate_lon=c_lon, k=5)  # type: ignore[arg-type]
        with pytest.raises(o.PlanningError, match="relocate"):
            o.solve(**kw, candidate_lat=c_lat, candidate_lon=c_lon, k=1, relocate=2)  # type: ignore[arg-type]


class TestPMedian:
    def test_median_minimises_total_distance(self) -> None:
        dem, c_lat, c_lon = _clusters()
        sol = o.solve(
            demand=dem,
            existing_lat=arr(30.0),
            existing_lon=arr(120.0),
            candidate_lat=c_lat,
            candidate_lon=c_lon,
            k=1,
            radius_km=3,
            objective="median",
        )
        # With the outlet at A: B leaves C 10 km away (20 x 10 = 200), C leaves B 10 km away (300), the
        # half-way site leaves B and C at 7.07 km (50 x 7.07 = 354): B.
        assert sol.opened == (0,)
        assert sol.total_distance == pytest.approx(200, rel=1e-3)


def _brute(
    d: np.ndarray, w: np.ndarray, n_e: int, k: int, r: int, radius: float, objective: str
) -> tuple[float, float]:
    """Best (coverage, -distance) or (-distance,) over all plans, by enumeration."""
    n_c = d.shape[1] - n_e
    best: tuple[float, float] | None = None
    for closed_n in range(r + 1):
        for closed in itertools.combinations(range(n_e), closed_n):
            for opened in itertools.combinations(range(n_c), k + closed_n):
                cols = [j for j in range(n_e) if j not in closed] + [n_e + c for c in opened]
                near = d[:, cols].min(axis=1)
                cov = float(w @ (near <= radius))
                dist = float(w @ near)
                key = (cov, -dist) if objective == "coverage" else (-dist, 0.0)
                if best is None or key > best:
                    best = key
    assert best is not None
    return best


@st.composite
def instances(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(1, 8))
    n_e = draw(st.integers(0, 2))
    n_c = draw(st.integers(1, 5))
    r = draw(st.integers(0, min(n_e, n_c)))
    k = draw(st.integers(0 if n_e else 1, n_c - r))
    coord = st.floats(0, 10, allow_nan=False).map(lambda v: round(v, 1))
    pts = draw(st.lists(st.tuples(coord, coord), min_size=n + n_e + n_c, max_size=n + n_e + n_c))
    lat = 30.0 + np.array([p[0] for p in pts]) * KM
    lon = 120.0 + np.array([p[1] for p in pts]) * KM / math.cos(math.radians(30.0))
    w = np.array(draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)), dtype=np.float64)
    return {
        "lat": lat,
        "lon": lon,
        "w": w,
        "n": n,
        "n_e": n_e,
        "k": k,
        "r": r,
        "radius": draw(st.sampled_from([1.5, 3.0, 5.0])),
        "objective": draw(st.sampled_from(["coverage", "median"])),
    }


class TestAgainstBruteForce:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(instances())
    def test_milp_optimum_equals_enumeration(self, inst: dict) -> None:  # type: ignore[type-arg]
        n, n_e = inst["n"], inst["n_e"]
        lat, lon, w = inst["lat"], inst["lon"], inst["w"]
        dem = o.Demand(lat=lat[:n], lon=lon[:n], weight=w, cell_km=0)
        sol = o.solve(
            demand=dem,
            existing_lat=lat[n : n + n_e],
            existing_lon=lon[n : n + n_e],
            candidate_lat=lat[n + n_e :],
            candidate_lon=lon[n + n_e :],
            k=inst["k"],
            relocate=inst["r"],
            radius_km=inst["radius"],
            objective=inst["objective"],
        )
        d = o.distance_matrix(lat[:n], lon[:n], lat[n:], lon[n:])
        best = _brute(d, w, n_e, inst["k"], inst["r"], inst["radius"], inst["objective"])
        assert len(sol.opened) == inst["k"] + len(sol.closed)
        assert len(sol.closed) <= inst["r"]
        if inst["objective"] == "coverage":
            assert sol.covered_weight == best[0]
            assert sol.total_distance == pytest.approx(-best[1], rel=1e-6, abs=1e-6)
        else:
            assert sol.total_distance == pytest.approx(-best[0], rel=1e-6, abs=1e-6)
