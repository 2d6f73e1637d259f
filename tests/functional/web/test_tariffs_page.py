"""Tariff catalog: the list of versions and a version's structure in human terms."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.test import Client

from wattdesk.application.tariffs.catalog import import_tariff_files
from wattdesk.application.tariffs.reference_data import example_tariff_paths
from wattdesk.domain.tariffs.models import TariffVersion


def _version(code: str, file_name: str) -> TariffVersion:
    """The catalog version of ``code``, importing the example file if the synthetic company does not use it."""
    if not TariffVersion.objects.filter(code=code).exists():
        import_tariff_files(paths=[p for p in example_tariff_paths() if p.name == file_name])
    v = TariffVersion.objects.filter(code=code).order_by("-effective_from").first()
    assert v is not None
    return v


def _tier_rows(html: str, key: str) -> list[list[str]]:
    table = re.search(rf'<table class="tiers" data-testid="tiers-{key}">(.*?)</table>', html, re.S)
    assert table, f"no tier table for {key}"
    body = table.group(1).split("<tbody>")[1]
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


class TestTariffCatalog:
    def test_lists_every_version(self, company: Any, client_for: Callable[[str], Client]) -> None:
        response = client_for("analyst").get("/tariffs/")
        assert response.status_code == 200
        html = response.content.decode()
        versions = TariffVersion.objects.all()
        assert versions.count() >= 5
        for v in versions:
            assert f'href="/tariffs/{v.code}/{v.effective_from:%Y-%m-%d}/"' in html
            assert v.name in html

    def test_detail_shows_the_tiers_of_bj_res_tier(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        v = _version("BJ-RES-TIER", "beijing-residential-monthly.yaml")
        response = client_for("cs_agent").get(f"/tariffs/{v.code}/{v.effective_from:%Y-%m-%d}/")
        assert response.status_code == 200
        html = response.content.decode()
        assert _tier_rows(html, "flat") == [
            ["1", "0", "240", "0.4883"],
            ["2", "240", "400", "0.5383"],
            ["3", "400", "以上", "0.7883"],
        ]
        assert [t.rate for t in response.context["energy_periods"][0].tiers] == [
            Decimal("0.4883"),
            Decimal("0.5383"),
            Decimal("0.7883"),
        ]
        assert 'data-testid="heat-grid"' not in html  # a single period: no TOU grid
        assert 'data-testid="raw"' in html and "BJ-RES-TIER" in html

    def test_tou_tariff_has_a_12x24_grid_per_day_type(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        v = _version("CI-TOU5", "ci-tou-5period.yaml")
        response = client_for("billing_clerk").get(f"/tariffs/{v.code}/{v.effective_from:%Y-%m-%d}/")
        html = response.content.decode()
        grids = response.context["energy_grids"]
        assert len(grids) == 3 and all(
            len(g.rows) == 12 and all(len(r.cells) == 24 for r in g.rows) for g in grids
        )
        assert html.count('data-testid="heat-grid"') == 3
        # January weekday (from the YAML): 尖峰 4 h (9, 10, 15, 16), 高峰 3 h, 平 5 h, 低谷 10 h, 深谷 2 h.
        jan = dict(grids[0].rows[0].hours)
        assert jan == {"尖峰": 4, "高峰": 3, "平段": 5, "低谷": 10, "深谷": 2}
        assert "尖峰 4h" in html
        # Funds and the power-factor standard come from the parsed document.
        assert "可再生能源电价附加" in html and "0.019" in html
        assert 'data-testid="pf">' in html and "0.85" in html

    def test_unknown_version_is_404_and_needs_tariffs_view(
        self, company: Any, client_for: Callable[[str], Client]
    ) -> None:
        client = client_for("billing_clerk")
        assert client.get("/tariffs/BJ-RES-TIER/1999-01-01/").status_code == 404
        assert client.get("/tariffs/BJ-RES-TIER/not-a-date/").status_code == 404
        assert client_for("meter_reader").get("/tariffs/").status_code == 403
