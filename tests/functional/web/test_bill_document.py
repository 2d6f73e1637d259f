"""The bill document: assembled data, print-ready HTML, PDF, and scoping (an id outside the scope is a 404)."""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.application.billing.document import BillNotFound, bill_document, render_pdf
from wattdesk.application.billing.review import issue_bills
from wattdesk.core.chinese_numerals import amount_in_words
from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import bills_for
from wattdesk.domain.billing.models import Bill, BillLine, BillStatus
from wattdesk.domain.metering.models import RegisterReading
from wattdesk.interfaces.web.templatetags.fmt import format_fixed

TZ = ZoneInfo("Asia/Shanghai")


def _pdf_text(pdf: bytes) -> bytes:
    """The PDF's content streams, inflated (reportlab compresses pages)."""
    out = [pdf]
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = m.group(1).strip()
        if data.endswith(b"~>"):  # ASCII85, then Flate
            data = base64.a85decode(data[:-2].replace(b"\n", b""))
        try:
            out.append(zlib.decompress(data))
        except zlib.error:
            out.append(data)
    return b"\n".join(out)


@pytest.fixture
def issued(company: Any) -> Bill:
    issue_bills(
        user=None,
        period=company.period,
        issued_at=datetime(2026, 11, 3, 10, 0, tzinfo=TZ),
        issued_on=date(2026, 11, 3),
    )
    # a bill with readings, several lines and a non-zero total
    bill = (
        Bill.objects.filter(period=company.period, status=BillStatus.ISSUED, total__gt=0)
        .order_by("-total", "id")
        .first()
    )
    assert bill is not None
    return bill


class TestBillDocument:
    def test_assembles_the_bill_from_its_lines_and_readings(self, issued: Bill) -> None:
        doc = bill_document(bill_id=issued.pk)
        lines = list(BillLine.objects.filter(bill=issued))
        assert doc.total == issued.total
        assert doc.total_in_words == amount_in_words(issued.total)
        assert doc.due_on == date(2026, 11, 18)  # issued 11-03 + 15 days
        assert doc.account_number == issued.account.number
        assert doc.customer_name == issued.account.customer.name
        printed = (*doc.energy_lines, *doc.basic_lines, *doc.pf_lines, *doc.fund_lines, *doc.other_lines)
        assert sum(x.amount for x in printed) == issued.total
        assert {x.code for x in printed} == {ln.code for ln in lines if ln.amount != 0 or ln.unit}
        assert (
            doc.energy_total + doc.basic_total + doc.pf_total + doc.funds_total + doc.other_total
            == issued.total
        )
        energy_kwh = sum(ln.quantity for ln in lines if ln.rule.startswith("energy"))
        assert sum(k.kwh for k in doc.kwh_by_period) == energy_kwh
        assert doc.last_day == issued.end.fromordinal(issued.end.toordinal() - 1)

    def test_readings_rows_match_the_stored_readings(self, issued: Bill) -> None:
        doc = bill_document(bill_id=issued.pk)
        stored = RegisterReading.objects.filter(
            register__meter__installations__service_point__account=issued.account,
            read_on__gte=issued.start,
            read_on__lt=issued.end,
            status__in=("valid", "estimated"),
        ).distinct()
        assert len(doc.readings) == stored.count() > 0
        for r in doc.readings:
            s = stored.get(
                register__meter__serial=r.meter_serial, register__kind=r.register, read_on=r.current_on
            )
            assert r.current == s.value and r.consumption == s.consumption
            assert r.multiplier == s.register.meter.multiplier
            if r.previous is not None and r.consumption is not None and r.register != "max_demand":
                # consumption = (current - previous) x multiplier for an ordinary advance (no rollover here)
                assert r.consumption == ((r.current - r.previous) * r.multiplier).quantize(Decimal("0.0001"))

    def test_unknown_bill_id_raises(self, company: Any) -> None:
        with pytest.raises(BillNotFound):
            bill_document(bill_id=10**9)

    def test_pdf_starts_with_pdf_and_contains_the_total(self, issued: Bill) -> None:
        pdf = render_pdf(bill_document(bill_id=issued.pk))
        assert pdf.startswith(b"%PDF")
        text = _pdf_text(pdf)
        assert f"{issued.total:.2f}".encode() in text
        assert b"STSong-Light" in pdf


class TestBillPages:
    def test_html_bill_shows_total_due_date_and_capital_numerals(
        self, issued: Bill, client_for: Callable[[str], Client]
    ) -> None:
        r = client_for(roles.BILLING_CLERK).get(f"/bills/{issued.pk}/")
        assert r.status_code == 200
        html = r.content.decode()
        assert f'data-testid="bill-total">{format_fixed(issued.total)}<' in html  # 1,234.56
        assert 'data-testid="bill-due">2026-11-18<' in html
        assert f'data-testid="bill-total-words">{amount_in_words(issued.total)}<' in html
        assert "web/bills/bill.css" in html

    def test_pdf_download(self, issued: Bill, client_for: Callable[[str], Client]) -> None:
        r = client_for(roles.BILLING_CLERK).get(f"/bills/{issued.pk}/pdf")
        assert r.status_code == 200
        assert r["Content-Type"] == "application/pdf"
        assert r["Content-Disposition"].startswith('attachment; filename="bill-')
        assert r.content.startswith(b"%PDF")

    @pytest.mark.parametrize("role", [roles.COLLECTOR, roles.CUSTOMER])
    def test_bill_outside_the_scope_is_404(
        self, role: str, company: Any, issued: Bill, client_for: Callable[[str], Client]
    ) -> None:
        user = get_user_model().objects.get(username=company.logins[role].username)
        outside = Bill.objects.exclude(pk__in=bills_for(user).values("pk")).order_by("id").first()
        assert outside is not None
        client = client_for(role)
        if role == roles.COLLECTOR:
            inside = bills_for(user).order_by("id").first()
            assert inside is not None
            assert client.get(f"/bills/{inside.pk}/").status_code == 200
            assert client.get(f"/bills/{outside.pk}/").status_code == 404
            assert client.get(f"/bills/{outside.pk}/pdf").status_code == 404
        else:  # a customer has no back-office capability at all
            assert client.get(f"/bills/{outside.pk}/").status_code in (403, 404)
            assert client.get(f"/bills/{outside.pk}/pdf").status_code in (403, 404)

    def test_bill_list_is_scoped_and_filtered(
        self, company: Any, issued: Bill, client_for: Callable[[str], Client]
    ) -> None:
        user = get_user_model().objects.get(username=company.logins[roles.COLLECTOR].username)
        mine = bills_for(user).filter(period=company.period).count()
        assert 0 < mine < Bill.objects.filter(period=company.period).count()
        r = client_for(roles.COLLECTOR).get(f"/bills/?period={company.period}")
        assert r.status_code == 200
        assert r.context["count"] == mine
        held = Bill.objects.filter(period=company.period, status=BillStatus.HELD).count()
        r = client_for(roles.BILLING_CLERK).get(f"/bills/?period={company.period}&status=held")
        assert r.context["count"] == held
