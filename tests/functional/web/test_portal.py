"""The customer portal (/portal/): every figure shown equals what the database holds, and a customer sees
only their own accounts and bills."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from wattdesk.application.portal import screens as portal
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillLine, BillStatus
from wattdesk.domain.customers.models import Account, Customer, ServicePoint
from wattdesk.domain.metering.models import MeterInstallation, RegisterKind, RegisterReading
from wattdesk.domain.metering.queries import load_intervals
from wattdesk.domain.tariffs.queries import assignment_on
from wattdesk.interfaces.web.templatetags.fmt import format_fixed, format_qty, format_reading

ClientFor = Callable[[str], Client]
TZ = ZoneInfo("Asia/Shanghai")


def _customer(company: Any) -> Customer:
    user = get_user_model().objects.get(username=company.logins[roles.CUSTOMER].username)
    customer: Customer = user.customer_login.customer
    return customer


def _account(company: Any) -> Account:
    return _customer(company).accounts.order_by("number").first()  # type: ignore[return-value]


def _testid(html: str, testid: str) -> list[str]:
    """Text inside the elements carrying data-testid (tags stripped, whitespace collapsed)."""
    out = []
    for m in re.finditer(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S):
        out.append(" ".join(re.sub(r"<[^>]+>", " ", m.group(2)).split()))
    return out


def _add_bill(account: Account, period: str, total: str, status: str = BillStatus.ISSUED, **kw: Any) -> Bill:
    y, m = (int(x) for x in period.split("-"))
    start = date(y, m, 1)
    end = date(y + (m == 12), m % 12 + 1, 1)
    return Bill.objects.create(
        account=account, period=period, status=status, start=start, end=end, total=Decimal(total), **kw
    )


class TestHome:
    def test_shows_the_latest_bill_total_exactly_as_stored(self, company: Any, client_for: ClientFor) -> None:
        account = _account(company)
        latest = (
            Bill.objects.filter(account=account, status__in=[BillStatus.ISSUED, BillStatus.DRAFT])
            .order_by("-period")
            .first()
        )
        assert latest is not None
        html = client_for(roles.CUSTOMER).get("/portal/").content.decode()
        assert _testid(html, "bill-total") == [format_fixed(latest.total)]  # 1,234.56
        assert _testid(html, "bill-kwh") == [f"{format_fixed(latest.kwh)} kWh"]  # kWh to 2 decimals
        assert f'href="/portal/bills/{latest.id}/"' in html
        assert _testid(html, "account-number") == [account.number]

    def test_a_newer_issued_bill_becomes_current_and_a_held_one_does_not(
        self, company: Any, client_for: ClientFor
    ) -> None:
        account = _account(company)
        _add_bill(account, "2026-11", "1234.05", kwh=Decimal("2000.5"), due_on=date(2026, 12, 20))
        _add_bill(account, "2026-12", "99.99", status=BillStatus.HELD, kwh=Decimal(1))
        html = client_for(roles.CUSTOMER).get("/portal/").content.decode()
        assert _testid(html, "bill-total") == ["1,234.05"]
        assert "2026-12-20" in html and "2,000.50 kWh" in html
        assert "99.99" not in html

    def test_pay_links_to_online_payment_and_advice_is_a_placeholder_without_buttons(
        self, company: Any, client_for: ClientFor
    ) -> None:
        html = client_for(roles.CUSTOMER).get("/portal/").content.decode()
        pay = re.search(r'data-testid="online-pay-link".*?</section>', html, re.S)
        assert pay is not None and "/portal/pay/?account=" in pay.group(0)
        block = re.search(r'data-testid="placeholder-advice".*?</section>', html, re.S)
        assert block is not None and "即将上线" in block.group(0)
        assert "<button" not in block.group(0) and "href" not in block.group(0)

    def test_several_accounts_get_a_selector_and_the_choice_is_remembered(
        self, company: Any, client_for: ClientFor
    ) -> None:
        customer = _customer(company)
        second = Account.objects.create(
            number="3399999901", customer=customer, status="active", opened_on=date(2020, 1, 1), billing_day=1
        )
        _add_bill(second, "2026-10", "7.77", kwh=Decimal("13.4"))
        client = client_for(roles.CUSTOMER)
        html = client.get("/portal/").content.decode()
        assert 'data-testid="account-select"' in html and 'value="3399999901"' in html
        html = client.get("/portal/?account=3399999901").content.decode()
        assert _testid(html, "bill-total") == ["7.77"]
        html = client.get("/portal/history/").content.decode()  # remembered in the session
        assert _testid(html, "history-total") == ["7.77 元"]

    def test_another_customers_account_number_is_404(self, company: Any, client_for: ClientFor) -> None:
        other = Account.objects.exclude(customer=_customer(company)).order_by("number").first()
        assert other is not None
        assert client_for(roles.CUSTOMER).get(f"/portal/?account={other.number}").status_code == 404
        assert client_for(roles.CUSTOMER).get(f"/portal/tariff/?account={other.number}").status_code == 404


class TestBillExplained:
    def test_lists_every_line_amount_and_the_readings_used(self, company: Any, client_for: ClientFor) -> None:
        bill = Bill.objects.filter(account=_account(company), period=company.period).get()
        html = client_for(roles.CUSTOMER).get(f"/portal/bills/{bill.id}/").content.decode()
        lines = _testid(html, "bill-line")
        stored = list(bill.lines.order_by("seq"))
        assert len(lines) == len(stored) > 0
        for text, line in zip(lines, stored, strict=True):
            assert text.endswith(f"= {line.amount} 元")
        assert _testid(html, "bill-total") == [format_fixed(bill.total)]
        # readings: previous and current value of the register read in the period, and the multiplier
        reading = RegisterReading.objects.filter(
            register__meter__installations__service_point__account=bill.account,
            register__kind=RegisterKind.ACTIVE_TOTAL,
            read_on__gte=bill.start,
            read_on__lt=bill.end,
        ).get()
        previous = (
            RegisterReading.objects.filter(register=reading.register, read_on__lt=reading.read_on)
            .order_by("-read_on")
            .first()
        )
        assert previous is not None and reading.consumption is not None
        table = re.search(r'data-testid="readings".*?</table>', html, re.S)
        assert table is not None
        for value in (previous.value, reading.value):  # readings: separators, at least 2 decimals
            assert f">{format_reading(value)}<" in table.group(0)
        assert f">{format_qty(reading.register.meter.multiplier)}<" in table.group(0)  # no trailing zeros
        assert f">{format_fixed(reading.consumption)}<" in table.group(0)  # kWh to 2 decimals

    def test_tou_tiers_funds_and_power_factor_in_plain_words(
        self, company: Any, client_for: ClientFor
    ) -> None:
        bill = _add_bill(_account(company), "2026-11", "157.87", kwh=Decimal(300))
        rows = [
            ("energy.peak.t1", "电度电费 峰 第1档", "240", "kWh", "0.4883", "117.19", "energy.tier"),
            ("energy.valley.t2", "电度电费 谷 第2档", "60", "kWh", "0.3383", "20.30", "energy.tier"),
            ("pf", "功率因数调整电费(实际0.85, 标准0.90)", "137.49", "元", "0.025", "3.44", "pf.0.90"),
            ("fund.renew", "可再生能源电价附加", "300", "kWh", "0.0563", "16.89", "fund"),
        ]
        for seq, (code, desc, qty, unit, rate, amount, rule) in enumerate(rows, 1):
            BillLine.objects.create(
                bill=bill,
                seq=seq,
                code=code,
                description=desc,
                quantity=Decimal(qty),
                unit=unit,
                rate=Decimal(rate),
                amount=Decimal(amount),
                rule=rule,
            )
        html = client_for(roles.CUSTOMER).get(f"/portal/bills/{bill.id}/").content.decode()
        assert _testid(html, "bill-line") == [
            "峰时段 第一档 240 kWh × 0.4883 元/kWh = 117.19 元",
            "谷时段 第二档 60 kWh × 0.3383 元/kWh = 20.30 元",
            "功率因数调整电费(实际0.85, 标准0.90) 调整基数 137.49 元 × 2.5% = 3.44 元",
            "可再生能源电价附加 300 kWh × 0.0563 元/kWh = 16.89 元",
        ]
        for group in ("电度电费", "功率因数调整", "政府性基金及附加"):
            assert f"<h3>{group}</h3>" in html

    def test_another_customers_bill_is_404(self, company: Any, client_for: ClientFor) -> None:
        other = Bill.objects.exclude(account__customer=_customer(company)).order_by("id").first()
        assert other is not None
        client = client_for(roles.CUSTOMER)
        assert client.get(f"/portal/bills/{other.id}/").status_code == 404
        assert client.get(f"/portal/bills/{other.id}/pdf").status_code == 404


class TestHistory:
    def test_lists_the_bills_newest_first_with_a_pdf_of_each(
        self, company: Any, client_for: ClientFor
    ) -> None:
        account = _account(company)
        _add_bill(account, "2026-11", "88.10", kwh=Decimal(150))
        bills = list(
            Bill.objects.filter(account=account, status__in=[BillStatus.ISSUED, BillStatus.DRAFT]).order_by(
                "-period"
            )
        )
        client = client_for(roles.CUSTOMER)
        html = client.get("/portal/history/").content.decode()
        assert _testid(html, "history-total") == [f"{format_fixed(b.total)} 元" for b in bills]
        stored = Bill.objects.filter(account=account, period=company.period).get()
        assert f'href="/portal/bills/{stored.id}/pdf"' in html
        response = client.get(f"/portal/bills/{stored.id}/pdf")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")


class TestUsage:
    def test_monthly_series_equals_bills_and_validated_readings(self, company: Any) -> None:
        account = _account(company)
        months = portal.monthly_usage(account=account, today=date(2026, 11, 27))
        assert len(months) == 13
        assert months[-1].period == "2026-10" and months[0].period == "2025-10"
        bill = Bill.objects.get(account=account, period="2026-10")
        assert (months[-1].kwh, months[-1].source) == (bill.kwh, "bill")
        meters = MeterInstallation.objects.filter(service_point__account=account).values("meter_id")
        for m in months[:-1]:
            y, mo = (int(x) for x in m.period.split("-"))
            start = date(y, mo, account.billing_day)
            end = date(y + (mo == 12), mo % 12 + 1, account.billing_day)
            expected = RegisterReading.objects.filter(
                register__meter__in=meters,
                register__kind=RegisterKind.ACTIVE_TOTAL,
                status__in=["valid", "estimated"],
                read_on__gte=start,
                read_on__lt=end,
            ).aggregate(s=Sum("consumption"))["s"] or Decimal(0)
            assert (m.kwh, m.source) == (expected, "readings"), m.period
        assert sum(m.kwh for m in months) > bill.kwh  # months before the bill carry readings

    def test_daily_and_hourly_series_sum_to_the_interval_data(
        self, company: Any, client_for: ClientFor
    ) -> None:
        account = _account(company)
        meter_ids = list(
            MeterInstallation.objects.filter(service_point__account=account).values_list(
                "meter_id", flat=True
            )
        )
        frame = load_intervals(
            start=datetime(2026, 10, 1, tzinfo=TZ), end=datetime(2026, 11, 1, tzinfo=TZ), meter_ids=meter_ids
        )
        assert frame.height > 0
        days = portal.daily_kwh(account=account, month_start=date(2026, 10, 1))
        assert len(days) == 31
        assert sum(k for _d, k in days) == pytest.approx(float(frame["kwh"].sum()), abs=0.001 * 31)
        day = date(2026, 10, 15)
        hours = portal.hourly_kwh(account=account, day=day)
        one_day = frame.filter(frame["timestamp"].dt.date() == day)
        assert len(hours) == 24
        assert sum(hours) == pytest.approx(float(one_day["kwh"].sum()), abs=0.001 * 24)
        assert sum(hours) == pytest.approx(dict(days)[day], abs=0.03)
        # the page carries the series as chart options; the HTMX partial swaps one day's hourly data
        client = client_for(roles.CUSTOMER)
        page = client.get("/portal/usage/")
        assert page.status_code == 200
        assert page.context["page"].months == portal.monthly_usage(
            account=account, today=timezone.localdate()
        )
        assert 'data-chart="' in page.content.decode()
        partial = client.get("/portal/usage/hourly/?day=2026-10-15", HTTP_HX_REQUEST="true")
        assert partial.status_code == 200 and "<html" not in partial.content.decode()
        assert tuple(partial.context["hours"]) == hours
        assert client.get("/portal/usage/hourly/?day=not-a-day").status_code == 404


class TestTariff:
    def test_shows_the_tariff_of_the_service_point_in_force_today(
        self, company: Any, client_for: ClientFor
    ) -> None:
        sp = ServicePoint.objects.filter(account=_account(company)).order_by("number").first()
        assert sp is not None
        assignment = assignment_on(service_point_id=sp.id, on=timezone.localdate())
        assert assignment is not None
        html = client_for(roles.CUSTOMER).get("/portal/tariff/").content.decode()
        assert _testid(html, "tariff-code") == [assignment.tariff_code]
        assert "第一档" in html

    def test_time_of_use_hours_and_tier_prices(self, company: Any, client_for: ClientFor) -> None:
        from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

        version = TariffVersion.objects.get(code="ZJ-RES-TIER-TOU")
        sp = ServicePoint.objects.filter(account=_account(company)).order_by("number").first()
        assert sp is not None
        TariffAssignment.objects.filter(service_point=sp, effective_to__isnull=True).update(
            effective_to=date(2026, 11, 1)
        )
        TariffAssignment.objects.create(
            service_point=sp, tariff_code="ZJ-RES-TIER-TOU", effective_from=date(2026, 11, 1)
        )
        _account_option, (tariff,) = portal.tariffs(
            user=get_user_model().objects.get(username=company.logins[roles.CUSTOMER].username),
            number=None,
            on=date(2026, 11, 27),
        )
        assert (tariff.code, tariff.version, tariff.tou) == ("ZJ-RES-TIER-TOU", version.version, True)
        peak, valley = tariff.periods
        assert (peak.name, peak.weekday_hours) == ("峰", "08:00–22:00")
        assert (valley.name, valley.weekday_hours) == ("谷", "22:00–08:00")
        assert [(t.lower, t.upper, t.rate) for t in peak.tiers] == [
            (Decimal(0), Decimal(2760), Decimal("0.568")),
            (Decimal(2760), Decimal(4800), Decimal("0.618")),
            (Decimal(4800), None, Decimal("0.868")),
        ]
        html = client_for(roles.CUSTOMER).get("/portal/tariff/").content.decode()
        assert _testid(html, "tariff-code") == ["ZJ-RES-TIER-TOU"]
        assert "08:00–22:00" in html and "0.868" in html

    def test_hour_ranges_wrap_midnight(self) -> None:
        table = [1] * 8 + [0] * 14 + [1] * 2
        assert portal.hour_ranges(table, 0) == "08:00–22:00"
        assert portal.hour_ranges(table, 1) == "22:00–08:00"


class TestAccess:
    def test_staff_get_403_on_the_portal(self, client_for: ClientFor) -> None:
        for role in (roles.BILLING_CLERK, roles.CS_AGENT):
            client = client_for(role)
            assert client.get("/portal/").status_code == 403
            assert client.get("/portal/usage/").status_code == 403

    def test_customer_gets_403_on_a_back_office_page(self, client_for: ClientFor) -> None:
        assert client_for(roles.CUSTOMER).get("/audit/").status_code == 403

    def test_customer_home_redirects_to_the_portal(self, client_for: ClientFor) -> None:
        response = client_for(roles.CUSTOMER).get("/")
        assert response.status_code == 302 and response["Location"] == "/portal/"


def test_bill_period_last_day_is_inclusive(company: Any) -> None:
    bill = Bill.objects.filter(account=_account(company), period=company.period).get()
    assert portal._summary(bill).last_day == bill.end - timedelta(days=1)
