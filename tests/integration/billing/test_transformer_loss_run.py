"""The billing run's transformer-loss step against the database (application.billing.transformer_loss): the
archive read for a batch, one transformer feeding two service points of one account, a sealed month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from wattdesk.application.billing.transformer_loss import account_loss
from wattdesk.application.customers.onboarding import import_accounts
from wattdesk.application.metering import transformers as uc
from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.application.tariffs.reference_data import load_pf_table
from wattdesk.core.rating import Determinants
from wattdesk.core.tariff import Tariff, parse_tariff
from wattdesk.domain.customers.models import ServicePoint
from wattdesk.domain.tariffs.models import TariffVersion

pytestmark = pytest.mark.db

D = Decimal
START, END = date(2026, 4, 1), date(2026, 5, 1)

TARIFF = """\
code: LOSS-FLAT
name: 单一制 (变损测试)
effective_from: 2024-01-01
customer_class: industrial
currency: CNY
energy:
  periods:
    - key: flat
      name: 平
      tiers:
        - {rate: 0.6}
"""


@pytest.fixture
def two_points(db: None, tmp_path: Path) -> list[int]:
    (tmp_path / "t.yaml").write_text(TARIFF, encoding="utf-8")
    import_tariff_files(paths=[tmp_path / "t.yaml"])
    (tmp_path / "o.csv").write_text(
        "customer_number,customer_name,customer_class,account_number,opened_on,service_point_number,address,"
        "region,capacity_kva,meter_serial,registers,tariff_code\n"
        "C1,厂,industrial,A1,2025-01-01,SP-A,路1号,R1,315,M-A,active_total;reactive,LOSS-FLAT\n"
        "C1,厂,industrial,A1,2025-01-01,SP-B,路1号,R1,315,M-B,active_total;reactive,LOSS-FLAT\n",
        encoding="utf-8",
    )
    import_accounts(path=tmp_path / "o.csv")
    uc.register_model(
        actor=None,
        data=uc.ModelInput(
            code="S11-315",
            capacity_kva=D(315),
            p0_kw=D("0.48"),
            pk_dyn11_kw=D("3.65"),
            i0_percent=D(1),
            uk_percent=D(4),
            effective_from=date(2020, 1, 1),
        ),
    )
    return list(ServicePoint.objects.order_by("id").values_list("id", flat=True))


def dets(kwh: tuple[int, int]) -> list[tuple[Tariff, Determinants]]:
    doc = TariffVersion.objects.get(code="LOSS-FLAT").document
    tariff = parse_tariff(doc=doc, pf_table=load_pf_table())
    return [(tariff, Determinants(start=START, end=END, kwh_by_period=(D(k),), kvarh=None)) for k in kwh]


class TestAccountLoss:
    def test_one_transformer_two_points_shares_the_loss_by_kwh(self, two_points: list[int]) -> None:
        uc.install_transformer(
            actor=None,
            data=uc.TransformerInput(
                number="T1",
                model_code="S11-315",
                service_points=["SP-A", "SP-B"],
                effective_from=date(2025, 1, 1),
            ),
        )
        # summed: A = 60 000 + 30 000 = 90 000 kWh, R = 30 000 + 15 000 = 45 000 kvarh -> the §1.7 loss 863 kWh
        # and 4054 kvarh; shared by kWh, the rest to the first point: SP-B 863 x 30000/90000 = 287.67 -> 288,
        # SP-A 863 - 288 = 575; kvarh SP-B 4054 x 1/3 = 1351.33 -> 1351, SP-A 2703
        out, rows = account_loss(
            start=START,
            end=END,
            sp_ids=two_points,
            dets=dets((60000, 30000)),
            metered_kvarh={two_points[0]: D(30000), two_points[1]: D(15000)},
        )
        assert [d.kwh_by_period for _t, d in out] == [(D(60575),), (D(30288),)]
        # the points are not assessed for PF (kvarh None in the determinants): no reactive line
        assert [(r[0], r[2], r[3]) for r in rows] == [
            ("loss.active", D(575), "kWh"),
            ("loss.active", D(288), "kWh"),
        ]

    def test_a_month_sealed_from_day_11_counts_ten_days(self, two_points: list[int]) -> None:
        uc.install_transformer(
            actor=None,
            data=uc.TransformerInput(
                number="T1",
                model_code="S11-315",
                service_points=["SP-A"],
                effective_from=date(2025, 1, 1),
                loss_method="fixed",
                fixed_kwh=D(720),
            ),
        )
        uc.end_transformer(actor=None, number="T1", end_on=date(2026, 4, 11))  # 加封 on 04-11, not charged
        # in service 04-01 .. 04-10 = 10 days = 240 h: 720 x 240 / 720 = 240 kWh
        out, rows = account_loss(
            start=START,
            end=END,
            sp_ids=two_points,
            dets=dets((1000, 0)),
            metered_kvarh={},
        )
        assert [d.kwh for _t, d in out] == [D(1240), D(0)]
        assert rows[0][1] == "变损电量 (T1, 240 h)"

    def test_no_transformer_no_change(self, two_points: list[int]) -> None:
        given = dets((1000, 0))
        out, rows = account_loss(start=START, end=END, sp_ids=two_points, dets=given, metered_kvarh={})
        assert out == given and rows == []
