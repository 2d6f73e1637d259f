"""From recorded changes to the pieces of a period (application.changes.segmenting, pure), then rated by the
segment combine step: the 1996 two-year case of billing-rules-2.md §3.7 from the records, a short 暂停, the
reading windows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

from wattdesk.application.changes.segmenting import changes_inside, pieces, timeline, values_on
from wattdesk.core.rating.segments import ChangeRules, Segment, rate_segments
from wattdesk.core.tariff import parse_tariff
from wattdesk.domain.changes.queries import ChangeRow

RULES_1996 = ChangeRules(version="1996", two_year_rule=True)
RULES_1583 = ChangeRules()
TARIFF = parse_tariff(
    doc={
        "code": "LI",
        "name": "大工业",
        "effective_from": "2010-01-01",
        "customer_class": "industrial",
        "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.5"}]}]},
        "basic": {"method": "capacity", "rate": "15"},
    },
    pf_table=None,
)


def change(i: int, kind: str, on: date, before: str, after: str, *, restores: int | None = None,
           in_service: bool = True) -> ChangeRow:  # fmt: skip
    return ChangeRow(
        id=i, account_id=1, sp_id=1, kind=kind, effective_on=on, planned_until=None, restores_id=restores,
        capacity_before=D(before), capacity_after=D(after), contract_kw_before=None, contract_kw_after=None,
        tariff_before="LI", tariff_after="LI", pf_standard_before=None, pf_standard_after=None,
        in_service_after=in_service,
    )  # fmt: skip


def basic(rules: ChangeRules, line: list[Any], start: date, end: date) -> D:
    ps = pieces(line=line, start=start, end=end)
    segs = [
        Segment(p.start, p.end, TARIFF, (D(0),), capacity_kva=p.values.capacity_kva,
                sealed_half_kva=p.values.sealed_half_kva)
        for p in ps
    ]  # fmt: skip
    return rate_segments(segments=segs, kvarh=None, period_start=start, period_end=end, rules=rules).total


class TestTwoYearRule:
    def test_a_suspension_within_two_years_of_opening_is_charged_half_under_1996(self) -> None:
        # opened 2015-03-01 with 1630 kVA; 1000 kVA suspended (暂停) on 2016-06-11: published 19 450.00
        rows = [change(1, "suspension", date(2016, 6, 11), "1630", "630")]
        line = timeline(changes=rows, rules=RULES_1996, opened_on=date(2015, 3, 1), default_tariff="LI")
        june = (date(2016, 6, 1), date(2016, 7, 1))
        assert changes_inside(line, *june)
        assert values_on(line, date(2016, 6, 11)).sealed_half_kva == D(1000)  # type: ignore[union-attr]
        # 1630×15×10/30 = 8 150 + 630×15×20/30 = 6 300 + 1000×7.5×20/30 = 5 000
        assert basic(RULES_1996, line, *june) == D("19450.00")
        # same records under 1583: 8 150 + 6 300 = 14 450.00
        line83 = timeline(changes=rows, rules=RULES_1583, opened_on=date(2015, 3, 1), default_tariff="LI")
        assert basic(RULES_1583, line83, *june) == D("14450.00")

    def test_after_two_years_the_sealed_part_is_free_even_under_1996(self) -> None:
        rows = [change(1, "suspension", date(2016, 6, 11), "1630", "630")]
        line = timeline(changes=rows, rules=RULES_1996, opened_on=date(2014, 6, 11), default_tariff="LI")
        assert basic(RULES_1996, line, date(2016, 6, 1), date(2016, 7, 1)) == D("14450.00")

    def test_the_restore_ends_the_half_charge(self) -> None:
        rows = [
            change(1, "suspension", date(2016, 6, 11), "1630", "630"),
            change(2, "suspension_restore", date(2016, 7, 21), "630", "1630", restores=1),
        ]
        line = timeline(changes=rows, rules=RULES_1996, opened_on=date(2015, 3, 1), default_tariff="LI")
        # July: 07-01~07-20 630 kVA + 1000 at 50 %: 630×15×20/30 = 6 300, 1000×7.5×20/30 = 5 000;
        # 07-21~07-31 (11 days, the unsealing day charged) 1630×15×11/30 = 8 965; total 20 265.00
        assert basic(RULES_1996, line, date(2016, 7, 1), date(2016, 8, 1)) == D("20265.00")


class TestShortSuspension:
    def test_a_suspension_shorter_than_15_days_is_charged_in_full(self) -> None:
        rows = [
            change(1, "suspension", date(2026, 9, 5), "800", "400"),
            change(2, "suspension_restore", date(2026, 9, 15), "400", "800", restores=1),
        ]
        line = timeline(changes=rows, rules=RULES_1583, opened_on=date(2020, 1, 1), default_tariff="LI")
        # 10 days < 15: as if never suspended: one whole-month run 800 × 15 = 12 000.00
        assert basic(RULES_1583, line, date(2026, 9, 1), date(2026, 10, 1)) == D("12000.00")
        # with the option off: 800×15×4/30 = 1 600 + 400×15×10/30 = 2 000 + 800×15×16/30 = 6 400 → 10 000.00
        off = ChangeRules(short_suspension_charged_in_full=False)
        line_off = timeline(changes=rows, rules=off, opened_on=date(2020, 1, 1), default_tariff="LI")
        assert basic(off, line_off, date(2026, 9, 1), date(2026, 10, 1)) == D("10000.00")


class TestPieces:
    def test_the_change_day_reading_closes_the_segment_before(self) -> None:
        rows = [change(1, "reduction", date(2026, 3, 11), "630", "200")]
        line = timeline(changes=rows, rules=RULES_1583, opened_on=date(2024, 1, 1), default_tariff="LI")
        ps = pieces(line=line, start=date(2026, 3, 1), end=date(2026, 4, 1))
        assert [(p.start, p.end, p.read_from, p.read_to, p.values.capacity_kva) for p in ps] == [
            (date(2026, 3, 1), date(2026, 3, 11), date(2026, 3, 1), date(2026, 3, 12), D(630)),
            (date(2026, 3, 11), date(2026, 4, 1), date(2026, 3, 12), date(2026, 4, 1), D(200)),
        ]

    def test_a_retired_point_has_no_piece_after_its_retirement(self) -> None:
        rows = [change(1, "point_retired", date(2026, 2, 15), "100", "0", in_service=False)]
        line = timeline(changes=rows, rules=RULES_1583, opened_on=date(2024, 1, 1), default_tariff="LI")
        assert not changes_inside(line, date(2026, 3, 1), date(2026, 4, 1))
        assert values_on(line, date(2026, 3, 1)).in_service is False  # type: ignore[union-attr]
        assert pieces(line=line, start=date(2026, 3, 1), end=date(2026, 4, 1)) == []

    def test_a_new_connection_starts_on_its_day(self) -> None:
        rows = [change(1, "account_opened", date(2026, 9, 18), "0", "400")]
        line = timeline(changes=rows, rules=RULES_1583, opened_on=date(2026, 9, 18), default_tariff="LI")
        ps = pieces(line=line, start=date(2026, 9, 1), end=date(2026, 10, 1))
        assert [(p.start, p.end) for p in ps] == [(date(2026, 9, 18), date(2026, 10, 1))]
        # 400 × 15 × 13/30 = 2 600.00
        assert basic(RULES_1583, line, date(2026, 9, 1), date(2026, 10, 1)) == D("2600.00")


class TestYearlySuspensionCap:
    def test_a_suspension_is_charged_again_from_the_day_the_year_cap_is_reached(self) -> None:
        # 800 → 400 kVA suspended on 2026-01-05, never restored; cap 183 days: 01-05 + 183 days = 07-07.
        rows = [change(1, "suspension", date(2026, 1, 5), "800", "400")]
        line = timeline(changes=rows, rules=RULES_1583, opened_on=date(2020, 1, 1), default_tariff="LI")
        july = (date(2026, 7, 1), date(2026, 8, 1))
        assert [
            (p.start, p.values.capacity_kva, p.label) for p in pieces(line=line, start=july[0], end=july[1])
        ] == [
            (date(2026, 7, 1), D(400), "suspension"),
            (date(2026, 7, 7), D(800), "suspension_expired"),
        ]
        # 400×15×6/30 = 1 200 + 800×15×25/30 = 10 000 → 11 200.00
        assert basic(RULES_1583, line, *july) == D("11200.00")

    def test_a_restore_before_the_cap_leaves_the_rest_of_the_year_to_a_second_suspension(self) -> None:
        # first 暂停 100 days (01-05 .. 04-15), second from 06-01 unrestored: 83 days left → 08-23
        rows = [
            change(1, "suspension", date(2026, 1, 5), "800", "400"),
            change(2, "suspension_restore", date(2026, 4, 15), "400", "800", restores=1),
            change(3, "suspension", date(2026, 6, 1), "800", "400"),
        ]
        line = timeline(changes=rows, rules=RULES_1583, opened_on=date(2020, 1, 1), default_tariff="LI")
        assert values_on(line, date(2026, 8, 22)).capacity_kva == D(400)  # type: ignore[union-attr]
        assert values_on(line, date(2026, 8, 23)).capacity_kva == D(800)  # type: ignore[union-attr]
