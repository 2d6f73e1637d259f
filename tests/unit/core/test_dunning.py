"""Differentiated dunning decisions (core.dunning), on the shipped policy (config/dunning-policy.yaml)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from wattdesk.core.dunning import (
    Debt,
    Done,
    PolicyError,
    Profile,
    decide,
    next_permitted,
    parse_policy,
)

SH = ZoneInfo("Asia/Shanghai")
POLICY = parse_policy(
    yaml.safe_load((Path(__file__).parents[3] / "src/wattdesk/config/dunning-policy.yaml").read_text("utf-8"))
)
DUE = date(2026, 3, 15)
DEBT = Debt(bill_id=7, amount=Decimal("230.50"), due_on=DUE)
HOUSEHOLD = Profile(customer_class="residential", birth_year=1985, channel="counter", risk=0.1)


def on(days_after_due: int) -> date:
    return date.fromordinal(DUE.toordinal() + days_after_due)


def go(profile: Profile, day: date, history: tuple[Done, ...] = (), holidays: frozenset[date] = frozenset()):
    return decide(
        profile=profile, debt=DEBT, history=history, day=day, policy=POLICY, holidays=holidays, tzinfo=SH
    )


class TestSegmentsAndChannels:
    def test_mobile_payer_gets_push_then_sms(self) -> None:
        p = Profile(customer_class="residential", birth_year=1990, channel="mobile", risk=0.1)
        first = go(p, on(1))
        assert first.segment == "mobile"
        assert [(a.kind, a.step, a.channel) for a in first.actions] == [("reminder", "reminder_1", "push")]
        second = go(p, on(10), (Done("reminder", "reminder_1", on(1)),))
        assert [(a.step, a.channel) for a in second.actions] == [("reminder_2", "sms")]

    def test_elderly_from_70_get_a_call_then_a_visit(self) -> None:
        p = Profile(customer_class="residential", birth_year=1956, channel="mobile", risk=0.1)  # 70 in 2026
        d = go(p, on(1))
        assert d.segment == "elderly"
        assert d.actions[0].channel == "call_task"
        assert go(p, on(10), (Done("reminder", "reminder_1", on(1)),)).actions[0].channel == "visit_task"
        younger = Profile(customer_class="residential", birth_year=1957, channel="mobile")  # 69
        assert go(younger, on(1)).segment == "mobile"

    def test_large_industry_goes_to_the_account_manager(self) -> None:
        p = Profile(customer_class="industrial", capacity_kva=Decimal("630"), channel="bank")
        d = go(p, on(1))
        assert d.segment == "large_industry"
        assert (d.actions[0].channel, d.actions[0].assignee) == ("call_task", "account_manager")
        small = Profile(customer_class="industrial", capacity_kva=Decimal("200"), channel="bank")
        assert go(small, on(1)).segment == "default"

    def test_email_and_default_segments(self) -> None:
        assert go(Profile(customer_class="commercial", has_email=True), on(1)).actions[0].channel == "email"
        assert go(HOUSEHOLD, on(1)).actions[0].channel == "sms"


class TestCadence:
    def test_no_reminder_before_the_due_date_for_an_ordinary_account(self) -> None:
        assert go(HOUSEHOLD, on(-3)).actions == ()
        assert go(HOUSEHOLD, on(0)).actions == ()

    def test_high_risk_is_reminded_three_days_before_the_due_date(self) -> None:
        risky = Profile(customer_class="residential", birth_year=1985, risk=0.7)
        d = go(risky, on(-3))
        assert [(a.step, a.channel) for a in d.actions] == [("reminder_1", "sms")]
        assert "high risk" in d.reason
        assert go(risky, on(-4)).actions == ()
        chronic = Profile(customer_class="residential", birth_year=1985, punctuality="chronic", risk=0.2)
        assert go(chronic, on(-3)).actions[0].step == "reminder_1"

    def test_a_step_done_is_not_repeated_and_nothing_twice_a_day(self) -> None:
        h = (Done("reminder", "reminder_1", on(1)),)
        assert go(HOUSEHOLD, on(1), h).actions == ()
        assert go(HOUSEHOLD, on(5), h).actions == ()
        assert go(HOUSEHOLD, on(10), h).actions[0].step == "reminder_2"

    def test_late_discovery_sends_only_the_latest_step(self) -> None:
        d = go(HOUSEHOLD, on(25))
        assert [(a.kind, a.step) for a in d.actions] == [("demand", "demand")]


class TestDisconnection:
    DEMANDED = (Done("reminder", "reminder_1", on(1)), Done("demand", "demand", on(20)))

    def test_no_notice_at_30_days_nor_without_a_demand(self) -> None:
        assert [a.kind for a in go(HOUSEHOLD, on(30), self.DEMANDED).actions] == []
        no_demand = go(HOUSEHOLD, on(40), (Done("reminder", "reminder_1", on(1)),))
        assert [a.kind for a in no_demand.actions] == ["demand"]

    def test_a_demand_today_does_not_count(self) -> None:
        h = (Done("demand", "demand", on(31)),)
        assert go(HOUSEHOLD, on(31), h).actions == ()

    def test_residential_notice_seven_days_ahead_at_nine(self) -> None:
        d = go(HOUSEHOLD, on(31), self.DEMANDED)  # 2026-04-15, a Wednesday
        (a,) = d.actions
        assert (a.kind, a.channel) == ("notice", "call_task")
        assert a.at == datetime(2026, 4, 22, 9, 0, tzinfo=SH)

    def test_other_customers_three_days_ahead_and_a_call_an_hour_before(self) -> None:
        shop = Profile(customer_class="commercial", channel="mobile")
        (notice,) = go(shop, on(31), self.DEMANDED).actions
        assert notice.at == datetime(2026, 4, 18, 9, 0, tzinfo=SH)
        h = (*self.DEMANDED, Done("notice", "notice", on(31), notice.at))
        assert go(shop, on(32), h).actions == ()
        final, cut = go(shop, date(2026, 4, 18), h).actions
        assert (final.kind, final.channel, final.at) == (
            "final_notice",
            "call_task",
            datetime(2026, 4, 18, 8, 0, tzinfo=SH),
        )
        assert (cut.kind, cut.at) == ("disconnect", datetime(2026, 4, 18, 9, 0, tzinfo=SH))
        assert (
            go(shop, date(2026, 4, 18), (*h, Done("disconnect", "disconnect", date(2026, 4, 18)))).actions
            == ()
        )

    def test_protected_customers_never_get_a_notice_or_an_order(self) -> None:
        p = Profile(customer_class="residential", birth_year=1985, protected=True)
        for days in (31, 60, 120):
            d = go(p, on(days), self.DEMANDED)
            assert d.actions == ()
            assert "protected" in d.reason
        assert go(p, on(1)).actions[0].channel == "call_task"  # still reminded, by a person
        planned = datetime(2026, 4, 22, 9, 0, tzinfo=SH)
        h = (*self.DEMANDED, Done("notice", "notice", on(31), planned))
        assert go(p, date(2026, 4, 22), h).actions == ()

    def test_planned_cut_moves_off_public_holidays(self) -> None:
        holidays = frozenset({date(2026, 4, 22), date(2026, 4, 23)})
        (a,) = go(HOUSEHOLD, on(31), self.DEMANDED, holidays).actions
        assert a.at == datetime(2026, 4, 24, 9, 0, tzinfo=SH)


class TestPermittedTime:
    def test_night_moves_to_the_next_morning(self) -> None:
        assert next_permitted(datetime(2026, 4, 1, 21, 30, tzinfo=SH), POLICY, frozenset()) == datetime(
            2026, 4, 2, 8, 0, tzinfo=SH
        )
        assert next_permitted(datetime(2026, 4, 1, 3, 0, tzinfo=SH), POLICY, frozenset()) == datetime(
            2026, 4, 1, 8, 0, tzinfo=SH
        )
        noon = datetime(2026, 4, 1, 12, 0, tzinfo=SH)
        assert next_permitted(noon, POLICY, frozenset()) == noon
        assert next_permitted(datetime(2026, 4, 1, 20, 0, tzinfo=SH), POLICY, frozenset()).time() == time(
            8, 0
        )

    def test_night_then_holiday(self) -> None:
        got = next_permitted(datetime(2026, 9, 30, 22, 0, tzinfo=SH), POLICY, frozenset({date(2026, 10, 1)}))
        assert got == datetime(2026, 10, 2, 9, 0, tzinfo=SH)


class TestPolicyErrors:
    def test_unknown_channel_is_refused(self) -> None:
        doc = yaml.safe_load(
            (Path(__file__).parents[3] / "src/wattdesk/config/dunning-policy.yaml").read_text("utf-8")
        )
        doc["segments"][0]["channels"] = ["pigeon"]
        with pytest.raises(PolicyError, match="unknown channel 'pigeon'"):
            parse_policy(doc)

    def test_unknown_province(self) -> None:
        doc = yaml.safe_load(
            (Path(__file__).parents[3] / "src/wattdesk/config/dunning-policy.yaml").read_text("utf-8")
        )
        with pytest.raises(PolicyError, match="province 'xizang'"):
            parse_policy(doc, province="xizang")
