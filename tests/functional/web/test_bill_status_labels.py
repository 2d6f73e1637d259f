"""One set of bill status names on every page: the model's labels (BillStatus), 草稿 / 待审核 / 已发行 / 已作废 in
Chinese, draft / held / issued / cancelled in English — never 待发行 / 暂缓 / 审核中."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import translation

from wattdesk.application.billing import document as bill_document
from wattdesk.application.portal import screens as portal
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.interfaces.web.templatetags.labels import bill_status

OLD_NAMES = ("待发行", "暂缓", "审核中", "已核算")
ZH = {"draft": "草稿", "held": "待审核", "issued": "已发行", "cancelled": "已作废"}


def test_the_filter_and_the_use_cases_print_the_models_labels() -> None:
    with translation.override("zh-hans"):
        assert {c: bill_status(c) for c in BillStatus.values} == ZH
        assert {c: portal.status_label(c) for c in BillStatus.values} == ZH
        assert bill_status("nonsense") == "nonsense"
    with translation.override("en"):
        assert {c: bill_status(c) for c in BillStatus.values} == {c: c for c in BillStatus.values}
        assert {c: portal.status_label(c) for c in BillStatus.values} == {c: c for c in BillStatus.values}
        # the printed bill is in the deployment's language like the rest of the document
        assert {c: bill_document.status_label(c) for c in BillStatus.values} == ZH


def test_staff_pages_name_the_statuses_like_the_catalog(
    company: Any, client_for: Callable[[str], Client]
) -> None:
    clerk = client_for(roles.BILLING_CLERK)
    dashboard = client_for(roles.MARKETING_MANAGER).get("/dashboard/").content.decode()
    assert "已发行 / 待审核 / 草稿" in dashboard and "（草稿、待审核、已发行）" in dashboard
    review = clerk.get("/billing/review/", {"period": company.period}).content.decode()
    assert "张草稿账单" in review
    held = Bill.objects.filter(status=BillStatus.HELD).first()
    assert held is not None
    document = clerk.get(f"/bills/{held.pk}/").content.decode()
    assert 'data-testid="bill-status">待审核<' in document
    for html in (dashboard, review, document):
        assert not [w for w in OLD_NAMES if w in html]


def test_the_portal_names_the_statuses_like_the_back_office(
    company: Any, client_for: Callable[[str], Client]
) -> None:
    client = client_for(roles.CUSTOMER)
    for url in ("/portal/", "/portal/history/"):
        html = client.get(url).content.decode()
        assert not [w for w in OLD_NAMES if w in html], url
        assert any(f">{label}</span>" in html for label in ZH.values()), url
