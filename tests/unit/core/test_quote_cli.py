"""`wattdesk quote` end to end through main(): JSON shape, Chinese tariffs, one-line errors (exit 2)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest

from wattdesk.interfaces.cli import main

TARIFFS = Path(__file__).resolve().parents[3] / "src" / "wattdesk" / "config" / "tariffs"


def write_load(path: Path, rows: list[str], header: str = "account,timestamp,kwh") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


class TestQuoteCommand:
    def test_prints_the_json_document(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        # 24 hourly readings of 12.5 kWh on 2026-03-02 = 300 kWh, all in Beijing tier 2 beyond 240
        rows = [f"H1,2026-03-02 {h:02d}:00,12.5" for h in range(24)]
        load = write_load(tmp_path / "load.csv", rows)
        code = main(
            [
                "quote",
                "--tariff",
                str(TARIFFS / "beijing-residential-monthly.yaml"),
                "--load",
                str(load),
                "--json",
            ]
        )
        assert code == 0
        doc = json.loads(capsys.readouterr().out)
        (bill,) = doc["bills"]
        (period,) = bill["periods"]
        assert (bill["account"], period["start"], period["end"], period["kwh"]) == (
            "H1",
            "2026-03-01",
            "2026-04-01",
            "300",
        )
        # 240 x 0.4883 = 117.192 and 60 x 0.5383 = 32.298
        assert [(ln["code"], ln["quantity"], ln["rate"], ln["amount"]) for ln in period["lines"]] == [
            ("energy.flat.t1", "240", "0.4883", "117.19"),
            ("energy.flat.t2", "60", "0.5383", "32.30"),
        ]
        assert period["lines"][0]["description"] == "电度电费 平 第1档"
        assert period["lines"][0]["unit"] == "kWh"
        assert period["total"] == bill["total"] == "149.49"
        assert list(period["lines"][0]) == [
            "code",
            "description",
            "quantity",
            "unit",
            "rate",
            "amount",
            "rule",
        ]
        assert set(period) == {"start", "end", "kwh", "lines", "total"}

    def test_two_part_tariff_uses_capacity_and_contract_flags(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        rows = [f"F1,2026-03-02 {h:02d}:00,450,150" for h in range(24)]
        load = write_load(tmp_path / "load.csv", rows, header="account,timestamp,kwh,kvarh")
        tariff = TARIFFS / "large-industry-two-part-demand.yaml"
        args = [
            "quote",
            "--tariff",
            str(tariff),
            "--load",
            str(load),
            "--json",
            "--contract-kw",
            "400",
            "--capacity-kva",
            "630",
        ]
        assert main(args) == 0
        lines = {
            ln["code"]: ln for ln in json.loads(capsys.readouterr().out)["bills"][0]["periods"][0]["lines"]
        }
        assert lines["basic.demand"]["amount"] == "12600.00"  # 420 x 30
        assert lines["basic.demand.excess"]["amount"] == "1800.00"  # 30 x 60
        # PF 450/sqrt(450²+150²) = 0.95 -> -0.75 % of the PF base
        base = sum(D(ln["amount"]) for code, ln in lines.items() if code.startswith(("energy.", "basic.")))
        assert D(lines["pf"]["amount"]) == (base * D("-0.0075")).quantize(D("0.01"))
        assert lines["pf"]["rate"] == "-0.0075"
        assert D(lines["pf"]["quantity"]) == base

    @pytest.mark.parametrize(
        ("rows", "message"),
        [
            (
                ["A,2026-01-01 00:00,1", "A,2026-01-01 01:00,abc"],
                "load.csv row 3 column kwh: not a number 'abc'",
            ),
            (
                ["A,2026-01-01 00:00,1", "A,2026-13-01 01:00,1"],
                "load.csv row 3 column timestamp: not a timestamp",
            ),
            (
                ["A,2026-01-01 00:00,1", "A,2026-01-01 00:00,1"],
                "load.csv row 3 column timestamp: duplicate interval",
            ),
            (["A,2026-01-01 00:00,-1"], "load.csv row 2 column kwh: negative"),
        ],
    )
    def test_bad_load_exits_2_with_one_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str], message: str
    ) -> None:
        load = write_load(tmp_path / "load.csv", rows)
        assert main(["quote", "--tariff", str(TARIFFS / "agricultural-flat.yaml"), "--load", str(load)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err

    def test_bad_tariff_names_the_field(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        bad = tmp_path / "t.yaml"
        bad.write_text((TARIFFS / "beijing-residential-monthly.yaml").read_text().replace("0.5383", "abc"))
        load = write_load(tmp_path / "load.csv", ["A,2026-01-01 00:00,1", "A,2026-01-01 01:00,1"])
        assert main(["quote", "--tariff", str(bad), "--load", str(load)]) == 2
        assert "t.yaml: energy.periods[0].tiers[1].rate: not a decimal: 'abc'" in capsys.readouterr().err

    def test_all_example_tariffs_parse(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        load = write_load(tmp_path / "load.csv", [f"A,2026-01-05 {h:02d}:00,100" for h in range(24)])
        for f in sorted(TARIFFS.glob("*.yaml")):
            args = [
                "quote",
                "--tariff",
                str(f),
                "--load",
                str(load),
                "--json",
                "--capacity-kva",
                "500",
                "--contract-kw",
                "80",
            ]
            assert main(args) == 0, f
            total = json.loads(capsys.readouterr().out)["bills"][0]["total"]
            assert D(total) > 0

    def test_workers_give_the_same_bills(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        # three whole-year hourly accounts: the dense path, determinants split over threads
        ts = np.datetime64("2026-01-01T00:00", "m") + np.arange(8760) * 60
        stamps = [str(t).replace("T", " ") for t in ts]
        rows = [f"A{a},{s},{(a + 1) * (1 + (i % 7)) / 4}" for a in range(3) for i, s in enumerate(stamps)]
        load = write_load(tmp_path / "year.csv", rows)
        tariff = str(TARIFFS / "beijing-residential-monthly.yaml")
        docs = []
        for workers in ("1", "3"):
            args = ["quote", "--tariff", tariff, "--load", str(load), "--json", "--workers", workers]
            assert main(args) == 0
            docs.append(json.loads(capsys.readouterr().out))
        assert docs[0] == docs[1] and len(docs[0]["bills"]) == 3
        assert all(len(b["periods"]) == 12 for b in docs[0]["bills"])

    def test_workers_must_be_positive(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        load = write_load(tmp_path / "load.csv", ["A,2026-01-01 00:00,1"])
        args = [
            "quote",
            "--tariff",
            str(TARIFFS / "agricultural-flat.yaml"),
            "--load",
            str(load),
            "--workers",
            "0",
        ]
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        assert "--workers: must be at least 1" in capsys.readouterr().err
