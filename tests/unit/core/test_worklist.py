"""The worklist priority: hand-computed scores and ordering."""

from __future__ import annotations

from decimal import Decimal

import pytest

from wattdesk.core.worklist import Candidate, WorklistError, WorklistPolicy, haversine_km, prioritize, score

POLICY = WorklistPolicy(
    weight_amount=0.4,
    weight_age=0.3,
    weight_risk=0.2,
    weight_distance=0.1,
    amount_cap=Decimal("1000"),
    age_cap_days=100,
    distance_cap_km=10.0,
    default_risk=0.5,
    default_distance=0.0,
)
BASE = (30.0, 120.0)


def test_haversine_one_degree_of_latitude() -> None:
    # 1 degree of latitude on a sphere of radius 6371.0088 km = 111.195 km
    assert haversine_km(30.0, 120.0, 31.0, 120.0) == pytest.approx(111.1951, abs=1e-3)
    assert haversine_km(30.0, 120.0, 30.0, 120.0) == 0.0


def test_score_breakdown_by_hand() -> None:
    # amount 500/1000 = 0.5 -> 0.2; age 50/100 -> 0.15; risk 0.3 -> 0.06; at the base: distance 1 -> 0.1
    item = score(Candidate("A", Decimal("500.00"), 50, 0.3, 30.0, 120.0), base=BASE, policy=POLICY)
    assert (item.parts.amount, item.parts.age, item.parts.risk, item.parts.distance) == (0.2, 0.15, 0.06, 0.1)
    assert item.score == 0.51
    assert item.distance_km == 0.0


def test_caps_defaults_and_unknown_location() -> None:
    # amount above cap -> 1 (0.4); age above cap -> 1 (0.3); no risk -> 0.5 (0.1); no coordinates -> 0
    item = score(Candidate("B", Decimal("5000.00"), 400), base=BASE, policy=POLICY)
    assert item.score == 0.8
    assert item.distance_km is None
    # not yet overdue: age 0
    assert score(Candidate("C", Decimal("100.00"), -3, 0.0), base=None, policy=POLICY).score == 0.04


def test_ordering_hand_computed() -> None:
    far = (30.0 + 5.0 / 111.1951, 120.0)  # 5 km north: distance factor 0.5 -> 0.05
    cands = [
        Candidate("P1", Decimal("200.00"), 10, 0.1, *far),  # 0.08 + 0.03 + 0.02 + 0.05 = 0.18
        Candidate("P2", Decimal("800.00"), 40, 0.9, 30.0, 120.0),  # 0.32 + 0.12 + 0.18 + 0.1 = 0.72
        Candidate("P3", Decimal("0.00"), 90, 0.9),  # nothing due: not on the list
        Candidate("P4", Decimal("1000.00"), 0, 0.5),  # 0.4 + 0 + 0.1 + 0 = 0.5
        Candidate("P5", Decimal("300.00"), 100, 0.0, 30.0, 120.0),  # 0.12 + 0.3 + 0 + 0.1 = 0.52
        Candidate("P0", Decimal("300.00"), 100, 0.0, 30.0, 120.0),  # tie with P5: key order
    ]
    items = prioritize(cands, base=BASE, policy=POLICY)
    assert [i.key for i in items] == ["P2", "P0", "P5", "P4", "P1"]
    assert [i.score for i in items] == [0.72, 0.52, 0.52, 0.5, 0.18]
    assert items[-1].distance_km == pytest.approx(5.0, abs=1e-3)


def test_tie_on_score_bigger_amount_first() -> None:
    pol = WorklistPolicy(weight_amount=0.0, weight_age=1.0, weight_risk=0.0, weight_distance=0.0)
    items = prioritize([Candidate("A", Decimal("10.00"), 5), Candidate("B", Decimal("20.00"), 5)], policy=pol)
    assert [i.key for i in items] == ["B", "A"]


def test_bad_policy_and_risk() -> None:
    with pytest.raises(WorklistError):
        prioritize([], policy=WorklistPolicy(weight_amount=-1))
    with pytest.raises(WorklistError):
        score(Candidate("A", Decimal("1.00"), 0, 1.5), base=None)
