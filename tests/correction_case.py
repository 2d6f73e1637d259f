"""A small hand-checkable company for the 退补 and held-reading tests (API, pages, browser).

One agricultural account on AGR-FLAT (平 0.4650 元/kWh + 水库移民基金 0.0062 元/kWh; 可再生能源附加 exempt), one
meter (multiplier ``multiplier``), readings entered as a meter reader would (a CSV through the readings import),
billed by the billing run and issued by the review use cases, month after month. The demo logins (one per role)
are created so the API and page tests can act as a clerk; ``second_clerk`` is another billing clerk (four eyes).

Per month of ``kwh`` kWh: energy kwh × 0.4650 + fund kwh × 0.0062, each line rounded to the fen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "Test-pass-2026!"
D = Decimal


@dataclass
class CorrectionCase:
    logins: dict[str, Any]
    period: str
    account_number: str
    meter_serial: str
    tmp: Path
    second_clerk: Any = None
    bills: dict[str, int] = field(default_factory=dict)  # period -> issued bill id
    value: Decimal = field(default_factory=Decimal)
    n: int = 0

    def import_reading(self, read_on: date, value: Decimal) -> Any:
        from wattdesk.application.metering.readings_import import import_readings

        self.n += 1
        path = self.tmp / f"readings-{self.n}.csv"
        path.write_text(
            f"meter_serial,register,read_on,value\n{self.meter_serial},active_total,{read_on},{value}\n"
        )
        return import_readings(
            path=path,
            as_of=read_on,
            imported_at=datetime(read_on.year, read_on.month, read_on.day, 18, tzinfo=SH),
        )

    def bill_month(self, period: str, advance: Decimal, *, issue: bool = True) -> int:
        """Read ``advance`` more register units on the 25th, run the billing, approve a hold, issue."""
        from wattdesk.application.billing import review
        from wattdesk.application.billing.run import run_billing
        from wattdesk.domain.billing.models import Bill, BillStatus

        y, m = int(period[:4]), int(period[5:])
        self.value += advance
        self.import_reading(date(y, m, 25), self.value)
        at = datetime(y + (m == 12), m % 12 + 1, 2, 9, tzinfo=SH)
        run_billing(period=period, run_at=at, workers=1)
        bill = Bill.objects.get(account__number=self.account_number, period=period)
        if not issue:
            return bill.pk
        if bill.status == BillStatus.HELD:
            review.approve_bill(bill_id=bill.pk, user=None, approved_at=at)
        review.issue_bills(
            period=period, user=None, issued_at=at, issued_on=at.date(), include_held_approved=True
        )
        self.bills[period] = bill.pk
        return bill.pk


def build_case(settings: Any, tmp: Path, *, multiplier: str = "1", opening: str = "1000") -> CorrectionCase:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from wattdesk.domain.access import roles
    from wattdesk.domain.access.operations import create_demo_users, link_customer
    from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint
    from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister
    from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    text = (
        resources.files("wattdesk.config")
        .joinpath("tariffs/agricultural-flat.yaml")
        .read_text(encoding="utf-8")
    )
    doc = json.loads(json.dumps(yaml.safe_load(text), default=str))
    TariffVersion.objects.create(
        code=doc["code"], version="1", effective_from=doc["effective_from"], name=doc["name"], document=doc
    )
    region = Region.objects.create(code="R01", name="城关供电所")
    route = ReadingRoute.objects.create(code="RT01", name="抄表段1", region=region)
    customer = Customer.objects.create(
        number="C00001",
        name="农场一",
        kind="enterprise",
        customer_class="agricultural",
        created_at=datetime(2024, 1, 1, tzinfo=SH),
    )
    account = Account.objects.create(number="A00000001", customer=customer, opened_on=date(2024, 1, 1))
    sp = ServicePoint.objects.create(
        number="SP00001",
        account=account,
        address="幸福路1号",
        region=region,
        route=route,
        voltage_kv=D("0.4"),
        capacity_kva=D(100),
    )
    TariffAssignment.objects.create(service_point=sp, tariff_code="AGR-FLAT", effective_from=date(2024, 1, 1))
    meter = Meter.objects.create(serial="M000001", multiplier=D(multiplier), digits=6)
    MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=date(2025, 12, 1))
    MeterRegister.objects.create(meter=meter, kind="active_total")
    logins = {d.role: d for d in create_demo_users(password=PASSWORD)}
    # the demo customer login is this customer's portal login (access.operations.link_customer, as sign-up does)
    link_customer(
        user=get_user_model().objects.get(username=logins[roles.CUSTOMER].username), customer=customer
    )
    second = get_user_model().objects.create_user("second_clerk", password=PASSWORD)
    second.groups.add(Group.objects.get(name=roles.BILLING_CLERK))
    case = CorrectionCase(
        logins=logins,
        period="2026-03",
        account_number=account.number,
        meter_serial=meter.serial,
        tmp=tmp,
        second_clerk=second,
    )
    case.value = D(opening)
    case.import_reading(date(2025, 12, 25), case.value)  # the opening reading
    return case


def build_industrial_case(settings: Any, tmp: Path) -> tuple[CorrectionCase, int]:
    """A 10 kV large-industry account on LI-2P-CAPACITY (basic 20 元/kVA·month × 315 kVA, flat energy 0.5800,
    PF standard 0.90 on basic + energy), January 2026 billed and issued with 10 000 kWh flat and 2000 kvarh."""
    from wattdesk.application.billing import review
    from wattdesk.application.billing.run import run_billing
    from wattdesk.domain.billing.models import Bill
    from wattdesk.domain.customers.models import Account, Customer, ServicePoint
    from wattdesk.domain.metering.models import Meter, MeterInstallation, MeterRegister
    from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

    case = build_case(settings, tmp)
    text = resources.files("wattdesk.config").joinpath("tariffs/large-industry-two-part-capacity.yaml")
    doc = json.loads(json.dumps(yaml.safe_load(text.read_text(encoding="utf-8")), default=str))
    TariffVersion.objects.create(
        code=doc["code"], version="1", effective_from=doc["effective_from"], name=doc["name"], document=doc
    )
    customer = Customer.objects.create(
        number="C00002", name="工厂二", kind="enterprise", customer_class="industrial",
        created_at=datetime(2024, 1, 1, tzinfo=SH),
    )  # fmt: skip
    account = Account.objects.create(number="A00000002", customer=customer, opened_on=date(2024, 1, 1))
    sp = ServicePoint.objects.create(
        number="SP00002", account=account, address="工业路2号", region_id=ServicePoint.objects.get().region_id,
        route_id=ServicePoint.objects.get().route_id, voltage_kv=D(10), capacity_kva=D(315), pf_standard=D("0.90"),
    )  # fmt: skip
    TariffAssignment.objects.create(
        service_point=sp, tariff_code=doc["code"], effective_from=date(2024, 1, 1)
    )
    meter = Meter.objects.create(serial="M000002", multiplier=D(1), digits=6)
    MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=date(2025, 12, 1))
    # 平 = 总 − 尖 − 峰 − 谷 − 深谷 (determinants): the other TOU registers advance 0, every kWh is flat
    kinds = (
        "active_total",
        "active_critical",
        "active_peak",
        "active_valley",
        "active_deep_valley",
        "reactive",
    )
    for kind in kinds:
        MeterRegister.objects.create(meter=meter, kind=kind)

    def read(read_on: date, values: tuple[str, ...]) -> None:
        case.n += 1
        path = tmp / f"industrial-{case.n}.csv"
        rows = "".join(f"M000002,{k},{read_on},{v}\n" for k, v in zip(kinds, values, strict=True))
        path.write_text("meter_serial,register,read_on,value\n" + rows)
        from wattdesk.application.metering.readings_import import import_readings

        import_readings(path=path, as_of=read_on, imported_at=datetime(2026, 1, 26, tzinfo=SH))

    read(date(2025, 12, 25), ("1000",) * 6)
    read(date(2026, 1, 25), ("11000", "1000", "1000", "1000", "1000", "3000"))
    at = datetime(2026, 2, 2, 9, tzinfo=SH)
    run_billing(period="2026-01", run_at=at, workers=1)
    bill = Bill.objects.get(account=account, period="2026-01")
    if bill.status == "held":
        review.approve_bill(bill_id=bill.pk, user=None, approved_at=at)
    review.issue_bills(
        period="2026-01", user=None, issued_at=at, issued_on=at.date(), include_held_approved=True
    )
    return case, bill.pk
