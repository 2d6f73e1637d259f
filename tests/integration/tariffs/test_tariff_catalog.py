"""Tariff catalog: publish versions from files, idempotently, never editing a published version."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from wattdesk.application.errors import InputError
from wattdesk.application.tariffs.catalog import catalog, import_tariff_files
from wattdesk.application.tariffs.reference_data import example_tariff_paths
from wattdesk.domain.tariffs.models import TariffVersion
from wattdesk.domain.tariffs.queries import version_in_force
from wattdesk.interfaces.cli import main

URDB = Path(__file__).resolve().parents[2] / "fixtures" / "urdb-tariffs"

FLAT = """\
code: T-FLAT
name: 测试单一电价
effective_from: {start}
customer_class: commercial
energy:
  periods:
    - key: flat
      tiers: [{{rate: "{price}"}}]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.django_db
class TestImportTariffFiles:
    def test_imports_every_example_and_a_second_import_changes_nothing(self) -> None:
        first = import_tariff_files(paths=list(example_tariff_paths()))
        assert {p.outcome for p in first} == {"created"}
        assert TariffVersion.objects.count() == len(first) >= 6
        again = import_tariff_files(paths=list(example_tariff_paths()))
        assert {p.outcome for p in again} == {"unchanged"}
        assert TariffVersion.objects.count() == len(first)

    def test_a_new_version_closes_the_previous_one(self, tmp_path: Path) -> None:
        import_tariff_files(paths=[_write(tmp_path, "a.yaml", FLAT.format(start="2025-01-01", price="0.60"))])
        out = import_tariff_files(
            paths=[_write(tmp_path, "b.yaml", FLAT.format(start="2026-01-01", price="0.65"))]
        )
        assert out[0].closed_previous is True
        assert (
            version_in_force(code="T-FLAT", on=date(2025, 12, 31)).document["energy"]["periods"][0]["tiers"][
                0
            ]["rate"]
            == "0.60"
        )
        assert (
            version_in_force(code="T-FLAT", on=date(2026, 1, 1)).document["energy"]["periods"][0]["tiers"][0][
                "rate"
            ]
            == "0.65"
        )
        assert [v.effective_to for v in catalog()] == [date(2026, 1, 1), None]

    def test_changing_a_published_version_is_refused_and_stores_nothing(self, tmp_path: Path) -> None:
        import_tariff_files(paths=[_write(tmp_path, "a.yaml", FLAT.format(start="2025-01-01", price="0.60"))])
        changed = _write(tmp_path, "c.yaml", FLAT.format(start="2025-01-01", price="0.99"))
        new = _write(tmp_path, "d.yaml", FLAT.format(start="2027-01-01", price="0.70"))
        with pytest.raises(InputError, match="already exists with a different document"):
            import_tariff_files(paths=[new, changed])
        assert TariffVersion.objects.count() == 1  # the valid d.yaml was rolled back with the batch

    def test_a_bad_document_names_file_and_field_and_stores_nothing(self, tmp_path: Path) -> None:
        good = _write(tmp_path, "good.yaml", FLAT.format(start="2025-01-01", price="0.60"))
        bad = _write(tmp_path, "bad.yaml", FLAT.format(start="2025-01-01", price="abc"))
        with pytest.raises(InputError) as err:
            import_tariff_files(paths=[good, bad])
        assert str(err.value).startswith("bad.yaml: energy.periods[0].tiers[0].rate")
        assert TariffVersion.objects.count() == 0

    def test_urdb_record_is_stored_from_its_start_date(self) -> None:
        (p,) = import_tariff_files(paths=[URDB / "fpl_rs1.json"])
        assert p.code == "5550d6fd5457a3187e8b4567"
        assert TariffVersion.objects.get().document["energyratestructure"]


@pytest.mark.django_db
class TestTariffsCommand:
    def test_import_list_show(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["tariffs", "import", "--examples"]) == 0
        assert main(["tariffs", "list", "--on", "2026-06-01"]) == 0
        out = capsys.readouterr().out
        assert "LI-2P-DEMAND" in out and "BJ-RES-TIER" in out
        assert main(["tariffs", "show", "BJ-RES-TIER"]) == 0
        assert '"code": "BJ-RES-TIER"' in capsys.readouterr().out

    def test_unknown_tariff_is_exit_2_and_one_line(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["tariffs", "show", "NOPE"]) == 2
        err = capsys.readouterr().err
        assert err.strip() == "wattdesk tariffs: error: no tariff 'NOPE'"
