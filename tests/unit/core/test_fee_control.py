"""Smart fee control (智能费控) rules: estimated balance on a flat tariff computed by hand, decisions,
protected customers, night and holidays, bounded backoff."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest

from wattdesk.core.fee_control import (
    Decision,
    FeeControlError,
    FeeControlPolicy,
    Usage,
    backoff_seconds,
    decide,
    disconnect_permitted,
    estimate,
)
from wattdesk.core.tariff import parse_tariff

FLAT = parse_tariff(
    doc={
        "code": "T-FLAT",
        "name": "flat",
        "effective_from": "2024-01-01",
        "customer_class": "commercial",
        "currency": "CNY",
        "rounding": "per_line",
        "calendar": {"semantics": "real", "holidays": False},
        "energy": {"periods": [{"key": "flat", "name": "平", "tiers": [{"rate": "0.5000"}]}]},
        "funds": [{"code": "fund", "name": "基金", "rate": "0.02"}],
    }
)
POLICY = FeeControlPolicy(warn_days=3)


class TestEstimate:
    def test_measured_usage_is_priced_with_the_tariff(self) -> None:
        # 2024-05-01 .. 2024-05-10 inclusive = 10 days, 100 kWh measured:
        # energy 100 x 0.50 = 50.00, fund 100 x 0.02 = 2.00 -> 52.00; credit 80.00 -> balance 28.00;
        # daily 5.2000 -> 28.00 / 5.2 = 5.38 -> 5.4 days
        e = estimate(
            tariff=FLAT, day=date(2024, 5, 10), credit=D("80.00"), usage=Usage(date(2024, 5, 1), (D("100"),))
        )
        assert (e.days, e.kwh, e.measured) == (10, D("100"), True)
        assert e.charge == D("52.00")
        assert e.estimated_balance == D("28.00")
        assert e.daily_charge == D("5.2000")
        assert e.days_left == D("5.4")

    def test_without_readings_uses_the_latest_bills_average_daily_use(self) -> None:
        # latest bill 310 kWh over 31 days = 10 kWh/day; 2024-06-01 .. 06-04 = 4 days -> 40 kWh
        # 40 x 0.52 = 20.80; credit 15.00 -> -5.80, no days left
        usage = Usage(date(2024, 6, 1), None, latest_bill_kwh=D("310"), latest_bill_days=31)
        e = estimate(tariff=FLAT, day=date(2024, 6, 4), credit=D("15.00"), usage=usage)
        assert (e.kwh, e.measured, e.charge) == (D("40.0000"), False, D("20.80"))
        assert e.estimated_balance == D("-5.80")
        assert e.days_left == D("0.0")

    def test_on_the_day_before_a_period_the_latest_bill_gives_the_daily_charge(self) -> None:
        usage = Usage(date(2024, 6, 1), None, latest_bill_total=D("31.00"), latest_bill_days=31)
        e = estimate(tariff=FLAT, day=date(2024, 5, 31), credit=D("10.00"), usage=usage)
        assert (e.days, e.charge, e.estimated_balance) == (0, D("0.00"), D("10.00"))
        assert e.days_left == D("10.0")

    def test_a_bill_ending_after_the_day_is_refused(self) -> None:
        with pytest.raises(FeeControlError):
            estimate(tariff=FLAT, day=date(2024, 5, 1), credit=D(0), usage=Usage(date(2024, 5, 5), None))


class TestDecide:
    def d(self, balance: str, days_left: str | None = None, **kw: object) -> Decision:
        args = {"meter_on": True, "protected": False, "permitted": True, "policy": POLICY}
        args.update(kw)
        return decide(
            estimated_balance=D(balance),
            days_left=None if days_left is None else D(days_left),
            **args,  # type: ignore[arg-type]
        )

    def test_ok_with_enough_days(self) -> None:
        assert self.d("50.00", "10.0") == Decision("ok", "")

    def test_warns_below_n_days(self) -> None:
        assert self.d("5.00", "2.9") == Decision("warn", "low_days")

    def test_warns_below_a_balance_threshold_when_set(self) -> None:
        policy = FeeControlPolicy(warn_days=3, warn_balance=D("50"))
        assert self.d("49.99", "20.0", policy=policy) == Decision("warn", "low_balance")

    def test_disconnects_when_exhausted(self) -> None:
        assert self.d("0.00", "0.0") == Decision("disconnect", "balance_exhausted")
        assert self.d("-3.20") == Decision("disconnect", "balance_exhausted")

    def test_never_disconnects_a_protected_customer(self) -> None:
        assert self.d("-3.20", protected=True) == Decision("warn", "protected")

    def test_not_at_a_forbidden_time(self) -> None:
        assert self.d("-3.20", permitted=False) == Decision("warn", "not_permitted_time")

    def test_restores_an_off_meter_with_money(self) -> None:
        assert self.d("0.01", meter_on=False) == Decision("restore", "balance_positive")

    def test_an_off_meter_without_money_needs_nothing(self) -> None:
        assert self.d("-1.00", meter_on=False) == Decision("ok", "already_off")


class TestDisconnectPermitted:
    holidays = frozenset({date(2024, 10, 1)})

    @pytest.mark.parametrize(
        ("at", "ok"),
        [
            (datetime(2024, 5, 10, 9, 0), True),
            (datetime(2024, 5, 10, 21, 59), True),
            (datetime(2024, 5, 10, 22, 0), False),
            (datetime(2024, 5, 11, 3, 0), False),
            (datetime(2024, 5, 11, 5, 59), False),
            (datetime(2024, 5, 11, 6, 0), True),
            (datetime(2024, 10, 1, 10, 0), False),
        ],
    )
    def test_night_and_holidays(self, at: datetime, ok: bool) -> None:
        assert disconnect_permitted(at=at, holidays=self.holidays, policy=POLICY) is ok


class TestBackoff:
    def test_doubles_and_is_bounded(self) -> None:
        assert [backoff_seconds(attempt=a, base=0.1, cap=0.5) for a in range(0, 6)] == [
            0.0,
            0.1,
            0.2,
            0.4,
            0.5,
            0.5,
        ]
