"""The billing run end to end on a small hand-built company: amounts checked by hand, resumability,
holds, issue, cancel + rerun. Runs on SQLite and PostgreSQL (tests/conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from wattdesk.application.billing import review
from wattdesk.application.billing import run as uc
from wattdesk.domain.billing.models import Bill, BillingRun, BillLine
from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.metering.models import (
    Meter,
    MeterInstallation,
    MeterRegister,
    ReadingException,
    RegisterReading,
)
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

SH = ZoneInfo("Asia/Shanghai")
RUN_AT = datetime(2026, 4, 2, 8, 0, tzinfo=SH)
PERIOD = "2026-03"
D = Decimal


def load_tariff(name: str) -> TariffVersion:
    text = resources.files("wattdesk.config").joinpath(f"tariffs/{name}.yaml").read_text(encoding="utf-8")
    doc = json.loads(json.dumps(yaml.safe_load(text), default=str))
    return TariffVersion.objects.create(
        code=doc["code"], version="1", effective_from=doc["effective_from"], name=doc["name"], document=doc
    )


@dataclass
class Company:
    route: ReadingRoute
    other_route: ReadingRoute
    region: Region
    seq: int = 0

    def account(
        self,
        *,
        customer_class: str = "residential",
        tariff: str = "BJ-RES-TIER",
        usage: dict[str, str],
        read_on: date = date(2026, 3, 25),
        route: ReadingRoute | None = None,
        multiplier: str = "1",
        capacity_kva: str = "8",
        contract_kw: str | None = None,
        pf_standard: str | None = None,
        opened_on: date = date(2024, 1, 1),
        source: str = "actual",
    ) -> Account:
        """An account with one service point and one meter whose registers recorded ``usage`` (kWh by
        register kind, multiplier applied, as VEE stores it) in a reading dated ``read_on``."""
        self.seq += 1
        n = self.seq
        customer = Customer.objects.create(
            number=f"C{n:05d}",
            name=f"客户{n}",
            kind="individual" if customer_class == "residential" else "enterprise",
            customer_class=customer_class,
            created_at=datetime(2024, 1, 1, tzinfo=SH),
        )
        account = Account.objects.create(number=f"A{n:08d}", customer=customer, opened_on=opened_on)
        sp = ServicePoint.objects.create(
            number=f"SP{n:05d}",
            account=account,
            address=f"幸福路{n}号",
            region=self.region,
            route=route or self.route,
            voltage_kv=D("0.22") if customer_class == "residential" else D("10"),
            capacity_kva=D(capacity_kva),
            contract_kw=None if contract_kw is None else D(contract_kw),
            pf_standard=None if pf_standard is None else D(pf_standard),
        )
        TariffAssignment.objects.create(service_point=sp, tariff_code=tariff, effective_from=date(2024, 1, 1))
        meter = Meter.objects.create(serial=f"M{n:06d}", multiplier=D(multiplier), digits=6)
        MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=date(2024, 1, 1))
        for kind, consumption in usage.items():
            reg = MeterRegister.objects.create(meter=meter, kind=kind)
            # the opening reading of the register (a month earlier) and the period's reading
            RegisterReading.objects.create(register=reg, read_on=date(2026, 2, 25), value=D(1000))
            cons = D(consumption)
            value = cons if kind == "max_demand" else D(1000) + cons / D(multiplier)
            RegisterReading.objects.create(
                register=reg,
                read_on=read_on,
                value=value,
                source=source,
                status="estimated" if source == "estimated" else "valid",
                advance=None if kind == "max_demand" else cons / D(multiplier),
                consumption=cons,
            )
        return account

    def past_bill(
        self, account: Account, period: str, *, kwh: str, total: str, status: str = "issued"
    ) -> Bill:
        asked = uc.parse_period(period)
        start, end = uc.account_window(asked.year, asked.month, 1)
        return Bill.objects.create(
            account=account, period=period, start=start, end=end, kwh=D(kwh), total=D(total), status=status
        )


@pytest.fixture
def company(db: None) -> Company:
    for name in (
        "beijing-residential-monthly",
        "large-industry-two-part-demand",
        "zhejiang-residential-annual-tou",
    ):
        load_tariff(name)
    region = Region.objects.create(code="R01", name="城关供电所")
    route = ReadingRoute.objects.create(code="RT01", name="抄表段1", region=region)
    other = ReadingRoute.objects.create(code="RT02", name="抄表段2", region=region)
    return Company(route=route, other_route=other, region=region)


def residential_450(company: Company, **kw: Any) -> Account:
    return company.account(usage={"active_total": "450"}, **kw)


def industrial(company: Company) -> Account:
    # 10 kV large industry, CT/PT multiplier 100, contract demand 400 kW, measured maximum demand 450 kW
    return company.account(
        customer_class="industrial",
        tariff="LI-2P-DEMAND",
        usage={
            "active_total": "10000",
            "active_critical": "1000",
            "active_peak": "3000",
            "active_valley": "2000",
            "active_deep_valley": "0",
            "reactive": "4000",
            "max_demand": "450",
        },
        multiplier="100",
        capacity_kva="500",
        contract_kw="400",
        pf_standard="0.90",
    )


def run(**kw: Any) -> uc.RunResult:
    return uc.run_billing(period=PERIOD, run_at=RUN_AT, **kw)


def lines(bill: Bill) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [
        (ln.code, ln.quantity, ln.rate, ln.amount)
        for ln in BillLine.objects.filter(bill=bill).order_by("seq")
    ]


def balance(account: Account) -> Decimal:
    return sum((e.amount for e in LedgerEntry.objects.filter(account=account)), D(0))


class TestAmountsByHand:
    def test_charges_a_beijing_household_its_three_monthly_tiers(self, company: Company) -> None:
        acc = residential_450(company)
        result = run()
        bill = Bill.objects.get(account=acc)
        # 240 x 0.4883 = 117.192 -> 117.19; 160 x 0.5383 = 86.128 -> 86.13; 50 x 0.7883 = 39.415 -> 39.42
        assert lines(bill) == [
            ("energy.flat.t1", D("240.0000"), D("0.488300"), D("117.19")),
            ("energy.flat.t2", D("160.0000"), D("0.538300"), D("86.13")),
            ("energy.flat.t3", D("50.0000"), D("0.788300"), D("39.42")),
        ]
        assert (bill.total, bill.kwh, bill.status, bill.version) == (D("242.74"), D("450.0000"), "draft", 1)
        assert (bill.start, bill.end) == (date(2026, 3, 1), date(2026, 4, 1))
        assert result.billed == 1 and result.total == D("242.74") and result.kwh == D("450.0000")
        assert not LedgerEntry.objects.filter(account=acc).exists()  # a draft owes nothing until it is issued
        issued_at = datetime(2026, 4, 2, 9, tzinfo=SH)
        review.issue_bills(user=None, period=PERIOD, issued_at=issued_at, issued_on=date(2026, 4, 2))
        charge = LedgerEntry.objects.get(account=acc)
        assert (charge.kind, charge.amount, charge.bill_id) == ("charge", D("242.74"), bill.pk)
        assert (charge.posted_at, charge.memo) == (issued_at, "2026-03 电费")

    def test_charges_a_large_industrial_customer_basic_energy_pf_and_funds(self, company: Company) -> None:
        acc = industrial(company)
        run()
        bill = Bill.objects.get(account=acc)
        # flat (平) has no register of its own: 10000 - 1000 - 3000 - 2000 - 0 = 4000 kWh
        # base price 0.58 x (2.05, 1.85, 1, 0.4) = 1.189, 1.073, 0.58, 0.232 元/kWh
        # demand 450 kW > 1.05 x 400 = 420: 420 x 30 + (450 - 420) x 60 = 12600 + 1800
        # PF = 10000 / sqrt(10000² + 4000²) = 0.928 -> 0.93 at standard 0.90: -0.45% of (7192 + 14400) = -97.164
        # funds on 10000 kWh: 0.019, 0.00196875 (19.6875 -> 19.69), 0.0062
        assert lines(bill) == [
            ("energy.critical", D("1000.0000"), D("1.189000"), D("1189.00")),
            ("energy.peak", D("3000.0000"), D("1.073000"), D("3219.00")),
            ("energy.flat", D("4000.0000"), D("0.580000"), D("2320.00")),
            ("energy.valley", D("2000.0000"), D("0.232000"), D("464.00")),
            ("basic.demand", D("420.0000"), D("30.000000"), D("12600.00")),
            ("basic.demand.excess", D("30.0000"), D("60.000000"), D("1800.00")),
            ("pf", D("21592.0000"), D("-0.004500"), D("-97.16")),
            ("fund.renewable", D("10000.0000"), D("0.019000"), D("190.00")),
            ("fund.water", D("10000.0000"), D("0.001969"), D("19.69")),
            ("fund.reservoir", D("10000.0000"), D("0.006200"), D("62.00")),
        ]
        assert bill.total == D("21766.53")
        assert bill.kwh == D("10000.0000")
        assert balance(acc) == 0
        review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2))
        assert balance(acc) == D("21766.53")

    def test_annual_tiers_count_this_tier_year_only(self, company: Company) -> None:
        acc = company.account(tariff="ZJ-RES-TIER-TOU", usage={"active_peak": "200", "active_valley": "100"})
        company.past_bill(acc, "2025-12", kwh="999", total="560.00")  # previous tier year: not counted
        company.past_bill(acc, "2026-01", kwh="1300", total="650.00")
        company.past_bill(acc, "2026-02", kwh="1300", total="650.00")
        run()
        bill = Bill.objects.get(account=acc, period=PERIOD)
        # year to date 2600 kWh; this month's 300 kWh straddle 2760: 160 in tier 1, 140 in tier 2, split
        # per period in proportion: peak 200 -> 106.6667 + 93.3333, valley 100 -> 53.3333 + 46.6667
        assert lines(bill) == [
            ("energy.peak.t1", D("106.6667"), D("0.568000"), D("60.59")),
            ("energy.peak.t2", D("93.3333"), D("0.618000"), D("57.68")),
            ("energy.valley.t1", D("53.3333"), D("0.288000"), D("15.36")),
            ("energy.valley.t2", D("46.6667"), D("0.338000"), D("15.77")),
        ]
        assert bill.total == D("149.40")
        # 149.40 < 0.3 x median(650, 650, 560) = 195: held as abnormally low
        assert bill.status == "held"
        assert bill.hold_reason.startswith("low:")


class TestResume:
    def test_a_rerun_bills_nothing_twice(self, company: Company) -> None:
        a, b = residential_450(company), industrial(company)
        first = run()
        second = run()
        assert (first.billed, second.billed, second.already_billed) == (2, 0, 2)
        assert Bill.objects.count() == 2
        assert LedgerEntry.objects.count() == 0  # bills are receivables from their issue on
        review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2))
        assert LedgerEntry.objects.count() == 2
        assert balance(a) == D("242.74") and balance(b) == D("21766.53")
        assert BillingRun.objects.filter(status="finished").count() == 2


@pytest.mark.django_db(transaction=True)
class TestCrash:
    @pytest.mark.parametrize("workers", [1, 2])
    def test_a_crash_in_a_batch_is_finished_by_the_next_run(
        self, company: Company, monkeypatch: pytest.MonkeyPatch, workers: int
    ) -> None:
        # workers=2 forks worker processes on a file or server database (SQLite in memory: one connection)
        accounts = [residential_450(company) for _ in range(5)]
        doomed = accounts[4].pk  # alone in the third batch of two
        real_write = uc._write_batch

        def crashing_write(ctx: Any, batch: Any) -> None:
            if any(row[0] == doomed for row in batch.bills):
                raise RuntimeError("power cut in the machine room")
            real_write(ctx, batch)

        monkeypatch.setattr(uc, "_write_batch", crashing_write)
        with pytest.raises(RuntimeError, match="power cut"):
            run(batch_size=2, workers=workers)
        assert Bill.objects.count() == 4  # the two other batches committed whole, nothing of the third
        assert BillLine.objects.count() == 4 * 3 and LedgerEntry.objects.count() == 0
        failed = BillingRun.objects.get()
        assert failed.status == "failed" and failed.counts["billed"] == 4

        monkeypatch.setattr(uc, "_write_batch", real_write)
        again = run(batch_size=2, workers=workers)
        assert (again.billed, again.already_billed) == (1, 4)
        review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2))
        for acc in accounts:
            assert Bill.objects.filter(account=acc, period=PERIOD).count() == 1
            assert balance(acc) == D("242.74")
        assert BillLine.objects.count() == 5 * 3


class TestHoldsAndSkips:
    def test_holds_a_bill_far_above_the_accounts_median(self, company: Company) -> None:
        acc = residential_450(company)
        for period, total in (("2025-12", "60.00"), ("2026-01", "70.00"), ("2026-02", "80.00")):
            company.past_bill(acc, period, kwh="150", total=total)
        result = run()
        bill = Bill.objects.get(account=acc, period=PERIOD)
        assert bill.status == "held"
        assert bill.hold_reason == "high: total 242.74 > 3 x median 70.00 of 3 bills"
        assert (result.held, result.billed, result.bills) == (1, 0, 1)
        assert not LedgerEntry.objects.filter(account=acc).exists()  # held: not a receivable
        issued = review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2))
        assert (issued.issued, issued.still_held) == (0, 1) and balance(acc) == 0  # never issued while held

    def test_holds_a_first_bill_above_the_class_limit(self, company: Company) -> None:
        acc = company.account(usage={"active_total": "2500"})
        run()
        bill = Bill.objects.get(account=acc)
        # 240 x 0.4883 + 160 x 0.5383 + 2100 x 0.7883 = 117.19 + 86.13 + 1655.43
        assert bill.total == D("1858.75")
        assert bill.status == "held" and bill.hold_reason.startswith("new account: total 1858.75 above 1000")

    def test_skips_accounts_with_a_blocking_exception_or_no_reading(self, company: Company) -> None:
        blocked = residential_450(company)
        unread = company.account(usage={"active_total": "100"}, read_on=date(2026, 2, 26))  # February read
        ok = residential_450(company)
        meter = Meter.objects.get(installations__service_point__account=blocked)
        ReadingException.objects.create(
            meter=meter, period=PERIOD, check_code="spike", reason="3x the median", severity="error"
        )
        result = run()
        assert result.skipped == {"reading_exception": 1, "no_readings": 1}
        assert result.billed == 1
        assert list(Bill.objects.values_list("account_id", flat=True)) == [ok.pk]
        assert not Bill.objects.filter(account__in=[blocked, unread]).exists()
        run_row = BillingRun.objects.get()
        assert run_row.counts["skipped_examples"]["reading_exception"] == [blocked.number]

    def test_an_estimated_reading_is_billed_and_flagged(self, company: Company) -> None:
        acc = company.account(usage={"active_total": "450"}, source="estimated")
        result = run()
        bill = Bill.objects.get(account=acc)
        assert bill.total == D("242.74") and result.estimated == 1
        assert lines(bill)[-1] == ("note.estimated", D("0.0000"), D("0.000000"), D("0.00"))

    def test_a_route_run_bills_only_that_route(self, company: Company) -> None:
        here = residential_450(company)
        there = residential_450(company, route=company.other_route)
        result = run(route="RT02")
        assert result.billed == 1
        assert list(Bill.objects.values_list("account_id", flat=True)) == [there.pk]
        run(route="RT01")
        assert Bill.objects.filter(account=here).count() == 1

    def test_revenue_is_reported_by_customer_class(self, company: Company) -> None:
        residential_450(company)
        industrial(company)
        result = run()
        assert result.revenue_by_class == {"residential": D("242.74"), "industrial": D("21766.53")}
        assert result.total == D("22009.27")


class TestReceivablesOnIssue:
    """电费发行: a bill becomes a receivable when it is issued; draft and held bills owe nothing."""

    def test_cancelling_a_held_bill_writes_no_reversal(self, company: Company) -> None:
        acc = company.account(usage={"active_total": "2500"})  # 1858.75 > 1000 for a first bill: held
        run()
        bill = Bill.objects.get(account=acc)
        assert bill.status == "held"
        done = review.cancel_bill(
            bill_id=bill.pk, user=None, reason="读数待核实", cancelled_at=datetime(2026, 4, 3, tzinfo=SH)
        )
        assert (done.reversal_id, done.reversal_amount) == (None, D(0))
        assert not LedgerEntry.objects.filter(account=acc).exists()

    def test_issue_applies_money_the_customer_already_paid(self, company: Company) -> None:
        from wattdesk.application.payments.posting import post_payment

        acc = residential_450(company)
        run()
        paid_at = datetime(2026, 4, 1, 15, tzinfo=SH)
        post_payment(
            account_number=acc.number,
            amount="300.00",
            channel="counter",
            channel_txn_id="T1",
            received_at=paid_at,
        )
        assert balance(acc) == D("-300.00")  # a credit: there is nothing to settle before the bill is issued
        review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2))
        bill = Bill.objects.get(account=acc)
        # 300.00 paid - 242.74 charged: the charge is settled in full at issue, 57.26 stays in credit
        assert balance(acc) == D("-57.26")
        settled = bill.payment_allocations.get()
        assert (settled.amount, settled.allocated_on) == (D("242.74"), date(2026, 4, 2))

    def test_the_migration_reverses_charges_of_bills_not_yet_issued(self, company: Company) -> None:
        import importlib

        from django.db import connection
        from django.db.migrations.loader import MigrationLoader

        from wattdesk.domain.ledger.operations import Posting, post_entries

        migration = importlib.import_module("wattdesk.domain.ledger.migrations.0005_charges_on_issue")
        draft_acc, issued_acc = residential_450(company), industrial(company)
        held_acc = company.account(usage={"active_total": "2500"})
        run()
        review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2))
        # the issued bill's charge was posted on issue; make one bill draft again in the old data's shape:
        # before this change the run itself charged every bill it wrote, draft and held ones included
        Bill.objects.filter(account=draft_acc).update(status="draft", issued_at=None, due_on=None)
        held = Bill.objects.get(account=held_acc)
        post_entries(entries=[Posting(held_acc.pk, "charge", held.total, RUN_AT, held.pk, "2026-03 电费")])
        now = datetime(2026, 5, 1, 12, tzinfo=SH)
        # the migration's own (historical) model, as `migrate` gives it
        state = MigrationLoader(connection).project_state(("ledger", "0005_charges_on_issue"))
        historical = state.apps.get_model("ledger", "LedgerEntry")
        assert migration.reverse_unissued_charges(historical, now) == 2
        assert (balance(draft_acc), balance(held_acc), balance(issued_acc)) == (0, 0, D("21766.53"))
        reversal = LedgerEntry.objects.get(account=held_acc, kind="reversal")
        assert (reversal.amount, reversal.posted_at, reversal.reverses.kind) == (D("-1858.75"), now, "charge")
        assert migration.reverse_unissued_charges(historical, now) == 0  # applied once
        # issuing the draft again makes it a receivable again
        review.issue_bills(user=None, period=PERIOD, issued_at=now, issued_on=now.date())
        assert balance(draft_acc) == D("242.74")


class TestIssueAndCancel:
    def test_issue_freezes_drafts_and_leaves_held_bills(self, company: Company) -> None:
        draft_acc = residential_450(company)
        held_acc = company.account(usage={"active_total": "2500"})
        run()
        result = review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2))
        assert (result.issued, result.total, result.due_on, result.still_held) == (
            1,
            D("242.74"),
            date(2026, 4, 17),
            1,
        )
        issued = Bill.objects.get(account=draft_acc)
        assert (issued.status, issued.due_on, issued.issued_at) == ("issued", date(2026, 4, 17), RUN_AT)
        assert Bill.objects.get(account=held_acc).status == "held"
        # a second run and a second issue change nothing on the issued bill
        run()
        review.issue_bills(
            user=None, period=PERIOD, issued_at=datetime(2026, 4, 9, tzinfo=SH), issued_on=date(2026, 4, 9)
        )
        again = Bill.objects.get(account=draft_acc)
        assert (again.status, again.due_on, again.total, again.issued_at) == (
            "issued",
            date(2026, 4, 17),
            D("242.74"),
            RUN_AT,
        )

    def test_an_approved_held_bill_is_issued_only_when_asked(self, company: Company) -> None:
        acc = company.account(usage={"active_total": "2500"})
        run()
        bill = Bill.objects.get(account=acc)
        assert [h.bill_id for h in review.list_held_bills(period=PERIOD)] == [bill.pk]
        review.approve_bill(user=None, bill_id=bill.pk, approved_at=RUN_AT)
        assert review.list_held_bills(period=PERIOD) == []
        assert (
            review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2)).issued
            == 0
        )
        out = review.issue_bills(
            user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2), include_held_approved=True
        )
        assert out.issued == 1
        bill.refresh_from_db()
        assert bill.status == "issued" and bill.hold_reason.startswith(
            "approved 2026-04-02 08:00+08:00: new account"
        )
        with pytest.raises(uc.BillStateError):
            review.approve_bill(user=None, bill_id=bill.pk, approved_at=RUN_AT)

    def test_cancel_then_rerun_makes_version_2_and_a_reversal(self, company: Company) -> None:
        acc = residential_450(company)
        run()
        review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2))
        old = Bill.objects.get(account=acc)
        # the meter reading is corrected: 300 kWh instead of 450 (the reading row is re-validated by metering)
        RegisterReading.objects.filter(
            register__meter__installations__service_point__account=acc, read_on=date(2026, 3, 25)
        ).update(value=D(1300), advance=D(300), consumption=D(300))
        cancelled = review.cancel_bill(
            bill_id=review.find_live_bill(account_number=acc.number, period=PERIOD),
            user=None,
            reason="抄错表码",
            cancelled_at=datetime(2026, 4, 5, tzinfo=SH),
        )
        assert (cancelled.bill_id, cancelled.version, cancelled.reversal_amount) == (old.pk, 1, D("-242.74"))
        result = run()
        assert result.billed == 1
        old.refresh_from_db()
        new = Bill.objects.get(account=acc, period=PERIOD, status="draft")
        # 240 x 0.4883 + 60 x 0.5383 = 117.19 + 32.30 (32.298)
        assert (new.version, new.replaces_id, new.total) == (2, old.pk, D("149.49"))
        assert (old.status, old.total) == ("cancelled", D("242.74"))  # amounts never edited
        assert balance(acc) == 0  # the cancelled bill is reversed, the new one not yet issued
        review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 6))
        entries = list(
            LedgerEntry.objects.filter(account=acc).order_by("id").values_list("kind", "amount", "bill_id")
        )
        assert entries == [
            ("charge", D("242.74"), old.pk),
            ("reversal", D("-242.74"), old.pk),
            ("charge", D("149.49"), new.pk),
        ]
        reversal = LedgerEntry.objects.get(kind="reversal")
        assert reversal.reverses.kind == "charge" and "抄错表码" in reversal.memo
        assert balance(acc) == new.total
        with pytest.raises(uc.BillStateError):
            review.cancel_bill(user=None, bill_id=old.pk, reason="again", cancelled_at=RUN_AT)

    def test_bad_input_is_refused(self, company: Company) -> None:
        with pytest.raises(uc.BillingInputError, match="YYYY-MM"):
            uc.run_billing(period="2026-13", run_at=RUN_AT)
        with pytest.raises(uc.BillingInputError, match="unknown reading route"):
            uc.run_billing(period=PERIOD, run_at=RUN_AT, route="nope")
        with pytest.raises(uc.BillNotFound):
            review.cancel_bill(user=None, bill_id=999999, reason="x", cancelled_at=RUN_AT)
        with pytest.raises(uc.BillingInputError, match="reason"):
            review.cancel_bill(user=None, bill_id=1, reason="  ", cancelled_at=RUN_AT)


class TestUsageQuery:
    def test_the_run_reads_usage_through_the_one_metering_query(self) -> None:
        from wattdesk.application.billing import fetch

        assert not hasattr(fetch, "usage") and not hasattr(fetch, "Usage")  # no second consumption query

    def test_an_account_range_an_id_list_and_everyone_agree(self, company: Company) -> None:
        from wattdesk.domain.metering.queries import consumption_by_account

        accounts = [residential_450(company), industrial(company)]
        accounts.append(company.account(usage={"active_total": "12.3456"}, source="estimated"))
        odd = company.account(usage={"active_total": "77"})
        RegisterReading.objects.create(
            register=MeterRegister.objects.get(meter__installations__service_point__account=odd),
            read_on=date(2026, 3, 28),
            value=D(2000),
            status="exception",
        )
        accounts.append(odd)
        ids = [a.pk for a in accounts]
        start, end = date(2026, 3, 1), date(2026, 4, 1)
        ranged = consumption_by_account(
            period_start=start, period_end=end, account_range=(min(ids), max(ids))
        )
        listed = consumption_by_account(period_start=start, period_end=end, account_ids=ids)
        everyone = consumption_by_account(period_start=start, period_end=end)
        assert ranged == listed == everyone
        assert len(ranged) == 4
        estimated = ranged[ServicePoint.objects.get(account=accounts[2]).pk]
        assert (estimated.kwh_by_kind, estimated.estimated) == ({"active_total": D("12.3456")}, True)
        held = ranged[ServicePoint.objects.get(account=odd).pk]
        assert (held.kwh_by_kind, held.exceptions, held.readings) == ({"active_total": D("77")}, 1, 1)
        just_one = consumption_by_account(period_start=start, period_end=end, account_ids=[odd.pk])
        assert list(just_one) == [held.service_point_id]
        assert consumption_by_account(period_start=start, period_end=end, account_ids=[]) == {}


class TestEdges:
    def test_an_account_with_two_service_points_gets_one_bill(self, company: Company) -> None:
        acc = residential_450(company)
        # a second service point of the same account, on the agricultural flat tariff (a pump house)
        load_tariff("agricultural-flat")
        sp = ServicePoint.objects.create(
            number="SP-PUMP",
            account=acc,
            address="村口泵房",
            region=company.region,
            route=company.route,
            capacity_kva=D(20),
        )
        TariffAssignment.objects.create(
            service_point=sp, tariff_code="AGR-FLAT", effective_from=date(2024, 1, 1)
        )
        meter = Meter.objects.create(serial="M-PUMP")
        MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=date(2024, 1, 1))
        reg = MeterRegister.objects.create(meter=meter, kind="active_total")
        RegisterReading.objects.create(
            register=reg, read_on=date(2026, 3, 20), value=D(100), advance=D(100), consumption=D(100)
        )
        run()
        bill = Bill.objects.get(account=acc)
        # 242.74 (household) + 100 x 0.465 = 46.50, reservoir fund 100 x 0.0062 = 0.62 (renewable exempt)
        assert [(c, a) for c, _q, _r, a in lines(bill)] == [
            ("energy.flat.t1", D("117.19")),
            ("energy.flat.t2", D("86.13")),
            ("energy.flat.t3", D("39.42")),
            ("energy.flat", D("46.50")),
            ("fund.reservoir", D("0.62")),
        ]
        assert (bill.total, bill.kwh) == (D("289.86"), D("550.0000"))
        review.issue_bills(user=None, period=PERIOD, issued_at=RUN_AT, issued_on=date(2026, 4, 2))
        assert balance(acc) == D("289.86")

    def test_a_zero_bill_posts_nothing_to_the_ledger(self, company: Company) -> None:
        acc = company.account(usage={"active_total": "0"})
        result = run()
        bill = Bill.objects.get(account=acc)
        assert (bill.total, bill.kwh, lines(bill)) == (D("0.00"), D("0.0000"), [])
        assert result.billed == 1
        assert not LedgerEntry.objects.filter(account=acc).exists()

    def test_the_billing_day_sets_the_accounts_period(self, company: Company) -> None:
        # billing day 20: period 2026-03 is [03-20, 04-20); the reading of 03-25 is in it, not the one of 03-10
        acc = company.account(usage={"active_total": "100"}, read_on=date(2026, 3, 25))
        Account.objects.filter(pk=acc.pk).update(billing_day=20)
        early = company.account(usage={"active_total": "100"}, read_on=date(2026, 3, 10))
        Account.objects.filter(pk=early.pk).update(billing_day=20)
        result = run()
        bill = Bill.objects.get(account=acc)
        assert (bill.start, bill.end, bill.total) == (date(2026, 3, 20), date(2026, 4, 20), D("48.83"))
        assert result.skipped == {"no_readings": 1}

    def test_the_tariff_version_in_force_at_the_period_start_is_used(self, company: Company) -> None:
        acc = residential_450(company)
        old = TariffVersion.objects.get(code="BJ-RES-TIER")
        TariffVersion.objects.filter(pk=old.pk).update(effective_to=date(2026, 3, 1))
        doc = json.loads(json.dumps(old.document))
        doc["effective_from"] = "2026-03-01"
        doc["energy"]["periods"][0]["tiers"][0]["rate"] = 0.5
        TariffVersion.objects.create(
            code="BJ-RES-TIER", version="2", effective_from=date(2026, 3, 1), name="new", document=doc
        )
        run()
        # 240 x 0.5 = 120.00 (new first tier) + 86.13 + 39.42
        assert Bill.objects.get(account=acc).total == D("245.55")

    def test_reports_progress_per_batch(self, company: Company) -> None:
        for _ in range(3):
            residential_450(company)
        seen: list[tuple[int, int]] = []
        run(batch_size=2, progress=lambda done, total: seen.append((done, total)))
        assert seen == [(0, 3), (2, 3), (3, 3)]

    def test_a_reading_left_in_exception_status_blocks_the_account(self, company: Company) -> None:
        acc = company.account(
            usage={"active_total": "100"}, read_on=date(2026, 2, 26)
        )  # nothing billable in March
        RegisterReading.objects.create(
            register=MeterRegister.objects.get(meter__installations__service_point__account=acc),
            read_on=date(2026, 3, 25),
            value=D(900),
            status="exception",
        )
        result = run()
        assert result.skipped == {"reading_exception": 1}
        assert not Bill.objects.exists()
