"""Transformer loss (变损), billing-rules-2.md §1: the §1.7 illustration reproduced exactly, each method, the
TOU split, and the property that both rating paths agree on determinants with the loss applied."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wattdesk.core.pf import PfTable, power_factor
from wattdesk.core.rating.exact import Determinants, rate
from wattdesk.core.rating.transformer_loss import (
    Loss,
    LossError,
    LossMethod,
    LossPolicy,
    LossTableRow,
    SplitStrategy,
    TableBasis,
    TransformerParams,
    apply_loss,
    compute_loss,
    policy_on,
    share,
    split_by_period,
    table_row,
)
from wattdesk.core.rating.vector import columns_from_determinants, rate_columns
from wattdesk.core.tariff import parse_tariff

POLICY = LossPolicy(effective_from=date(1996, 10, 8))
# §1.7: S11-M-315/10 Dyn11, P0 0.48 kW, Pk 3.65 kW, I0 1.0 %, Uk 4 %, K = 1, T = 720 h
S11_315 = TransformerParams(
    capacity_kva=D(315), p0_kw=D("0.48"), pk_kw=D("3.65"), i0_percent=D("1.0"), uk_percent=D(4)
)
T = D(720)
KEYS = ("peak", "flat", "valley")
METERED = (D(30000), D(35000), D(25000))  # 峰 / 平 / 谷, A = 90 000 kWh
KVARH = D(45000)


def loss(
    t: TransformerParams = S11_315, kvarh: D | None = KVARH, policy: LossPolicy = POLICY, **kw: object
) -> Loss:
    return compute_loss(transformer=t, kwh=D(90000), kvarh=kvarh, run_hours=T, policy=policy, **kw)  # type: ignore[arg-type]


class TestFormulaMethod:
    def test_reproduces_the_illustration_863_kwh_and_4054_kvarh(self) -> None:
        # A² + R² = 90000² + 45000² = 8.1e9 + 2.025e9 = 10 125 000 000
        # ΔA = 0.48 x 720 + 3.65 x 10 125 000 000 / (720 x 315²) = 345.6 + 3.65 x 141.7234 = 345.6 + 517.29
        #    = 862.89 -> 863 kWh (integer kWh, half-up)
        # ΔQ = 1.0 / 100 x 315 x 720 + 4 / 100 x 10 125 000 000 / (720 x 315) = 2268 + 1785.71 = 4053.71 -> 4054
        assert loss() == Loss(D(863), D(4054))

    def test_finer_loss_step_shows_the_unrounded_figures(self) -> None:
        fine = LossPolicy(effective_from=date(1996, 10, 8), loss_step=D("0.01"))
        assert loss(policy=fine) == Loss(D("862.89"), D("4053.71"))

    def test_without_a_kvarh_meter_assumes_cos_phi_0_8_giving_992(self) -> None:
        # (A / 0.8)² = 112 500² = 12 656 250 000; copper = 3.65 x 12 656 250 000 / (720 x 99 225) = 646.62
        # ΔA = 345.6 + 646.62 = 992.22 -> 992
        assert loss(kvarh=None).kwh == D(992)

    def test_correction_factor_scales_the_load_part_only(self) -> None:
        # K = 1.1: 345.6 + 1.1 x 517.29 = 345.6 + 569.02 = 914.62 -> 915
        t = TransformerParams(
            capacity_kva=D(315),
            p0_kw=D("0.48"),
            pk_kw=D("3.65"),
            i0_percent=D(1),
            uk_percent=D(4),
            correction_k=D("1.1"),
        )
        assert loss(t).kwh == D(915)

    def test_no_run_hours_no_loss(self) -> None:
        assert compute_loss(transformer=S11_315, kwh=D(0), kvarh=D(0), run_hours=D(0), policy=POLICY) == Loss(
            D(0), D(0)
        )

    def test_no_use_still_carries_the_iron_loss(self) -> None:
        # ΔA = 0.48 x 720 = 345.6 -> 346; ΔQ = 0.01 x 315 x 720 = 2268
        got = compute_loss(transformer=S11_315, kwh=D(0), kvarh=D(0), run_hours=T, policy=POLICY)
        assert got == Loss(D(346), D(2268))


class TestSimplifiedMethod:
    def test_reproduces_the_illustration_3045_6(self) -> None:
        # load rate = 90000 / 720 / (315 x 0.8) = 0.496 > 40 % -> copper 3 % x 90000 = 2700
        # ΔA = 0.48 x 720 + 2700 = 345.6 + 2700 = 3045.6 (shown at step 0.1; integer kWh gives 3046)
        t = TransformerParams(
            capacity_kva=D(315),
            p0_kw=D("0.48"),
            pk_kw=D("3.65"),
            i0_percent=D(1),
            uk_percent=D(4),
            method=LossMethod.SIMPLIFIED,
        )
        tenth = LossPolicy(effective_from=date(1996, 10, 8), loss_step=D("0.1"))
        assert loss(t, policy=tenth).kwh == D("3045.6")
        assert loss(t).kwh == D(3046)
        # reactive by the formula's reactive part (simplified_reactive: formula): 4054
        assert loss(t).kvarh == D(4054)

    def test_light_load_takes_two_percent(self) -> None:
        # 40 % threshold: 0.40 x 720 x 315 x 0.8 = 72 576 kWh; 72 576 is not above it -> 2 %
        # ΔA = 345.6 + 0.02 x 72576 = 345.6 + 1451.52 = 1797.12 -> 1797
        t = TransformerParams(
            capacity_kva=D(315),
            p0_kw=D("0.48"),
            pk_kw=D("3.65"),
            i0_percent=D(1),
            uk_percent=D(4),
            method=LossMethod.SIMPLIFIED,
        )
        none = LossPolicy(effective_from=date(1996, 10, 8), simplified_reactive="none")
        got = compute_loss(transformer=t, kwh=D(72576), kvarh=D(0), run_hours=T, policy=none)
        assert got == Loss(D(1797), D(0))


class TestTableAndFixed:
    TABLE = (
        LossTableRow(D(315), TableBasis.KWH, D(0), D(50000), D(900), D(3000)),
        LossTableRow(D(315), TableBasis.KWH, D(50000), None, D(1200), D(4200)),
        LossTableRow(D(315), TableBasis.KWH, D(50000), None, D(1100), D(4000), shift="2"),
        LossTableRow(D(315), TableBasis.LOAD_RATIO, D("0.3"), D("0.5"), D(800), D(2900), shift="ratio"),
    )

    def table_t(self, shift: str = "") -> TransformerParams:
        return TransformerParams(
            capacity_kva=D(315),
            p0_kw=D(0),
            pk_kw=D(0),
            i0_percent=D(0),
            uk_percent=D(0),
            method=LossMethod.TABLE,
            shift=shift,
        )

    def test_kwh_band_row(self) -> None:
        assert loss(self.table_t(), table=self.TABLE) == Loss(D(1200), D(4200))

    def test_shift_row_beats_the_any_shift_row(self) -> None:
        assert loss(self.table_t("2"), table=self.TABLE) == Loss(D(1100), D(4000))

    def test_load_ratio_row(self) -> None:
        # load ratio = 90000 / (315 x 720) = 0.397 in [0.3, 0.5); the kWh-band rows also match shift "" only
        row = table_row(table=self.TABLE[3:], capacity_kva=D(315), shift="ratio", kwh=D(90000), run_hours=T)
        assert row.kwh == D(800)

    def test_part_month_prorates_by_run_hours(self) -> None:
        # 20 days in service: 1200 x 480 / 720 = 800; 4200 x 480 / 720 = 2800
        got = compute_loss(
            transformer=self.table_t(),
            kwh=D(90000),
            kvarh=KVARH,
            run_hours=D(480),
            policy=POLICY,
            table=self.TABLE,
        )
        assert got == Loss(D(800), D(2800))

    def test_missing_row_is_a_clear_error(self) -> None:
        with pytest.raises(LossError, match="no loss-table row for 400 kVA"):
            table_row(table=self.TABLE, capacity_kva=D(400), shift="", kwh=D(1), run_hours=T)

    def test_fixed_agreed_loss(self) -> None:
        t = TransformerParams(
            capacity_kva=D(315),
            p0_kw=D(0),
            pk_kw=D(0),
            i0_percent=D(0),
            uk_percent=D(0),
            method=LossMethod.FIXED,
            fixed_kwh=D(500),
            fixed_kvarh=D(1500),
        )
        assert loss(t) == Loss(D(500), D(1500))
        # sealed on day 11 of 30 (sealing day excluded: 10 days = 240 h): 500 x 240 / 720 = 166.67 -> 167
        part = compute_loss(transformer=t, kwh=D(1), kvarh=None, run_hours=D(240), policy=POLICY)
        assert part == Loss(D(167), D(500))

    def test_method_none(self) -> None:
        t = TransformerParams(
            capacity_kva=D(315),
            p0_kw=D(1),
            pk_kw=D(1),
            i0_percent=D(1),
            uk_percent=D(1),
            method=LossMethod.NONE,
        )
        assert loss(t) == Loss(D(0), D(0))


class TestTouSplit:
    def test_pro_rata_remainder_to_flat_288_335_240(self) -> None:
        # 峰 863 x 30000 / 90000 = 287.67 -> 288; 谷 863 x 25000 / 90000 = 239.72 -> 240; 平 863 - 288 - 240 = 335
        assert split_by_period(loss_kwh=D(863), kwh_by_period=METERED, period_keys=KEYS, policy=POLICY) == (
            D(288),
            D(335),
            D(240),
        )

    def test_all_to_flat(self) -> None:
        p = LossPolicy(effective_from=date(1996, 10, 8), tou_split=SplitStrategy.ALL_TO_FLAT)
        assert split_by_period(loss_kwh=D(863), kwh_by_period=METERED, period_keys=KEYS, policy=p) == (
            D(0),
            D(863),
            D(0),
        )

    def test_no_flat_period_gives_the_rest_to_the_last(self) -> None:
        # 863 x 30000 / 55000 = 470.73 -> 471; valley 863 - 471 = 392
        got = split_by_period(
            loss_kwh=D(863), kwh_by_period=(D(30000), D(25000)), period_keys=("peak", "valley"), policy=POLICY
        )
        assert got == (D(471), D(392))

    def test_no_metered_kwh_all_to_flat(self) -> None:
        got = split_by_period(loss_kwh=D(346), kwh_by_period=(D(0),) * 3, period_keys=KEYS, policy=POLICY)
        assert got == (D(0), D(346), D(0))

    def test_share_over_service_points_adds_up(self) -> None:
        # 863 over 60000 / 30000 kWh, rest to the first: second 863 x 30000 / 90000 = 287.67 -> 288, first 575
        assert share(amount=D(863), weights=(D(60000), D(30000)), rest_to=0, step=D(1)) == (D(575), D(288))


class TestApplyLoss:
    def det(self, kvarh: D | None = KVARH) -> Determinants:
        return Determinants(start=date(2026, 4, 1), end=date(2026, 5, 1), kwh_by_period=METERED, kvarh=kvarh)

    def test_billed_quantities_and_the_pf_bracket(self) -> None:
        # billed: 峰 30 288, 平 35 335, 谷 25 240 = 90 863 kWh; kvarh 45 000 + 4 054 = 49 054
        out, parts = apply_loss(det=self.det(), period_keys=KEYS, loss=Loss(D(863), D(4054)), policy=POLICY)
        assert out.kwh_by_period == (D(30288), D(35335), D(25240))
        assert out.kvarh == D(49054)
        assert parts == (D(288), D(335), D(240))
        # PF without loss 90000 / √(90000² + 45000²) = 0.894 -> 0.89; with loss 90863 / √(90863² + 49054²)
        # = 0.880 -> 0.88
        assert power_factor(kwh=D(90000), kvarh=KVARH) == D("0.89")
        assert power_factor(kwh=out.kwh, kvarh=out.kvarh) == D("0.88")

    def test_loss_kept_out_of_pf_when_configured(self) -> None:
        p = LossPolicy(effective_from=date(1996, 10, 8), loss_in_pf=False)
        out, _ = apply_loss(det=self.det(), period_keys=KEYS, loss=Loss(D(863), D(4054)), policy=p)
        assert out.kvarh == KVARH and out.pf_kwh == D(90000) and out.kwh == D(90863)

    def test_point_not_assessed_for_pf_gets_no_kvarh(self) -> None:
        out, _ = apply_loss(det=self.det(None), period_keys=KEYS, loss=Loss(D(863), D(4054)), policy=POLICY)
        assert out.kvarh is None


class TestPolicy:
    def test_version_in_force(self) -> None:
        a = LossPolicy(effective_from=date(1996, 10, 8))
        b = LossPolicy(effective_from=date(2024, 6, 1), tou_split=SplitStrategy.ALL_TO_FLAT)
        assert policy_on((a, b), date(2024, 5, 31)) is a
        assert policy_on((a, b), date(2024, 6, 1)) is b
        with pytest.raises(LossError, match="no transformer-loss policy in force on 1990-01-01"):
            policy_on((a, b), date(1990, 1, 1))

    def test_bad_settings_refused(self) -> None:
        with pytest.raises(LossError):
            LossPolicy(effective_from=date(2000, 1, 1), assumed_cos_phi=D("1.2"))
        with pytest.raises(LossError):
            TransformerParams(capacity_kva=D(0), p0_kw=D(1), pk_kw=D(1), i0_percent=D(1), uk_percent=D(1))


# --- both rating paths rate the determinants the loss step returns ------------------------------------------------

TOU_DOC = {
    "code": "LI-TEST",
    "name": "two-part TOU with PF",
    "effective_from": "2024-01-01",
    "customer_class": "industrial",
    "currency": "CNY",
    "rounding": "per_line",
    "energy": {
        "base_tiers": [{"rate": "0.5800"}],
        "periods": [
            {"key": "peak", "name": "峰", "multiplier": "1.85"},
            {"key": "flat", "name": "平", "multiplier": "1"},
            {"key": "valley", "name": "谷", "multiplier": "0.4"},
        ],
        "schedule": {"weekday": [2] * 8 + [0] * 4 + [1] * 12, "weekend": [2] * 8 + [1] * 16},
    },
    "basic": {"method": "capacity", "rate": 20},
    "power_factor": {"standard": "0.90", "base": ["basic", "energy"]},
    "funds": [{"code": "renewable", "name": "可再生能源电价附加", "rate": "0.019"}],
}


class TestBothPathsAgreeWithLoss:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        kwh=st.tuples(*(st.integers(0, 200_000) for _ in range(3))),
        kvarh=st.one_of(st.none(), st.integers(0, 150_000)),
        method=st.sampled_from([LossMethod.FORMULA, LossMethod.SIMPLIFIED]),
        hours=st.sampled_from([D(720), D(480), D(24), D("743.5")]),
        split=st.sampled_from(list(SplitStrategy)),
        in_pf=st.booleans(),
    )
    def test_vector_equals_exact(
        self,
        pf_table: PfTable,
        kwh: tuple[int, int, int],
        kvarh: int | None,
        method: LossMethod,
        hours: D,
        split: SplitStrategy,
        in_pf: bool,
    ) -> None:
        tariff = parse_tariff(doc=TOU_DOC, pf_table=pf_table)
        policy = LossPolicy(effective_from=date(2000, 1, 1), tou_split=split, loss_in_pf=in_pf)
        t = TransformerParams(
            capacity_kva=D(315),
            p0_kw=D("0.48"),
            pk_kw=D("3.65"),
            i0_percent=D(1),
            uk_percent=D(4),
            method=method,
        )
        det = Determinants(
            start=date(2026, 4, 1),
            end=date(2026, 5, 1),
            kwh_by_period=tuple(D(k) for k in kwh),
            kvarh=None if kvarh is None else D(kvarh),
            capacity_kva=D(315),
        )
        lo = compute_loss(transformer=t, kwh=det.kwh, kvarh=det.kvarh, run_hours=hours, policy=policy)
        out, parts = apply_loss(det=det, period_keys=KEYS, loss=lo, policy=policy)
        assert sum(parts, D(0)) == lo.kwh
        assert out.kwh == det.kwh + lo.kwh
        bill = rate(tariff=tariff, det=out)
        res = rate_columns(tariff=tariff, cols=columns_from_determinants([out]))
        assert res.lines(0) == tuple((ln.code, ln.amount) for ln in bill.lines)
        assert res.total(0) == bill.total
