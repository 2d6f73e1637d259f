"""`wattdesk bill ...` through the CLI entry point: exit codes, one-line errors, the printed results."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from wattdesk.domain.billing.models import Bill
from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister, RegisterReading
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion
from wattdesk.interfaces.cli import main

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
D = Decimal

# A Beijing-style monthly tiered tariff (发改价格〔2011〕2617号 framework): 240 / 400 kWh per month.
TIERED = {
    "code": "RES-TIER",
    "name": "居民阶梯电价",
    "effective_from": "2012-07-01",
    "customer_class": "residential",
    "energy": {
        "periods": [
            {
                "key": "flat",
                "tiers": [
                    {"upto": 240, "rate": "0.4883"},
                    {"upto": 400, "rate": "0.5383"},
                    {"rate": "0.7883"},
                ],
            }
        ]
    },
}


def household(n: int, kwh: str, route: ReadingRoute) -> Account:
    customer = Customer.objects.create(
        number=f"C{n}",
        name=f"住户{n}",
        kind="individual",
        customer_class="residential",
        created_at=datetime(2024, 1, 1, tzinfo=SH),
    )
    account = Account.objects.create(number=f"A{n:08d}", customer=customer, opened_on=date(2024, 1, 1))
    sp = ServicePoint.objects.create(
        number=f"SP{n}",
        account=account,
        address="幸福路",
        region=route.region,
        route=route,
        capacity_kva=D(8),
    )
    TariffAssignment.objects.create(service_point=sp, tariff_code="RES-TIER", effective_from=date(2024, 1, 1))
    meter = Meter.objects.create(serial=f"M{n}")
    MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=date(2024, 1, 1))
    reg = MeterRegister.objects.create(meter=meter, kind="active_total")
    RegisterReading.objects.create(register=reg, read_on=date(2026, 2, 1), value=D(5000))
    RegisterReading.objects.create(
        register=reg, read_on=date(2026, 3, 1), value=D(5000) + D(kwh), advance=D(kwh), consumption=D(kwh)
    )
    return account


@pytest.fixture
def town(db: None) -> list[Account]:
    TariffVersion.objects.create(
        code="RES-TIER", version="2012", effective_from=date(2012, 7, 1), name="居民阶梯", document=TIERED
    )
    region = Region.objects.create(code="R1", name="城关所")
    route = ReadingRoute.objects.create(code="RT01", name="一段", region=region)
    # 100 kWh -> 48.83; 450 kWh -> 242.74; 3000 kWh -> first bill above 1000 元: held
    return [household(1, "100", route), household(2, "450", route), household(3, "3000", route)]


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


class TestBadInput:
    @pytest.mark.parametrize(
        "argv",
        [
            ["bill", "run", "--period", "2026-13"],
            ["bill", "run", "--period", "202603"],
            ["bill", "issue", "--period", "March"],
            ["bill", "review", "--period", "2026-3"],
            ["bill", "run", "--period", "2026-03", "--route", "nowhere"],
            ["bill", "run", "--period", "2026-03", "--batch-size", "0"],
            ["bill", "approve", "424242"],
            ["bill", "cancel", "--bill", "424242", "--reason", "typo"],
            ["bill", "cancel", "--account", "A00000001", "--reason", "typo"],
            ["bill", "cancel", "--account", "NOPE", "--period", "2026-03", "--reason", "typo"],
        ],
    )
    def test_exits_2_with_one_line(
        self, town: list[Account], argv: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(argv) == 2
        err = one_line(capsys.readouterr().err)
        assert err.startswith("wattdesk bill: error: ")
        assert "Traceback" not in err

    def test_argparse_errors_exit_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exc:
            main(["bill", "run"])
        assert exc.value.code == 2
        assert "--period" in capsys.readouterr().err


class TestCycle:
    def test_run_review_approve_issue_cancel_rerun(
        self, town: list[Account], capsys: pytest.CaptureFixture[str]
    ) -> None:
        _small, medium, big = town
        assert main(["bill", "run", "--period", "2026-03"]) == 0
        out = capsys.readouterr().out
        assert "bills written                 3  (to issue 2, held for review 1)" in out
        assert (
            "amount                        2544.47" in out
        )  # 48.83 + 242.74 + (117.19 + 86.13 + 2600 x 0.7883 = 2049.58)

        assert main(["bill", "run", "--period", "2026-03"]) == 0  # rerun: nothing new
        assert "already billed                3" in capsys.readouterr().out
        assert Bill.objects.count() == 3

        held = Bill.objects.get(account=big)
        assert main(["bill", "review", "--period", "2026-03"]) == 0
        out = capsys.readouterr().out
        assert f"{held.pk:>10}  {big.number:<16} {'2252.90':>12}" in out and "1 held bill(s)" in out

        assert main(["bill", "issue", "--period", "2026-03", "--due-days", "20"]) == 0
        assert one_line(capsys.readouterr().out) == (
            "issued 2 bill(s) for 2026-03, total 291.57, due on " + f"{_due(20)}; still held: 1"
        )
        assert main(["bill", "approve", str(held.pk)]) == 0
        assert "approved: 2252.90" in capsys.readouterr().out
        assert main(["bill", "issue", "--period", "2026-03", "--include-held-approved"]) == 0
        assert "issued 1 bill(s)" in capsys.readouterr().out

        assert (
            main(["bill", "cancel", "--account", medium.number, "--period", "2026-03", "--reason", "表码错"])
            == 0
        )
        assert "reversal -242.74" in capsys.readouterr().out
        assert main(["bill", "run", "--period", "2026-03"]) == 0
        assert "bills written                 1  (to issue 1, held for review 0)" in capsys.readouterr().out
        new = Bill.objects.get(account=medium, version=2)
        assert new.status == "draft" and new.total == D("242.74")
        # charge - reversal of version 1; version 2 is a receivable once issued
        assert sum(e.amount for e in LedgerEntry.objects.filter(account=medium)) == 0
        assert main(["bill", "issue", "--period", "2026-03"]) == 0
        assert "issued 1 bill(s)" in capsys.readouterr().out
        assert sum(e.amount for e in LedgerEntry.objects.filter(account=medium)) == D("242.74")
        assert main(["bill", "cancel", "--bill", str(new.replaces_id), "--reason", "again"]) == 2
        assert "already cancelled" in one_line(capsys.readouterr().err)


def _due(days: int) -> date:
    from datetime import timedelta

    from django.utils import timezone

    return timezone.localdate() + timedelta(days=days)


class TestFailure:
    def test_a_failed_run_says_so_in_one_line_and_exits_1(
        self, town: list[Account], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from wattdesk.application.billing import run as uc

        def broken(ctx: object, batch: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(uc, "_write_batch", broken)
        assert main(["bill", "run", "--period", "2026-03"]) == 1
        err = one_line(capsys.readouterr().err)
        assert "failed: OSError: disk full" in err and "run the same command again" in err
        assert Bill.objects.count() == 0

    def test_issue_by_route(self, town: list[Account], capsys: pytest.CaptureFixture[str]) -> None:
        other = ReadingRoute.objects.create(code="RT02", name="二段", region=Region.objects.get())
        household(9, "100", other)
        assert main(["bill", "run", "--period", "2026-03", "--no-progress"]) == 0
        capsys.readouterr()
        assert main(["bill", "issue", "--period", "2026-03", "--route", "RT02"]) == 0
        assert "issued 1 bill(s) for 2026-03, total 48.83" in capsys.readouterr().out
        assert Bill.objects.filter(status="issued").count() == 1
        assert main(["bill", "issue", "--period", "2026-03", "--route", "RT9"]) == 2


class TestAudit:
    def test_run_issue_approve_and_cancel_each_leave_one_audit_entry(
        self, town: list[Account], capsys: pytest.CaptureFixture[str]
    ) -> None:
        from auditlog.models import LogEntry

        _small, medium, big = town
        assert main(["bill", "run", "--period", "2026-03", "--no-progress"]) == 0
        assert main(["bill", "issue", "--period", "2026-03"]) == 0
        assert main(["bill", "approve", str(Bill.objects.get(account=big).pk)]) == 0
        assert (
            main(["bill", "cancel", "--account", medium.number, "--period", "2026-03", "--reason", "抄错"])
            == 0
        )
        batches = {
            e.additional_data["batch"]: e
            for e in LogEntry.objects.filter(additional_data__has_key="batch")
            if e.additional_data["batch"].startswith(("billing.", "bills."))
        }
        assert set(batches) == {"billing.run", "bills.issue", "bills.approve", "bills.cancel"}
        assert batches["billing.run"].changes["bills"] == [None, 3]
        assert batches["billing.run"].changes["total"] == [None, "2544.47"]
        assert batches["bills.issue"].changes["total"] == [None, "291.57"]
        assert batches["bills.cancel"].changes["reason"] == [None, "抄错"]
        assert batches["bills.cancel"].changes["reversal"] == [None, "-242.74"]
