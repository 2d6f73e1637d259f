"""The daily pass's set-based fetch and bulk writes give the per-account answers: usage since the latest
bill summed by the database exactly (SQLite adds its float decimals as integers), only readings in
(bill end, day], valid or estimated, per account's own bill end; the latest issued bill chosen among several;
the day's state rewritten in place by the multi-row upsert."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from typing import Any

from payments_helpers import at, issue_bill

from wattdesk.application.fee_control.prepaid import run_fee_control
from wattdesk.domain.fee_control.models import FeeControlState
from wattdesk.domain.fee_control.queries import prepaid_rows
from wattdesk.domain.ledger.operations import post_entry
from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister, RegisterReading
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

FLAT = {
    "code": "T-FLAT",
    "name": "flat",
    "effective_from": "2024-01-01",
    "customer_class": "residential",
    "currency": "CNY",
    "rounding": "per_line",
    "calendar": {"semantics": "real", "holidays": False},
    "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.5000"}]}]},
}
DAY = date(2024, 5, 10)
NOW = at(2024, 5, 10, 10)


def prepaid_with_readings(make_account: Any, serial: str, readings: list[tuple[date, str, str]]) -> Any:
    account = make_account(prepaid=True)
    sp = account.service_points.get()
    TariffAssignment.objects.create(service_point=sp, tariff_code="T-FLAT", effective_from=date(2024, 1, 1))
    meter = Meter.objects.create(serial=serial, multiplier=D(1), digits=6)
    MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=date(2024, 1, 1))
    reg = MeterRegister.objects.create(meter=meter, kind="active_total")
    value = D(1000)
    for read_on, kwh, status in readings:
        value += D(kwh)
        RegisterReading.objects.create(
            register=reg, read_on=read_on, value=value, status=status, advance=D(kwh), consumption=D(kwh)
        )
    return account


class TestSetBasedFetch:
    def test_usage_is_summed_exactly_in_each_accounts_own_window(self, make_account: Any) -> None:
        TariffVersion.objects.create(
            code="T-FLAT", version="1", effective_from=date(2024, 1, 1), name="flat", document=FLAT
        )
        may = [date(2024, 5, d) for d in range(1, 13)]
        # A: billed through April (bill end 05-01): 05-02 .. 05-10 count (9 x 0.1001 + an estimated 0.0003),
        #    05-01 (the bill's last read), 05-11 and 05-12 (after the day) and an exception read do not
        a = prepaid_with_readings(
            make_account,
            "M-A",
            [(d, "0.1001", "valid") for d in may if d != date(2024, 5, 6)]
            + [(date(2024, 5, 6), "0.0003", "estimated")],
        )
        RegisterReading.objects.create(
            register=MeterRegister.objects.get(meter__serial="M-A"),
            read_on=date(2024, 5, 7),
            value=D(5000),
            source="manual",
            status="exception",
            consumption=D("999"),
        )
        issue_bill(a, "2024-03", "10.00", date(2024, 4, 20))  # an older bill: not the latest
        issue_bill(a, "2024-04", "10.00", date(2024, 5, 20))
        # B: billed through 05-05 (a mid-month bill end): only 05-06 .. 05-10 count
        b = prepaid_with_readings(make_account, "M-B", [(d, "1.2345", "valid") for d in may])
        from wattdesk.domain.billing.models import Bill

        Bill.objects.create(
            account=b,
            period="2024-04",
            start=date(2024, 4, 5),
            end=date(2024, 5, 5),
            kwh=D(30),
            total=D("15.00"),
            status="issued",
        )
        rows = {r.number: r for r in prepaid_rows(account_ids=[a.pk, b.pk], day=DAY)}
        ra, rb = rows[a.number], rows[b.number]
        assert (ra.bill_start, ra.bill_end) == (date(2024, 4, 1), date(2024, 5, 1))
        assert ra.kwh_by_kind == {"active_total": D("0.8011")}  # 8 x 0.1001 + 0.0003, not a float sum
        assert rb.bill_end == date(2024, 5, 5)
        assert rb.kwh_by_kind == {"active_total": D("6.1725")}  # 5 x 1.2345
        run_fee_control(day=DAY, now=NOW)
        sa = FeeControlState.objects.get(account=a, day=DAY)
        assert (sa.kwh_since, sa.measured, sa.estimated_charge) == (D("0.8011"), True, D("0.40"))
        assert sa.ledger_balance == D("20.00")
        assert sa.estimated_balance == D("-20.40")

    def test_rerunning_the_day_rewrites_the_state_in_place(self, make_account: Any) -> None:
        TariffVersion.objects.create(
            code="T-FLAT", version="1", effective_from=date(2024, 1, 1), name="flat", document=FLAT
        )
        a = prepaid_with_readings(make_account, "M-C", [(date(2024, 5, 2), "2.0000", "valid")])
        issue_bill(a, "2024-04", "10.00", date(2024, 5, 20))
        run_fee_control(day=DAY, now=NOW)
        first = FeeControlState.objects.get(account=a, day=DAY)
        assert (first.ledger_balance, first.estimated_balance, first.decision) == (
            D("10.00"),
            D("-11.00"),
            "disconnect",
        )
        post_entry(
            account_id=a.pk, kind="adjustment", amount=D("-100.00"), posted_at=NOW - timedelta(hours=1)
        )
        later = NOW + timedelta(hours=1)
        run_fee_control(day=DAY, now=later)
        again = FeeControlState.objects.get(account=a, day=DAY)
        assert again.pk == first.pk
        assert (again.ledger_balance, again.estimated_balance, again.computed_at) == (
            D("-90.00"),
            D("89.00"),
            later,
        )
        assert again.decision == "restore"  # the disconnect of the first run is the meter's intent
