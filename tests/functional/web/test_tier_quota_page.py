"""The tier-quota page of an account (/customers/<number>/tier-quotas/): the list for customers.view, the
grant form for billing.review, a refusal shown with its reason, and the link from the customer page."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account, HouseholdQuotaPolicy, TierQuotaGrant


@pytest.fixture
def household(company: Any) -> Account:
    """A residential account the meter reader sees too (so both roles below look at the same one)."""
    seed = importlib.import_module("wattdesk.domain.customers.migrations.0005_household_quota_policies")
    for row in seed.POLICIES:
        HouseholdQuotaPolicy.objects.get_or_create(
            code=row["code"], effective_from=row["effective_from"], defaults=row
        )
    reader = get_user_model().objects.get(username=company.logins[roles.METER_READER].username)
    account = accounts_for(reader).filter(customer__customer_class="residential").order_by("number").first()
    assert account is not None
    return account


def url(account: Account, *rest: str) -> str:
    return f"/customers/{account.number}/tier-quotas/" + "".join(rest)


class TestTierQuotaPage:
    def test_a_clerk_grants_a_quota_from_the_form(
        self, household: Account, client_for: Callable[[str], Client]
    ) -> None:
        clerk = client_for(roles.BILLING_CLERK)
        page = clerk.get(f"/customers/{household.number}/")
        assert url(household) in page.content.decode()
        form = clerk.get(url(household))
        assert form.status_code == 200 and 'data-testid="tier-quota-form"' in form.content.decode()
        today = timezone.localdate()
        body = {
            "persons": "6",
            "applied_on": today.isoformat(),
            "policy": "default",
            "evidence": "户口簿 6人",
        }
        r = clerk.post(url(household, "grant/"), body, follow=True)
        grant = TierQuotaGrant.objects.get(account=household)
        # default policy: +100 kWh per month on every boundary, from the month after the application
        first = today.replace(day=1)
        first = first.replace(year=first.year + (first.month == 12), month=first.month % 12 + 1)
        assert (grant.persons, grant.valid_from, grant.uplift_kwh, grant.tiers) == (6, first, 100, "all")
        text = r.content.decode()
        assert "已核增阶梯电量基数" in text and "户口簿 6人" in text
        assert LogEntry.objects.filter(additional_data__batch="customers.tier_quota.grant").count() == 1

    def test_a_refusal_is_shown_with_its_reason(
        self, household: Account, client_for: Callable[[str], Client]
    ) -> None:
        body = {"persons": "3", "applied_on": timezone.localdate().isoformat(), "evidence": "户口簿"}
        r = client_for(roles.BILLING_CLERK).post(url(household, "grant/"), body, follow=True)
        assert "3 人不符合政策 default 的条件（至少 5 人）。" in r.content.decode()  # the page's language
        r = client_for(roles.BILLING_CLERK).post(url(household, "grant/"), {"persons": "x"}, follow=True)
        assert "人口数和申请日期必须填写正确" in r.content.decode()
        assert not TierQuotaGrant.objects.exists()

    def test_a_meter_reader_sees_the_list_but_may_not_grant(
        self, household: Account, client_for: Callable[[str], Client]
    ) -> None:
        reader = client_for(roles.METER_READER)
        page = reader.get(url(household))
        assert page.status_code == 200 and "tier-quota-form" not in page.content.decode()
        body = {"persons": "6", "applied_on": timezone.localdate().isoformat(), "evidence": "户口簿"}
        assert reader.post(url(household, "grant/"), body).status_code == 403
        assert not TierQuotaGrant.objects.exists()
