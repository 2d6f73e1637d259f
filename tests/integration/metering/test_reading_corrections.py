"""A corrected reading on the date of a held reading (status exception) supersedes it: the held reading stays
as history (status superseded, its exceptions closed), the correction goes through VEE; refused with the bill
named when that date is already billed. Same on the CLI, the upload page and the API (one use case)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from payments_helpers import at

from wattdesk.application.metering.readings_import import import_readings
from wattdesk.application.tabular import ImportRejected
from wattdesk.domain.billing.models import Bill
from wattdesk.domain.metering.models import (
    Meter,
    MeterInstallation,
    MeterRegister,
    ReadingException,
    RegisterReading,
)
from wattdesk.interfaces.cli import main

pytestmark = pytest.mark.django_db
D = Decimal
AS_OF = date(2024, 3, 1)


@pytest.fixture
def meter(make_account: Any) -> Meter:
    sp = make_account().service_points.get()
    m = Meter.objects.create(serial="M0001")
    MeterRegister.objects.create(meter=m, kind="active_total")
    MeterInstallation.objects.create(
        meter=m, service_point=sp, installed_on=date(2024, 1, 1), initial_values={"active_total": "1000"}
    )
    return m


def _import(tmp_path: Path, name: str, rows: str) -> Any:
    path = tmp_path / name
    path.write_text("meter_serial,register,read_on,value\n" + rows, encoding="utf-8")
    return import_readings(path=path, as_of=AS_OF, imported_at=at(2024, 3, 1, 9))


def _held(tmp_path: Path) -> RegisterReading:
    """900 after 1000 on a 6-digit register: a negative advance, held for review."""
    result = _import(tmp_path, "first.csv", "M0001,active_total,2024-02-01,900\n")
    assert result.held == 1
    return RegisterReading.objects.get()


class TestCorrection:
    def test_supersedes_the_held_reading_and_keeps_it(self, meter: Meter, tmp_path: Path) -> None:
        held = _held(tmp_path)
        assert ReadingException.objects.filter(reading=held, resolved=False).exists()
        result = _import(tmp_path, "fix.csv", "M0001,active_total,2024-02-01,1100\n")
        assert (result.readings, result.held, result.corrected) == (1, 0, 1)
        assert "1 held readings corrected" in result.message
        held.refresh_from_db()
        assert (held.status, held.value) == ("superseded", D(900))  # history, not edited in place
        assert not ReadingException.objects.filter(reading=held, resolved=False).exists()
        live = RegisterReading.objects.exclude(status="superseded").get()
        assert (live.read_on, live.value, live.status, live.consumption) == (
            date(2024, 2, 1),
            D(1100),
            "valid",
            D(100),
        )

    def test_a_correction_can_be_held_again_and_corrected_again(self, meter: Meter, tmp_path: Path) -> None:
        _held(tmp_path)
        again = _import(tmp_path, "fix1.csv", "M0001,active_total,2024-02-01,950\n")
        assert (again.held, again.corrected) == (1, 1)
        final = _import(tmp_path, "fix2.csv", "M0001,active_total,2024-02-01,1200\n")
        assert (final.held, final.corrected) == (0, 1)
        assert list(RegisterReading.objects.order_by("id").values_list("value", "status")) == [
            (D(900), "superseded"),
            (D(950), "superseded"),
            (D(1200), "valid"),
        ]

    def test_refused_when_the_date_is_already_billed(self, meter: Meter, tmp_path: Path) -> None:
        _held(tmp_path)
        account = meter.installations.get().service_point.account
        bill = Bill.objects.create(
            account=account,
            period="2024-01",
            status="issued",
            start=date(2024, 1, 1),
            end=date(2024, 2, 2),
            kwh=D(0),
            total=D(0),
        )
        with pytest.raises(ImportRejected) as err:
            _import(tmp_path, "fix.csv", "M0001,active_total,2024-02-01,1100\n")
        [e] = err.value.errors
        assert (e.row, e.column) == (2, "read_on")
        assert f"already billed (bill {bill.pk}, 2024-01, issued)" in e.reason
        assert "cancel the bill first" in e.reason
        assert RegisterReading.objects.get().status == "exception"  # nothing changed

    def test_a_cancelled_bill_does_not_block_the_correction(self, meter: Meter, tmp_path: Path) -> None:
        _held(tmp_path)
        account = meter.installations.get().service_point.account
        Bill.objects.create(
            account=account,
            period="2024-02",
            status="cancelled",
            start=date(2024, 2, 1),
            end=date(2024, 3, 1),
            kwh=D(0),
            total=D(0),
        )
        assert _import(tmp_path, "fix.csv", "M0001,active_total,2024-02-01,1100\n").corrected == 1

    def test_a_valid_reading_on_the_same_date_is_still_refused(self, meter: Meter, tmp_path: Path) -> None:
        _import(tmp_path, "first.csv", "M0001,active_total,2024-02-01,1100\n")
        with pytest.raises(ImportRejected, match="not after the latest stored reading"):
            _import(tmp_path, "again.csv", "M0001,active_total,2024-02-01,1200\n")

    def test_the_database_still_allows_only_one_live_reading_per_day(
        self, meter: Meter, tmp_path: Path
    ) -> None:
        from django.db import IntegrityError, transaction

        held = _held(tmp_path)
        with pytest.raises(IntegrityError), transaction.atomic():
            RegisterReading.objects.create(register=held.register, read_on=held.read_on, value=D(5))


class TestCli:
    def test_correction_is_exit_0_and_billed_date_is_exit_2_with_one_line(
        self, meter: Meter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _held(tmp_path)
        fix = tmp_path / "fix.csv"
        fix.write_text("meter_serial,register,read_on,value\nM0001,active_total,2024-02-01,1100\n")
        assert main(["readings", "import", str(fix), "--as-of", "2024-03-01"]) == 0
        assert "1 held readings corrected" in capsys.readouterr().out
        # a second held reading, then its date gets billed: the correction is refused, not a traceback
        _import(tmp_path, "held2.csv", "M0001,active_total,2024-02-20,1000\n")
        assert RegisterReading.objects.filter(read_on=date(2024, 2, 20), status="exception").exists()
        Bill.objects.create(
            account=meter.installations.get().service_point.account,
            period="2024-02",
            status="held",
            start=date(2024, 2, 2),
            end=date(2024, 3, 1),
            kwh=D(0),
            total=D(0),
        )
        fix2 = tmp_path / "fix2.csv"
        fix2.write_text("meter_serial,register,read_on,value\nM0001,active_total,2024-02-20,1150\n")
        assert main(["readings", "import", str(fix2), "--as-of", "2024-03-01"]) == 2
        captured = capsys.readouterr()
        assert "row 2, read_on: corrects the held reading of 2024-02-20, but that date is already billed" in (
            captured.out
        )
        assert captured.err.strip().count("\n") == 0
