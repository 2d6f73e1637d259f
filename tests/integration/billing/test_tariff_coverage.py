"""Tariff coverage of the billing run (issue 9 part 9), entered as a clerk does: the tariff files (real URDB records
from tests/fixtures/urdb-tariffs, imported with `tariffs import`), the onboarding file, the opening values, the
readings file, then the run. Register-read accounts on URDB tariffs used to be skipped (`tariff_error`: the run
parsed every stored document as a WattDesk tariff).

URDB prices are rate + adj (PySAM). Rounding of URDB tariffs is per bill (half-up on the total).
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
from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.application.tariffs.reference_data import example_tariff_paths
from wattdesk.domain.billing.models import Bill, BillLine

pytestmark = pytest.mark.db

SH = ZoneInfo("Asia/Shanghai")
D = Decimal
URDB = Path(__file__).resolve().parents[2] / "fixtures" / "urdb-tariffs"
FPL_RS1 = "5550d6fd5457a3187e8b4567"  # FPL RS-1 Residential: 1000 kWh tier, $7.57/month
JEMC_SENIOR = (
    "5a0b28045457a3ea2aca608e"  # JEMC A Senior: winter (Jan-Apr, Oct-Dec) / summer (May-Sep) periods
)
PSCO_RD = "5a679442682bea21e990a0d4"  # PSCo RD: one energy price, seasonal flat demand, $15.91/month
NOW = datetime(2026, 4, 10, 9, 0, tzinfo=SH)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def lines(number: str) -> list[tuple[str, Decimal, Decimal]]:
    bill = Bill.objects.get(account__number=number)
    return [(ln.code, ln.quantity, ln.amount) for ln in BillLine.objects.filter(bill=bill).order_by("seq")]


@pytest.fixture
def urdb_accounts(db: None, tmp_path: Path) -> None:
    import_tariff_files(paths=list(example_tariff_paths()))
    import_tariff_files(
        paths=[URDB / "fpl_rs1.json", URDB / "jemc_a_senior.json", URDB / "psco_rd.json"],
        effective_from=date(2017, 1, 1),  # for the JEMC record, whose startdate is not a timestamp
    )
    import_accounts(
        path=write(
            tmp_path,
            "onboarding.csv",
            "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,"
            "address,region,meter_serial,registers,tariff_code,tariff_from\n"
            f"C1,Smith,residential,A1,2020-01-01,SP1,1 Main St,R1,M1,active_total,{FPL_RS1},2020-01-01\n"
            f"C2,Jones,residential,A2,2020-01-01,SP2,2 Main St,R1,M2,active_total,{JEMC_SENIOR},2020-01-01\n"
            f"C3,Brown,commercial,A3,2020-01-01,SP3,3 Main St,R1,M3,active_total;max_demand,{PSCO_RD},2020-01-01\n",
        )
    )
    import_opening_values(
        path=write(
            tmp_path,
            "legacy.csv",
            "meter_serial,register,last_bill_date,value\n"
            "M1,active_total,2026-02-01,5000\nM2,active_total,2026-02-01,5000\nM3,active_total,2026-02-01,5000\n",
        ),
        as_of=NOW.date(),
        imported_at=NOW,
    )


class TestUrdbTariffsAreBilledByTheRun:
    def test_single_period_seasonal_and_flat_demand_records(
        self, urdb_accounts: None, tmp_path: Path
    ) -> None:
        import_readings(
            path=write(
                tmp_path,
                "march.csv",
                "meter_serial,register,read_on,value\n"
                "M1,active_total,2026-03-01,6200\n"
                "M2,active_total,2026-03-01,6200\n"
                "M3,active_total,2026-03-01,6000\n"
                "M3,max_demand,2026-03-01,5\n",
            ),
            as_of=NOW.date(),
            imported_at=NOW,
        )
        result = billing.run_billing(period="2026-03", run_at=NOW, pipeline=False)
        assert result.billed + result.held == 3, result.skipped
        # FPL RS-1, 1200 kWh: 1000 x (0.07531 + 0.0119) = 87.21; 200 x (0.09613 + 0.0119) = 21.606;
        # fixed 7.57 $/month. Per-bill rounding: 87.21 + 21.606 + 7.57 = 116.386 -> 116.39
        assert [(c, q) for c, q, _a in lines("A1")] == [
            ("energy.p1.t1", D("1000.0000")),
            ("energy.p1.t2", D("200.0000")),
            ("fixed.customer", D("1.0000")),
        ]
        assert Bill.objects.get(account__number="A1").total == D("116.39")
        # JEMC A Senior in March = winter, period 1 at every hour (the total register bills it):
        # 650 x 0.0896 = 58.24; 350 x 0.0831 = 29.085; 200 x 0.0821 = 16.42; fixed 5.50
        # 58.24 + 29.085 + 16.42 + 5.50 = 109.245 -> 109.25 (half-up)
        assert [(c, q) for c, q, _a in lines("A2")][:3] == [
            ("energy.p1.t1", D("650.0000")),
            ("energy.p1.t2", D("350.0000")),
            ("energy.p1.t3", D("200.0000")),
        ]
        assert Bill.objects.get(account__number="A2").total == D("109.25")
        # PSCo RD, 1000 kWh at 0.01974 + 0.0283685 = 0.0481085 -> 48.1085; March = flat demand structure 0:
        # 5 kW x (7.76 + 1.38) = 45.70; fixed 15.91. 48.1085 + 45.70 + 15.91 = 109.7185 -> 109.72
        assert Bill.objects.get(account__number="A3").total == D("109.72")
        assert "tariff_error" not in result.skipped

    def test_a_seasonal_record_bills_its_summer_period_in_july(
        self, urdb_accounts: None, tmp_path: Path
    ) -> None:
        import_readings(
            path=write(
                tmp_path,
                "july.csv",
                "meter_serial,register,read_on,value\nM2,active_total,2026-07-01,6200\n",
            ),
            as_of=date(2026, 7, 10),
            imported_at=NOW,
        )
        billing.run_billing(period="2026-07", run_at=NOW, pipeline=False)
        # summer period 2: 650 x 0.0896 = 58.24; 350 x 0.1121 = 39.235; 200 x 0.1181 = 23.62; fixed 5.50
        # 58.24 + 39.235 + 23.62 + 5.50 = 126.595 -> 126.60 (half-up)
        assert [c for c, _q, _a in lines("A2")][:3] == ["energy.p2.t1", "energy.p2.t2", "energy.p2.t3"]
        assert Bill.objects.get(account__number="A2").total == D("126.60")


FPL_GSLDT1 = "6776f98328a262f68a0081be"  # FPL GSLDT-1: TOU energy and TOU demand, $88.67/month


@pytest.fixture
def tou_demand_accounts(db: None, tmp_path: Path) -> None:
    import json

    record = json.loads((URDB / "fpl_gsldt1.json").read_text())
    record = record[0] if isinstance(record, list) else record
    # the clerk names which meter register bills each URDB period (URDB numbers them only)
    record["wattdesk_period_keys"] = ["valley", "peak"]
    record["wattdesk_demand_period_keys"] = ["valley", "peak"]
    import_tariff_files(paths=[write(tmp_path, "fpl_gsldt1.json", json.dumps(record))])
    regs = "active_peak;active_valley;max_demand_peak;max_demand_valley"
    import_accounts(
        path=write(
            tmp_path,
            "onboarding.csv",
            "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,"
            "address,region,capacity_kva,meter_serial,multiplier,registers,tariff_code,tariff_from\n"
            f"C1,Acme,commercial,A1,2025-01-01,SP1,1 Mill Rd,R1,400,M1,40,{regs},{FPL_GSLDT1},2025-01-01\n"
            f"C2,Bolt,commercial,A2,2025-01-01,SP2,2 Mill Rd,R1,400,M2,40,{regs},{FPL_GSLDT1},2025-01-01\n",
        )
    )
    import_opening_values(
        path=write(
            tmp_path,
            "legacy.csv",
            "meter_serial,register,last_bill_date,value\n"
            "M1,active_peak,2026-02-01,100\nM1,active_valley,2026-02-01,200\n"
            "M2,active_peak,2026-02-01,100\nM2,active_valley,2026-02-01,200\n",
        ),
        as_of=NOW.date(),
        imported_at=NOW,
    )


class TestTouDemandFromRegisters:
    def test_each_demand_period_is_billed_from_its_max_demand_register(
        self, tou_demand_accounts: None, tmp_path: Path
    ) -> None:
        import_readings(
            path=write(
                tmp_path,
                "march.csv",
                "meter_serial,register,read_on,value\n"
                "M1,active_peak,2026-03-01,150\nM1,active_valley,2026-03-01,300\n"
                "M1,max_demand_peak,2026-03-01,2.5\nM1,max_demand_valley,2026-03-01,1.5\n"
                "M2,active_peak,2026-03-01,150\nM2,active_valley,2026-03-01,300\n"
                "M2,max_demand_peak,2026-03-01,2.5\n",
            ),
            as_of=NOW.date(),
            imported_at=NOW,
        )
        result = billing.run_billing(period="2026-03", run_at=NOW, pipeline=False)
        # multiplier 40: peak (150 - 100) x 40 = 2000 kWh, valley (300 - 200) x 40 = 4000 kWh;
        # maximum demand peak 2.5 x 40 = 100 kW, valley 1.5 x 40 = 60 kW
        # energy: valley 4000 x (0.01413 + 0.03389) = 192.08; peak 2000 x (0.03254 + 0.03905) = 143.18
        # demand: valley 60 x (0.79 + 2.06) = 171.00; peak 100 x (12.81 + 2.06) = 1487.00; fixed 88.67
        # total 192.08 + 143.18 + 171.00 + 1487.00 + 88.67 = 2081.93
        got = {c: (q, a) for c, q, a in lines("A1")}
        assert got["energy.valley"][0] == D("4000.0000") and got["energy.peak"][0] == D("2000.0000")
        demand = sorted((q, a) for c, (q, a) in got.items() if c.startswith("demand"))
        assert [q for q, _a in demand] == [D("60.0000"), D("100.0000")]
        assert Bill.objects.get(account__number="A1").total == D("2081.93")
        # the printed bill names the per-period demand registers; the portal's reading list keeps advances only
        from wattdesk.application.billing.document import bill_document
        from wattdesk.application.portal.screens import readings_used

        bill = Bill.objects.get(account__number="A1")
        labels = {r.register: r.register_label for r in bill_document(bill_id=bill.pk).readings}
        assert (labels["max_demand_peak"], labels["max_demand_valley"]) == ("最大需量峰", "最大需量谷")
        assert {str(r.register) for r in readings_used(bill=bill)} == {"有功峰", "有功谷"}
        # M2 has no valley maximum-demand reading: not billed, and the run says why
        assert result.skipped.get("tou_demand") == 1
        assert not Bill.objects.filter(account__number="A2").exists()


class TestPowerFactorStandardAsWritten:
    def test_the_bill_and_its_document_say_0_90(self, db: None, tmp_path: Path) -> None:
        from wattdesk.application.billing.document import bill_document

        import_tariff_files(paths=list(example_tariff_paths()))  # LI-2P-CAPACITY: standard 0.90 in the YAML
        regs = "active_total;active_critical;active_peak;active_valley;active_deep_valley;reactive"
        import_accounts(
            path=write(
                tmp_path,
                "onboarding.csv",
                "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,"
                "address,region,voltage_kv,capacity_kva,pf_standard,meter_serial,registers,tariff_code\n"
                f"E1,某厂,industrial,A1,2024-01-01,SP1,工业园1号,R1,10,100,0.90,M1,{regs},LI-2P-CAPACITY\n",
            )
        )
        kinds = regs.split(";")
        import_opening_values(
            path=write(
                tmp_path,
                "legacy.csv",
                "meter_serial,register,last_bill_date,value\n"
                + "".join(f"M1,{k},2026-02-01,100\n" for k in kinds),
            ),
            as_of=NOW.date(),
            imported_at=NOW,
        )
        march = {"active_total": 1100, "reactive": 850}  # 1000 kWh, 750 kvarh; the TOU registers did not move
        import_readings(
            path=write(
                tmp_path,
                "march.csv",
                "meter_serial,register,read_on,value\n"
                + "".join(f"M1,{k},2026-03-01,{march.get(k, 100)}\n" for k in kinds),
            ),
            as_of=NOW.date(),
            imported_at=NOW,
        )
        billing.run_billing(period="2026-03", run_at=NOW, pipeline=False)
        bill = Bill.objects.get(account__number="A1")
        pf = BillLine.objects.get(bill=bill, code="pf")
        # basic 100 kVA x 20 = 2000.00; flat (平 = 总 - 尖 - 峰 - 谷 - 深谷) 1000 x 0.58 = 580.00
        # PF = 1000 / sqrt(1000² + 750²) = 0.80 at standard 0.90: +5 % of 2580.00 = 129.00
        # funds: 1000 x 0.019 = 19.00; 1000 x 0.00196875 = 1.97; 1000 x 0.0062 = 6.20 -> total 2736.17
        assert (pf.description, pf.rule, pf.amount) == (
            "功率因数调整电费(实际0.80, 标准0.90)",
            "pf.0.90",
            D("129.00"),
        )
        assert bill.total == D("2736.17")
        doc = bill_document(bill_id=bill.pk)
        assert str(doc.pf_standard) == "0.90"
