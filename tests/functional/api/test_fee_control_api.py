"""/api/fee-control: an account's daily states and meter commands, and the operators' command queue, within the
caller's scope (a customer sees their own account's states, never its commands nor another account)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from api_helpers import user_of
from django.test import Client

from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account
from wattdesk.domain.fee_control.models import FeeControlState, MeterCommand
from wattdesk.domain.metering.models import Meter

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 26, 10, tzinfo=SH)


def seed(account: Account, serial: str) -> Meter:
    meter = Meter.objects.create(serial=serial, multiplier=Decimal(1), digits=6)
    for i, (balance, decision) in enumerate(((Decimal("12.50"), "warn"), (Decimal("-3.20"), "disconnect"))):
        FeeControlState.objects.create(
            account=account,
            day=date(2026, 11, 25) + timedelta(days=i),
            ledger_balance=Decimal("10.00"),
            estimated_charge=Decimal("5.00"),
            kwh_since=Decimal("9.8765"),
            measured=True,
            estimated_balance=balance,
            days_left=Decimal("1.5") if decision == "warn" else None,
            decision=decision,
            reason="low_days" if decision == "warn" else "balance_exhausted",
            computed_at=T0 + timedelta(days=i),
        )
    common = {"meter": meter, "account": account, "requested_at": T0}
    MeterCommand.objects.create(
        kind="disconnect",
        idem_key=f"{account.number}-disconnect-2026-11-25",
        status="acknowledged",
        attempts=3,
        ack_id="ACK-000001",
        acknowledged_at=T0 + timedelta(seconds=2),
        next_attempt_at=T0,
        **common,
    )
    MeterCommand.objects.create(
        kind="restore",
        idem_key=f"{account.number}-restore-p7",
        status="failed",
        attempts=4,
        last_error="head-end HTTP 503: busy",
        next_attempt_at=T0 + timedelta(minutes=5),
        **common,
    )
    return meter


class TestFeeControlApi:
    def test_states_commands_and_queue_in_scope(self, company: Any, api_for: Callable[[str], Client]) -> None:
        own = accounts_for(user_of(company, "customer")).order_by("number").first()
        other = Account.objects.exclude(pk=own.pk).order_by("number").first()
        seed(own, "M-FC-1")
        seed(other, "M-FC-2")
        staff = api_for("collector")

        r = staff.get(f"/api/fee-control/accounts/{own.number}/states")
        assert r.status_code == 200, r.content
        body = r.json()
        assert body["count"] == 2
        first = body["items"][0]
        assert (first["day"], first["estimated_balance"], first["decision"], first["days_left"]) == (
            "2026-11-26",
            "-3.20",
            "disconnect",
            None,
        )
        assert (first["account"], first["kwh_since"], first["measured"]) == (own.number, "9.8765", True)

        r = staff.get(f"/api/fee-control/accounts/{own.number}/commands")
        assert r.status_code == 200
        cmds = {c["kind"]: c for c in r.json()["items"]}
        assert cmds["restore"]["status"] == "failed"
        assert cmds["restore"]["attempts"] == 4
        assert cmds["restore"]["last_error"] == "head-end HTTP 503: busy"
        assert cmds["restore"]["meter"] == "M-FC-1"
        assert cmds["disconnect"]["ack_id"] == "ACK-000001"

        # the queue: open commands by default (the two failed restores), then all, then one status
        r = staff.get("/api/fee-control/commands")
        assert r.status_code == 200
        visible = set(accounts_for(user_of(company, "collector")).values_list("number", flat=True))
        expected = {f"{a.number}-restore-p7" for a in (own, other) if a.number in visible}
        assert {c["idem_key"] for c in r.json()["items"]} == expected
        assert r.json()["count"] == len(expected)
        r = staff.get("/api/fee-control/commands?status=all&page_size=500")
        assert r.json()["count"] == 2 * len(expected)
        r = staff.get("/api/fee-control/commands?status=acknowledged")
        assert {c["status"] for c in r.json()["items"]} <= {"acknowledged"}
        assert staff.get("/api/fee-control/commands?status=nonsense").status_code == 422

    def test_a_customer_sees_their_own_states_only_and_no_commands(
        self, company: Any, api_for: Callable[[str], Client]
    ) -> None:
        own = accounts_for(user_of(company, "customer")).order_by("number").first()
        other = Account.objects.exclude(pk=own.pk).order_by("number").first()
        seed(own, "M-FC-3")
        seed(other, "M-FC-4")
        client = api_for("customer")
        r = client.get(f"/api/fee-control/accounts/{own.number}/states")
        assert r.status_code == 200 and r.json()["count"] == 2
        assert client.get(f"/api/fee-control/accounts/{other.number}/states").status_code == 404
        assert client.get(f"/api/fee-control/accounts/{own.number}/commands").status_code == 403
        assert client.get("/api/fee-control/commands").status_code == 403
        assert (
            api_for("meter_reader").get(f"/api/fee-control/accounts/{own.number}/states").status_code == 403
        )
