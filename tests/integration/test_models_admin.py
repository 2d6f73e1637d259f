"""The admin renders every master-data screen, and keeps the ledger and final bills read-only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from wattdesk.domain.billing.models import Bill
from wattdesk.domain.ledger.operations import post_entry

pytestmark = pytest.mark.django_db

OWN_APPS = ("customers", "tariffs", "billing", "ledger")


def _own_models() -> list[Any]:
    return [model for model in admin.site._registry if model._meta.app_label in OWN_APPS]


def _bill(account: Any, status: str) -> Bill:
    return Bill.objects.create(
        account=account,
        period="2024-03",
        status=status,
        start=date(2024, 3, 1),
        end=date(2024, 4, 1),
        kwh=Decimal("100"),
        total=Decimal("55.80"),
    )


class TestAdminScreens:
    def test_every_model_of_the_domain_apps_is_registered(self) -> None:
        names = {f"{m._meta.app_label}.{m.__name__}" for m in _own_models()}
        assert names == {
            "customers.Region",
            "customers.ReadingRoute",
            "customers.TransformerArea",
            "customers.Customer",
            "customers.Account",
            "customers.ServicePoint",
            "customers.HouseholdQuotaPolicy",
            "tariffs.TariffVersion",
            "tariffs.TariffAssignment",
            "tariffs.SubUseAgreement",
            "billing.BillingRun",
            "billing.Bill",
            "ledger.LedgerEntry",
        }

    def test_every_changelist_renders_with_search_and_data(self, admin_client: Client, account: Any) -> None:
        _bill(account, "issued")
        for model in _own_models():
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            response = admin_client.get(url, {"q": "A0"})
            assert response.status_code == 200, url

    def test_account_page_shows_its_service_points_inline(self, admin_client: Client, account: Any) -> None:
        response = admin_client.get(reverse("admin:customers_account_change", args=[account.pk]))
        assert response.status_code == 200
        assert "SP000001" in response.content.decode()


class TestReadOnlyScreens:
    def test_an_issued_bill_cannot_be_changed_through_the_admin(
        self, admin_client: Client, account: Any
    ) -> None:
        bill = _bill(account, "issued")
        url = reverse("admin:billing_bill_change", args=[bill.pk])
        assert admin_client.get(url).status_code == 200  # viewable
        response = admin_client.post(url, {"status": "draft"})
        assert response.status_code == 403
        bill.refresh_from_db()
        assert bill.status == "issued"

    def test_a_draft_bill_is_editable(self, admin_client: Client, account: Any) -> None:
        bill = _bill(account, "draft")
        response = admin_client.get(reverse("admin:billing_bill_change", args=[bill.pk]))
        assert 'name="_save"' in response.content.decode()

    def test_ledger_entries_cannot_be_added_changed_or_deleted(
        self, admin_client: Client, account: Any, posted_at: Any
    ) -> None:
        entry = post_entry(account_id=account.pk, kind="charge", amount=Decimal("9.99"), posted_at=posted_at)
        assert admin_client.get(reverse("admin:ledger_ledgerentry_add")).status_code == 403
        assert (
            admin_client.post(reverse("admin:ledger_ledgerentry_change", args=[entry.pk]), {}).status_code
            == 403
        )
        assert (
            admin_client.post(
                reverse("admin:ledger_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}
            ).status_code
            == 403
        )
        entry.refresh_from_db()
        assert entry.amount == Decimal("9.99")
