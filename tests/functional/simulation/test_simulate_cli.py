"""`wattdesk simulate` on the sample company (issued 2026-10 bills): the local engine, the report, the Excel."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from auditlog.models import LogEntry
from openpyxl import load_workbook

from sample_company import build_company
from wattdesk.application.simulation import simulate as uc
from wattdesk.domain.simulation.models import SimulationRun, SimulationStatus
from wattdesk.interfaces.cli import main

pytestmark = pytest.mark.django_db

CONFIG = Path(__file__).resolve().parents[3] / "src/wattdesk/config/tariffs"


def _accounts(settings: Any, run: SimulationRun) -> pl.DataFrame:
    return pl.read_parquet(Path(settings.WATTDESK_DATA_DIR) / run.result_path)


class TestSimulateCommand:
    def test_the_current_tariff_re_rated_on_itself_gives_every_account_its_billed_total(
        self, settings: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        build_company(settings)
        seen = 0
        for code in ("ZJ-RES-TIER", "ZJ-RES-TIER-TOU", "CI-TOU5", "AGR-FLAT"):
            assert (
                main(["simulate", "--tariff-from", code, "--tariff-to", code, "--months", "1", "--json"]) == 0
            )
            summary = json.loads(capsys.readouterr().out)
            run = SimulationRun.objects.get(pk=summary["run"])
            assert run.status == SimulationStatus.DONE
            df = _accounts(settings, run)
            assert df.height == summary["accounts"] > 0
            assert df["not_billable"].sum() == 0
            # the billed bills of 2026-10, to the fen, account by account
            assert df["bill_from_fen"].to_list() == df["billed_fen"].to_list()
            assert df["bill_to_fen"].to_list() == df["billed_fen"].to_list()
            assert summary["bill_from_fen"] == summary["bill_to_fen"] == df["billed_fen"].sum()
            assert all(r["change_fen"] == 0 for r in summary["by_class"])
            seen += df.height
        assert seen >= 80

    def test_a_proposed_price_rise_is_reported_by_class_region_tier_band_and_top_accounts(
        self, settings: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        build_company(settings)
        doc = yaml.safe_load((CONFIG / "zhejiang-residential-annual.yaml").read_text(encoding="utf-8"))
        assert doc["code"] == "ZJ-RES-TIER"
        for period in doc["energy"]["periods"]:
            for tier in period["tiers"]:
                tier["rate"] = round(float(tier["rate"]) + 0.05, 4)  # +5 fen / kWh on every tier
        proposed = tmp_path / "proposed.yaml"
        proposed.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        xlsx = tmp_path / "report.xlsx"
        rc = main(
            [
                "simulate",
                "--tariff-from",
                "ZJ-RES-TIER",
                "--tariff-to",
                str(proposed),
                "--months",
                "12",
                "--up-to",
                "2026-10",
                "--excel",
                str(xlsx),
            ]
        )
        out = capsys.readouterr().out
        assert rc == 0
        run = SimulationRun.objects.get()
        s = run.summary
        df = _accounts(settings, run)
        # +5 fen per kWh: each account's change is its kWh x 5 fen, give or take the per-line rounding of
        # its (at most three) tier lines
        change = df["bill_to_fen"] - df["bill_from_fen"]
        exact_fen_x10000 = df["kwh_units"] * 5
        assert ((change * 10_000 - exact_fen_x10000).abs() <= 2 * 10_000).all()
        assert s["bill_to_fen"] - s["bill_from_fen"] == int(change.sum()) > 0
        assert [r["customer_class"] for r in s["by_class"]] == ["residential"]
        assert sum(r["change_fen"] for r in s["by_region"]) == s["bill_to_fen"] - s["bill_from_fen"]
        assert sum(r["change_fen"] for r in s["by_tier"]) == s["bill_to_fen"] - s["bill_from_fen"]
        assert sum(r["accounts"] for r in s["distribution"]) == s["accounts"]
        top = s["top_increase"]
        assert top and top[0]["change_fen"] == int((df["bill_to_fen"] - df["bill_from_fen"]).max())
        assert s["top_decrease"] == []
        assert "revenue current" in out and uc.yuan(s["bill_to_fen"] - s["bill_from_fen"]) in out
        # the workbook: summary, class, region, tier, distribution and one row per account
        wb = load_workbook(io.BytesIO(xlsx.read_bytes()), read_only=True)
        assert len(wb.sheetnames) == 6
        rows = list(wb[wb.sheetnames[-1]].iter_rows(values_only=True))
        assert len(rows) == df.height + 1
        # the start is audited
        entry = LogEntry.objects.filter(additional_data__batch="simulation.start").get()
        assert entry.object_pk == str(run.pk)

    def test_an_unknown_tariff_exits_2_with_one_line(
        self, settings: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        build_company(settings)
        assert main(["simulate", "--tariff-from", "NO-SUCH", "--tariff-to", "ZJ-RES-TIER"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "NO-SUCH" in err[0]
        assert not SimulationRun.objects.exists()

    def test_a_run_that_fails_is_recorded_as_failed_with_its_reason(
        self, settings: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        build_company(settings)
        # LI-2P-DEMAND is in the catalogue but no issued bill of 2026-10 is on it
        assert (
            main(
                ["simulate", "--tariff-from", "LI-2P-DEMAND", "--tariff-to", "LI-2P-DEMAND", "--months", "1"]
            )
            == 2
        )
        err = capsys.readouterr().err.strip().splitlines()  # progress lines, then the one error line
        assert err[-1].startswith("wattdesk simulate: error:") and "LI-2P-DEMAND" in err[-1]
        run = SimulationRun.objects.get()
        assert (
            run.status == SimulationStatus.FAILED and "no service point on tariff LI-2P-DEMAND" in run.error
        )
        assert run.finished_at is not None
