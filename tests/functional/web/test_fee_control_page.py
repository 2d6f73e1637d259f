"""The 智能费控 page: reachable with collection.view, shows states and the command queue."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.django_db
class TestFeeControlPage:
    def test_billing_clerk_sees_the_page(self, company: Any, client_for: Any) -> None:
        resp = client_for("billing_clerk").get("/fee-control/")
        assert resp.status_code == 200
        assert "智能费控" in resp.content.decode()

    def test_meter_reader_is_refused(self, company: Any, client_for: Any) -> None:
        assert client_for("meter_reader").get("/fee-control/").status_code == 403
