"""A segmented bill (变更用电, core.rating.segments) is the same to the fen whichever path rates its segments:
the exact engine or the vector engine (core.rating.segments_vector), line by line and in total, over generated
tariffs (those of test_vector_equals_exact) and generated cuts, capacities, demands, tier uplifts (一户多人口),
annual tier-year positions, minimum charges and proration rules."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from itertools import pairwise
from typing import cast

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from test_vector_equals_exact import quantity, tariffs, thresholds

from wattdesk.application.tariffs.reference_data import load_pf_table
from wattdesk.core.pf import PfTable
from wattdesk.core.rating.exact import RatingError
from wattdesk.core.rating.segments import (
    DENOMINATORS,
    ChangeRules,
    Segment,
    exact_engine,
    rate_segments,
    segment_uplift,
)
from wattdesk.core.rating.segments_vector import vector_engine
from wattdesk.core.tariff import parse_tariff


def both(segments: list[Segment], kvarh: D | None, start: date, end: date, rules: ChangeRules) -> None:
    results: list[object] = []
    for engine in (exact_engine, vector_engine):
        try:
            bill = rate_segments(
                segments=segments, kvarh=kvarh, period_start=start, period_end=end, rules=rules, engine=engine
            )
            results.append((list(bill.lines), bill.total, bill.power_factor))  # every field of every line
        except RatingError as exc:
            results.append(type(exc).__name__)
    event("rated" if isinstance(results[0], tuple) else "refused on both")
    assert results[0] == results[1]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_a_segmented_bill_is_the_same_on_both_paths(pf_table: PfTable, data: st.DataObject) -> None:
    t = data.draw(tariffs(pf_table))
    assume(t.tou_demand is None)  # a segment carries one maximum demand, no per-period registers
    year, month = data.draw(st.integers(2019, 2026)), data.draw(st.integers(1, 12))
    start = date(year, month, data.draw(st.sampled_from([1, 1, 15, 28])))
    end = date(year + (month == 12), month % 12 + 1, start.day)
    n_days = (end - start).days
    cuts = sorted(data.draw(st.sets(st.integers(1, n_days - 1), max_size=3)))
    bounds = [start, *(start + timedelta(days=c) for c in cuts), end]
    draw = cast(st.DrawFn, data.draw)
    edges = thresholds(t)
    n_e = len(t.energy.periods)
    boundaries = max(len(p.tiers) for p in t.energy.periods) - 1
    month_uplift = tuple(data.draw(st.sampled_from([D(0), D(100), D("33.3333")])) for _ in range(boundaries))
    segments = []
    for a, b in pairwise(bounds):
        if data.draw(st.integers(0, 5)) == 0 and len(bounds) > 2:
            continue  # a gap: days out of service
        segments.append(
            Segment(
                start=a,
                end=b,
                tariff=t,
                kwh_by_period=tuple(quantity(draw, edges) for _ in range(n_e)),
                capacity_kva=data.draw(st.sampled_from([D(315), D(200), D("400.5"), D(0), D(2000)])),
                contract_kw=data.draw(st.sampled_from([None, D(80), D(200)])),
                max_kw=quantity(draw, [D(84), D(210), D(200)], hi=3000),
                sealed_half_kva=data.draw(st.sampled_from([D(0), D(0), D(315), D("12.5")])),
                tier_uplift_kwh=segment_uplift(uplift=month_uplift, tariff=t, start=a, end=b),
                ytd_kwh_before=quantity(draw, edges, hi=6000),  # annual tiers: the tier-year position
                tier_year_fraction=draw(st.sampled_from([D(1), D(1) / D(3), D(200) / D(365), D("0.5")])),
            )
        )
    assume(segments)
    rules = ChangeRules(
        denominator=data.draw(st.sampled_from(DENOMINATORS)),
        two_year_rule=data.draw(st.booleans()),
    )
    kvarh = data.draw(st.one_of(st.none(), st.decimals(min_value=D(0), max_value=D(50_000), places=2)))
    both(segments, kvarh, start, end, rules)


def test_the_published_reduction_with_loss_is_the_same_on_both_paths() -> None:
    # the end-to-end case of tests/functional/api/test_segmented_composition_api.py: 630 kVA for 10 days with
    # 5 197 kWh (loss included), 200 kVA for 21 days with 15 216 kWh, 16 964 kvarh -> 20 886.74 on both paths
    t = parse_tariff(
        doc={
            "code": "SEG-2P",
            "name": "两部制",
            "effective_from": "2024-01-01",
            "customer_class": "industrial",
            "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.6"}]}]},
            "basic": {"method": "capacity", "rate": "20"},
            "power_factor": {"standard": "0.90", "base": ["basic", "energy"]},
            "funds": [{"code": "renewable", "name": "可再生能源电价附加", "rate": "0.019"}],
        },
        pf_table=load_pf_table(),
    )
    start, cut, end = date(2026, 3, 1), date(2026, 3, 11), date(2026, 4, 1)
    segments = [
        Segment(start, cut, t, (D(5197),), capacity_kva=D(630)),
        Segment(cut, end, t, (D(15216),), capacity_kva=D(200)),
    ]
    for engine in (exact_engine, vector_engine):
        bill = rate_segments(
            segments=segments,
            kvarh=D(16964),
            period_start=start,
            period_end=end,
            rules=ChangeRules(),
            engine=engine,
        )
        assert bill.total == D("20886.74")
