"""Batch onboarding (批量开户): a good file creates the whole chain; a bad one names every bad cell and writes nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from wattdesk.application.customers.onboarding import import_accounts
from wattdesk.application.tabular import ImportRejected
from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.application.tariffs.reference_data import example_tariff_paths
from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint
from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister
from wattdesk.domain.tariffs.models import TariffAssignment
from wattdesk.interfaces.cli import main

HEADER = (
    "customer_number,customer_name,customer_class,birth_year,account_number,opened_on,service_point_number,"
    "address,region,route,transformer_area,voltage_kv,capacity_kva,contract_kw,pf_standard,lat,lon,"
    "meter_serial,multiplier,registers,tariff_code\n"
)
GOOD = HEADER + (
    "C001,张三,residential,1950,A001,2025-01-01,SP001,城关镇1号,R1,RT1,TA1,0.22,0,,,30.01,120.51,M001,1,active_total,BJ-RES-TIER\n"
    "C001,张三,residential,1950,A002,2025-03-01,SP002,城关镇2号,R1,RT1,TA1,0.22,0,,,30.02,120.52,M002,1,active_total,BJ-RES-TIER\n"
    "E001,某某纺织有限公司,industrial,,A003,2026-01-01,SP003,工业园3号,R2,RT9,,10,1250,800,0.90,30.1,120.6,M003,80,"
    "active_peak;active_flat;active_valley;reactive;max_demand,LI-2P-DEMAND\n"
)


@pytest.fixture
def catalog(db: None) -> None:
    import_tariff_files(paths=list(example_tariff_paths()))


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "onboarding.csv"
    path.write_text(text, encoding="utf-8")
    return path


class TestImportAccounts:
    def test_creates_customers_accounts_points_meters_and_tariffs(
        self, catalog: None, tmp_path: Path
    ) -> None:
        result = import_accounts(path=_file(tmp_path, GOOD))
        assert (result.customers, result.accounts, result.service_points, result.meters) == (2, 3, 3, 3)
        assert Customer.objects.get(number="C001").accounts.count() == 2
        assert Customer.objects.get(number="E001").kind == "enterprise"
        sp = ServicePoint.objects.get(number="SP003")
        assert (sp.capacity_kva, sp.contract_kw, sp.pf_standard) == (
            Decimal(1250),
            Decimal(800),
            Decimal("0.90"),
        )
        assert sp.route.region.code == "R2"
        assert Meter.objects.get(serial="M003").multiplier == Decimal(80)
        assert sorted(MeterRegister.objects.filter(meter__serial="M003").values_list("kind", flat=True)) == [
            "active_flat",
            "active_peak",
            "active_valley",
            "max_demand",
            "reactive",
        ]
        assert MeterInstallation.objects.get(meter__serial="M002").service_point.number == "SP002"
        assert TariffAssignment.objects.get(service_point=sp).tariff_code == "LI-2P-DEMAND"
        assert set(Region.objects.values_list("code", flat=True)) == {"R1", "R2"}
        assert ReadingRoute.objects.count() == 2

    def test_every_bad_cell_is_reported_and_nothing_is_written(self, catalog: None, tmp_path: Path) -> None:
        bad = HEADER + (
            "C001,张三,residential,1950,A001,2025-01-01,SP001,城关镇1号,R1,RT1,TA1,0.22,0,,,30.01,120.51,M001,1,active_total,BJ-RES-TIER\n"
            "C009,李四,household,1950,A009,2025-13-01,SP009,某地,R1,RT1,TA1,0.23,abc,,0.7,,,M001,1,active_total;bogus,NOPE\n"
        )
        with pytest.raises(ImportRejected) as err:
            import_accounts(path=_file(tmp_path, bad))
        reported = {(e.row, e.column) for e in err.value.errors}
        assert reported == {
            (3, "customer_class"),
            (3, "opened_on"),
            (3, "voltage_kv"),
            (3, "capacity_kva"),
            (3, "pf_standard"),
            (3, "registers"),
        }
        assert Customer.objects.count() == Account.objects.count() == Meter.objects.count() == 0

    def test_duplicates_and_unknown_tariffs_are_found_before_writing(
        self, catalog: None, tmp_path: Path
    ) -> None:
        import_accounts(path=_file(tmp_path, GOOD))
        again = HEADER + (
            "C001,张三,residential,1950,A010,2025-01-01,SP010,城关镇1号,R1,RT1,TA1,0.22,0,,,,,M001,1,active_total,BJ-RES-TIER\n"
            "C002,王五,residential,1960,A011,2025-01-01,SP011,城关镇1号,R1,RT1,TA1,0.22,0,,,,,M011,1,active_total,NOPE\n"
            "C002,王五,residential,1960,A012,2025-01-01,SP011,城关镇1号,R1,RT1,TA1,0.22,0,,,,,M012,1,active_total,BJ-RES-TIER\n"
        )
        with pytest.raises(ImportRejected) as err:
            import_accounts(path=_file(tmp_path, again))
        assert [str(e) for e in err.value.errors] == ["row 4, service_point_number: 'SP011' is also on row 3"]
        fixed = again.replace(
            "SP011,城关镇1号,R1,RT1,TA1,0.22,0,,,,,M012", "SP012,城关镇1号,R1,RT1,TA1,0.22,0,,,,,M012"
        )
        with pytest.raises(ImportRejected) as err:
            import_accounts(path=_file(tmp_path, fixed))
        assert [str(e) for e in err.value.errors] == [
            "row 2, meter_serial: 'M001' already exists",
            "row 3, tariff_code: no tariff 'NOPE' in the catalog",
        ]
        assert Account.objects.count() == 3


class TestAccountsCommand:
    def test_bad_file_is_exit_2_with_rows_listed(
        self, catalog: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = _file(
            tmp_path, HEADER + "C1,x,residential,,A1,2025-01-01,SP1,addr,R1,,,,,,,,,M1,0,,BJ-RES-TIER\n"
        )
        assert main(["accounts", "import", str(path)]) == 2
        captured = capsys.readouterr()
        assert "row 2, multiplier: must be at least 0.0001: '0'" in captured.out
        assert (
            captured.err.strip() == "wattdesk accounts: error: onboarding.csv: 1 bad row(s), nothing imported"
        )

    def test_good_file(self, catalog: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["accounts", "import", str(_file(tmp_path, GOOD))]) == 0
        assert "created 2 customers, 3 accounts" in capsys.readouterr().out


class TestOnboardingAudit:
    def test_one_audit_entry_records_the_whole_file(self, catalog: None, tmp_path: Path) -> None:
        from auditlog.models import LogEntry

        import_accounts(path=_file(tmp_path, GOOD))
        entry = LogEntry.objects.get(object_repr="onboarding onboarding.csv")
        assert entry.changes["accounts"] == [None, 3]
        assert entry.changes["meters"] == [None, 3]
