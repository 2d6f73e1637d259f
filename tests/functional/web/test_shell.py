"""The shell: login, deny by default, scoping of the querysets every page uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for, bills_for, capabilities
from wattdesk.domain.customers.models import Account


@pytest.mark.django_db
class TestShell:
    def test_anonymous_is_sent_to_login(self) -> None:
        response = Client().get("/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")

    def test_login_and_health_are_public(self) -> None:
        assert Client().get("/login/").status_code == 200
        assert Client().get("/health/").json() == {"status": "ok"}


class TestScoping:
    def test_meter_reader_sees_only_the_accounts_on_their_routes(self, company: Any) -> None:
        user = get_user_model().objects.get(username=company.logins[roles.METER_READER].username)
        mine = accounts_for(user)
        assert 0 < mine.count() < Account.objects.count()
        routes = set(user.staff_scope.routes.values_list("id", flat=True))
        assert all(sp.route_id in routes for a in mine for sp in a.service_points.all())

    def test_customer_sees_only_their_own_accounts_and_bills(self, company: Any) -> None:
        user = get_user_model().objects.get(username=company.logins[roles.CUSTOMER].username)
        customer = user.customer_login.customer
        assert set(accounts_for(user)) == set(customer.accounts.all())
        assert all(b.account.customer_id == customer.id for b in bills_for(user))

    def test_clerk_sees_the_whole_company(self, company: Any) -> None:
        user = get_user_model().objects.get(username=company.logins[roles.BILLING_CLERK].username)
        assert accounts_for(user).count() == Account.objects.count()

    def test_capabilities_follow_the_role_table(self, company: Any) -> None:
        user = get_user_model().objects.get(username=company.logins[roles.ANALYST].username)
        assert capabilities(user) == roles.CAPABILITIES[roles.ANALYST]

    def test_logged_in_client_fixture(self, client_for: Callable[[str], Client]) -> None:
        assert client_for(roles.BILLING_CLERK).get("/health/").status_code == 200
