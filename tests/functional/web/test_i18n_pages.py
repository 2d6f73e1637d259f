"""Walk the main pages in both languages: the Chinese UI shows no raw codes or English messages, the English UI
no Chinese messages. Data (names, addresses, tariff and fund names, bill line descriptions from the tariff
documents, the company's name) is Chinese in both languages and is allowed; everything else must come from the
catalogs.

A page's visible text is checked (scripts, styles, attributes, ``<pre>`` raw documents and ``<code>`` stripped).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.test import Client

from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.tariffs.models import TariffVersion
from wattdesk.interfaces.web import nav

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
#: snake_case identifiers: a stored code printed raw (active_total, no_readings, per_line ...)
_SNAKE = re.compile(r"(?<![\w/.-])[a-z]+(?:_[a-z]+)+(?![\w/.-])")
#: English words the Chinese UI may show: units, formats, product and standard names, sample ids
_ZH_ALLOWED_WORDS = {
    "WattDesk", "kWh", "kW", "kVA", "kV", "kvarh", "CSV", "PDF", "Excel", "xlsx", "csv", "parquet", "Parquet",
    "JSON", "App", "MCLP", "HiGHS", "median", "km", "MB", "UTF", "CNY", "PySAM", "wattdesk", "outlets", "seed",
    "tariffs", "import", "meter_serial", "register", "read_on", "value", "timestamp", "kwh", "txn_id",
    "order_no", "amount", "paid_at", "English", "demo", "max", "min", "Asia", "Shanghai", "htmx",
}  # fmt: skip
#: bits of the English UI that are Chinese by nature: the amount in capital numerals on the printed bill
_EN_ALLOWED_CJK = re.compile(r"^[零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整]+$")


def visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(script|style|pre|code|title|option)\b.*?</\1>", " ", page)
    page = re.sub(
        r'(?is)<(td|span|div|p)\b[^>]*translate="no"[^>]*>.*?</\1>', " ", page
    )  # stored data, as is
    page = re.sub(r"(?s)<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html_lib.unescape(page))


def data_strings() -> list[str]:
    """Every text value stored in WattDesk's tables (the data the pages may show as it is)."""
    out: list[str] = []
    for model in apps.get_models():
        if not model.__module__.startswith("wattdesk."):
            continue
        fields = [
            f.name for f in model._meta.concrete_fields if isinstance(f, models.CharField | models.TextField)
        ]
        if fields:
            for row in model.objects.values_list(*fields):
                out.extend(str(v) for v in row if v)
    for v in TariffVersion.objects.all():
        out.append(str(v.document))
    out.extend(get_user_model().objects.values_list("username", flat=True))
    # the company's own configuration printed on the bill (name, payment channels)
    out.append(str(settings.WATTDESK_BILL_ISSUER))
    out.extend(str(c) for c in getattr(settings, "WATTDESK_BILL_PAYMENT_CHANNELS", ()))
    return out


def _pages(company: Any) -> dict[str, list[str]]:
    held = Bill.objects.filter(status=BillStatus.HELD).order_by("pk").first()
    assert held is not None
    tariff = TariffVersion.objects.order_by("code").first()
    assert tariff is not None
    admin = get_user_model().objects.get(username=company.logins[roles.ADMIN].username)
    staff = [item["url"] for item in nav.items_for(admin, "staff")]
    staff += [
        f"/customers/{held.account.number}/",
        f"/bills/{held.pk}/",
        f"/billing/review/?period={company.period}",
        f"/billing/runs/{held.run_id}/" if held.run_id else "/billing/runs/",
        f"/readings/?period={company.period}",
        f"/tariffs/{tariff.code}/{tariff.effective_from:%Y-%m-%d}/",
        "/no-such-page/",
    ]
    return {
        roles.ADMIN: staff,
        roles.CUSTOMER: ["/portal/", "/portal/history/", "/portal/usage/", "/portal/tariff/"],
    }


def _problems(language: str, text: str, data: Iterable[str]) -> list[str]:
    blob = "\n".join(data)
    found: list[str] = []
    if language == "zh-hans":
        found += [f"code {c}" for c in _SNAKE.findall(text) if c not in _ZH_ALLOWED_WORDS and c not in blob]
        for word in re.findall(r"[A-Za-z][A-Za-z_]{2,}", text):
            if word not in _ZH_ALLOWED_WORDS and word not in blob:
                found.append(f"English {word}")
    else:
        for mark in re.findall(r"[\u3001\u3002\uff08\uff09\uff0c\uff1a\uff1b]", text):  # 、。（），：；
            if mark not in blob:
                found.append(f"Chinese punctuation {mark}")
        for run in _CJK_RUN.findall(text):
            run = run.strip("\u3000")
            if run and run not in blob and not _EN_ALLOWED_CJK.match(run):
                found.append(f"Chinese {run}")
    return sorted(set(found))


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_main_pages_speak_one_language(
    company: Any, client_for: Callable[[str], Client], language: str
) -> None:
    # an approved bill, so the review record (approval time + reason) is on a page too
    approved = Bill.objects.filter(status=BillStatus.HELD).order_by("-pk").first()
    assert approved is not None
    Bill.objects.filter(pk=approved.pk).update(
        status=BillStatus.DRAFT, hold_reason=f"approved 2026-11-01 17:30: {approved.hold_reason}"
    )
    client_for(roles.ADMIN).get("/")  # loads the URLconf, so every page has registered its menu entry
    data = data_strings()
    report: dict[str, list[str]] = {}
    for role, urls in _pages(company).items():
        client = client_for(role)
        client.cookies["django_language"] = language
        for url in [*urls, f"/bills/{approved.pk}/"] if role == roles.ADMIN else urls:
            response = client.get(url)
            assert response.status_code in (200, 404), (url, response.status_code)
            problems = _problems(language, visible_text(response.content.decode()), data)
            if problems:
                report[url] = problems
    assert report == {}, "\n".join(f"{url}: {problems}" for url, problems in report.items())


