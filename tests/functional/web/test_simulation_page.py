"""The simulation page (电价调整测算): start a run, the worker executes it, the report, charts and Excel."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook

from sample_company import build_company
from wattdesk.domain.simulation.models import SimulationRun, SimulationStatus
from wattdesk.domain.tariffs.models import TariffVersion
from wattdesk.interfaces.cli import main

pytestmark = pytest.mark.django_db


def _proposed_version() -> None:
    """ZJ-RES-TIER version 2 from 2027: every energy price +0.1 yuan/kWh (a proposal in the catalogue)."""
    v1 = TariffVersion.objects.get(code="ZJ-RES-TIER", version="1")
    doc = json.loads(json.dumps(v1.document))
    for period in doc["energy"]["periods"]:
        for tier in period["tiers"]:
            tier["rate"] = str(round(float(tier["rate"]) + 0.1, 4))
    TariffVersion.objects.create(
        code="ZJ-RES-TIER",
        version="2",
        effective_from=date(2027, 1, 1),
        name=v1.name + " (拟调)",
        document=doc,
    )


class TestQueuedSimulation:
    @pytest.fixture
    def company(self, transactional_db: None, settings: Any) -> Any:
        return build_company(settings)  # the worker commits: a transactional test

    def test_analyst_starts_a_simulation_and_reads_its_report_and_excel(
        self, company: Any, client_for: Any
    ) -> None:
        _proposed_version()
        client = client_for("analyst")
        page = client.get("/simulations/")
        assert page.status_code == 200
        assert "ZJ-RES-TIER" in page.content.decode()
        resp = client.post(
            "/simulations/",
            {"tariff_from": "ZJ-RES-TIER@1", "tariff_to": "ZJ-RES-TIER@2", "months": "12", "engine": "local"},
        )
        run = SimulationRun.objects.get()
        assert resp.status_code == 302 and resp["Location"] == f"/simulations/{run.pk}/"
        queued = client.get(f"/simulations/{run.pk}/").content.decode()
        assert 'data-testid="simulation-job"' in queued and run.status == SimulationStatus.PENDING
        assert main(["worker", "--batch", "--interval", "0"]) == 0
        run.refresh_from_db()
        assert run.status == SimulationStatus.DONE, run.error
        assert client.get(f"/simulations/{run.pk}/poll/").status_code == 200  # HX redirect to the report
        html = client.get(f"/simulations/{run.pk}/").content.decode()
        change = run.summary["bill_to_fen"] - run.summary["bill_from_fen"]
        assert change > 0
        assert f"{change // 100}.{change % 100:02d}" in html
        for testid in ("chart-class", "chart-region", "chart-distribution", "by-tier", "top-increase"):
            assert f'data-testid="{testid}"' in html
        xlsx = client.get(f"/simulations/{run.pk}/excel/")
        assert xlsx.status_code == 200
        wb = load_workbook(io.BytesIO(xlsx.content), read_only=True)
        summary = {r[0]: r[1] for r in wb[wb.sheetnames[0]].iter_rows(values_only=True)}
        assert summary["accounts"] == run.accounts


class TestSimulationPage:
    def test_a_file_path_is_refused_on_the_web_with_a_reason(self, company: Any, client_for: Any) -> None:
        resp = client_for("marketing_manager").post(
            "/simulations/", {"tariff_from": "/etc/passwd", "tariff_to": "ZJ-RES-TIER", "months": "12"}
        )
        assert resp.status_code == 400
        assert 'data-testid="simulation-error"' in resp.content.decode()
        assert not SimulationRun.objects.exists()

    def test_a_cashier_may_not_simulate(self, company: Any, client_for: Any) -> None:
        assert client_for("billing_clerk").get("/simulations/").status_code == 403
