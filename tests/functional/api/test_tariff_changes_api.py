"""POST /api/tariffs/changes: bulk tariff-assignment changes (批量调整电价) through the API, the same use case as
`wattdesk accounts tariff-changes` (application.tariffs.reassign): tariffs.edit only, validated whole, 422 with
every bad item (index, field, reason), one audit entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from auditlog.models import LogEntry
from django.test import Client

from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion

URL = "/api/tariffs/changes"


def an_account_and_another_tariff() -> tuple[str, str, str]:
    ta = (
        TariffAssignment.objects.filter(effective_to__isnull=True)
        .select_related("service_point__account")
        .first()
    )
    assert ta is not None
    other = TariffVersion.objects.exclude(code=ta.tariff_code).values_list("code", flat=True).first()
    assert other is not None
    return ta.service_point.account.number, ta.tariff_code, other


class TestTariffChangesApi:
    def test_moves_an_account_from_a_date_and_audits_it(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        number, old, new = an_account_and_another_tariff()
        last_end = max(
            b.end for b in Bill.objects.filter(account__number=number).exclude(status=BillStatus.CANCELLED)
        )
        eff = date(last_end.year + 1, 1, 1)
        response = api_for("admin").post(
            URL,
            [{"account_number": number, "tariff_code": new, "effective_from": eff.isoformat()}],
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        points = TariffAssignment.objects.filter(service_point__account__number=number, effective_from=eff)
        assert response.json() == {"changed": points.count(), "unchanged": 0}
        assert set(points.values_list("tariff_code", flat=True)) == {new}
        assert TariffAssignment.objects.filter(
            service_point__account__number=number, tariff_code=old, effective_to=eff
        ).exists()
        entry = LogEntry.objects.filter(object_repr__startswith="tariff changes API").latest("timestamp")
        assert entry.actor is not None and entry.actor.username == company.logins["admin"].username
        # the same item again changes nothing
        again = api_for("admin").post(
            URL,
            [{"account_number": number, "tariff_code": new, "effective_from": eff.isoformat()}],
            content_type="application/json",
        )
        assert again.status_code == 201 and again.json()["changed"] == 0

    def test_bad_items_are_all_listed_and_nothing_is_written(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        number, _old, new = an_account_and_another_tariff()
        before = TariffAssignment.objects.count()
        response = api_for("admin").post(
            URL,
            [
                {"account_number": number, "tariff_code": new, "effective_from": "2099-01-01"},
                {"account_number": number, "tariff_code": "NOPE", "effective_from": "2099-13-01"},
                {"account_number": "X-NONE", "tariff_code": new, "effective_from": "2099-01-01"},
            ],
            content_type="application/json",
        )
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert {"index": 2, "field": "account_number", "reason": "unknown account 'X-NONE'"} in errors
        response = api_for("admin").post(
            URL,
            [
                {"account_number": number, "tariff_code": new, "effective_from": "2099-01-01"},
                {"account_number": number, "tariff_code": "NOPE", "effective_from": "2099-13-01"},
            ],
            content_type="application/json",
        )
        assert response.status_code == 422
        assert sorted((e["index"], e["field"]) for e in response.json()["errors"]) == [
            (1, "account_number"),  # the same service points again
            (1, "effective_from"),
            (1, "tariff_code"),
        ]
        assert TariffAssignment.objects.count() == before

    def test_needs_tariffs_edit(self, company: Any, api_for: Callable[[str], Client]) -> None:
        number, _old, new = an_account_and_another_tariff()
        response = api_for("billing_clerk").post(
            URL,
            [{"account_number": number, "tariff_code": new, "effective_from": "2099-01-01"}],
            content_type="application/json",
        )
        assert response.status_code == 403
