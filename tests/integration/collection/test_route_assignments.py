"""A supervisor assigns collectors (effective-dated) and meter readers to routes: capability, the hand-over of a
route on a date, corrections, planned assignments, access scope and the audit trail; and the collector's
debtors follow the assignment in force."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from payments_helpers import issue_bill

from wattdesk.application.collection import assignments
from wattdesk.domain.access import roles
from wattdesk.domain.access.models import StaffScope
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.collection import queries
from wattdesk.domain.collection.models import CollectorAssignment
from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint

pytestmark = pytest.mark.django_db
D = Decimal
SH = ZoneInfo("Asia/Shanghai")
MAR1, MAR15, APR1 = date(2024, 3, 1), date(2024, 3, 15), date(2024, 4, 1)


def _user(name: str, role: str | None) -> Any:
    user = get_user_model().objects.create_user(name, password="x")
    if role:
        grant_role(user=user, role=role)
    return user


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    region = Region.objects.create(code="R1", name="城关")
    ra = ReadingRoute.objects.create(code="RA", name="A段", region=region)
    rb = ReadingRoute.objects.create(code="RB", name="B段", region=region)
    accounts = []
    for n, route in ((1, ra), (2, ra), (3, rb)):
        c = Customer.objects.create(number=f"C{n}", name=f"客户{n}", kind="individual", customer_class="residential",
                                    created_at=datetime(2023, 1, 1, tzinfo=SH))  # fmt: skip
        a = Account.objects.create(number=f"A{n}", customer=c, opened_on=date(2023, 1, 1))
        ServicePoint.objects.create(
            number=f"SP{n}", account=a, address=f"路{n}号", region=region, route=route
        )
        issue_bill(a, "2024-01", f"{n}00.00", date(2024, 2, 15))
        accounts.append(a)
    return {
        "ra": ra,
        "rb": rb,
        "accounts": accounts,
        "boss": _user("boss", roles.MARKETING_MANAGER),
        "zhang": _user("zhang", roles.COLLECTOR),
        "li": _user("li", roles.COLLECTOR),
        "reader": _user("reader", roles.METER_READER),
        "clerk": _user("clerk", roles.BILLING_CLERK),
    }


def _numbers(user: Any, on: date) -> list[str]:
    return [d.account_number for d in queries.debtors(accounts=queries.collector_accounts(user=user, on=on))]


def _batches(action: str) -> list[LogEntry]:
    return list(LogEntry.objects.filter(additional_data__batch=action).order_by("id"))


class TestAssignCollector:
    def test_needs_the_assign_capability(self, world: dict[str, Any]) -> None:
        for actor in (world["clerk"], world["zhang"], None):
            with pytest.raises(assignments.AssignmentRefused, match=r"collection\.assign"):
                assignments.assign_collector(
                    actor=actor, route_code="RA", collector_username="zhang", from_date=MAR1
                )
        assert not CollectorAssignment.objects.exists()
        assert roles.COLLECTION_ASSIGN in roles.CAPABILITIES[roles.MARKETING_MANAGER]
        assert roles.COLLECTION_ASSIGN in roles.CAPABILITIES[roles.ADMIN]

    def test_refuses_someone_who_is_not_a_collector_and_an_unknown_route(self, world: dict[str, Any]) -> None:
        boss = world["boss"]
        with pytest.raises(assignments.AssignmentRefused, match="not an active collector"):
            assignments.assign_collector(
                actor=boss, route_code="RA", collector_username="reader", from_date=MAR1
            )
        with pytest.raises(assignments.AssignmentRefused, match="no reading route"):
            assignments.assign_collector(
                actor=boss, route_code="RZ", collector_username="zhang", from_date=MAR1
            )

    def test_a_route_changes_hands_on_a_date_and_the_debtors_follow(self, world: dict[str, Any]) -> None:
        boss, zhang, li = world["boss"], world["zhang"], world["li"]
        assert _numbers(zhang, MAR1) == []  # a collector without a route collects on nothing
        assignments.assign_collector(actor=boss, route_code="RA", collector_username="zhang", from_date=MAR1)
        assert _numbers(zhang, MAR1) == ["A2", "A1"]  # largest debt first
        assert set(StaffScope.objects.get(user=zhang).routes.values_list("code", flat=True)) == {"RA"}
        done = assignments.assign_collector(
            actor=boss, route_code="RA", collector_username="li", from_date=APR1
        )
        assert done.ended == ("zhang",)
        assert list(
            CollectorAssignment.objects.order_by("id").values_list("user__username", "from_date", "to_date")
        ) == [
            ("zhang", MAR1, date(2024, 3, 31)),
            ("li", APR1, None),
        ]
        assert (_numbers(zhang, date(2024, 3, 31)), _numbers(li, date(2024, 3, 31))) == (["A2", "A1"], [])
        assert (_numbers(zhang, APR1), _numbers(li, APR1)) == ([], ["A2", "A1"])
        entries = _batches("collection.assign_collector")
        assert [(e.actor_id, e.changes["collector"]) for e in entries] == [
            (boss.pk, [None, "zhang"]),
            (boss.pk, ["zhang", "li"]),
        ]

    def test_the_same_day_again_corrects_the_assignment(self, world: dict[str, Any]) -> None:
        boss = world["boss"]
        assignments.assign_collector(actor=boss, route_code="RA", collector_username="zhang", from_date=MAR1)
        assignments.assign_collector(actor=boss, route_code="RA", collector_username="li", from_date=MAR1)
        assert list(CollectorAssignment.objects.values_list("user__username", "from_date", "to_date")) == [
            ("li", MAR1, None)
        ]

    def test_a_planned_assignment_must_be_ended_first(self, world: dict[str, Any]) -> None:
        boss = world["boss"]
        assignments.assign_collector(actor=boss, route_code="RA", collector_username="li", from_date=APR1)
        with pytest.raises(assignments.AssignmentRefused, match="li from 2024-04-01"):
            assignments.assign_collector(
                actor=boss, route_code="RA", collector_username="zhang", from_date=MAR1
            )
        assignments.end_collector(actor=boss, route_code="RA", last_day=MAR15, today=MAR1)
        assert not CollectorAssignment.objects.exists()  # the plan never started: withdrawn
        assignments.assign_collector(actor=boss, route_code="RA", collector_username="zhang", from_date=MAR1)
        assert _numbers(world["zhang"], MAR1) == ["A2", "A1"]


class TestEndCollector:
    def test_ends_on_the_last_day_and_leaves_the_scope_once_over(self, world: dict[str, Any]) -> None:
        boss, zhang = world["boss"], world["zhang"]
        assignments.assign_collector(actor=boss, route_code="RA", collector_username="zhang", from_date=MAR1)
        assignments.end_collector(actor=boss, route_code="RA", last_day=MAR15, today=MAR1)
        assert CollectorAssignment.objects.get().to_date == MAR15
        assert _numbers(zhang, MAR15) == ["A2", "A1"] and _numbers(zhang, date(2024, 3, 16)) == []
        assert (
            StaffScope.objects.get(user=zhang).routes.filter(code="RA").exists()
        )  # still collecting until then
        assignments.end_collector(actor=boss, route_code="RA", last_day=MAR15, today=date(2024, 3, 20))
        assert not StaffScope.objects.get(user=zhang).routes.filter(code="RA").exists()
        assert len(_batches("collection.end_collector")) == 2

    def test_a_route_without_a_collector_cannot_be_ended(self, world: dict[str, Any]) -> None:
        with pytest.raises(assignments.AssignmentRefused, match="no collector"):
            assignments.end_collector(actor=world["boss"], route_code="RB", last_day=MAR15, today=MAR1)


class TestReaders:
    def test_a_reader_is_put_on_and_taken_off_a_route(self, world: dict[str, Any]) -> None:
        boss, reader = world["boss"], world["reader"]
        assignments.add_reader(actor=boss, route_code="RB", reader_username="reader")
        assert list(StaffScope.objects.get(user=reader).routes.values_list("code", flat=True)) == ["RB"]
        rows = {r.route_code: r for r in queries.route_assignments(on=MAR1)}
        assert (rows["RA"].readers, rows["RB"].readers) == ((), ("reader",))
        assignments.remove_reader(actor=boss, route_code="RB", reader_username="reader")
        assert not StaffScope.objects.get(user=reader).routes.exists()
        with pytest.raises(assignments.AssignmentRefused, match="does not read"):
            assignments.remove_reader(actor=boss, route_code="RB", reader_username="reader")
        with pytest.raises(assignments.AssignmentRefused, match="not an active meter reader"):
            assignments.add_reader(actor=boss, route_code="RB", reader_username="zhang")
        assert [
            e.actor_id for e in _batches("collection.assign_reader") + _batches("collection.remove_reader")
        ] == [
            boss.pk,
            boss.pk,
        ]

    def test_the_routes_table_shows_the_collector_in_force_and_the_plans(self, world: dict[str, Any]) -> None:
        boss = world["boss"]
        assignments.assign_collector(actor=boss, route_code="RA", collector_username="zhang", from_date=MAR1)
        assignments.assign_collector(actor=boss, route_code="RA", collector_username="li", from_date=APR1)
        rows = {r.route_code: r for r in queries.route_assignments(on=MAR15)}
        ra = rows["RA"]
        assert (ra.collector, ra.collector_from, ra.collector_to, ra.upcoming) == (
            "zhang",
            MAR1,
            date(2024, 3, 31),
            (("li", APR1),),
        )
        assert rows["RB"].collector == ""
