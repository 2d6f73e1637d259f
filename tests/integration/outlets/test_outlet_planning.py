"""Outlet planning on a small synthetic county (200 accounts) with the seeded outlets and candidate sites."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wattdesk.application.errors import InputError
from wattdesk.application.outlets import planning as uc
from wattdesk.core import outlets as core
from wattdesk.domain.outlets.models import CandidateSite, PaymentOutlet
from wattdesk.interfaces.cli import main
from wattdesk.synthetic import generate_county
from wattdesk.synthetic.outlets import SeedError, outlet_rows, seed_outlets


@pytest.fixture
def county(db: None, settings: Any, tmp_path: Path) -> None:
    settings.WATTDESK_INTERVAL_DIR = tmp_path / "intervals"
    generate_county(accounts=200, months=1, seed=3, end_month=date(2025, 6, 1), interval_share=0.0)
    seed_outlets(seed=1)


class TestSeedOutlets:
    def test_same_seed_same_sites_and_outlets_concentrated_in_the_seat(self) -> None:
        a, b = outlet_rows(seed=1), outlet_rows(seed=1)
        assert a == b
        outlets, candidates = a
        assert [o.region_code for o in outlets] == ["QX01", "QX01", "QX01", "QX02"]
        assert len(candidates) == 5 + 15 + 4
        assert len({c.code for c in candidates}) == len(candidates)

    def test_writes_the_rows_once(self, county: None) -> None:
        assert PaymentOutlet.objects.count() == 4
        assert CandidateSite.objects.count() == 24
        with pytest.raises(SeedError, match="already exist"):
            seed_outlets(seed=1)

    def test_needs_the_county(self, db: None) -> None:
        with pytest.raises(SeedError, match="generate the synthetic county"):
            seed_outlets(seed=1)


class TestPlan:
    def test_coverage_today_matches_the_core_on_the_premises(self, county: None) -> None:
        report = uc.coverage(radius_km=3)
        lat, lon = uc.customer_coordinates()
        assert report.figures.customers == 200 == lat.shape[0]
        o_lat = np.array([o.lat for o in report.outlets])
        o_lon = np.array([o.lon for o in report.outlets])
        d = core.nearest_km(lat, lon, o_lat, o_lon)
        assert report.figures.covered == int((d <= 3).sum())
        assert report.figures.mean_km == pytest.approx(float(d.mean()))
        assert 0 < report.figures.coverage < 1

    def test_three_new_sites_raise_coverage_and_cut_the_mean_distance(self, county: None) -> None:
        plan = uc.plan(k=3, radius_km=3)
        assert len(plan.sites) == 3 and plan.closed == ()
        assert plan.after.coverage >= plan.before.coverage
        assert plan.after.coverage > plan.before.coverage + 0.2  # the townships around the seat get sites
        assert plan.after.mean_km is not None and plan.before.mean_km is not None
        assert plan.after.mean_km < plan.before.mean_km
        # the figures after are those of the kept outlets plus the opened sites, on every premise
        lat, lon = uc.customer_coordinates()
        sites = plan.kept + plan.sites
        d = core.nearest_km(lat, lon, np.array([s.lat for s in sites]), np.array([s.lon for s in sites]))
        assert plan.after.covered == int((d <= 3).sum())

    def test_exact_premises_give_the_brute_force_optimum(self, county: None) -> None:
        plan = uc.plan(k=2, radius_km=3, cell_km=0)
        lat, lon = uc.customer_coordinates()
        kept = np.array([[s.lat, s.lon] for s in plan.kept])
        cand = np.array([[s.lat, s.lon] for s in plan.candidates])
        best = 0
        for i in range(len(cand)):
            for j in range(i + 1, len(cand)):
                sites = np.vstack([kept, cand[[i, j]]])
                best = max(best, int((core.nearest_km(lat, lon, sites[:, 0], sites[:, 1]) <= 3).sum()))
        assert plan.after.covered == best

    def test_relocation_keeps_the_number_of_outlets(self, county: None) -> None:
        plan = uc.plan(k=1, radius_km=3, relocate=2)
        assert len(plan.closed) <= 2
        assert len(plan.kept) + len(plan.sites) == 4 + 1

    def test_bad_arguments(self, county: None) -> None:
        with pytest.raises(InputError, match="exceeds"):
            uc.plan(k=24, radius_km=3, relocate=1)
        with pytest.raises(InputError, match="radius"):
            uc.plan(k=1, radius_km=0)


class TestCli:
    def test_plan_json_shape(self, county: None, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["outlets", "plan", "--k", "3", "--radius-km", "3", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert {"before", "after", "sites"} <= set(out)
        for key in ("before", "after"):
            assert set(out[key]) >= {"coverage", "mean_km"}
            assert 0 <= out[key]["coverage"] <= 1
        assert out["after"]["coverage"] >= out["before"]["coverage"]
        assert out["after"]["mean_km"] <= out["before"]["mean_km"]
        assert len(out["sites"]) == 3
        assert {"code", "name", "lat", "lon"} <= set(out["sites"][0])
        assert out["sites"][0]["code"].startswith("CAND-")

    def test_coverage_text(self, county: None, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["outlets", "coverage", "--radius-km", "5"]) == 0
        assert "4 outlets, 200 customers" in capsys.readouterr().out

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["outlets", "plan", "--k", "x", "--radius-km", "3"], "--k must be an integer"),
            (["outlets", "plan", "--k", "2", "--radius-km", "-1"], "--radius-km must be a positive"),
            (["outlets", "plan", "--k", "99", "--radius-km", "3"], "k must be between 0 and 50"),
            (["outlets", "plan", "--k", "2", "--radius-km", "3", "--relocate", "9"], "cannot relocate 9"),
            (["outlets", "coverage", "--radius-km", "nan"], "--radius-km must be a positive"),
        ],
    )
    def test_bad_arguments_exit_2_with_one_line(
        self, county: None, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
    ) -> None:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err

    def test_seed_twice_is_refused(self, county: None, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["outlets", "seed"]) == 2
        assert "already exist" in capsys.readouterr().err
