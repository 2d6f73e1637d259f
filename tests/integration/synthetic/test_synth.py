"""The synthetic county in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.db import transaction

from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint
from wattdesk.domain.metering.models import (
    IntervalFile,
    Meter,
    MeterInstallation,
    ReadingException,
    RegisterReading,
)
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion
from wattdesk.synthetic import CountySummary, SynthError, generate_county

N, MONTHS, SEED = 200, 3, 42
END = date(2026, 3, 1)


class _Rollback(Exception):
    pass


@pytest.fixture
def interval_dir(settings: Any, tmp_path: Path) -> Path:
    settings.WATTDESK_INTERVAL_DIR = tmp_path / "intervals"
    return Path(settings.WATTDESK_INTERVAL_DIR)


def _county(**kw: Any) -> CountySummary:
    args: dict[str, Any] = {
        "accounts": N,
        "months": MONTHS,
        "seed": SEED,
        "end_month": END,
        "interval_share": 0.05,
    }
    args.update(kw)
    return generate_county(**args)


def _snapshot() -> list[tuple[Any, ...]]:
    """Every reading by natural keys (ids differ between runs on PostgreSQL: sequences are not rolled back)."""
    return sorted(
        RegisterReading.objects.values_list(
            "register__meter__serial",
            "register__kind",
            "read_on",
            "value",
            "status",
            "advance",
            "consumption",
        )
    )


def _account_index(number: str) -> int:
    return int(number) - 3300000001


@pytest.mark.django_db
class TestSmallCounty:
    def test_writes_the_whole_company(self, interval_dir: Path) -> None:
        s = _county()
        assert Customer.objects.count() == N == Account.objects.count() == ServicePoint.objects.count()
        assert Region.objects.count() == 6
        assert ReadingRoute.objects.count() >= 1
        assert Meter.objects.count() == N + s.exchanges == s.meters
        assert RegisterReading.objects.count() == s.readings
        assert s.readings > N * (MONTHS + 1)  # several registers per TOU / industrial meter
        # every service point is on a tariff whose version is stored
        codes = set(TariffVersion.objects.values_list("code", flat=True))
        assigned = Counter(TariffAssignment.objects.values_list("tariff_code", flat=True))
        assert sum(assigned.values()) == N
        assert set(assigned) <= codes
        assert set(s.tariffs.values()) <= codes

    def test_periods_end_with_the_given_month(self, interval_dir: Path) -> None:
        s = _county()
        assert s.periods == ("2026-01", "2026-02", "2026-03")
        dates = sorted(set(RegisterReading.objects.values_list("read_on", flat=True)))
        # month-end freezes, dated on the last day of the month they close (inside its [1st, 1st) window)
        assert dates == [date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
        assert list(s.reading_dates) == dates

    def test_class_mix_and_payment_profiles(self, interval_dir: Path) -> None:
        _county()
        mix = Counter(Customer.objects.values_list("customer_class", flat=True))
        assert mix == {"residential": 170, "commercial": 20, "industrial": 3, "agricultural": 7}
        for kind, birth_year, profile in Customer.objects.values_list(
            "kind", "birth_year", "payment_profile"
        ):
            assert profile["punctuality"] in ("punctual", "late", "chronic")
            assert profile["channel"] in ("mobile", "counter", "bank", "collector")
            assert 0.0 <= profile["risk"] <= 1.0
            if kind == "individual":
                assert 1926 <= birth_year <= 2004
            else:
                assert birth_year is None
        ind = ServicePoint.objects.filter(account__customer__customer_class="industrial")
        for sp in ind:
            assert Decimal(315) <= sp.capacity_kva <= Decimal(5000)
            assert sp.pf_standard == Decimal("0.9000")
            assert sp.voltage_kv == Decimal(10)

    def test_same_seed_same_readings_other_seed_other_readings(self, interval_dir: Path) -> None:
        try:
            with transaction.atomic():
                _county()
                first = _snapshot()
                raise _Rollback
        except _Rollback:
            pass
        assert Customer.objects.count() == 0
        try:
            with transaction.atomic():
                _county()
                second = _snapshot()
                raise _Rollback
        except _Rollback:
            pass
        _county(seed=SEED + 1)
        other = _snapshot()
        assert len(first) > 1000
        assert first == second
        assert first != other

    def test_readings_rise_except_where_an_anomaly_was_injected(self, interval_dir: Path) -> None:
        s = _county()
        kinds_by_date = defaultdict(set)
        for a in s.anomalies:
            kinds_by_date[(a.account, a.date_index)].add(a.kind)
        assert {"missing", "spike", "zero", "negative", "rollover", "exchange"} <= set(s.anomaly_counts)
        dates = list(s.reading_dates)
        rows = RegisterReading.objects.exclude(register__kind="max_demand").values_list(
            "register_id",
            "register__meter__installations__service_point__account__number",
            "read_on",
            "value",
        )
        series: dict[tuple[int, str], list[tuple[date, Decimal]]] = defaultdict(list)
        for reg, acct, on, value in rows:
            series[(reg, acct)].append((on, value))
        drops = set()
        for (_, acct), points in series.items():
            points.sort()
            for (_, before), (on, after) in pairwise(points):
                if after < before:
                    drops.add((_account_index(acct), dates.index(on)))
        assert drops  # the injected negative reads and rollovers are there
        for key in drops:
            assert kinds_by_date[key] & {"negative", "rollover"}, key

    def test_vee_finds_the_injected_errors_in_the_latest_month(self, interval_dir: Path) -> None:
        s = _county()
        latest = s.periods[-1]
        checks = Counter(
            ReadingException.objects.filter(period="2026-03").values_list("check_code", flat=True)
        )
        negatives = s.anomaly_counts["negative"]
        assert checks["negative_advance"] >= negatives  # one per cumulative register of the meter
        assert s.vee_findings["negative_advance"] == checks["negative_advance"]
        assert latest == "2026-03"
        held = RegisterReading.objects.filter(status="exception").count()
        assert held == s.readings_held >= negatives

    def test_meter_exchange_keeps_the_installation_history(self, interval_dir: Path) -> None:
        s = _county()
        assert s.exchanges >= 1
        removed = MeterInstallation.objects.filter(removed_on__isnull=False)
        assert removed.count() == s.exchanges
        for old in removed:
            new = MeterInstallation.objects.get(service_point=old.service_point, installed_on=old.removed_on)
            assert new.removed_on is None and new.meter_id != old.meter_id
            assert set(old.final_values) == set(new.initial_values)
            assert "active_total" in old.final_values

    def test_tou_registers_add_up_to_the_total(self, interval_dir: Path) -> None:
        _county()
        by_meter_date: dict[tuple[int, date], dict[str, Decimal]] = defaultdict(dict)
        for meter, kind, on, cons in RegisterReading.objects.filter(
            consumption__isnull=False, status="valid", register__kind__startswith="active"
        ).values_list("register__meter_id", "register__kind", "read_on", "consumption"):
            by_meter_date[(meter, on)][kind] = cons
        checked = 0
        for (meter, _), regs in by_meter_date.items():
            parts = [v for k, v in regs.items() if k != "active_total"]
            if "active_total" not in regs or len(parts) < 2:
                continue
            mult = Meter.objects.get(id=meter).multiplier
            assert abs(sum(parts) - regs["active_total"]) <= Decimal("0.011") * len(parts) * mult
            checked += 1
        assert checked > 50

    def test_interval_data_adds_up_to_the_register_advances(self, interval_dir: Path) -> None:
        s = _county()
        assert s.interval_meters == 10
        files = list(IntervalFile.objects.all())
        assert len(files) == 10
        frame = pl.read_parquet(interval_dir / files[0].path)
        assert frame.columns == ["meter_id", "meter_serial", "timestamp", "kwh", "kvarh"]
        assert frame.height == s.interval_rows == 10 * (31 + 28 + 31) * 24
        anomalous = {a.account for a in s.anomalies}
        compared = 0
        for f in files:
            meter = Meter.objects.get(id=f.meter_id)
            acct = MeterInstallation.objects.get(meter=meter).service_point.account.number
            if _account_index(acct) in anomalous:
                continue
            registered = sum(
                RegisterReading.objects.filter(
                    register__meter=meter, register__kind="active_total", consumption__isnull=False
                ).values_list("consumption", flat=True)
            )
            tolerance = Decimal("0.02") * meter.multiplier + Decimal("0.01")
            assert abs(registered - f.kwh) <= tolerance, (meter.serial, registered, f.kwh)
            compared += 1
        assert compared >= 5

    def test_refuses_a_database_that_already_has_customers(self, interval_dir: Path) -> None:
        _county(accounts=20, interval_share=0.0)
        with pytest.raises(SynthError):
            _county(accounts=20, interval_share=0.0)


@pytest.mark.django_db
class TestDemo:
    def test_bills_the_latest_month_and_reports_from_the_database(self, interval_dir: Path) -> None:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from wattdesk.domain.billing.models import Bill
        from wattdesk.synthetic.demo import run_demo

        report = run_demo(
            accounts=N,
            months=MONTHS,
            seed=SEED,
            end_month=END,
            run_at=datetime(2026, 4, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
        )
        assert report.period == "2026-03"
        live = Bill.objects.filter(period="2026-03").exclude(status="cancelled")
        assert report.bills == live.count() == report.run.billed + report.run.held
        assert report.bills + sum(report.run.skipped.values()) == N
        assert report.held == live.filter(status="held").count()
        assert {line.customer_class for line in report.by_class} == {
            "residential",
            "commercial",
            "industrial",
            "agricultural",
        }
        assert sum(line.bills for line in report.by_class) == report.bills
        assert sum(line.revenue for line in report.by_class) == report.revenue > 0
        assert report.kwh == sum(live.values_list("kwh", flat=True))
        checks = {c for c, _, _, _ in report.exceptions_by_check}
        assert "negative_advance" in checks
