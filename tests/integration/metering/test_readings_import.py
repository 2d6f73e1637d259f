"""Integration tests for wattdesk.application.metering.readings_import and the metering queries (SQLite + PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from wattdesk.application.metering.readings_import import ImportRejected, RowError, import_readings
from wattdesk.domain.metering import operations, queries
from wattdesk.domain.metering.models import (
    ImportBatch,
    IntervalFile,
    Meter,
    MeterInstallation,
    MeterRegister,
    ReadingException,
    RegisterReading,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "readings"
SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = date(2024, 2, 10)
NOW = datetime(2024, 2, 10, 9, 0, tzinfo=SHANGHAI)


def make_meter(serial, sp, kinds, *, multiplier=1, digits=6, max_kw=None, initial=None, installed_on=None):
    meter = Meter.objects.create(
        serial=serial, multiplier=D(multiplier), digits=digits, max_kw_physical=max_kw
    )
    for k in kinds:
        MeterRegister.objects.create(meter=meter, kind=k)
    MeterInstallation.objects.create(
        meter=meter,
        service_point=sp,
        installed_on=installed_on or date(2024, 1, 1),
        initial_values=initial or {},
    )
    return meter


@pytest.fixture
def network(make_account, settings, tmp_path):
    settings.WATTDESK_INTERVAL_DIR = tmp_path / "intervals"
    a1, a2 = make_account(), make_account()
    sp1, sp2 = a1.service_points.get(), a2.service_points.get()
    sp2.capacity_kva = D(200)
    sp2.save()
    m1 = make_meter(
        "M0001", sp1, ["active_total", "reactive"], initial={"active_total": "1000", "reactive": "300"}
    )
    m2 = make_meter(
        "M0002",
        sp2,
        ["active_total", "max_demand"],
        multiplier=100,
        max_kw=D(100),
        initial={"active_total": "999900"},
    )
    return {"sp1": sp1, "sp2": sp2, "m1": m1, "m2": m2, "a1": a1, "a2": a2}


def write_csv(path: Path, rows: list[str], header: str = "meter_serial,register,read_on,value") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def reading(serial, kind, read_on):
    return RegisterReading.objects.get(register__meter__serial=serial, register__kind=kind, read_on=read_on)


@pytest.mark.django_db
class TestRegisterImport:
    def test_imports_good_csv_and_computes_consumption(self, network):
        res = import_readings(path=FIXTURES / "good_register.csv", as_of=AS_OF, imported_at=NOW)
        assert not res.already_imported
        assert res.readings == 4 and res.held == 0
        r = reading("M0001", "active_total", date(2024, 2, 1))
        assert (r.advance, r.consumption, r.status, r.source) == (D("200.5"), D("200.5"), "valid", "actual")
        assert reading("M0001", "reactive", date(2024, 2, 1)).consumption == D(10)
        r2 = reading("M0002", "active_total", date(2024, 2, 1))
        assert (r2.advance, r2.consumption) == (D(80), D(8000))
        assert reading("M0002", "max_demand", date(2024, 2, 1)).consumption == D(85)
        batch = ImportBatch.objects.get()
        assert (batch.rows, batch.kind, batch.status, batch.file_name) == (
            4,
            "register",
            "imported",
            "good_register.csv",
        )

    def test_same_file_twice_is_a_no_op(self, network):
        first = import_readings(path=FIXTURES / "good_register.csv", as_of=AS_OF, imported_at=NOW)
        second = import_readings(path=FIXTURES / "good_register.csv", as_of=AS_OF, imported_at=NOW)
        assert second.already_imported and second.batch_id == first.batch_id
        assert "already imported" in second.message
        assert RegisterReading.objects.count() == 4
        assert ImportBatch.objects.count() == 1

    def test_bad_rows_reject_the_whole_file(self, network):
        with pytest.raises(ImportRejected) as info:
            import_readings(path=FIXTURES / "bad_register.csv", as_of=AS_OF, imported_at=NOW)
        kinds = (
            "active_critical, active_deep_valley, active_flat, active_peak, active_total, active_valley, max_demand, "
            "max_demand_critical, max_demand_deep_valley, max_demand_flat, max_demand_peak, max_demand_valley, "
            "reactive"
        )
        assert info.value.errors == (
            RowError(3, "meter_serial", "unknown meter 'NOPE'"),
            RowError(4, "register", f"unknown register 'bogus' (one of {kinds})"),
            RowError(5, "read_on", "bad date '2024-13-01' (expected YYYY-MM-DD)"),
            RowError(6, "value", "not a number: 'abc'"),
            RowError(7, "read_on", "duplicate row in file (same meter, register and date as row 2)"),
            RowError(8, "read_on", "reading date 2030-01-01 is in the future (as of 2024-02-10)"),
        )
        assert RegisterReading.objects.count() == 0
        assert ImportBatch.objects.count() == 0
        assert ReadingException.objects.count() == 0

    def test_missing_column_is_reported_on_the_header_row(self, network, tmp_path):
        p = write_csv(
            tmp_path / "x.csv", ["M0001,active_total,2024-02-01"], header="meter_serial,register,read_on"
        )
        with pytest.raises(ImportRejected) as info:
            import_readings(path=p, as_of=AS_OF, imported_at=NOW)
        assert info.value.errors == (RowError(1, "value", "required column is missing"),)

    def test_imports_excel(self, network, tmp_path):
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(["meter_serial", "register", "read_on", "value"])
        ws.append(["M0001", "active_total", datetime(2024, 2, 1), 1100.25])
        ws.append(["M0002", "active_total", "2024-02-01", 999950])
        p = tmp_path / "readings.xlsx"
        wb.save(p)
        res = import_readings(path=p, as_of=AS_OF, imported_at=NOW)
        assert res.readings == 2
        assert reading("M0001", "active_total", date(2024, 2, 1)).consumption == D("100.25")
        assert reading("M0002", "active_total", date(2024, 2, 1)).consumption == D(5000)

    def test_second_month_rollover_negative_and_consumption_query(self, network, tmp_path):
        import_readings(path=FIXTURES / "good_register.csv", as_of=AS_OF, imported_at=NOW)
        p = write_csv(
            tmp_path / "march.csv",
            [
                "M0001,active_total,2024-03-01,5",  # below 1200.5 and not near 1e6: negative -> exception
                "M0002,active_total,2024-03-01,30",  # 999980 -> 30 rolls over: 50 x 100 = 5000
                "M0002,max_demand,2024-03-01,1.5",  # 150 kW > meter limit 100 kW -> exception
            ],
        )
        res = import_readings(path=p, as_of=date(2024, 3, 2), imported_at=NOW)
        assert (res.readings, res.held) == (3, 2)
        assert res.findings_by_check == {"negative_advance": 1, "rollover": 1, "demand_above_capacity": 1}
        assert reading("M0001", "active_total", date(2024, 3, 1)).status == "exception"
        r = reading("M0002", "active_total", date(2024, 3, 1))
        assert (r.advance, r.consumption, r.status) == (D(50), D(5000), "valid")
        assert ImportBatch.objects.get(id=res.batch_id).status == "with_exceptions"
        open_exc = queries.reading_exceptions(period="2024-03")
        assert sorted(e.check_code for e in open_exc) == ["demand_above_capacity", "negative_advance"]
        rollover = ReadingException.objects.get(check_code="rollover")
        assert rollover.resolved and rollover.severity == "info"

        usage = queries.consumption_by_account(period_start=date(2024, 3, 1), period_end=date(2024, 4, 1))
        sp1, sp2 = network["sp1"].id, network["sp2"].id
        assert usage[sp2].kwh_by_kind == {"active_total": D(5000)}
        assert usage[sp2].kwh == D(5000)
        assert usage[sp2].max_kw is None and usage[sp2].exceptions == 1
        assert usage[sp2].account_id == network["a2"].id
        assert usage[sp1].kwh_by_kind == {} and usage[sp1].exceptions == 1

        feb = queries.consumption_by_account(period_start=date(2024, 2, 1), period_end=date(2024, 3, 1))
        assert feb[sp1].kwh == D("200.5") and feb[sp1].kvarh == D(10) and feb[sp1].exceptions == 0
        assert feb[sp2].kwh == D(8000) and feb[sp2].max_kw == D(85)

        # a person accepts the demand reading: it becomes billable
        exc = ReadingException.objects.get(check_code="demand_above_capacity")
        operations.resolve_exception(exception_id=exc.id, accept_reading=True)
        usage = queries.consumption_by_account(period_start=date(2024, 3, 1), period_end=date(2024, 4, 1))
        assert usage[sp2].max_kw == D(150) and usage[sp2].exceptions == 0

    def test_rejects_reading_not_after_latest_stored(self, network, tmp_path):
        import_readings(path=FIXTURES / "good_register.csv", as_of=AS_OF, imported_at=NOW)
        p = write_csv(tmp_path / "old.csv", ["M0001,active_total,2024-01-20,1100"])
        with pytest.raises(ImportRejected) as info:
            import_readings(path=p, as_of=AS_OF, imported_at=NOW)
        assert info.value.errors == (
            RowError(2, "read_on", "not after the latest stored reading of this register (2024-02-01)"),
        )

    def test_reactive_without_active_is_held(self, network, tmp_path):
        p = write_csv(
            tmp_path / "r.csv", ["M0001,active_total,2024-02-01,1000", "M0001,reactive,2024-02-01,350"]
        )
        res = import_readings(path=p, as_of=AS_OF, imported_at=NOW)
        assert res.held == 1
        r = reading("M0001", "reactive", date(2024, 2, 1))
        assert r.status == "exception" and r.consumption == D(50)
        exc = ReadingException.objects.get(check_code="reactive_without_active")
        assert exc.reason == "reactive 50.0000 kvarh with active energy 0" and exc.period == "2024-02"

    def test_meter_exchange_adds_old_and_new_meter(self, network, tmp_path):
        import_readings(path=FIXTURES / "good_register.csv", as_of=AS_OF, imported_at=NOW)
        inst = MeterInstallation.objects.get(meter=network["m1"])
        inst.removed_on = date(2024, 2, 15)
        inst.final_values = {"active_total": "1250"}
        inst.save()
        make_meter(
            "M0003",
            network["sp1"],
            ["active_total"],
            multiplier=2,
            initial={"active_total": "0"},
            installed_on=date(2024, 2, 15),
        )
        p = write_csv(tmp_path / "x.csv", ["M0003,active_total,2024-03-01,40"])
        import_readings(path=p, as_of=date(2024, 3, 1), imported_at=NOW)
        r = reading("M0003", "active_total", date(2024, 3, 1))
        # (1250 - 1200.5) x 1 + (40 - 0) x 2 = 129.5
        assert (r.advance, r.consumption, r.status) == (D(40), D("129.5"), "valid")
        usage = queries.consumption_by_account(period_start=date(2024, 3, 1), period_end=date(2024, 4, 1))
        assert usage[network["sp1"].id].kwh == D("129.5")

    def test_estimate_then_true_up(self, network, tmp_path):
        import_readings(path=FIXTURES / "good_register.csv", as_of=AS_OF, imported_at=NOW)
        out = operations.estimate_missing_readings(
            period_start=date(2024, 3, 1),
            period_end=date(2024, 4, 1),
            read_on=date(2024, 3, 1),
            meter_ids=[network["m1"].id],
        )
        # history: Jan 1 -> Feb 1 (31 d) 200.5 kWh; Feb 1 -> Mar 1 is 29 d: 200.5 / 31 x 29 = 187.5645
        assert out.estimated == 2
        est = RegisterReading.objects.get(
            register__meter__serial="M0001", register__kind="active_total", source="estimated"
        )
        assert (est.value, est.consumption, est.status) == (D("1388.0645"), D("187.5645"), "estimated")
        assert (
            ReadingException.objects.get(check_code="estimated", register=est.register).severity == "warning"
        )
        p = write_csv(tmp_path / "apr.csv", ["M0001,active_total,2024-04-01,1600"])
        import_readings(path=p, as_of=date(2024, 4, 2), imported_at=NOW)
        r = reading("M0001", "active_total", date(2024, 4, 1))
        # true-up: (1600 - 1200.5) - 187.5645 = 211.9355
        assert (r.advance, r.consumption) == (D("399.5"), D("211.9355"))
        usage = queries.consumption_by_account(period_start=date(2024, 3, 1), period_end=date(2024, 5, 1))
        assert usage[network["sp1"].id].kwh == D("399.5")
        assert usage[network["sp1"].id].estimated


@pytest.mark.django_db
class TestIntervalImport:
    def test_imports_csv(self, network, settings):
        res = import_readings(path=FIXTURES / "interval.csv", as_of=AS_OF, imported_at=NOW)
        assert (res.rows, res.interval_meters) == (3, 2)
        f1 = IntervalFile.objects.get(meter=network["m1"])
        assert (f1.rows, f1.kwh, f1.kvarh) == (2, D("0.75"), D("0.15"))
        assert f1.start == datetime(2024, 2, 1, 0, 0, tzinfo=SHANGHAI)
        assert f1.end == datetime(2024, 2, 1, 0, 15, tzinfo=SHANGHAI)
        f2 = IntervalFile.objects.get(meter=network["m2"])
        assert (f2.rows, f2.kwh, f2.kvarh) == (1, D("1.125"), None)
        assert (Path(settings.WATTDESK_INTERVAL_DIR) / f1.path).is_file()

    def test_imports_parquet_and_loads_back(self, network, tmp_path):
        ts = [datetime(2024, 2, 1, h) for h in range(24)]
        df = pl.DataFrame(
            {"meter_serial": ["M0002"] * 24, "timestamp": ts, "kwh": [float(h) / 4 for h in range(24)]}
        )
        p = tmp_path / "m2.parquet"
        df.write_parquet(p)
        res = import_readings(path=p, as_of=AS_OF, imported_at=NOW)
        assert res.rows == 24 and not res.already_imported
        assert IntervalFile.objects.get().kwh == D("69")  # (0+1+...+23)/4
        loaded = queries.load_intervals(
            start=datetime(2024, 2, 1, 6, tzinfo=SHANGHAI), end=datetime(2024, 2, 1, 8, tzinfo=SHANGHAI)
        )
        assert loaded.height == 2
        assert [str(x) for x in loaded["kwh"]] == ["1.5000", "1.7500"]
        assert import_readings(path=p, as_of=AS_OF, imported_at=NOW).already_imported

    def test_rejects_bad_interval_rows(self, network, tmp_path):
        p = tmp_path / "bad.csv"
        p.write_text(
            "meter_serial,timestamp,kwh\n"
            "M0001,2024-02-01 00:00,0.5\n"
            "M0009,2024-02-01 00:00,0.5\n"
            "M0001,yesterday,0.5\n"
            "M0001,2024-02-01 00:15,x\n"
            "M0001,2024-02-01 00:00,0.7\n"
            "M0001,2024-03-01 00:00,0.7\n",
            encoding="utf-8",
        )
        with pytest.raises(ImportRejected) as info:
            import_readings(path=p, as_of=AS_OF, imported_at=NOW)
        assert info.value.errors == (
            RowError(3, "meter_serial", "unknown meter 'M0009'"),
            RowError(4, "timestamp", "bad timestamp 'yesterday' (expected YYYY-MM-DD HH:MM[:SS])"),
            RowError(5, "kwh", "not a number: 'x'"),
            RowError(6, "timestamp", "duplicate row in file (same meter and timestamp as row 2)"),
            RowError(
                7, "timestamp", "interval 2024-03-01 00:00:00.000000 is in the future (as of 2024-02-10)"
            ),
        )
        assert IntervalFile.objects.count() == 0 and ImportBatch.objects.count() == 0
