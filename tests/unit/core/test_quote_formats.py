"""`wattdesk quote` load layouts (long / wide; CSV, Parquet, Arrow IPC) and outputs (--json, --output
.json/.csv/.parquet): one set of bills whatever the format; bad files exit 2 with one line naming row/column."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from wattdesk.interfaces.cli import main

ROOT = Path(__file__).resolve().parents[3]
URDB = ROOT / "tests" / "fixtures" / "urdb-tariffs" / "scppd_lp1.json"  # 2 periods x 2 tiers + flat demand
STEPS = 8760


def kwh_matrix(n: int = 3) -> np.ndarray:
    rng = np.random.default_rng(4)
    return np.round(rng.gamma(2.0, 20.0, size=(n, STEPS)), 4)


def grid() -> np.ndarray:
    return np.datetime64("2018-01-01T00:00", "m") + np.arange(STEPS) * 60


def write_long(path: Path, kwh: np.ndarray) -> Path:
    n = kwh.shape[0]
    frame = pl.DataFrame(
        {
            "account": np.repeat([f"C{i}" for i in range(n)], STEPS),
            "timestamp": np.tile(grid(), n).astype("datetime64[us]"),
            "kwh": kwh.ravel(),
        }
    )
    if path.suffix == ".csv":
        frame.write_csv(path, datetime_format="%Y-%m-%d %H:%M")
    else:
        frame.write_parquet(path)
    return path


def write_wide(path: Path, kwh: np.ndarray, fixed: bool = True) -> Path:
    n = kwh.shape[0]
    frame = pl.DataFrame(
        {
            "account": [f"C{i}" for i in range(n)],
            "start": np.full(n, np.datetime64("2018-01-01T00:00", "us")),
            "kwh": kwh if fixed else pl.Series([row.tolist() for row in kwh]),
        }
    )
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_ipc(path)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["quote", "--tariff", str(URDB), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


class TestLayouts:
    def test_every_layout_gives_the_same_bills(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        kwh = kwh_matrix()
        files = [
            write_long(tmp_path / "long.csv", kwh),
            write_long(tmp_path / "long.parquet", kwh),
            write_wide(tmp_path / "wide.parquet", kwh),
            write_wide(tmp_path / "wide.arrow", kwh),
            write_wide(tmp_path / "wide-list.arrow", kwh, fixed=False),
        ]
        docs = []
        for f in files:
            code, out, err = run(capsys, "--load", str(f), "--json")
            assert code == 0, err
            docs.append(json.loads(out))
        assert all(d == docs[0] for d in docs[1:])
        bills = docs[0]["bills"]
        assert [b["account"] for b in bills] == ["C0", "C1", "C2"]
        assert [len(b["periods"]) for b in bills] == [12, 12, 12]
        for b in bills:
            assert Decimal(b["total"]) == sum(Decimal(p["total"]) for p in b["periods"])
            for p in b["periods"]:
                assert Decimal(p["total"]) == sum(Decimal(ln["amount"]) for ln in p["lines"])

    def test_a_shuffled_long_file_is_sorted_per_account(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        kwh = kwh_matrix(2)
        sorted_file = write_long(tmp_path / "a.parquet", kwh)
        frame = pl.read_parquet(sorted_file).sample(fraction=1.0, shuffle=True, seed=1)
        frame.write_parquet(tmp_path / "b.parquet")
        _, a, _ = run(capsys, "--load", str(sorted_file), "--json")
        _, b, _ = run(capsys, "--load", str(tmp_path / "b.parquet"), "--json")
        assert json.loads(a) == json.loads(b)

    def test_outputs_agree_with_the_json(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        load = write_wide(tmp_path / "wide.parquet", kwh_matrix())
        _, out, _ = run(capsys, "--load", str(load), "--json")
        doc = json.loads(out)
        for ext in ("json", "csv", "parquet"):
            target = tmp_path / f"bills.{ext}"
            code, stdout, err = run(capsys, "--load", str(load), "--output", str(target))
            assert (code, stdout, err) == (0, "", "")
        assert json.loads((tmp_path / "bills.json").read_text()) == doc
        expected = {
            (b["account"], p["start"]): (
                p["kwh"],
                {ln["code"]: ln["amount"] for ln in p["lines"]},
                p["total"],
            )
            for b in doc["bills"]
            for p in b["periods"]
        }
        table = pq.read_table(tmp_path / "bills.parquet")
        assert table.schema.field("total").type == pa.decimal128(38, 2)
        assert table.schema.field("kwh").type == pa.decimal128(38, 4)
        csv = pl.read_csv(tmp_path / "bills.csv", infer_schema=False)
        assert csv.columns == table.column_names
        for source in (table.to_pylist(), csv.to_dicts()):
            got = {}
            for row in source:
                lines = {
                    c: str(v)
                    for c, v in row.items()
                    if c not in ("account", "start", "end", "kwh", "total") and v not in (None, "")
                }
                got[(row["account"], str(row["start"]))] = (
                    str(Decimal(str(row["kwh"])).normalize()),
                    lines,
                    str(row["total"]),
                )
            assert got == {k: (str(Decimal(v[0]).normalize()), v[1], v[2]) for k, v in expected.items()}

    def test_lines_output_equals_the_json_lines(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        load = write_wide(tmp_path / "wide.parquet", kwh_matrix())
        _, out, _ = run(capsys, "--load", str(load), "--json")
        expected = [
            {"account": b["account"], "start": p["start"], "end": p["end"], **ln}
            for b in json.loads(out)["bills"]
            for p in b["periods"]
            for ln in p["lines"]
        ]
        for ext in ("csv", "parquet"):
            target = tmp_path / f"lines.{ext}"
            assert run(capsys, "--load", str(load), "--lines", str(target)) == (0, "", "")
        table = pq.read_table(tmp_path / "lines.parquet")
        assert table.schema.field("amount").type == pa.decimal128(38, 2)
        csv = pl.read_csv(tmp_path / "lines.csv", infer_schema=False)
        assert csv.columns == table.column_names
        for source in (table.to_pylist(), csv.to_dicts()):
            assert [{k: str(v) for k, v in row.items()} for row in source] == expected

    def test_lines_output_type(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        load = write_wide(tmp_path / "wide.parquet", kwh_matrix(1))
        code, _, err = run(capsys, "--load", str(load), "--lines", str(tmp_path / "lines.json"))
        assert code == 2 and err.count("\n") == 1 and "lines.json: unsupported lines output type" in err

    def test_table_output_without_json(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        load = write_wide(tmp_path / "wide.arrow", kwh_matrix(1))
        code, out, _ = run(capsys, "--load", str(load))
        assert code == 0 and "account total" in out and "energy.p1.t1" in out


class TestErrors:
    def check(self, capsys: pytest.CaptureFixture[str], load: Path, message: str, *extra: str) -> None:
        code, _, err = run(capsys, "--load", str(load), *extra)
        assert code == 2
        assert err.count("\n") == 1 and message in err, err

    def test_negative_value_in_a_wide_row(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        kwh = kwh_matrix(2)
        kwh[1, 5] = -1.0
        self.check(capsys, write_wide(tmp_path / "w.parquet", kwh), "w.parquet row 2 column kwh[5]: negative")

    def test_missing_value_in_a_wide_list(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        pl.DataFrame(
            {
                "account": ["A"],
                "start": np.full(1, np.datetime64("2018-01-01T00:00", "us")),
                "kwh": [[1.0, None, 2.0]],
            }
        ).write_parquet(tmp_path / "w.parquet")
        self.check(capsys, tmp_path / "w.parquet", "w.parquet row 1 column kwh[1]: missing value")

    def test_wide_needs_start(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        pl.DataFrame({"account": ["A"], "kwh": [[1.0, 2.0]]}).write_parquet(tmp_path / "w.parquet")
        self.check(capsys, tmp_path / "w.parquet", "w.parquet: missing column start")

    def test_duplicate_account_in_wide(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        pl.DataFrame(
            {
                "account": ["A", "A"],
                "start": np.full(2, np.datetime64("2018-01-01T00:00", "us")),
                "kwh": [[1.0, 2.0], [1.0, 2.0]],
            }
        ).write_parquet(tmp_path / "w.parquet")
        self.check(capsys, tmp_path / "w.parquet", "w.parquet row 2 column account: duplicate account 'A'")

    def test_bad_step_minutes(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        pl.DataFrame(
            {
                "start": np.full(1, np.datetime64("2018-01-01T00:00", "us")),
                "step_minutes": [7],
                "kwh": [[1.0, 2.0]],
            }
        ).write_parquet(tmp_path / "w.parquet")
        self.check(capsys, tmp_path / "w.parquet", "w.parquet row 1 column step_minutes: must divide 60")

    def test_long_parquet_null_kwh(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        pl.DataFrame(
            {
                "timestamp": np.datetime64("2018-01-01T00:00", "us") + np.arange(3) * np.timedelta64(1, "h"),
                "kwh": [1.0, None, 2.0],
            }
        ).write_parquet(tmp_path / "l.parquet")
        self.check(capsys, tmp_path / "l.parquet", "l.parquet row 2 column kwh: missing value")

    def test_unsupported_files(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        load = write_wide(tmp_path / "w.parquet", kwh_matrix(1))
        self.check(capsys, tmp_path / "x.xlsx", "x.xlsx: unsupported load file type")
        self.check(
            capsys, load, "out.txt: unsupported output type '.txt'", "--output", str(tmp_path / "out.txt")
        )
        (tmp_path / "bad.arrow").write_bytes(b"not arrow")
        self.check(capsys, tmp_path / "bad.arrow", "bad.arrow: cannot read")


class TestNotDense:
    """Long files that are not one whole-year grid go per account, with the same bills as the exact path."""

    @pytest.mark.parametrize("shape", ["shorter", "shifted", "three-runs"])
    def test_falls_back_to_series(self, tmp_path: Path, shape: str) -> None:
        from wattdesk.application.billing.quote import DenseLoad, load_tariff, quote, quote_exact, read_load

        kwh = kwh_matrix(2)
        ts_a = grid()
        ts_b = grid()[: STEPS // 2] if shape == "shorter" else grid() + np.timedelta64(60, "m")
        frame = pl.DataFrame(
            {
                "account": ["A"] * STEPS + ["B"] * ts_b.size,
                "timestamp": np.concatenate((ts_a, ts_b)).astype("datetime64[us]"),
                "kwh": np.concatenate((kwh[0], kwh[1][: ts_b.size])),
            }
        )
        if shape == "three-runs":  # A's rows in two runs around B's
            frame = pl.concat([frame[: STEPS // 2], frame[STEPS:], frame[STEPS // 2 : STEPS]])
        frame.write_parquet(tmp_path / "l.parquet")
        load = read_load(path=tmp_path / "l.parquet")
        assert not isinstance(load, DenseLoad)
        assert [a.account for a in load] == ["A", "B"]
        tariff = load_tariff(path=URDB).tariff
        res = quote(tariff=tariff, load=load, semantics="pysam")
        exact = quote_exact(tariff=tariff, load=load, semantics="pysam")
        totals = [p.bill.total for q in exact for p in q.periods]
        assert [res.total(i) for i in range(res.total_fen.size)] == totals
