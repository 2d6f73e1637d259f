"""Inspection cases (用电检查, 窃电 / 违约用电): the status machine, four-eyes, the rule set in force, posting."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from wattdesk.application.inspection.cases import (
    CaseNotFound,
    CaseRefused,
    CaseStateError,
    approve_case,
    compute_case,
    open_case,
    post_case,
    reject_case,
    reverse_case,
)
from wattdesk.domain.inspection.models import InspectionCase, InspectionRuleSet
from wattdesk.domain.ledger.models import LedgerEntry
from wattdesk.domain.ledger.queries import balance

pytestmark = pytest.mark.django_db
D = Decimal
SH = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, h: int = 9) -> datetime:
    return datetime(y, m, d, h, tzinfo=SH)


def _user(model: Any, name: str, role: str) -> Any:
    user = model.objects.create_user(name, password="x")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def people(django_user_model: Any) -> dict[str, Any]:
    return {
        "clerk": _user(django_user_model, "clerk", "billing_clerk"),
        "clerk2": _user(django_user_model, "clerk2", "billing_clerk"),
        "agent": _user(django_user_model, "agent", "cs_agent"),  # billing.view only
    }


def audits(action: str) -> list[LogEntry]:
    return list(LogEntry.objects.filter(additional_data__batch=action).order_by("id"))


THEFT_FACTS = {"usages": [{"capacity_kw": "2", "use": "power", "price": "0.40"}]}


def opened(account: Any, user: Any, code: str = "T1", found_on: date = date(2024, 3, 1)) -> InspectionCase:
    return open_case(
        user=user,
        account_number=account.number,
        behaviour_code=code,
        found_on=found_on,
        inspector="王检查",
        evidence="B相私接2kW电炉，现场照片3张",
        opened_at=datetime.combine(found_on + timedelta(days=1), time(9), tzinfo=SH),
    )


class TestTheAPublishedTheftCaseEndToEnd:
    def test_open_compute_approve_post_charges_1728_and_5184_as_two_ledger_adjustments(
        self, account: Any, people: dict[str, Any]
    ) -> None:
        clerk, clerk2 = people["clerk"], people["clerk2"]
        case = opened(account, clerk)
        assert case.status == "open"
        # §5.5: 2 kW × 180 d × 12 h × 0.40 = 1728.00 ; × 3 = 5184.00
        case = compute_case(case_id=case.pk, user=clerk, facts=THEFT_FACTS, computed_at=at(2024, 3, 2, 10))
        assert (case.status, case.rule_set.code) == ("computed", "1996")
        assert (case.energy_kwh, case.back_charge, case.penalty, case.total) == (
            D("4320.0000"), D("1728.00"), D("5184.00"), D("6912.00"),
        )  # fmt: skip
        assert [(ln.label, ln.amount) for ln in case.lines.order_by("seq")] == [
            ("补交电费", D("1728.00")),
            ("违约使用电费", D("5184.00")),
        ]
        assert LedgerEntry.objects.filter(account=account).count() == 0  # nothing owed before posting

        approve_case(case_id=case.pk, user=clerk2, approved_at=at(2024, 3, 3), note="核实")
        post_case(case_id=case.pk, user=clerk2, posted_at=at(2024, 3, 3, 11))
        case.refresh_from_db()
        assert case.status == "posted"
        entries = list(LedgerEntry.objects.filter(account=account).order_by("id"))
        assert [(e.kind, e.amount) for e in entries] == [
            ("adjustment", D("1728.00")),
            ("adjustment", D("5184.00")),
        ]
        assert entries[0].memo == f"用电检查 #{case.pk} T1 补交电费"
        assert [ln.ledger_entry_id for ln in case.lines.order_by("seq")] == [e.pk for e in entries]
        assert balance(account_id=account.pk) == D("6912.00")
        assert [len(audits(a)) for a in ("inspection.open", "inspection.compute", "inspection.approve",
                                         "inspection.post")] == [1, 1, 1, 1]  # fmt: skip
        [computed] = audits("inspection.compute")
        assert computed.changes_dict["total"] == [None, "6912.00"]
        assert computed.actor == clerk


class TestFourEyes:
    def test_who_computed_or_opened_cannot_approve(self, account: Any, people: dict[str, Any]) -> None:
        case = opened(account, people["clerk"])
        compute_case(case_id=case.pk, user=people["clerk2"], facts=THEFT_FACTS, computed_at=at(2024, 3, 2))
        for who in ("clerk", "clerk2"):
            with pytest.raises(CaseRefused, match="four-eyes"):
                approve_case(case_id=case.pk, user=people[who], approved_at=at(2024, 3, 3))
        assert InspectionCase.objects.get(pk=case.pk).status == "computed"
        assert audits("inspection.approve") == []

    def test_the_database_refuses_an_approver_who_opened_the_case(
        self, account: Any, people: dict[str, Any]
    ) -> None:
        case = opened(account, people["clerk"])
        with pytest.raises(IntegrityError), transaction.atomic():
            InspectionCase.objects.filter(pk=case.pk).update(approved_by=people["clerk"])

    def test_a_view_only_role_cannot_open(self, account: Any, people: dict[str, Any]) -> None:
        with pytest.raises(CaseRefused, match=r"billing\.review"):
            opened(account, people["agent"])


class TestStates:
    def test_posting_needs_approval_and_a_posted_case_cannot_be_rejected(
        self, account: Any, people: dict[str, Any]
    ) -> None:
        case = opened(account, people["clerk"])
        with pytest.raises(CaseStateError, match="is open: cannot post"):
            post_case(case_id=case.pk, user=people["clerk2"], posted_at=at(2024, 3, 3))
        compute_case(case_id=case.pk, user=people["clerk"], facts=THEFT_FACTS, computed_at=at(2024, 3, 2))
        approve_case(case_id=case.pk, user=people["clerk2"], approved_at=at(2024, 3, 3))
        with pytest.raises(CaseStateError):  # approved: the amounts are frozen
            compute_case(case_id=case.pk, user=people["clerk"], facts=THEFT_FACTS, computed_at=at(2024, 3, 3))
        post_case(case_id=case.pk, user=people["clerk"], posted_at=at(2024, 3, 4))
        with pytest.raises(CaseStateError, match="is posted"):
            reject_case(case_id=case.pk, user=people["clerk2"], rejected_at=at(2024, 3, 5), reason="x")
        with pytest.raises(CaseStateError):
            post_case(case_id=case.pk, user=people["clerk"], posted_at=at(2024, 3, 4))
        assert LedgerEntry.objects.filter(account=account).count() == 2  # posted once

    def test_reject_needs_a_reason_and_posts_nothing(self, account: Any, people: dict[str, Any]) -> None:
        case = opened(account, people["clerk"])
        compute_case(case_id=case.pk, user=people["clerk"], facts=THEFT_FACTS, computed_at=at(2024, 3, 2))
        with pytest.raises(CaseRefused, match="reason"):
            reject_case(case_id=case.pk, user=people["clerk2"], rejected_at=at(2024, 3, 3), reason=" ")
        reject_case(case_id=case.pk, user=people["clerk2"], rejected_at=at(2024, 3, 3), reason="证据不足")
        case.refresh_from_db()
        assert (case.status, case.reject_reason) == ("rejected", "证据不足")
        assert LedgerEntry.objects.filter(account=account).count() == 0
        [entry] = audits("inspection.reject")
        assert entry.changes_dict["status"] == ["computed", "rejected"]

    def test_recompute_replaces_the_lines(self, account: Any, people: dict[str, Any]) -> None:
        case = opened(account, people["clerk"])
        compute_case(case_id=case.pk, user=people["clerk"], facts=THEFT_FACTS, computed_at=at(2024, 3, 2))
        # known: 10 days of 8 h: 2 × 8 × 10 = 160 kWh × 0.40 = 64.00 ; × 3 = 192.00
        facts = {
            "days": "10",
            "usages": [{"capacity_kw": "2", "use": "power", "price": "0.40", "hours_per_day": "8"}],
        }
        case = compute_case(case_id=case.pk, user=people["clerk"], facts=facts, computed_at=at(2024, 3, 2))
        assert [ln.amount for ln in case.lines.order_by("seq")] == [D("64.00"), D("192.00")]


class TestRuleSetInForce:
    def test_a_case_after_may_2024_is_refused_until_the_2024_set_is_entered(
        self, account: Any, people: dict[str, Any]
    ) -> None:
        case = opened(account, people["clerk"], found_on=date(2024, 6, 1))
        with pytest.raises(CaseRefused, match=r"2024-05-31.*administrator must add"):
            compute_case(case_id=case.pk, user=people["clerk"], facts=THEFT_FACTS, computed_at=at(2024, 6, 2))
        # an administrator enters the 2024 set (here: made-up ×2 to show the engine reads the row, not code)
        old = InspectionRuleSet.objects.get(code="1996")
        InspectionRuleSet.objects.create(
            code="2024-test", name="test", effective_from=date(2024, 6, 1),
            **{f: getattr(old, f) for f in (
                "theft_default_days", "hours_power", "hours_lighting", "reclass_multiple", "reclass_default_days",
                "over_capacity_multiple", "over_capacity_per_kw", "sealed_multiple", "sealed_per_kw",
                "tamper_residential", "tamper_other")},
            theft_multiple=D(2),
        )  # fmt: skip
        case = compute_case(
            case_id=case.pk, user=people["clerk"], facts=THEFT_FACTS, computed_at=at(2024, 6, 2)
        )
        assert (case.rule_set.code, case.back_charge, case.penalty) == (
            "2024-test",
            D("1728.00"),
            D("3456.00"),
        )

    def test_the_1996_set_applies_on_its_last_day(self, account: Any, people: dict[str, Any]) -> None:
        case = opened(account, people["clerk"], found_on=date(2024, 5, 31))
        case = compute_case(
            case_id=case.pk, user=people["clerk"], facts=THEFT_FACTS, computed_at=at(2024, 6, 1)
        )
        assert case.rule_set.code == "1996"


class TestPublishedViolationCases:
    def test_reclass_difference_and_doubled_penalty(self, account: Any, people: dict[str, Any]) -> None:
        # §5.5: 5400 × (0.7625 − 0.5653) + 1620 × (0.8895 − 0.5653) = 1590.084 → 1590.08 ; × 2 = 3180.17
        case = opened(account, people["clerk"], code="V1")
        facts = {
            "base_price": "0.5653",
            "usages": [
                {"capacity_kw": "5", "use": "power", "price": "0.7625"},
                {"capacity_kw": "3", "use": "lighting", "price": "0.8895"},
            ],
        }
        case = compute_case(case_id=case.pk, user=people["clerk"], facts=facts, computed_at=at(2024, 3, 2))
        assert (case.back_charge, case.penalty, case.total) == (D("1590.08"), D("3180.17"), D("4770.25"))

    def test_sealed_equipment_two_part(self, account: Any, people: dict[str, Any]) -> None:
        # §5.5: 2000 × 15 × 21/30 + 2000 × 15 + 2000 × 15 = 81000 ; × 2 = 162000
        case = opened(account, people["clerk"], code="V4", found_on=date(2023, 7, 30))
        facts = {"two_part": True, "capacity_kw": "2000", "basic_price": "15", "used_from": "2023-05-10"}
        case = compute_case(case_id=case.pk, user=people["clerk"], facts=facts, computed_at=at(2024, 3, 2))
        assert (case.back_charge, case.penalty) == (D("81000.00"), D("162000.00"))

    def test_meter_tamper_residential_posts_only_the_penalty_line(
        self, account: Any, people: dict[str, Any]
    ) -> None:
        case = opened(account, people["clerk"], code="V5")
        case = compute_case(
            case_id=case.pk, user=people["clerk"], facts={"residential": True}, computed_at=at(2024, 3, 2)
        )
        assert [(ln.label, ln.amount) for ln in case.lines.all()] == [("违约使用电费", D("500.00"))]
        approve_case(case_id=case.pk, user=people["clerk2"], approved_at=at(2024, 3, 3))
        post_case(case_id=case.pk, user=people["clerk2"], posted_at=at(2024, 3, 3))
        assert balance(account_id=account.pk) == D("500.00")


class TestBadInput:
    @pytest.mark.parametrize(
        ("facts", "message"),
        [
            ({}, "at least one piece of equipment"),
            (
                {"usages": [{"capacity_kw": "abc", "use": "power", "price": "0.4"}]},
                r"usages\[0\]\.capacity_kw",
            ),
            ({"usages": [{"capacity_kw": "2", "use": "heating", "price": "0.4"}]}, r"usages\[0\]\.use"),
            ({"usages": [{"capacity_kw": "2", "use": "power"}]}, r"usages\[0\]\.price: required"),
            ({"days": "-3", "usages": [{"capacity_kw": "2", "use": "power", "price": "1"}]}, "days"),
        ],
    )
    def test_refused_with_the_field(
        self, account: Any, people: dict[str, Any], facts: Any, message: str
    ) -> None:
        case = opened(account, people["clerk"])
        with pytest.raises(CaseRefused, match=message):
            compute_case(case_id=case.pk, user=people["clerk"], facts=facts, computed_at=at(2024, 3, 2))
        assert InspectionCase.objects.get(pk=case.pk).status == "open"

    def test_unknown_account_behaviour_and_future_date(self, account: Any, people: dict[str, Any]) -> None:
        with pytest.raises(CaseNotFound):
            open_case(user=people["clerk"], account_number="NOPE", behaviour_code="T1", found_on=date(2024, 3, 1),
                      inspector="x", evidence="y", opened_at=at(2024, 3, 2))  # fmt: skip
        with pytest.raises(CaseRefused, match="behaviour"):
            opened(account, people["clerk"], code="V3")
        with pytest.raises(CaseRefused, match="after the day"):
            open_case(user=people["clerk"], account_number=account.number, behaviour_code="T1",
                      found_on=date(2024, 3, 3), inspector="x", evidence="y", opened_at=at(2024, 3, 2))  # fmt: skip

    def test_meter_rated_current_gives_the_capacity(self, account: Any, people: dict[str, Any]) -> None:
        # §5.5 illustration: 220 V × 5 A = 1.1 kW × 180 × 6 = 1188 kWh × 0.50 = 594.00 ; × 3 = 1782.00 ; 2376.00
        case = opened(account, people["clerk"], code="T2")
        facts = {
            "usages": [{"phase_voltage": "220", "rated_current": "5", "use": "lighting", "price": "0.50"}]
        }
        case = compute_case(case_id=case.pk, user=people["clerk"], facts=facts, computed_at=at(2024, 3, 2))
        assert (case.energy_kwh, case.total) == (D("1188.0000"), D("2376.00"))


class TestPolicyDataInTheAdmin:
    def test_an_administrator_enters_a_rule_set_and_the_change_is_audited(self, admin_client: Any) -> None:
        for model in ("behaviourcode", "inspectionruleset"):
            assert admin_client.get(f"/admin/inspection/{model}/").status_code == 200
        old = InspectionRuleSet.objects.get(code="1996")
        fields = {
            f: str(getattr(old, f))
            for f in ("theft_multiple", "theft_default_days", "hours_power", "hours_lighting", "reclass_multiple",
                      "reclass_default_days", "over_capacity_multiple", "over_capacity_per_kw", "sealed_multiple",
                      "sealed_per_kw", "tamper_residential", "tamper_other", "month_days")
        }  # fmt: skip
        r = admin_client.post(
            "/admin/inspection/inspectionruleset/add/",
            {"code": "2024", "name": "供电营业规则（2024）", "effective_from": "2024-06-01", "source": "official text",
             **fields},
        )  # fmt: skip
        assert r.status_code == 302, r.content[:2000]
        row = InspectionRuleSet.objects.get(code="2024")
        assert LogEntry.objects.get_for_object(row).count() == 1


class TestBounds:
    def test_amounts_beyond_the_money_column_are_refused(self, account: Any, people: dict[str, Any]) -> None:
        # 900,000,000 kW × 24 h × 100,000 d × 900,000,000 元 is far beyond 10^12 元
        case = opened(account, people["clerk"])
        facts = {"days": "100000", "usages": [{"capacity_kw": "900000000", "use": "power", "price": "900000000",
                                               "hours_per_day": "24"}]}  # fmt: skip
        with pytest.raises(CaseRefused, match="beyond what a bill can hold"):
            compute_case(case_id=case.pk, user=people["clerk"], facts=facts, computed_at=at(2024, 3, 2))


class TestReversal:
    def test_a_posted_case_is_reversed_entry_by_entry_and_only_once(
        self, account: Any, people: dict[str, Any]
    ) -> None:
        case = opened(account, people["clerk"])
        compute_case(case_id=case.pk, user=people["clerk"], facts=THEFT_FACTS, computed_at=at(2024, 3, 2))
        with pytest.raises(CaseStateError, match="is computed: cannot reverse"):
            reverse_case(case_id=case.pk, user=people["clerk"], reversed_at=at(2024, 3, 2), reason="x")
        approve_case(case_id=case.pk, user=people["clerk2"], approved_at=at(2024, 3, 3))
        post_case(case_id=case.pk, user=people["clerk2"], posted_at=at(2024, 3, 3))
        assert balance(account_id=account.pk) == D("6912.00")  # 1728.00 + 5184.00
        with pytest.raises(CaseRefused, match="reason"):
            reverse_case(case_id=case.pk, user=people["clerk"], reversed_at=at(2024, 3, 9), reason="")
        reverse_case(case_id=case.pk, user=people["clerk"], reversed_at=at(2024, 3, 9), reason="复议撤销")
        case.refresh_from_db()
        assert (case.status, case.reversal_reason, case.reversed_by) == (
            "reversed",
            "复议撤销",
            people["clerk"],
        )
        reversals = list(LedgerEntry.objects.filter(account=account, kind="reversal").order_by("id"))
        assert [(r.amount, r.reverses_id) for r in reversals] == [
            (D("-1728.00"), ln.ledger_entry_id) for ln in case.lines.order_by("seq")[:1]
        ] + [(D("-5184.00"), case.lines.order_by("seq")[1].ledger_entry_id)]
        assert balance(account_id=account.pk) == D("0.00")
        [entry] = audits("inspection.reverse")
        assert entry.changes_dict["status"] == ["posted", "reversed"]
        with pytest.raises(CaseStateError):
            reverse_case(case_id=case.pk, user=people["clerk"], reversed_at=at(2024, 3, 9), reason="again")
