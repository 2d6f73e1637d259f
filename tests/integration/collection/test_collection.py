"""Collection management: worklist scoped to assignments, visits, and KPI scorecards computed by hand."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from payments_helpers import SH, at, issue_bill

from wattdesk.application.collection import collectors as collection
from wattdesk.application.errors import InputError
from wattdesk.application.payments.posting import post_payment
from wattdesk.domain.collection.models import CollectorAssignment, Complaint, Visit
from wattdesk.domain.customers.models import Account, Customer, ReadingRoute, Region, ServicePoint

pytestmark = pytest.mark.django_db
D = Decimal


def _company() -> dict[str, Any]:
    r1 = Region.objects.create(code="R1", name="城关")
    r2 = Region.objects.create(code="R2", name="东湖")
    routes = {
        "RA": ReadingRoute.objects.create(code="RA", name="A段", region=r1),
        "RB": ReadingRoute.objects.create(code="RB", name="B段", region=r1),
        "RC": ReadingRoute.objects.create(code="RC", name="C段", region=r2),
    }
    users = get_user_model()
    alice = users.objects.create_user("alice", password="x", last_name="王", first_name="丽")
    bob = users.objects.create_user("bob", password="x")
    CollectorAssignment.objects.create(user=alice, route=routes["RA"], from_date=date(2024, 1, 1))
    CollectorAssignment.objects.create(user=alice, route=routes["RB"], from_date=date(2024, 1, 1))
    CollectorAssignment.objects.create(user=bob, route=routes["RC"], from_date=date(2024, 1, 1))
    return {"routes": routes, "alice": alice, "bob": bob}


def _account(n: int, route: ReadingRoute, risk: float | None = None, lat: float = 30.0) -> Account:
    customer = Customer.objects.create(
        number=f"C{n:04d}",
        name=f"客户{n}",
        kind="individual",
        customer_class="residential",
        created_at=datetime(2023, 1, 1, tzinfo=SH),
        payment_profile={} if risk is None else {"risk": risk},
    )
    account = Account.objects.create(number=f"A{n:04d}", customer=customer, opened_on=date(2023, 1, 1))
    ServicePoint.objects.create(
        number=f"SP{n:04d}",
        account=account,
        address=f"路{n}号",
        region=route.region,
        route=route,
        voltage_kv=D("0.22"),
        capacity_kva=D("8"),
        lat=D(str(lat)),
        lon=D("120.0"),
    )
    return account


def pay(account: Account, amount: str, txn: str, day: tuple[int, int, int]) -> None:
    post_payment(
        account_number=account.number,
        amount=amount,
        channel="counter",
        channel_txn_id=txn,
        received_at=at(*day),
    )


JAN, FEB, MAR = (date(2024, 2, 15), date(2024, 3, 15), date(2024, 4, 15))


@pytest.fixture
def company() -> dict[str, Any]:
    c = _company()
    rt = c["routes"]
    a1, a2, a3, a4 = (
        _account(1, rt["RA"]),
        _account(2, rt["RA"]),
        _account(3, rt["RB"]),
        _account(4, rt["RC"]),
    )
    # a1: Jan 100 in arrears on 1 March, paid 10 March; Feb 80 paid late (20 March); Mar 90 paid on time.
    issue_bill(a1, "2024-01", "100.00", JAN)
    issue_bill(a1, "2024-02", "80.00", FEB)
    pay(a1, "100.00", "a1-1", (2024, 3, 10))
    pay(a1, "80.00", "a1-2", (2024, 3, 20))
    issue_bill(a1, "2024-03", "90.00", MAR)
    pay(a1, "90.00", "a1-3", (2024, 4, 10))
    # a2: Jan 50 paid before due; Feb 60 unpaid at the end of March; Mar 70; 70 paid 20 April -> Feb 60, Mar 10.
    issue_bill(a2, "2024-01", "50.00", JAN)
    pay(a2, "50.00", "a2-1", (2024, 2, 10))
    issue_bill(a2, "2024-02", "60.00", FEB)
    issue_bill(a2, "2024-03", "70.00", MAR)
    pay(a2, "70.00", "a2-2", (2024, 4, 20))
    # a3 (RB): Jan 40 and Feb 30 cleared on 25 March; Mar 20 paid on time.
    issue_bill(a3, "2024-01", "40.00", JAN)
    issue_bill(a3, "2024-02", "30.00", FEB)
    pay(a3, "70.00", "a3-1", (2024, 3, 25))
    issue_bill(a3, "2024-03", "20.00", MAR)
    pay(a3, "20.00", "a3-2", (2024, 4, 12))
    # a4 (RC, bob): Feb 50 and Mar 100, nothing paid.
    issue_bill(a4, "2024-02", "50.00", FEB)
    issue_bill(a4, "2024-03", "100.00", MAR)
    alice, bob = c["alice"], c["bob"]
    collection.record_visit(
        collector=alice,
        account_number="A0001",
        visited_at=at(2024, 3, 5),
        outcome="promised",
        promised_on=date(2024, 3, 10),
    )
    collection.record_visit(
        collector=alice, account_number="A0002", visited_at=at(2024, 3, 6), outcome="not_home"
    )
    collection.record_visit(
        collector=bob, account_number="A0004", visited_at=at(2024, 4, 2), outcome="refused"
    )
    Complaint.objects.create(account=a2, collector=alice, received_at=at(2024, 3, 7), text="态度不好")
    return c


def _table(cards: collection.Scorecards) -> dict[str, tuple[Any, ...]]:
    return {
        r.key: (
            r.rank,
            r.billed,
            r.collected,
            r.recovery_rate,
            r.arrears_start,
            r.arrears_end,
            r.arrears_reduction,
            r.on_time_share,
            r.visits,
            r.complaints,
        )
        for r in cards.rows
    }


def test_scorecards_by_route(company: dict[str, Any]) -> None:
    cards = collection.scorecards(period="2024-03", by="route")
    assert _table(cards) == {
        "RB": (1, D("20.00"), D("20.00"), D("1.0000"), D("40.00"), D("0.00"), D("40.00"), D("1.0000"), 0, 0),
        "RA": (
            2,
            D("160.00"),
            D("100.00"),
            D("0.6250"),
            D("100.00"),
            D("60.00"),
            D("40.00"),
            D("0.5000"),
            2,
            1,
        ),
        "RC": (3, D("100.00"), D("0.00"), D("0.0000"), D("0.00"), D("50.00"), D("-50.00"), D("0.0000"), 0, 0),
    }
    assert (cards.total.billed, cards.total.collected, cards.total.recovery_rate) == (
        D("280.00"),
        D("120.00"),
        D("0.4286"),
    )


def test_scorecards_by_collector_and_region(company: dict[str, Any]) -> None:
    by_collector = collection.scorecards(period="2024-03", by="collector")
    assert _table(by_collector) == {
        "alice": (
            1,
            D("180.00"),
            D("120.00"),
            D("0.6667"),
            D("140.00"),
            D("60.00"),
            D("80.00"),
            D("0.6667"),
            2,
            1,
        ),
        "bob": (
            2,
            D("100.00"),
            D("0.00"),
            D("0.0000"),
            D("0.00"),
            D("50.00"),
            D("-50.00"),
            D("0.0000"),
            0,
            0,
        ),
    }
    assert by_collector.rows[0].label == "王丽"
    by_region = collection.scorecards(period="2024-03", by="region")
    assert _table(by_region)["R1"][1:] == _table(by_collector)["alice"][1:]
    # drill-down: the routes of region R1 only
    assert set(_table(collection.scorecards(period="2024-03", by="route", region="R1"))) == {"RA", "RB"}


def test_recovery_agrees_with_the_payments_queries(company: dict[str, Any]) -> None:
    from wattdesk.domain.payments.queries import recovery_rate

    rows = {r.key: (r.billed, r.collected, r.rate) for r in recovery_rate(period="2024-03", by="route")}
    cards = {
        r.key: (r.billed, r.collected, r.recovery_rate)
        for r in collection.scorecards(period="2024-03", by="route").rows
    }
    assert cards == {k: v for k, v in rows.items() if k != "all"}


def test_trend_six_periods(company: dict[str, Any]) -> None:
    cards = collection.scorecards(period="2024-03", by="route")
    assert cards.trend_periods == ["2023-10", "2023-11", "2023-12", "2024-01", "2024-02", "2024-03"]
    # RA: Jan billed 150 collected 150; Feb billed 140 collected 80 + 60 = 140
    assert cards.trend["RA"] == [D("0.0000")] * 3 + [D("1.0000"), D("1.0000"), D("0.6250")]
    assert cards.trend["RC"][-2:] == [D("0.0000"), D("0.0000")]


def test_bad_period_and_grouping() -> None:
    with pytest.raises(InputError):
        collection.scorecards(period="2024-13", by="route")
    with pytest.raises(InputError):
        collection.scorecards(period="2024-03", by="outlet")


def test_worklist_is_scoped_to_assignments_and_ordered(db: None) -> None:
    c = _company()
    rt, alice, bob = c["routes"], c["alice"], c["bob"]
    x1 = _account(11, rt["RA"], risk=0.2)
    x2 = _account(12, rt["RB"], risk=0.9)
    x3 = _account(13, rt["RC"])
    x4 = _account(14, rt["RA"])  # owes, not yet due: listed as 走收 lists it, with no age
    issue_bill(x1, "2024-01", "100.00", JAN)
    issue_bill(x2, "2024-01", "500.00", JAN)
    issue_bill(x3, "2024-01", "1000.00", JAN)
    issue_bill(x4, "2024-02", "300.00", FEB)
    rows = collection.worklist(collector=alice, as_of=date(2024, 3, 1))
    assert [(r.account_number, r.item.amount_due, r.item.days_overdue) for r in rows] == [
        ("A0012", D("500.00"), 15),
        ("A0014", D("300.00"), -14),
        ("A0011", D("100.00"), 15),
    ]
    assert rows[1].item.parts.age == 0.0
    # default policy: 0.4 * 500/2000 + 0.3 * 15/90 + 0.2 * 0.9 + distance (both at the centroid latitude 30.0)
    assert rows[0].item.parts.amount == 0.1
    assert rows[0].item.parts.age == 0.05
    assert rows[0].item.parts.risk == 0.18
    assert [r.account_number for r in collection.worklist(collector=bob, as_of=date(2024, 3, 1))] == ["A0013"]
    # an assignment that ended no longer counts
    CollectorAssignment.objects.filter(user=bob).update(to_date=date(2024, 2, 29))
    assert collection.worklist(collector=bob, as_of=date(2024, 3, 1)) == []


def test_record_visit_checks_route_and_promise(db: None) -> None:
    c = _company()
    rt, alice = c["routes"], c["alice"]
    _account(21, rt["RA"])
    _account(22, rt["RC"])
    with pytest.raises(InputError, match="not on your routes"):
        collection.record_visit(
            collector=alice, account_number="A0022", visited_at=at(2024, 3, 5), outcome="paid"
        )
    with pytest.raises(InputError, match="promised date"):
        collection.record_visit(
            collector=alice, account_number="A0021", visited_at=at(2024, 3, 5), outcome="promised"
        )
    with pytest.raises(InputError, match="unknown outcome"):
        collection.record_visit(
            collector=alice, account_number="A0021", visited_at=at(2024, 3, 5), outcome="gone"
        )
    v = collection.record_visit(
        collector=alice,
        account_number="A0021",
        visited_at=at(2024, 3, 5),
        outcome="paid",
        amount_collected="35.50",
    )
    assert (v.outcome, v.amount_collected, Visit.objects.count()) == ("paid", D("35.50"), 1)


class TestRecoveryByCollector:
    """March 2024 by hand (see the ``company`` fixture): billed a1 90 + a2 70 + a3 20 (alice: RA, RB) and a4 100
    (bob: RC); collected against March: a1 90 (10 Apr), a2 10 (20 Apr: the 70 pays February's 60 first), a3 20
    (12 Apr), a4 0."""

    def _rows(self, **kw: Any) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        return {r.key: (r.billed, r.collected, r.rate) for r in collection.recovery_by_collector(**kw)}

    def test_groups_by_the_collector_of_each_route(self, company: dict[str, Any]) -> None:
        assert self._rows(period="2024-03") == {
            "alice": (D("180.00"), D("120.00"), D("0.6667")),
            "bob": (D("100.00"), D("0.00"), D("0.0000")),
            "all": (D("280.00"), D("120.00"), D("0.4286")),
        }

    def test_a_route_handed_over_mid_period_goes_to_the_collector_holding_it_at_the_end(
        self, company: dict[str, Any]
    ) -> None:
        rt, bob = company["routes"], company["bob"]
        CollectorAssignment.objects.filter(route=rt["RB"]).update(to_date=date(2024, 3, 15))
        CollectorAssignment.objects.create(user=bob, route=rt["RB"], from_date=date(2024, 3, 16))
        # bob's RC assignment ends on 20 March, nobody takes it over: RC stays bob's for March
        CollectorAssignment.objects.filter(route=rt["RC"]).update(to_date=date(2024, 3, 20))
        # a route never assigned: its account is under "-"
        rd = ReadingRoute.objects.create(code="RD", name="D段", region=rt["RA"].region)
        issue_bill(_account(5, rd), "2024-03", "10.00", MAR)
        assert self._rows(period="2024-03") == {
            "-": (D("10.00"), D("0.00"), D("0.0000")),
            "alice": (D("160.00"), D("100.00"), D("0.6250")),  # RA only: a1 90 + a2 70; 90 + 10
            "bob": (D("120.00"), D("20.00"), D("0.1667")),  # RB (a3 20) + RC (a4 100)
            "all": (D("290.00"), D("120.00"), D("0.4138")),
        }
        # April: RC's assignment ended in March, so RC has no collector in April
        assert collection.period_collectors(period="2024-04") == {
            rt["RA"].pk: (company["alice"].pk, "alice"),
            rt["RB"].pk: (bob.pk, "bob"),
        }

    def test_as_of_cuts_the_collections_and_the_total_matches_the_payments_query(
        self, company: dict[str, Any]
    ) -> None:
        from wattdesk.domain.payments.queries import recovery_rate

        rows = self._rows(period="2024-03", as_of=date(2024, 4, 15))  # a2's 20 April payment not yet in
        assert rows["alice"] == (D("180.00"), D("110.00"), D("0.6111"))
        total = recovery_rate(period="2024-03", as_of=date(2024, 4, 15))[0]
        assert rows["all"] == (total.billed, total.collected, total.rate)

    def test_agrees_with_the_collector_scorecards(self, company: dict[str, Any]) -> None:
        cards = collection.scorecards(period="2024-03", by="collector", trend=False)
        rows = self._rows(period="2024-03")
        assert {r.key: (r.billed, r.collected, r.recovery_rate) for r in cards.rows} == {
            k: v for k, v in rows.items() if k != "all"
        }

    def test_refuses_a_bad_period(self, db: None) -> None:
        with pytest.raises(InputError, match="YYYY-MM"):
            collection.recovery_by_collector(period="2024-3")


def test_aging_by_collector(company: dict[str, Any]) -> None:
    """30 April 2024: a2 owes March 60 (70 less the 10 its 20 April payment left after February's 60; due
    15 April: 15 days); a4 owes February 50 (due 15 March: 46 days) and March 100 (15 days); a1 and a3 owe
    nothing."""
    from wattdesk.domain.payments.queries import aging

    rows = {r.key: (r.buckets["0-30"], r.buckets["31-60"], r.total) for r in collection.aging_by_collector(
        as_of=date(2024, 4, 30))}  # fmt: skip
    assert rows == {
        "alice": (D("60.00"), D("0.00"), D("60.00")),
        "bob": (D("100.00"), D("50.00"), D("150.00")),
    }
    by_route = {r.key: r.total for r in aging(as_of=date(2024, 4, 30), by="route")}
    assert by_route == {"RA": D("60.00"), "RC": D("150.00")}


def test_collect_cli_by_collector(company: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    from wattdesk.interfaces.cli import main

    assert main(["collect", "recovery", "--period", "2024-03", "--by", "collector"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "alice\tbilled 180.00\tcollected 120.00\trate 0.6667",
        "bob\tbilled 100.00\tcollected 0.00\trate 0.0000",
        "all\tbilled 280.00\tcollected 120.00\trate 0.4286",
    ]
    assert main(["collect", "aging", "--as-of", "2024-04-30", "--by", "collector"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "collector\tnot_due\t0-30\t31-60\t61-90\t91-180\t>180\ttotal"
    assert out[2] == "bob\t0.00\t100.00\t50.00\t0.00\t0.00\t0.00\t150.00"
    assert main(["collect", "recovery", "--period", "2024-13", "--by", "collector"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
