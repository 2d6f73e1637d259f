"""The 用电检查 page (/inspection/): a clerk opens and computes the published 改类 case, the same clerk's approval
is refused (403), an administrator approves, the clerk posts; the document shows the two lines."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from wattdesk.domain.customers.models import Account
from wattdesk.domain.inspection.models import InspectionCase
from wattdesk.domain.ledger.models import LedgerEntry

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def account(company: Any) -> Account:
    account = Account.objects.order_by("number").first()
    assert account is not None
    return account


def act(client: Client, case_id: int, action: str, **fields: str) -> Any:
    return client.post("/inspection/action/", {"case_id": str(case_id), "action": action, **fields})


class TestInspectionPage:
    def test_reclass_case_from_opening_to_posting(
        self, account: Account, client_for: Callable[[str], Client]
    ) -> None:
        clerk, admin = client_for("billing_clerk"), client_for("admin")
        r = clerk.post("/inspection/open/", {"account": account.number, "behaviour": "V1", "found_on": "2024-04-20",
                                             "inspector": "李检查", "evidence": "居民线路上接动力设备5kW、照明3kW"})  # fmt: skip
        case = InspectionCase.objects.get(account=account)
        assert (r.status_code, r["Location"]) == (302, f"/inspection/?case={case.pk}")
        assert case.opened_by.username == "demo_billing_clerk"

        # §5.5 (tk.swop.cn 5076399), 3 months unknown → 90 days:
        # 5 × 12 × 90 × (0.7625 − 0.5653) + 3 × 6 × 90 × (0.8895 − 0.5653) = 1064.88 + 525.204 = 1590.084
        # 补交差额电费 1590.08 ; 违约使用电费 2 × 1590.084 = 3180.168 → 3180.17 ; total 4770.25
        r = act(clerk, case.pk, "compute", capacity_kw_1="5", use_1="power", price_1="0.7625",
                capacity_kw_2="3", use_2="lighting", price_2="0.8895", base_price="0.5653")  # fmt: skip
        assert r.status_code == 302
        page = clerk.get(f"/inspection/?case={case.pk}").content.decode()
        assert "补交差额电费" in page and "1590.08" in page and "3180.17" in page and "4770.25" in page

        r = act(clerk, case.pk, "approve", note="自己审批")
        assert r.status_code == 403
        assert (
            f"立案 #{case.pk} 须由立案人、计算人以外的另一人审批。" in r.content.decode()
        )  # the page's language
        r = act(clerk, case.pk, "post")
        assert r.status_code == 409  # not approved
        assert f"立案 #{case.pk} 当前为“已计算”，不能入账。" in r.content.decode()
        clerk.cookies["django_language"] = "en"
        with translation.override(None):  # the request activates English: not for the tests after this one
            r = act(clerk, case.pk, "post")
        assert f"Case #{case.pk} is “computed”: “Post” is not possible." in r.content.decode()
        del clerk.cookies["django_language"]

        assert act(admin, case.pk, "approve", note="核实").status_code == 302
        before = LedgerEntry.objects.filter(account=account).count()
        assert act(clerk, case.pk, "post").status_code == 302
        new = LedgerEntry.objects.filter(account=account).order_by("id")[before:]
        assert [(e.kind, e.amount) for e in new] == [
            ("adjustment", D("1590.08")),
            ("adjustment", D("3180.17")),
        ]
        case.refresh_from_db()
        assert case.status == "posted"
        page = clerk.get("/inspection/?status=posted").content.decode()
        assert f"?case={case.pk}" in page
        assert act(clerk, case.pk, "reverse", reason="复议撤销").status_code == 302
        case.refresh_from_db()
        assert case.status == "reversed"
        assert sum(e.amount for e in LedgerEntry.objects.filter(account=account).order_by("id")[before:]) == 0
        assert "复议撤销" in clerk.get(f"/inspection/?case={case.pk}").content.decode()

    def test_a_bad_fact_is_shown_with_its_field_and_a_4xx(
        self, account: Account, client_for: Callable[[str], Client]
    ) -> None:
        clerk = client_for("billing_clerk")
        clerk.post("/inspection/open/", {"account": account.number, "behaviour": "T2", "found_on": "2024-03-01",
                                         "inspector": "李检查", "evidence": "绕越电能表"})  # fmt: skip
        case = InspectionCase.objects.get(account=account)
        r = act(
            clerk,
            case.pk,
            "compute",
            use_1="lighting",
            price_1="0.5",
            phase_voltage_1="220",
            rated_current_1="x",
        )
        assert r.status_code == 422
        assert "usages[0].rated_current" in r.content.decode()
        # §5.5 illustration: 220 V × 5 A → 1.1 kW × 180 × 6 × 0.50 = 594.00 ; × 3 = 1782.00 ; 2376.00
        r = act(
            clerk,
            case.pk,
            "compute",
            use_1="lighting",
            price_1="0.5",
            phase_voltage_1="220",
            rated_current_1="5",
        )
        assert r.status_code == 302
        case.refresh_from_db()
        assert (case.back_charge, case.penalty, case.total) == (D("594.00"), D("1782.00"), D("2376.00"))

    def test_view_only_role_sees_the_list_but_cannot_open(
        self, account: Account, client_for: Callable[[str], Client]
    ) -> None:
        agent = client_for("cs_agent")
        assert agent.get("/inspection/").status_code == 200
        r = agent.post("/inspection/open/", {"account": account.number, "behaviour": "T1", "found_on": "2024-03-01",
                                             "inspector": "x", "evidence": "y"})  # fmt: skip
        assert r.status_code == 403
        assert not InspectionCase.objects.exists()


class TestTariffBasis:
    def test_the_case_page_shows_the_accounts_tariff_on_the_day_found(
        self, account: Account, client_for: Callable[[str], Client]
    ) -> None:
        from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

        sp = account.service_points.order_by("number").first()
        assignment = TariffAssignment.objects.filter(service_point=sp).order_by("-effective_from").first()
        assert assignment is not None
        version = (
            TariffVersion.objects.filter(code=assignment.tariff_code).order_by("-effective_from").first()
        )
        assert version is not None
        found_on = max(assignment.effective_from, version.effective_from)
        clerk = client_for("billing_clerk")
        clerk.post("/inspection/open/", {"account": account.number, "behaviour": "T1", "found_on": found_on.isoformat(),
                                         "inspector": "李检查", "evidence": "私接"})  # fmt: skip
        case = InspectionCase.objects.get(account=account)
        page = clerk.get(f"/inspection/?case={case.pk}").content.decode()
        assert 'data-testid="inspection-basis"' in page
        assert assignment.tariff_code in page
        # before any tariff: the clerk is told to enter the price
        clerk.post("/inspection/open/", {"account": account.number, "behaviour": "T1", "found_on": "1990-01-01",
                                         "inspector": "李检查", "evidence": "私接"})  # fmt: skip
        old = InspectionCase.objects.get(account=account, found_on="1990-01-01")
        assert "没有执行中的电价" in clerk.get(f"/inspection/?case={old.pk}").content.decode()


class TestEnglish:
    def test_the_page_reads_in_english_after_switching(
        self, account: Account, client_for: Callable[[str], Client]
    ) -> None:
        clerk = client_for("billing_clerk")
        assert clerk.post("/i18n/setlang/", {"language": "en", "next": "/inspection/"}).status_code == 302
        with translation.override(None):  # the request activates English: not for the tests after this one
            page = clerk.get("/inspection/").content.decode()
        assert "Inspections (electricity theft / contract violations)" in page and "No cases" in page
