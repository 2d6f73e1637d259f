"""Back office: the tariff catalog (电价目录): versions, and each version's structure in human terms.

The detail page parses the stored document with ``reference_data.parse_tariff_document`` (the same parser
billing uses, so what is shown is what is rated) and lays it out: TOU periods and their 12 x 24 hour grid per
day type, tiers with thresholds and prices, basic charge, power-factor standard, funds, fixed and minimum
charges, and the raw document.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from wattdesk.application.errors import InputError
from wattdesk.application.tariffs import catalog as tariff_catalog
from wattdesk.application.tariffs.reference_data import parse_tariff_document
from wattdesk.core.tariff import Period, Schedule, Tariff
from wattdesk.domain.access import roles
from wattdesk.domain.tariffs.models import TariffVersion
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=80,
        label=_("电价目录"),
        url_name="web:tariff_list",
        capability=roles.TARIFFS_VIEW,
        icon="currency-yuan",
    )
)

# One colour per TOU period index (尖峰, 峰, 平, 谷, 深谷 in the usual order), then neutral shades: CSS classes
# period-0 … period-7 in static/web/app.css (the Content-Security-Policy allows no inline styles).
PERIOD_CLASSES = 8
DAY_TYPES = (_("工作日"), _("周末"), _("节假日"))
BASIS_UNITS = {"monthly": _("kWh/月"), "annual": _("kWh/年"), "kwh_per_kw": _("kWh/kW")}


@dataclass(frozen=True)
class TierRow:
    lower: Decimal
    upto: Decimal | None
    rate: Decimal


@dataclass(frozen=True)
class PeriodView:
    index: int
    key: str
    name: str
    css_class: str
    tiers: tuple[TierRow, ...]


@dataclass(frozen=True)
class GridRow:
    month: int
    cells: tuple[int, ...]  # period index per hour 0..23 (per half-hour 0..47 with :30 boundaries)
    hours: tuple[tuple[str, Decimal], ...]  # (period name, hours) for this month / day type


@dataclass(frozen=True)
class Grid:
    day_type: Any
    rows: tuple[GridRow, ...]
    span: int = 1  # cells per hour column: 2 for a half-hour schedule


def _tiers(tiers: Any) -> tuple[TierRow, ...]:
    out: list[TierRow] = []
    lower = Decimal(0)
    for t in tiers:
        out.append(TierRow(lower=lower, upto=t.upto, rate=t.rate))
        if t.upto is not None:
            lower = t.upto
    return tuple(out)


def _periods(periods: tuple[Period, ...]) -> tuple[PeriodView, ...]:
    return tuple(
        PeriodView(
            index=i,
            key=p.key,
            name=p.name,
            css_class=f"period-{i % PERIOD_CLASSES}",
            tiers=_tiers(p.tiers),
        )
        for i, p in enumerate(periods)
    )


def _grids(schedule: Schedule, periods: tuple[Period, ...]) -> tuple[Grid, ...]:
    grids = []
    per_hour = Decimal(schedule.slots_per_hour)
    for day_type, months in enumerate(schedule.table):
        rows = []
        for m, hours in enumerate(months):
            counts = Counter(hours)
            rows.append(
                GridRow(
                    month=m + 1,
                    cells=tuple(hours),
                    hours=tuple(
                        (periods[i].name, Decimal(counts[i]) / per_hour)
                        for i in sorted(counts)
                        if i < len(periods)
                    ),
                )
            )
        grids.append(
            Grid(
                day_type=DAY_TYPES[day_type] if day_type < len(DAY_TYPES) else day_type,
                rows=tuple(rows),
                span=schedule.slots_per_hour,
            )
        )
    return tuple(grids)


def tariff_structure(tariff: Tariff) -> dict[str, Any]:
    """The parsed tariff laid out for the template (presentation only: no rating)."""
    energy_periods = _periods(tariff.energy.periods)
    demand = None
    if tariff.tou_demand is not None:
        demand = {
            "periods": _periods(tariff.tou_demand.periods),
            "grids": _grids(tariff.tou_demand.schedule, tariff.tou_demand.periods),
        }
    flat_demand = None
    if tariff.flat_demand is not None:
        fd = tariff.flat_demand
        flat_demand = [{"month": m + 1, "tiers": _tiers(fd.structures[s])} for m, s in enumerate(fd.months)]
    return {
        "t": tariff,
        "energy_periods": energy_periods,
        "tou": len(energy_periods) > 1,
        "energy_grids": _grids(tariff.energy.schedule, tariff.energy.periods)
        if len(energy_periods) > 1
        else (),
        "basis_unit": BASIS_UNITS.get(tariff.energy.tier_basis, tariff.energy.tier_basis),
        "tou_demand": demand,
        "flat_demand": flat_demand,
        "hours": range(24),
    }


@capability_required(roles.TARIFFS_VIEW)
def tariff_list(request: HttpRequest) -> HttpResponse:
    return render(request, "web/tariffs/list.html", {"versions": tariff_catalog.catalog()})


@capability_required(roles.TARIFFS_VIEW)
def tariff_detail(request: HttpRequest, code: str, effective_from: str) -> HttpResponse:
    try:
        start = date.fromisoformat(effective_from)
    except ValueError:
        raise Http404 from None
    version = get_object_or_404(TariffVersion, code=code, effective_from=start)
    context: dict[str, Any] = {
        "v": version,
        "raw": json.dumps(version.document, ensure_ascii=False, indent=2, sort_keys=True),
    }
    try:
        doc = parse_tariff_document(doc=version.document, name=f"{version.code} {version.effective_from}")
    except InputError as exc:
        context["error"] = str(exc)
    else:
        context["kind"] = doc.kind
        context.update(tariff_structure(doc.tariff))
    return render(request, "web/tariffs/detail.html", context)
