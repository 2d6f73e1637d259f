"""The price basis of a back-billing, read from the account's tariff (目录电价 as data input, never typed twice).

billing-rules-2.md §5.4: "窃电电费按照窃电量乘以当时电价(行政管理部门核定的目录电价)计算". The account's tariff in
force on the day of the finding gives the clerk: each period's first-tier energy price (元/kWh), the basic
charge rate of a two-part tariff (元/kVA or kW·month) and the customer class. The page shows them next to the
compute form and pre-fills ``residential`` / ``two_part``; the price typed into the facts stays the clerk's
(a TOU or tiered tariff has no single price, and 改类 needs the price of the *other* use).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from wattdesk.application.tariffs.reference_data import load_pf_table
from wattdesk.core.tariff import TariffError, parse_tariff
from wattdesk.domain.customers.models import Account
from wattdesk.domain.tariffs.queries import assignment_on, version_in_force


@dataclass(frozen=True)
class TariffBasis:
    code: str
    name: str
    customer_class: str
    energy_prices: tuple[tuple[str, Decimal], ...]  # (period name, first-tier price)
    basic_rate: Decimal | None  # two-part tariff: 元 per kVA / kW per month
    basic_method: str | None

    @property
    def residential(self) -> bool:
        return self.customer_class == "residential"

    @property
    def two_part(self) -> bool:
        return self.basic_rate is not None


def tariff_basis(*, account: Account, on: date) -> TariffBasis | None:
    """The basis from the tariff of the account's first service point on ``on``; None without one."""
    sp = account.service_points.order_by("number").first()
    if sp is None:
        return None
    assignment = assignment_on(service_point_id=sp.pk, on=on)
    version = version_in_force(code=assignment.tariff_code, on=on) if assignment else None
    if version is None:
        return None
    try:
        tariff = parse_tariff(doc=version.document, pf_table=load_pf_table())
    except TariffError:
        return None
    return TariffBasis(
        code=tariff.code,
        name=tariff.name,
        customer_class=tariff.customer_class,
        energy_prices=tuple((p.name, p.tiers[0].rate) for p in tariff.energy.periods if p.tiers),
        basic_rate=tariff.basic.rate if tariff.basic else None,
        basic_method=tariff.basic.method if tariff.basic else None,
    )
