"""Properties of the segment combine step (core.rating.segments) against the exact path it is built on."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from wattdesk.application.tariffs.reference_data import load_pf_table
from wattdesk.core.money import round_fen
from wattdesk.core.rating.exact import Determinants, rate
from wattdesk.core.rating.segments import ChangeRules, Segment, rate_segments
from wattdesk.core.tariff import parse_tariff

PF = load_pf_table()
TARIFF = parse_tariff(
    doc={
        "code": "LI",
        "name": "大工业",
        "effective_from": "2020-01-01",
        "customer_class": "industrial",
        "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.6123"}]}]},
        "basic": {"method": "capacity", "rate": "23.5"},
        "power_factor": {"standard": "0.90", "base": ["basic", "energy"]},
        "funds": [{"code": "renewable", "name": "可再生能源电价附加", "rate": "0.019"}],
    },
    pf_table=PF,
)
START, END = date(2026, 10, 1), date(2026, 11, 1)  # 31 days
kva = st.integers(min_value=0, max_value=5000).map(D)
kwh = st.integers(min_value=0, max_value=10**7).map(lambda n: D(n).scaleb(-2))


@settings(max_examples=200, deadline=None)
@given(cap=kva, day=st.integers(min_value=1, max_value=30), e1=kwh, e2=kwh, kvarh=kwh)
def test_a_cut_without_a_change_bills_what_the_exact_path_bills(
    cap: D, day: int, e1: D, e2: D, kvarh: D
) -> None:
    """Cutting the month (a meter exchange) changes nothing but the per-segment rounding of energy and funds
    (at most half a fen per extra line) and the PF adjustment taken on rounded segment bases."""
    cut = START + timedelta(days=day)
    segs = [
        Segment(START, cut, TARIFF, (e1,), capacity_kva=cap),
        Segment(cut, END, TARIFF, (e2,), capacity_kva=cap),
    ]
    seg = rate_segments(segments=segs, kvarh=kvarh, period_start=START, period_end=END, rules=ChangeRules())
    whole = rate(
        tariff=TARIFF,
        det=Determinants(start=START, end=END, kwh_by_period=(e1 + e2,), kvarh=kvarh, capacity_kva=cap),
    )
    basic = [ln.amount for ln in seg.lines if ln.rule.startswith("basic")]
    assert basic == [ln.amount for ln in whole.lines if ln.rule.startswith("basic")]  # one whole-month line
    assert abs(seg.total - whole.total) <= D("0.05")


@settings(max_examples=200, deadline=None)
@given(c1=kva, c2=kva, day=st.integers(min_value=1, max_value=30))
def test_a_capacity_change_prorates_each_side_by_its_days(c1: D, c2: D, day: int) -> None:
    rules = ChangeRules(denominator="days_in_period")
    cut = START + timedelta(days=day)
    segs = [
        Segment(START, cut, TARIFF, (D(0),), capacity_kva=c1),
        Segment(cut, END, TARIFF, (D(0),), capacity_kva=c2),
    ]
    bill = rate_segments(segments=segs, kvarh=None, period_start=START, period_end=END, rules=rules)
    basic = sum((ln.amount for ln in bill.lines if ln.rule.startswith("basic")), D(0))
    if c1 == c2:
        assert basic == round_fen(c1 * D("23.5"))
    else:
        assert basic == round_fen(c1 * D("23.5") * day / 31) + round_fen(c2 * D("23.5") * (31 - day) / 31)
    lo, hi = sorted((c1, c2))
    assert round_fen(lo * D("23.5")) - D("0.01") <= basic <= round_fen(hi * D("23.5")) + D("0.01")