def test_the_404_page_is_translated(client: Client) -> None:
    zh = client.get("/no-such-page/")
    assert zh.status_code == 404
    assert "页面不存在" in zh.content.decode() and "Not Found" not in zh.content.decode()
    client.cookies["django_language"] = "en"
    en = client.get("/no-such-page/").content.decode()
    assert "Page not found" in en and "页面不存在" not in en


def test_the_500_page_is_translated_and_needs_no_request_context() -> None:
    from django.test import RequestFactory
    from django.utils import translation
    from django.views.defaults import server_error

    with translation.override("en"):
        body = server_error(RequestFactory().get("/")).content.decode()
    assert "Server error" in body and "服务器" not in body
    with translation.override("zh-hans"):
        assert "服务器内部错误" in server_error(RequestFactory().get("/")).content.decode()


def test_approval_time_shows_in_local_time(company: Any, client_for: Callable[[str], Client]) -> None:
    bill = Bill.objects.filter(status=BillStatus.HELD).order_by("pk").first()
    assert bill is not None
    at = datetime(2026, 11, 1, 17, 30, tzinfo=UTC)  # 2026-11-02 01:30 in Asia/Shanghai
    Bill.objects.filter(pk=bill.pk).update(hold_reason=f"approved {at:%Y-%m-%d %H:%M}: {bill.hold_reason}")
    page = client_for(roles.BILLING_CLERK).get(f"/bills/{bill.pk}/").content.decode()
    assert "2026-11-02 01:30 审核通过" in page and "2026-11-01 17:30" not in page


@pytest.mark.parametrize(
    ("language", "expected", "wrong"),
    [
        ("zh-hans", "金额超过上限 999,999,999,999.99 元。", "above the largest amount"),
        ("en", "Amount is above the limit of 999,999,999,999.99 yuan.", "超过上限"),
    ],
)
def test_amount_errors_are_in_the_page_language(
    company: Any, client_for: Callable[[str], Client], language: str, expected: str, wrong: str
) -> None:
    from django.contrib.messages import get_messages

    from wattdesk.domain.customers.models import Account, Region
    from wattdesk.domain.outlets.models import PaymentOutlet

    PaymentOutlet.objects.create(code="YYT01", name="营业厅", kind="counter", lat=30, lon=120,
                                 region=Region.objects.order_by("code").first())  # fmt: skip
    client = client_for(roles.BILLING_CLERK)
    client.cookies["django_language"] = language
    account = Account.objects.filter(bills__isnull=False).order_by("number").first()
    assert account is not None
    r = client.post("/cashier/pay/", {"account": account.number, "amount": "99999999999999.99", "method": "cash",
                                      "outlet": "YYT01", "token": "t-big"})  # fmt: skip
    shown = [str(m) for m in get_messages(r.wsgi_request)]
    assert expected in shown and not any(wrong in m for m in shown), shown


def test_customer_page_shows_readable_numbers_and_local_times(
    company: Any, client_for: Callable[[str], Client]
) -> None:
    from wattdesk.domain.customers.models import ServicePoint
    from wattdesk.domain.ledger.models import LedgerEntry

    sp = ServicePoint.objects.filter(capacity_kva__gt=0).select_related("account").order_by("pk").first()
    assert sp is not None
    ServicePoint.objects.filter(pk=sp.pk).update(capacity_kva=Decimal("315.000"))
    entry = LedgerEntry.objects.filter(account=sp.account).order_by("pk").first()
    assert entry is not None
    page = client_for(roles.ADMIN).get(f"/customers/{sp.account.number}/").content.decode()
    assert "<dd>315</dd>" in page and "315.000" not in page  # capacity without trailing zeros
    local = entry.posted_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"<td>{local:%Y-%m-%d %H:%M}</td>" in page  # the ledger in the company's time zone
    assert f"{entry.amount:,.2f}" in page  # amounts with thousands separators
    assert "active_total" not in page and "有功总" in page  # register kinds by their label


def test_an_approval_stamped_in_any_zone_shows_in_local_time(
    company: Any, client_for: Callable[[str], Client]
) -> None:
    from wattdesk.application.billing import review

    bill = Bill.objects.filter(status=BillStatus.HELD).order_by("pk").first()
    assert bill is not None
    admin = get_user_model().objects.get(username=company.logins[roles.ADMIN].username)
    at = datetime(2026, 11, 2, 10, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 01:30 UTC, 09:30 in Shanghai
    review.approve_bill(bill_id=bill.pk, user=admin, approved_at=at)
    bill.refresh_from_db()
    assert bill.hold_reason.startswith("approved 2026-11-02 09:30+08:00: ")  # company time, with its offset
    page = client_for(roles.BILLING_CLERK).get(f"/bills/{bill.pk}/").content.decode()
    assert "2026-11-02 09:30 审核通过" in page
