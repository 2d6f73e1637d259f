"""Mid-period changes (变更用电, issue 9 part 4) end to end: the clerk records the change through the API
(POST /api/service-changes), the readings come in through the readings API, the billing run bills the period
by segments. Amounts checked by hand (billing-rules-2.md §3, §7)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal as D
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.application.billing import run as uc
from wattdesk.domain.billing.models import Bill, BillLine
from wattdesk.domain.changes.models import ServiceChange
from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint
from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
RUN_AT = datetime(2026, 4, 2, 8, 0, tzinfo=SH)

# a two-part tariff as a tariff clerk loads it: basic 20 元/kVA·月 by capacity, flat energy 0.6 元/kWh,
# PF adjustment on basic + energy (standard 0.90, the service point's own standard applies), one fund outside
# the PF base
TWO_PART = {
    "code": "T-2P",
    "name": "大工业两部制(测试)",
    "effective_from": "2024-01-01",
    "customer_class": "industrial",
    "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.6"}]}]},
    "basic": {"method": "capacity", "rate": "20"},
    "power_factor": {"standard": "0.90", "base": ["basic", "energy"]},
    "funds": [{"code": "renewable", "name": "可再生能源电价附加", "rate": "0.019"}],
}


class Site:
    def __init__(self) -> None:
        TariffVersion.objects.create(
            code="T-2P", version="1", effective_from=date(2024, 1, 1), name="two part", document=TWO_PART
        )
        # the published 1996 case's price: 15 元/kVA·月, in force in 2016
        old = {
            **TWO_PART,
            "code": "T-2P-15",
            "effective_from": "2010-01-01",
            "basic": {"method": "capacity", "rate": "15"},
        }
        TariffVersion.objects.create(
            code="T-2P-15", version="1", effective_from=date(2010, 1, 1), name="two part 15", document=old
        )
        self.region = Region.objects.create(code="R01", name="城关供电所")
        self.route = ReadingRoute.objects.create(code="RT01", name="抄表段1", region=self.region)
        self.n = 0
        admin = get_user_model().objects.create_superuser(
            username="clerk", password="x", email="c@example.com"
        )
        self.client = Client()
        self.client.force_login(admin)

    def account(
        self,
        *,
        capacity: str = "630",
        points: int = 1,
        opened_on: date = date(2024, 1, 1),
        tariff: str = "T-2P",
    ) -> Account:
        self.n += 1
        n = self.n
        customer = Customer.objects.create(
            number=f"C{n:05d}",
            name=f"工厂{n}",
            kind="enterprise",
            customer_class="industrial",
            created_at=datetime(2024, 1, 1, tzinfo=SH),
        )
        account = Account.objects.create(number=f"A{n:08d}", customer=customer, opened_on=opened_on)
        for k in range(points):
            sp = ServicePoint.objects.create(
                number=f"SP{n:05d}-{k}",
                account=account,
                address=f"工业路{n}号",
                region=self.region,
                route=self.route,
                voltage_kv=D("10"),
                capacity_kva=D(capacity),
                pf_standard=D("0.90"),
            )
            TariffAssignment.objects.create(service_point=sp, tariff_code=tariff, effective_from=opened_on)
            meter = Meter.objects.create(serial=f"M{n:05d}{k}", multiplier=D(10), digits=6)
            MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=opened_on)
            for kind in ("active_total", "reactive"):
                MeterRegister.objects.create(meter=meter, kind=kind)
        return account

    def post_change(self, **body: Any) -> Any:
        return self.client.post(
            "/api/service-changes", data=json.dumps(body, default=str), content_type="application/json"
        )

    def readings(self, serial: str, *rows: tuple[str, str, str]) -> None:
        items = [{"meter_serial": serial, "register": reg, "read_on": on, "value": v} for on, reg, v in rows]
        r = self.client.post("/api/readings/bulk", data=json.dumps(items), content_type="application/json")
        assert r.status_code in (200, 201), r.content


@pytest.fixture
def site(db: None) -> Site:
    return Site()


def lines(bill: Bill) -> list[tuple[str, D, D, D]]:
    return [
        (ln.code, ln.quantity, ln.rate, ln.amount)
        for ln in BillLine.objects.filter(bill=bill).order_by("seq")
    ]


class TestPermanentReductionWithTwoPfStandards:
    def test_bills_the_two_segments_with_their_own_capacity_and_pf_standard(self, site: Site) -> None:
        acc = site.account(capacity="630")
        sp = acc.service_points.get()
        # 减容 630 -> 200 kVA, permanent, sealed on 2026-03-11; the smaller supply is assessed on 0.85
        r = site.post_change(
            account=acc.number,
            service_point=sp.number,
            kind="reduction",
            effective_on="2026-03-11",
            capacity_kva="200",
            pf_standard="0.85",
            reason="永久性减容",
        )
        assert r.status_code == 201, r.content
        body = r.json()
        assert (body["capacity_before"], body["capacity_after"], body["pf_standard_after"]) == (
            "630.0000",
            "200.0000",
            "0.8500",
        )
        sp.refresh_from_db()
        assert (sp.capacity_kva, sp.pf_standard) == (
            D(200),
            D("0.85"),
        )  # the point's values follow the change
        entry = LogEntry.objects.filter(additional_data__batch="changes.record").get()
        assert entry.object_pk == str(body["id"])
        # readings (multiplier 10): opening 02-28, at the sealing 03-11, month end 03-31
        serial = (
            sp.meter_installations.get().meter.serial if hasattr(sp, "meter_installations") else f"M{1:05d}0"
        )
        site.readings(serial, ("2026-02-28", "active_total", "1000"), ("2026-02-28", "reactive", "500"))
        site.readings(serial, ("2026-03-11", "active_total", "1500"), ("2026-03-11", "reactive", "900"))
        site.readings(serial, ("2026-03-31", "active_total", "3000"), ("2026-03-31", "reactive", "2000"))
        result = uc.run_billing(period="2026-03", run_at=RUN_AT)
        assert result.billed + result.held == 1, result.skipped
        bill = Bill.objects.get(account=acc)
        # segment 1, 03-01~03-10 (the reading of the sealing day 03-11 closes it):
        #   kWh (1500 − 1000) × 10 = 5 000; basic 630 × 20 × 10/30 = 4 200.00; energy 5 000 × 0.6 = 3 000.00;
        #   fund 5 000 × 0.019 = 95.00
        # segment 2, 03-11~03-31 (21 days; the sealing day is not charged on 630 kVA):
        #   kWh (3000 − 1500) × 10 = 15 000; basic 200 × 20 × 21/30 = 2 800.00; energy 15 000 × 0.6 = 9 000.00;
        #   fund 15 000 × 0.019 = 285.00
        # one PF for the month: kWh 20 000, kvarh (2000 − 500) × 10 = 15 000 → 20000/√(20000²+15000²) = 0.80
        #   segment 1 on 0.90: +5 % of (4 200 + 3 000) = 360.00; segment 2 on 0.85: +2.5 % of (2 800 + 9 000) = 295.00
        assert lines(bill) == [
            ("basic.capacity", D("630.0000"), D("20.000000"), D("4200.00")),
            ("energy.flat", D("5000.0000"), D("0.600000"), D("3000.00")),
            ("fund.renewable", D("5000.0000"), D("0.019000"), D("95.00")),
            ("pf", D("7200.0000"), D("0.050000"), D("360.00")),
            ("basic.capacity", D("200.0000"), D("20.000000"), D("2800.00")),
            ("energy.flat", D("15000.0000"), D("0.600000"), D("9000.00")),
            ("fund.renewable", D("15000.0000"), D("0.019000"), D("285.00")),
            ("pf", D("11800.0000"), D("0.025000"), D("295.00")),
        ]
        # 4 200 + 3 000 + 95 + 360 + 2 800 + 9 000 + 285 + 295 = 20 035.00
        assert (bill.total, bill.kwh) == (D("20035.00"), D("20000.0000"))
        texts = list(BillLine.objects.filter(bill=bill).order_by("seq").values_list("description", flat=True))
        assert texts[0].startswith("[变更前 03-01~03-10] 基本电费(按容量) 03-01~03-10 10/30天")
        assert texts[4].startswith("[减容 03-11~03-31] 基本电费(按容量) 03-11~03-31 21/30天")
        assert texts[7] == "[减容 03-11~03-31] 功率因数调整电费(实际0.80, 标准0.85)"

    def test_the_next_month_is_billed_whole_on_the_reduced_capacity(self, site: Site) -> None:
        acc = site.account(capacity="630")
        sp = acc.service_points.get()
        assert (
            site.post_change(
                account=acc.number,
                service_point=sp.number,
                kind="reduction",
                effective_on="2026-02-11",
                capacity_kva="200",
                pf_standard="0.85",
            ).status_code
            == 201
        )
        serial = "M000010"
        site.readings(serial, ("2026-02-28", "active_total", "1000"), ("2026-02-28", "reactive", "500"))
        site.readings(serial, ("2026-03-31", "active_total", "2000"), ("2026-03-31", "reactive", "1250"))
        uc.run_billing(period="2026-03", run_at=RUN_AT)
        bill = Bill.objects.get(account=acc)
        # 200 × 20 = 4 000 (whole month); 10 000 kWh × 0.6 = 6 000; fund 190; PF 10000/√(10000²+7500²) = 0.80
        # on 0.85: +2.5 % of 10 000 = 250.00
        assert [(c, a) for c, _q, _r, a in lines(bill)] == [
            ("energy.flat", D("6000.00")),
            ("basic.capacity", D("4000.00")),
            ("pf", D("250.00")),
            ("fund.renewable", D("190.00")),
        ]


class TestPublishedTwoYearCase:
    def test_1996_new_install_suspended_within_two_years_end_to_end(self, site: Site) -> None:
        # billing-rules-2.md §3.7: opened 2015-03-01 with 1000 + 630 kVA, 15 元/kVA·月; the 1000 kVA sealed
        # (暂停) on 2016-06-11 under the 1996 rule set (in force until 2016-08-01)
        acc = site.account(capacity="1630", opened_on=date(2015, 3, 1), tariff="T-2P-15")
        sp = acc.service_points.get()
        r = site.post_change(
            account=acc.number, service_point=sp.number, kind="suspension", effective_on="2016-06-11",
            capacity_kva="630", planned_until="2016-09-30",
        )  # fmt: skip
        assert r.status_code == 201, r.content
        site.readings(
            "M000010", ("2016-05-31", "active_total", "1000"), ("2016-06-11", "active_total", "1000")
        )
        site.readings(
            "M000010", ("2016-06-30", "active_total", "1100"), ("2016-07-31", "active_total", "1200")
        )
        uc.run_billing(period="2016-06", run_at=datetime(2016, 7, 2, 8, tzinfo=SH))
        june = Bill.objects.get(account=acc, period="2016-06")
        # published: 1000×15 + 630×15 − 1000×15×(30−10)÷30×0.5 = 19 450: 06-01~06-10 1630×15×10/30 = 8 150;
        # 06-11~06-30 630×15×20/30 = 6 300 and the sealed 1000 kVA at 50 %: 1000×7.5×20/30 = 5 000.
        # energy (1100 − 1000) × 10 = 1 000 kWh, all after the sealing: × 0.6 = 600; fund × 0.019 = 19
        assert [(c, a) for c, _q, _r, a in lines(june)] == [
            ("basic.capacity", D("8150.00")),
            ("basic.capacity", D("6300.00")),
            ("basic.capacity.sealed", D("5000.00")),
            ("energy.flat", D("600.00")),
            ("fund.renewable", D("19.00")),
        ]
        assert june.total == D("20069.00")
        # July, suspended the whole month: 630×15 = 9 450 and 1000×7.5 = 7 500 (no proration); 600 + 19
        uc.run_billing(period="2016-07", run_at=datetime(2016, 8, 2, 8, tzinfo=SH))
        july = Bill.objects.get(account=acc, period="2016-07")
        assert [(c, a) for c, _q, _r, a in lines(july)] == [
            ("basic.capacity", D("9450.00")),
            ("basic.capacity.sealed", D("7500.00")),
            ("energy.flat", D("600.00")),
            ("fund.renewable", D("19.00")),
        ]


class TestRecordedInAdvance:
    def test_a_change_recorded_for_next_period_leaves_this_period_on_the_old_capacity(
        self, site: Site
    ) -> None:
        acc = site.account(capacity="630")
        sp = acc.service_points.get()
        r = site.post_change(
            account=acc.number,
            service_point=sp.number,
            kind="increase",
            effective_on="2026-04-01",
            capacity_kva="800",
        )
        assert r.status_code == 201, r.content
        site.readings(
            "M000010", ("2026-02-28", "active_total", "1000"), ("2026-03-31", "active_total", "1100")
        )
        uc.run_billing(period="2026-03", run_at=RUN_AT)
        # March on 630 kVA (the point's row already says 800): 630 × 20 = 12 600; 1 000 kWh × 0.6 = 600; 19
        assert [(c, a) for c, _q, _r, a in lines(Bill.objects.get(account=acc))] == [
            ("energy.flat", D("600.00")),
            ("basic.capacity", D("12600.00")),
            ("fund.renewable", D("19.00")),
        ]


class TestRetiredServicePoint:
    def test_a_point_retired_before_the_period_never_blocks_the_account(self, site: Site) -> None:
        acc = site.account(capacity="100", points=2)
        _kept, retired = acc.service_points.order_by("number")
        r = site.post_change(
            account=acc.number, service_point=retired.number, kind="point_retired", effective_on="2026-02-15"
        )
        assert r.status_code == 201, r.content
        site.readings(
            "M000010", ("2026-02-28", "active_total", "1000"), ("2026-03-31", "active_total", "1100")
        )
        result = uc.run_billing(period="2026-03", run_at=RUN_AT)
        # before the fix the retired point (no reading since) made the whole account "no_readings" for good
        assert result.skipped == {}
        bill = Bill.objects.get(account=acc)
        # the kept point only: basic 100 × 20 = 2 000; 1 000 kWh × 0.6 = 600; fund 19 (no kvarh: no PF line)
        assert [(c, a) for c, _q, _r, a in lines(bill)] == [
            ("energy.flat", D("600.00")),
            ("basic.capacity", D("2000.00")),
            ("fund.renewable", D("19.00")),
        ]

    def test_a_point_retired_mid_period_is_billed_to_its_retirement(self, site: Site) -> None:
        acc = site.account(capacity="100", points=2)
        _kept, retired = acc.service_points.order_by("number")
        assert (
            site.post_change(
                account=acc.number,
                service_point=retired.number,
                kind="point_retired",
                effective_on="2026-03-16",
            ).status_code
            == 201
        )
        site.readings(
            "M000010", ("2026-02-28", "active_total", "1000"), ("2026-03-31", "active_total", "1100")
        )
        site.readings("M000011", ("2026-02-28", "active_total", "500"), ("2026-03-16", "active_total", "520"))
        uc.run_billing(period="2026-03", run_at=RUN_AT)
        bill = Bill.objects.get(account=acc)
        # kept: 2 000 + 600 + 19; retired (sealed 03-16, not charged): 03-01~03-15 = 15 days:
        # 100 × 20 × 15/30 = 1 000.00; 200 kWh × 0.6 = 120.00; fund 200 × 0.019 = 3.80
        assert [(c, a) for c, _q, _r, a in lines(bill)] == [
            ("energy.flat", D("600.00")),
            ("basic.capacity", D("2000.00")),
            ("fund.renewable", D("19.00")),
            ("basic.capacity", D("1000.00")),
            ("energy.flat", D("120.00")),
            ("fund.renewable", D("3.80")),
        ]
        assert bill.total == D("3742.80")

    def test_a_point_whose_meter_was_taken_away_before_the_period_never_blocks_the_account(
        self, site: Site
    ) -> None:
        # legacy data: the point was retired by removing its meter (no change record), on 2026-02-10
        acc = site.account(capacity="100", points=2)
        _kept, retired = acc.service_points.order_by("number")
        MeterInstallation.objects.filter(service_point=retired).update(removed_on=date(2026, 2, 10))
        site.readings(
            "M000010", ("2026-02-28", "active_total", "1000"), ("2026-03-31", "active_total", "1100")
        )
        result = uc.run_billing(period="2026-03", run_at=RUN_AT)
        assert result.skipped == {}
        bill = Bill.objects.get(account=acc)
        assert bill.total == D("2619.00")  # 2 000 + 600 + 19, the kept point only


class TestRefusals:
    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (
                {"kind": "suspension", "capacity_kva": "315", "planned_until": "2026-03-20"},
                "at least 15 days",
            ),
            ({"kind": "reduction", "capacity_kva": "800"}, "must leave less than the 630.0000 kVA"),
            ({"kind": "increase"}, "capacity_kva: required for increase"),
            ({"kind": "teleport"}, "unknown change kind"),
            ({"kind": "reclass", "tariff_code": "NOPE"}, "unknown tariff"),
            ({"kind": "suspension_restore"}, "no suspension of"),
        ],
    )
    def test_a_bad_change_is_a_422_with_the_reason_and_nothing_is_stored(
        self, site: Site, body: dict[str, Any], reason: str
    ) -> None:
        acc = site.account(capacity="630")
        sp = acc.service_points.get()
        r = site.post_change(account=acc.number, service_point=sp.number, effective_on="2026-03-11", **body)
        assert r.status_code == 422
        assert reason in r.json()["detail"]
        assert not ServiceChange.objects.exists()

    def test_a_third_suspension_in_a_year_is_refused_under_the_rule_set(self, site: Site) -> None:
        acc = site.account(capacity="630")
        sp = acc.service_points.get()
        for on, back in (("2026-01-05", "2026-02-05"), ("2026-03-05", "2026-04-05")):
            assert (
                site.post_change(
                    account=acc.number,
                    service_point=sp.number,
                    kind="suspension",
                    effective_on=on,
                    capacity_kva="315",
                ).status_code
                == 201
            )
            assert (
                site.post_change(
                    account=acc.number, service_point=sp.number, kind="suspension_restore", effective_on=back
                ).status_code
                == 201
            )
        r = site.post_change(
            account=acc.number,
            service_point=sp.number,
            kind="suspension",
            effective_on="2026-06-01",
            capacity_kva="315",
        )
        assert r.status_code == 422
        assert "at most 2 suspensions" in r.json()["detail"]

    def test_a_demand_customer_changes_only_on_its_billing_day_under_1583(self, site: Site) -> None:
        acc = site.account(capacity="630")
        sp = acc.service_points.get()
        ServicePoint.objects.filter(pk=sp.pk).update(contract_kw=D(400))  # a 需量 customer
        body = {
            "account": acc.number,
            "service_point": sp.number,
            "kind": "contract_demand",
            "contract_kw": "300",
        }
        r = site.post_change(**body, effective_on="2026-03-11")
        assert r.status_code == 422 and "billing-period boundary (day 1)" in r.json()["detail"]
        assert site.post_change(**body, effective_on="2026-04-01").status_code == 201

    def test_a_back_dated_change_behind_a_later_one_is_refused(self, site: Site) -> None:
        acc = site.account(capacity="630")
        sp = acc.service_points.get()
        assert (
            site.post_change(
                account=acc.number,
                service_point=sp.number,
                kind="reduction",
                effective_on="2026-03-11",
                capacity_kva="400",
            ).status_code
            == 201
        )
        r = site.post_change(
            account=acc.number,
            service_point=sp.number,
            kind="reduction",
            effective_on="2026-03-01",
            capacity_kva="300",
        )
        assert r.status_code == 422 and "a later change" in r.json()["detail"]
