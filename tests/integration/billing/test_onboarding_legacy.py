"""Onboarding from a legacy system (issue 9 part 8), entered as a clerk does: the onboarding file, the opening
register values file, the bulk tariff-change file, the readings file, then the billing run.

Prices: BJ-RES-TIER 0.4883 up to 240 kWh / 0.5383 up to 400 / 0.7883 (config/tariffs/beijing-residential-monthly);
AGR-FLAT 0.4650 plus the reservoir fund 0.0062 (agricultural customers are exempt from the renewable surcharge).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from wattdesk.application.billing import run as billing
from wattdesk.application.customers.onboarding import import_accounts
from wattdesk.application.metering.opening_values import import_opening_values
from wattdesk.application.metering.readings_import import import_readings
from wattdesk.application.tabular import ImportRejected
from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.application.tariffs.reassign import reassign_tariffs
from wattdesk.application.tariffs.reference_data import example_tariff_paths
from wattdesk.domain.billing.models import Bill, BillLine
from wattdesk.domain.metering.models import RegisterReading
from wattdesk.domain.tariffs.models import TariffAssignment
from wattdesk.interfaces.cli import main

pytestmark = pytest.mark.db

SH = ZoneInfo("Asia/Shanghai")
D = Decimal
AS_OF = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=SH)

ONBOARDING = (
    "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,region,"
    "meter_serial,multiplier,registers,tariff_code\n"
    "C001,张三,agricultural,A001,2019-05-01,SP001,城关镇1号,R1,M001,1,active_total,BJ-RES-TIER\n"
    "C002,李四,agricultural,A002,2019-05-01,SP002,城关镇2号,R1,M002,1,active_total,BJ-RES-TIER\n"
    "C003,王五,agricultural,A003,2019-05-01,SP003,城关镇3号,R1,M003,20,active_peak;active_valley;max_demand,"
    "BJ-RES-TIER\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def onboarded(db: None, tmp_path: Path) -> None:
    import_tariff_files(paths=list(example_tariff_paths()))
    import_accounts(path=write(tmp_path, "onboarding.csv", ONBOARDING))


def bill_lines(number: str) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    bill = Bill.objects.get(account__number=number)
    return [
        (ln.code, ln.quantity, ln.rate, ln.amount)
        for ln in BillLine.objects.filter(bill=bill).order_by("seq")
    ]


def run(period: str = "2026-03") -> billing.RunResult:
    return billing.run_billing(period=period, run_at=datetime(2026, 4, 2, 8, 0, tzinfo=SH), pipeline=False)


class TestOpeningValues:
    def test_the_first_reading_after_migration_bills_only_its_advance(
        self, onboarded: None, tmp_path: Path
    ) -> None:
        opening = write(
            tmp_path,
            "legacy.csv",
            "meter_serial,register,last_bill_date,value\nM001,active_total,2026-02-01,12000.5\n",
        )
        result = import_opening_values(path=opening, as_of=AS_OF, imported_at=NOW)
        assert (result.registers, result.already_imported) == (1, False)
        # the opening reading bills nothing itself: no consumption
        first = RegisterReading.objects.get(register__meter__serial="M001")
        assert (first.read_on, first.value, first.consumption) == (date(2026, 2, 1), D("12000.5"), None)
        import_readings(
            path=write(
                tmp_path,
                "march.csv",
                "meter_serial,register,read_on,value\n"
                "M001,active_total,2026-03-01,12310.5\n"
                "M002,active_total,2026-03-01,12310.5\n",
            ),
            as_of=AS_OF,
            imported_at=NOW,
        )
        run()
        # M001: 12310.5 - 12000.5 = 310 kWh (the advance since the legacy system's last bill)
        # 240 x 0.4883 = 117.192 -> 117.19; 70 x 0.5383 = 37.681 -> 37.68; total 154.87
        assert bill_lines("A001") == [
            ("energy.flat.t1", D("240.0000"), D("0.488300"), D("117.19")),
            ("energy.flat.t2", D("70.0000"), D("0.538300"), D("37.68")),
        ]
        assert Bill.objects.get(account__number="A001").total == D("154.87")
        # M002 got no opening value: its first reading is measured from the installation value 0, i.e. the whole
        # register (what every migrated meter billed before this import existed)
        assert Bill.objects.get(account__number="A002").kwh == D("12310.5000")

    def test_a_tou_meter_with_a_multiplier_bills_each_register_advance(
        self, onboarded: None, tmp_path: Path
    ) -> None:
        opening = write(
            tmp_path,
            "legacy.csv",
            "meter_serial,register,last_bill_date,value\n"
            "M003,active_peak,2026-02-01,500.25\n"
            "M003,active_valley,2026-02-01,800\n",
        )
        import_opening_values(path=opening, as_of=AS_OF, imported_at=NOW)
        import_readings(
            path=write(
                tmp_path,
                "march.csv",
                "meter_serial,register,read_on,value\n"
                "M003,active_peak,2026-03-01,505.75\n"
                "M003,active_valley,2026-03-01,803.5\n",
            ),
            as_of=AS_OF,
            imported_at=NOW,
        )
        readings = dict(
            RegisterReading.objects.filter(
                register__meter__serial="M003", read_on=date(2026, 3, 1)
            ).values_list("register__kind", "consumption")
        )
        # (505.75 - 500.25) x 20 = 110 kWh; (803.5 - 800) x 20 = 70 kWh
        assert readings == {"active_peak": D("110.0000"), "active_valley": D("70.0000")}

    def test_every_bad_cell_is_reported_and_nothing_is_written(self, onboarded: None, tmp_path: Path) -> None:
        import_readings(
            path=write(
                tmp_path, "feb.csv", "meter_serial,register,read_on,value\nM002,active_total,2026-02-01,9\n"
            ),
            as_of=AS_OF,
            imported_at=NOW,
        )
        bad = write(
            tmp_path,
            "legacy.csv",
            "meter_serial,register,last_bill_date,value\n"
            "M001,active_total,2026-02-01,100\n"
            "M009,active_total,2026-02-01,100\n"
            "M003,max_demand,2026-02-01,100\n"
            "M001,reactive,2026-02-31,-1\n"
            "M001,active_total,2026-02-01,100\n"
            "M002,active_total,2026-01-01,5\n"
            "M003,active_peak,2026-04-01,1.00001\n"
            "M003,active_valley,2019-01-01,1\n",
        )
        with pytest.raises(ImportRejected) as err:
            import_opening_values(path=bad, as_of=AS_OF, imported_at=NOW)
        assert [str(e) for e in err.value.errors] == [
            "row 3, meter_serial: unknown meter 'M009'",
            "row 4, register: 'max_demand' is not a cumulative register: it has no opening value",
            "row 5, register: meter M001 has no 'reactive' register",
            "row 5, last_bill_date: bad date '2026-02-31' (expected YYYY-MM-DD)",
            "row 5, value: negative register value -1",
            "row 6, register: duplicate row in file (same meter and register as row 2)",
            "row 7, register: register active_total of meter M002 already has readings (latest 2026-02-01): "
            "an opening value must be its first reading",
            "row 8, last_bill_date: date 2026-04-01 is in the future (as of 2026-03-10)",
            "row 8, value: 1.00001 does not fit 12 digits and 4 decimals",
            "row 9, last_bill_date: meter M003 is not installed at any service point on 2019-01-01",
        ]
        assert not RegisterReading.objects.filter(register__meter__serial__in=["M001", "M003"]).exists()

    def test_a_reading_stored_after_the_validation_is_caught_under_the_lock(
        self, onboarded: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from wattdesk.application.errors import InputError
        from wattdesk.domain.metering import queries

        import_readings(
            path=write(
                tmp_path, "feb.csv", "meter_serial,register,read_on,value\nM002,active_total,2026-02-01,9\n"
            ),
            as_of=AS_OF,
            imported_at=NOW,
        )
        # the validation read happens before that reading (a concurrent import): it sees no reading
        monkeypatch.setattr(queries, "existing_reading_dates", lambda **_kw: {})
        legacy = write(
            tmp_path,
            "legacy.csv",
            "meter_serial,register,last_bill_date,value\nM002,active_total,2026-01-01,5\n",
        )
        with pytest.raises(InputError, match="got a reading meanwhile"):
            import_opening_values(path=legacy, as_of=AS_OF, imported_at=NOW)
        assert RegisterReading.objects.filter(register__meter__serial="M002").count() == 1

    def test_the_command_exits_2_with_one_line_and_audits_a_good_file(
        self, onboarded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from auditlog.models import LogEntry

        bad = write(
            tmp_path, "bad.csv", "meter_serial,register,last_bill_date,value\nM001,active_total,x,1\n"
        )
        assert main(["accounts", "opening-values", str(bad), "--as-of", "2026-03-10"]) == 2
        out = capsys.readouterr()
        assert "row 2, last_bill_date: bad date 'x' (expected YYYY-MM-DD)" in out.out
        assert out.err.strip() == "wattdesk accounts: error: bad.csv: 1 bad row(s), nothing imported"
        good = write(
            tmp_path,
            "good.csv",
            "meter_serial,register,last_bill_date,value\nM001,active_total,2026-02-01,7\n",
        )
        assert main(["accounts", "opening-values", str(good), "--as-of", "2026-03-10"]) == 0
        assert "opening values of 1 registers stored" in capsys.readouterr().out
        entry = LogEntry.objects.get(object_repr="opening register values good.csv")
        assert entry.changes["registers"] == [None, 1]
        # the same content again is a no-op
        assert main(["accounts", "opening-values", str(good), "--as-of", "2026-03-10"]) == 0
        assert "already imported" in capsys.readouterr().out


class TestTariffChanges:
    def test_the_next_bill_uses_the_new_tariff_from_its_date(self, onboarded: None, tmp_path: Path) -> None:
        from auditlog.models import LogEntry

        import_opening_values(
            path=write(
                tmp_path,
                "legacy.csv",
                "meter_serial,register,last_bill_date,value\n"
                "M001,active_total,2026-02-01,1000\n"
                "M002,active_total,2026-02-01,1000\n",
            ),
            as_of=AS_OF,
            imported_at=NOW,
        )
        changes = write(
            tmp_path,
            "changes.csv",
            "account_number,tariff_code,effective_from\nA001,AGR-FLAT,2026-03-01\nA002,BJ-RES-TIER,2026-03-01\n",
        )
        result = reassign_tariffs(path=changes)
        assert (result.changed, result.unchanged) == (1, 1)
        assert list(
            TariffAssignment.objects.filter(service_point__number="SP001")
            .order_by("effective_from")
            .values_list("tariff_code", "effective_from", "effective_to")
        ) == [("BJ-RES-TIER", date(2019, 5, 1), date(2026, 3, 1)), ("AGR-FLAT", date(2026, 3, 1), None)]
        entry = LogEntry.objects.get(object_repr="tariff changes changes.csv")
        assert entry.changes["changes"][1] == ["A001/SP001: BJ-RES-TIER -> AGR-FLAT from 2026-03-01"]
        import_readings(
            path=write(
                tmp_path,
                "march.csv",
                "meter_serial,register,read_on,value\nM001,active_total,2026-03-01,1310\n"
                "M002,active_total,2026-03-01,1310\n",
            ),
            as_of=AS_OF,
            imported_at=NOW,
        )
        run()
        # A001 from 2026-03-01 on AGR-FLAT: 310 x 0.465 = 144.15; reservoir fund 310 x 0.0062 = 1.922 -> 1.92;
        # renewable surcharge: agricultural customers exempt. Total 146.07
        assert [(c, q, a) for c, q, _r, a in bill_lines("A001")] == [
            ("energy.flat", D("310.0000"), D("144.15")),
            ("fund.reservoir", D("310.0000"), D("1.92")),
        ]
        assert Bill.objects.get(account__number="A001").total == D("146.07")
        # A002 stays on the tiered tariff: 117.19 + 37.68 = 154.87
        assert Bill.objects.get(account__number="A002").total == D("154.87")

    def test_bad_rows_are_refused_with_row_and_column(self, onboarded: None, tmp_path: Path) -> None:
        Bill.objects.create(
            account_id=TariffAssignment.objects.get(service_point__number="SP002").service_point.account_id,
            period="2026-02",
            start=date(2026, 2, 1),
            end=date(2026, 3, 1),
            kwh=D(1),
            total=D(1),
            status="issued",
        )
        later = "account_number,tariff_code,effective_from\nA003,AGR-FLAT,2026-06-01\n"
        assert reassign_tariffs(path=write(tmp_path, "later.csv", later)).changed == 1
        bad = write(
            tmp_path,
            "changes.csv",
            "account_number,tariff_code,effective_from,service_point_number\n"
            "A009,AGR-FLAT,2026-03-01,\n"
            "A001,NOPE,2026-13-01,\n"
            "A001,AGR-FLAT,2026-04-01,SP009\n"
            "A002,AGR-FLAT,2026-02-15,\n"
            "A003,CI-TOU5,2026-05-01,\n"
            "A003,BJ-RES-TIER,2026-05-01,\n",
        )
        with pytest.raises(ImportRejected) as err:
            reassign_tariffs(path=bad)
        assert [str(e) for e in err.value.errors] == [
            "row 2, account_number: unknown account 'A009'",
            "row 3, effective_from: bad date '2026-13-01' (expected YYYY-MM-DD)",
            "row 3, tariff_code: no tariff 'NOPE' in the catalog",
            "row 4, service_point_number: account A001 has no service point 'SP009'",
            "row 5, effective_from: account A002 is already billed up to 2026-03-01: a change effective "
            "2026-02-15 needs its bills from that date cancelled first (cancel-and-rebill)",
            "row 6, effective_from: service point SP003 already has a tariff assignment from 2026-06-01",
            "row 7, account_number: service point SP003 is also changed on row 6",
        ]
        assert TariffAssignment.objects.count() == 4  # the three onboarded + the later change of A003

    def test_the_command_needs_tariffs_edit_and_exits_2_on_a_bad_file(
        self, onboarded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        bad = write(tmp_path, "c.csv", "account_number,tariff_code\nA001,AGR-FLAT\n")
        assert main(["accounts", "tariff-changes", str(bad)]) == 2
        assert capsys.readouterr().out.strip() == "row 1, effective_from: required column is missing"
        good = write(
            tmp_path, "g.csv", "account_number,tariff_code,effective_from\nA001,AGR-FLAT,2026-03-01\n"
        )
        assert main(["accounts", "tariff-changes", str(good)]) == 0
        assert "1 service point(s) moved onto a new tariff" in capsys.readouterr().out
