"""The display filters every page uses (interfaces/web/templatetags/fmt.py): amounts with thousands separators,
kWh to 2 decimals, capacities without trailing zeros, 万 / 亿 (zh) and K / M (en) for large figures, every time in
the company's time zone, stored codes and hold reasons through the catalogs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from wattdesk.application.billing.hold import (
    DEFAULT_HOLD_POLICY,
    HoldReason,
    assess_hold,
    hold_reason,
    parse_hold_reason,
    parse_review_record,
)
from wattdesk.interfaces.web.templatetags import fmt


def render(source: str, **context: object) -> str:
    return Template("{% load fmt %}" + source).render(Context(context))


class TestNumbers:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (Decimal("12345.67"), "12,345.67"),
            (Decimal("1045061.04"), "1,045,061.04"),
            (Decimal("-187.5"), "-187.50"),
            (Decimal("0"), "0.00"),
            (Decimal("999.995"), "1,000.00"),  # half-up, like the bill
            (Decimal("-0.001"), "0.00"),
            (Decimal("100"), "100.00"),
            ("2426.13", "2,426.13"),
            (None, "—"),
            ("", "—"),
            ("n/a", "n/a"),
        ],
    )
    def test_money(self, value: object, expected: str) -> None:
        assert render("{{ v|money }}", v=value) == expected

    def test_kwh_to_two_decimals(self) -> None:
        assert render("{{ v|kwh }}", v=Decimal("831958.0000")) == "831,958.00"
        assert render("{{ v|kwh }}", v=Decimal("4360.7649")) == "4,360.76"

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (Decimal("315.000"), "315"),
            (Decimal("0.2200"), "0.22"),
            (Decimal("1.0000"), "1"),
            (Decimal("1E+2"), "100"),
            (Decimal("12500.5000"), "12,500.5"),
            (Decimal("10"), "10"),
        ],
    )
    def test_qty_drops_trailing_zeros_without_exponent(self, value: Decimal, expected: str) -> None:
        assert render("{{ v|qty }}", v=value) == expected

    def test_reading_keeps_its_digits(self) -> None:
        assert render("{{ v|reading }}", v=Decimal("254208.6100")) == "254,208.61"
        assert render("{{ v|reading }}", v=Decimal("1.2345")) == "1.2345"
        assert render("{{ v|reading }}", v=Decimal("7")) == "7.00"

    @pytest.mark.parametrize(
        ("value", "zh", "en"),
        [
            (Decimal("1045061.04"), "104.51万", "1.05M"),
            (Decimal("1197305.91"), "119.73万", "1.20M"),
            (Decimal("350000000"), "3.50亿", "350.00M"),
            (Decimal("2500000000"), "25.00亿", "2.50B"),
            (Decimal("12345"), "1.23万", "12.35K"),
            (Decimal("9999.5"), "9,999.50", "9,999.50"),
            (118, "118", "118"),
            (Decimal("-25000"), "-2.50万", "-25.00K"),
        ],
    )
    def test_big_uses_wan_and_yi_in_chinese_and_k_m_in_english(self, value: object, zh: str, en: str) -> None:
        with translation.override("zh-hans"):
            assert render("{{ v|big }}", v=value) == zh
        with translation.override("en"):
            assert render("{{ v|big }}", v=value) == en


class TestTimes:
    def test_aware_utc_renders_as_shanghai_local_time(self, settings: object) -> None:
        at = datetime(2026, 11, 1, 17, 30, tzinfo=UTC)  # 2026-11-02 01:30 +08:00
        assert render("{{ t|when }}", t=at) == "2026-11-02 01:30"
        assert render('{{ t|when:"s" }}', t=at) == "2026-11-02 01:30:00"

    def test_naive_is_taken_as_utc_and_other_zones_are_converted(self) -> None:
        assert fmt.format_when(datetime(2026, 11, 1, 17, 30)) == "2026-11-02 01:30"
        ny = datetime(2026, 11, 1, 12, 0, tzinfo=ZoneInfo("America/New_York"))  # 17:00 UTC
        assert fmt.format_when(ny) == "2026-11-02 01:00"
        assert fmt.format_when(date(2026, 11, 2)) == "2026-11-02"
        assert fmt.format_when(None) == "—"

    def test_a_company_time_zone_setting_is_followed(self, settings: object) -> None:
        settings.TIME_ZONE = "Asia/Urumqi"  # type: ignore[attr-defined]  # +06:00
        assert fmt.format_when(datetime(2026, 11, 1, 17, 30, tzinfo=UTC)) == "2026-11-01 23:30"

    def test_times_inside_text_become_local(self) -> None:
        text = "approved_at: 2026-11-01T17:30:00+00:00 → 2026-12-07 17:43:16.913190; day 2026-11-02; id 12:30"
        assert fmt.format_local_times(text) == (
            "approved_at: 2026-11-02 01:30:00 → 2026-12-08 01:43:16; day 2026-11-02; id 12:30"
        )
        assert fmt.format_local_times("at 2026-11-02T09:00+08:00") == "at 2026-11-02 09:00"


class TestHoldReasons:
    def test_every_reason_round_trips_through_its_stored_text(self) -> None:
        cases = [
            dict(total=Decimal("-12.50"), history=[], customer_class="residential"),
            dict(total=Decimal("1858.75"), history=[], customer_class="residential"),
            dict(total=Decimal("242.74"), history=[Decimal(70)] * 3, customer_class="residential"),
            dict(
                total=Decimal("149.40"),
                history=[Decimal(650), Decimal(650), Decimal(560)],
                customer_class="x",
            ),
        ]
        codes = []
        for case in cases:
            reason = assess_hold(policy=DEFAULT_HOLD_POLICY, **case)  # type: ignore[arg-type]
            assert reason is not None
            codes.append(reason.code)
            assert hold_reason(policy=DEFAULT_HOLD_POLICY, **case) == reason.text()  # type: ignore[arg-type]
            assert parse_hold_reason(reason.text()) == reason
        assert codes == ["negative", "new_account", "high", "low"]
        assert parse_hold_reason("high: total 242.74 > 3 x median 70.00 of 3 bills") == HoldReason(
            "high", {"total": "242.74", "ratio": "3", "median": "70.00", "bills": "3"}
        )
        assert parse_hold_reason("checked by hand") is None

    def test_review_record_time_is_utc_unless_it_has_an_offset(self) -> None:
        record = parse_review_record(
            "approved 2026-11-01 17:30: low: total 1.00 < 0.3 x median 100.00 of 3 bills"
        )
        assert record.approved_at == datetime(2026, 11, 1, 17, 30, tzinfo=UTC)
        assert record.reason is not None and record.reason.code == "low"
        with_offset = parse_review_record("approved 2026-11-02T01:30+08:00: negative total -1")
        assert with_offset.approved_at == datetime(2026, 11, 1, 17, 30, tzinfo=UTC)

    def test_reasons_render_in_the_users_language(self) -> None:
        stored = "approved 2026-11-01 17:30: new account: total 2426.13 above 1000 (residential)"
        with translation.override("zh-hans"):
            zh = render("{{ r|hold_reason }}", r=stored)
            low = render("{{ r|hold_reason }}", r="low: total 149.40 < 0.3 x median 650.00 of 3 bills")
        with translation.override("en"):
            en = render("{{ r|hold_reason }}", r=stored)
        assert (
            zh
            == "2026-11-02 01:30 审核通过（原挂起原因：新装户：电费 2,426.13 元，超过居民生活首期限额 1,000.00 元）"
        )
        assert low == "电费异常偏低：149.40 元，低于近 3 期中位数 650.00 元的 0.3 倍"
        assert "approved" not in zh and "new account" not in zh
        assert en.startswith("2026-11-02 01:30 approved")
        assert "residential" in en and "2,426.13" in en
        assert not fmt.describe_hold_reason.__module__.startswith(
            "wattdesk.core"
        )  # rendering is the web's job

    def test_free_text_is_shown_as_it_is(self) -> None:
        assert render("{{ r|hold_reason }}", r="held by hand") == "held by hand"


class TestLabels:
    def test_stored_codes_print_their_label_in_each_language(self) -> None:
        with translation.override("zh-hans"):
            assert render('{{ c|label:"register_kind" }}', c="active_total") == "有功总"
            assert render('{{ c|label:"customer_class" }}', c="industrial") == "大工业"
            assert render('{{ c|label:"reading_source" }}', c="actual") == "实抄"
            assert render('{{ c|label:"outlet_kind" }}', c="counter") == "营业厅柜台"
        with translation.override("en"):
            assert render('{{ c|label:"register_kind" }}', c="active_total") == "active energy, total"
            assert render('{{ c|label:"customer_class" }}', c="industrial") == "industrial"
            assert render('{{ c|label:"reading_source" }}', c="actual") == "actual"
        assert render('{{ c|label:"register_kind" }}', c="mystery") == "mystery"
