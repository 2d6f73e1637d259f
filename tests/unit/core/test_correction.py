"""core.rating.correction: the metering-error arithmetic of 退补 (billing-rules-2.md §4), hand-computed."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattdesk.core.rating import correction as c
from wattdesk.core.rating.exact import Line


class TestMeterError:
    def test_published_case_900000_kwh_10_percent_slow_back_bills_50000_kwh(self) -> None:
        # tk.swop.cn/question.php?id=4161132: true = 900 000 / (1 − 0.10) = 1 000 000 kWh;
        # 补收 = (1 000 000 − 900 000) × ½ (Art. 80.1, half the time since the last check) = 50 000 kWh
        true = c.true_kwh_of_meter_error(recorded=D(900000), error=D("-0.10"))
        assert true == D(1000000)
        rule = c.DEFAULT_PERIOD_RULES["meter_error"]
        assert (rule.span, rule.share) == ("since", D("0.5"))
        assert c.settled_difference(recorded=D(900000), corrected=true, share=rule.share) == D(50000)

    def test_a_fast_meter_refunds(self) -> None:
        # 2 % fast: true = 1020 / 1.02 = 1000; refund (1000 − 1020) × ½ = −10 kWh
        true = c.true_kwh_of_meter_error(recorded=D(1020), error=D("0.02"))
        assert c.settled_difference(recorded=D(1020), corrected=true, share=D("0.5")) == D(-10)

    def test_an_error_of_minus_100_percent_is_refused(self) -> None:
        with pytest.raises(c.CorrectionError):
            c.true_kwh_of_meter_error(recorded=D(1), error=D(-1))


class TestMultiplier:
    def test_ct_600_5_billed_as_300_5_back_bills_the_whole_recorded_quantity(self) -> None:
        # §4.5: coefficient 120/60 − 1 = 1, so 12 000 kWh recorded → 补收 12 000 kWh, full period, no ½
        corrected = c.multiplier_kwh(recorded=D(12000), used=D(60), correct=D(120))
        share = c.DEFAULT_PERIOD_RULES["multiplier"].share
        assert c.settled_difference(recorded=D(12000), corrected=corrected, share=share) == D(12000)

    def test_zero_multiplier_is_refused(self) -> None:
        with pytest.raises(c.CorrectionError):
            c.multiplier_kwh(recorded=D(1), used=D(0), correct=D(1))


class TestStoppedMeter:
    def test_normal_months_average(self) -> None:
        # (300 + 320 + 340) / 3 = 320 kWh a month
        assert c.normal_month_average([D(300), D(320), D(340)]) == D(320)
        with pytest.raises(c.CorrectionError, match="no normal month"):
            c.normal_month_average([])


class TestScalePeriods:
    def test_spreads_in_proportion_and_keeps_the_exact_total(self) -> None:
        # peak 100, flat 200, valley 0: +30 kWh → 110 / 220 / 0 (the last period with kWh takes the remainder)
        assert c.scale_periods([D(100), D(200), D(0)], D(30)) == (D(110), D(220), D(0))
        # 1 / 1 / 1 + 1 kWh: 1.3333 + 1.3333 + remainder 1.3334 = 4
        out = c.scale_periods([D(1), D(1), D(1)], D(1))
        assert out == (D("1.3333"), D("1.3333"), D("1.3334")) and sum(out) == D(4)

    def test_no_kwh_puts_the_difference_on_the_last_period(self) -> None:
        assert c.scale_periods([D(0), D(0)], D(5)) == (D(0), D(5))

    def test_negative_result_is_refused(self) -> None:
        with pytest.raises(c.CorrectionError, match="negative"):
            c.scale_periods([D(10)], D(-11))


def _line(code: str, qty: str, amount: str) -> Line:
    return Line(code, code, D(qty), "kWh", D("0.5"), D(amount), "energy")


class TestLineDifferences:
    def test_new_minus_original_per_line_and_unchanged_lines_dropped(self) -> None:
        original = [_line("energy", "100", "50.00"), _line("fixed", "1", "5.00")]
        corrected = [
            _line("energy", "120", "60.00"),
            _line("fixed", "1", "5.00"),
            _line("tier2", "2", "1.10"),
        ]
        diffs = c.line_differences(original, corrected)
        assert [(d.code, d.quantity, d.amount) for d in diffs] == [
            ("energy", D(20), D("10.00")),
            ("tier2", D(2), D("1.10")),
        ]

    def test_a_line_gone_in_the_correction_is_refunded_whole(self) -> None:
        diffs = c.line_differences([_line("pf", "1", "3.20")], [])
        assert [(d.code, d.amount) for d in diffs] == [("pf", D("-3.20"))]


class TestPeriodRules:
    def test_overrides_are_data(self) -> None:
        rules = c.period_rules({"meter_error": {"share": "1", "source": "province X"}})
        assert rules["meter_error"] == c.PeriodRule("since", D(1), "province X")
        with pytest.raises(c.CorrectionError, match="unknown error type"):
            c.period_rules({"nope": {}})
        with pytest.raises(c.CorrectionError, match="share"):
            c.period_rules({"kvarh": {"share": "0"}})


# --- properties: the 退补 is the same whichever engine rates it ------------------------------------------------


def _config_tariff(name: str, pf_table: Any) -> Any:
    import json
    from importlib import resources

    import yaml

    from wattdesk.core.tariff import parse_tariff

    text = resources.files("wattdesk.config").joinpath(f"tariffs/{name}.yaml").read_text(encoding="utf-8")
    return parse_tariff(doc=json.loads(json.dumps(yaml.safe_load(text), default=str)), pf_table=pf_table)


kwh = st.decimals(min_value=D(0), max_value=D(200000), places=4, allow_nan=False, allow_infinity=False)


class TestProperties:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        periods=st.lists(kwh, min_size=5, max_size=5),
        error=st.decimals(min_value=D("-0.5"), max_value=D("0.5"), places=3, allow_nan=False),
        kvarh=st.one_of(st.none(), kwh),
    )
    def test_exact_and_vector_paths_give_the_same_adjustment(
        self, pf_table: Any, periods: list[D], error: D, kvarh: D | None
    ) -> None:
        """The 退补 of a meter error on the 5-period two-part tariff: scale_periods keeps the corrected total
        exact, and new − original per line (exact path) equals the vector path's totals' difference."""
        from dataclasses import replace
        from datetime import date as day

        from wattdesk.core.rating.exact import Determinants, rate
        from wattdesk.core.rating.vector import columns_from_determinants, rate_columns

        tariff = _config_tariff("large-industry-two-part-capacity", pf_table)
        det = Determinants(
            start=day(2026, 1, 1), end=day(2026, 2, 1), kwh_by_period=tuple(periods), kvarh=kvarh,
            capacity_kva=D(315),
        )  # fmt: skip
        recorded = det.kwh
        share = c.DEFAULT_PERIOD_RULES["meter_error"].share
        diff = c.settled_difference(
            recorded=recorded,
            corrected=c.true_kwh_of_meter_error(recorded=recorded, error=error),
            share=share,
        )
        new_periods = c.scale_periods(det.kwh_by_period, diff)
        assert sum(new_periods) == recorded + diff and all(p >= 0 for p in new_periods)
        fixed = replace(det, kwh_by_period=new_periods)
        original, corrected = rate(tariff=tariff, det=det), rate(tariff=tariff, det=fixed)
        lines = c.line_differences(original.lines, corrected.lines)
        exact_amount = sum((ln.amount for ln in lines), D(0))
        assert exact_amount == corrected.total - original.total
        res = rate_columns(tariff=tariff, cols=columns_from_determinants([det, fixed]))
        assert res.total(1) - res.total(0) == exact_amount
