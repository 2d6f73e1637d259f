"""Parity: a billing run started from the CLI, the web page and the API goes through one use case — the same
audit entry (action and payload; only ids, time and the acting user differ) and the same database guard (while
a run of the period is live, a second launch is refused on every interface)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sample_company import build_company
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillingRun, BillStatus
from wattdesk.interfaces.api.tokens import create_token
from wattdesk.interfaces.cli import main

pytestmark = pytest.mark.slow
PERIOD = "2026-09"  # readings, no bills yet


@pytest.fixture
def company(transactional_db: None, settings: Any) -> Any:
    return build_company(settings)  # the worker commits: a transactional test


def run_entries() -> list[LogEntry]:
    return list(LogEntry.objects.filter(additional_data__batch="billing.run").order_by("id"))


def cancel_every_bill(capsys: pytest.CaptureFixture[str]) -> int:
    """Cancel the period's live bills (through the CLI), so the next run bills the same accounts again."""
    ids = list(
        Bill.objects.filter(period=PERIOD).exclude(status=BillStatus.CANCELLED).values_list("pk", flat=True)
    )
    for pk in ids:
        assert main(["bill", "cancel", "--bill", str(pk), "--reason", "parity"]) == 0
    capsys.readouterr()
    return len(ids)


def refused_everywhere(
    live: BillingRun, page: Client, api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second launch of the period while ``live`` is queued: refused by the CLI, the page and the API."""
    capsys.readouterr()
    assert main(["bill", "run", "--period", PERIOD, "--no-progress"]) == 2
    assert f"billing run {live.pk} for {PERIOD} is already pending" in capsys.readouterr().err
    r = page.post("/billing/runs/launch/", {"period": PERIOD}, follow=True)
    assert f"已有核算批次 #{live.pk} 未结束" in r.content.decode()
    r = api.post("/api/billing-runs", {"period": PERIOD}, content_type="application/json")
    assert r.status_code == 409 and r.json()["run_id"] == live.pk
    assert BillingRun.objects.filter(period=PERIOD, status__in=("pending", "running")).count() == 1


def test_cli_page_and_api_runs_write_the_same_audit_entry_and_respect_the_same_guard(
    company: Any, client_for: Callable[[str], Client], capsys: pytest.CaptureFixture[str]
) -> None:
    clerk = company.logins[roles.BILLING_CLERK].username
    page = client_for(roles.BILLING_CLERK)
    user = get_user_model().objects.get(username=clerk)
    token = create_token(username=clerk, name="parity", created_at=timezone.now()).secret
    api = Client(headers={"Authorization": f"Bearer {token}"})

    # CLI: launched and executed in its own process, acting as the same clerk
    assert main(["bill", "run", "--period", PERIOD, "--no-progress", "--user", clerk]) == 0
    billed = cancel_every_bill(capsys)
    assert billed > 100

    # web page: launched, queued, refused on every interface while live, run by the worker
    page.post("/billing/runs/launch/", {"period": PERIOD})
    live = BillingRun.objects.get(period=PERIOD, status="pending")
    refused_everywhere(live, page, api, capsys)
    assert main(["worker", "--batch", "--interval", "0"]) == 0
    assert cancel_every_bill(capsys) == billed

    # API: the same
    r = api.post("/api/billing-runs", {"period": PERIOD}, content_type="application/json")
    assert r.status_code == 202
    live = BillingRun.objects.get(pk=r.json()["id"])
    refused_everywhere(live, page, api, capsys)
    assert main(["worker", "--batch", "--interval", "0"]) == 0

    assert [t.status for t in DBTaskResult.objects.order_by("enqueued_at")] == ["SUCCESSFUL", "SUCCESSFUL"]
    cli, web, rest = run_entries()
    assert cli.changes == web.changes == rest.changes
    assert set(cli.changes) == {
        "period",
        "route",
        "allow_empty",
        "status",
        "bills",
        "held",
        "skipped",
        "total",
    }
    assert cli.changes["bills"] == [None, billed] and cli.changes["status"] == ["pending", "finished"]
    assert cli.action == web.action == rest.action
    runs = list(BillingRun.objects.filter(period=PERIOD).order_by("id"))
    assert [e.object_pk for e in (cli, web, rest)] == [str(r.pk) for r in runs]
    assert [e.object_repr for e in (cli, web, rest)] == [f"billing run {r.pk} {PERIOD}" for r in runs]
    assert cli.actor == web.actor == rest.actor == user
