"""Smart fee control against the sandbox head-end (its own HTTP server on a free loopback port, 30% failures,
a small delay): disconnect retried until acknowledged, a same-day re-run adds nothing, a top-up restores,
one relay operation per command id."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from payments_helpers import FLAT_TARIFF, at, issue_bill

from wattdesk.adapters.headend.base import RelayCommand
from wattdesk.adapters.headend.http_headend import HttpHeadEnd
from wattdesk.application.fee_control.prepaid import (
    RetryPolicy,
    dispatch_commands,
    on_top_up,
    run_fee_control,
)
from wattdesk.application.payments.posting import post_payment
from wattdesk.domain.fee_control.models import FeeControlState, MeterCommand
from wattdesk.domain.metering.models import Meter, MeterInstallation
from wattdesk.domain.tariffs.models import TariffAssignment, TariffVersion
from wattdesk.sandbox.headend_server import HeadEndServer, start_in_thread

RETRY = RetryPolicy(attempts_per_dispatch=12, max_attempts=50, base_delay=0.01, max_delay=0.05)
DAY = date(2024, 5, 10)
NOW = at(2024, 5, 10, 10)


@pytest.fixture
def sandbox(tmp_path: Any) -> Iterator[HeadEndServer]:
    server, thread = start_in_thread(
        state_file=tmp_path / "headend.json", fail_rate=0.3, delay=0.005, max_delay=0.03, seed=7
    )
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def prepaid(make_account: Any) -> Any:
    account = make_account(prepaid=True)
    TariffVersion.objects.create(
        code="T-FLAT", version="1", effective_from=date(2024, 1, 1), name="flat", document=FLAT_TARIFF
    )
    sp = account.service_points.get()
    TariffAssignment.objects.create(service_point=sp, tariff_code="T-FLAT", effective_from=date(2024, 1, 1))
    meter = Meter.objects.create(serial="M-PRE-1", multiplier=D(1), digits=6)
    MeterInstallation.objects.create(meter=meter, service_point=sp, installed_on=date(2024, 1, 1))
    # the April bill: 100 kWh over 30 days, 52.00 owed and unpaid -> the balance is exhausted
    issue_bill(account, "2024-04", "52.00", date(2024, 5, 20))
    return account


class TestFeeControlAgainstTheSandbox:
    def test_disconnect_retry_rerun_topup_restore(self, prepaid: Any, sandbox: HeadEndServer) -> None:
        headend = HttpHeadEnd(sandbox.url, timeout=2.0)
        r = run_fee_control(day=DAY, now=NOW)
        # 9 days since 05-01 (through 05-10 = 10 days) x 100/30 kWh = 33.3333 kWh ->
        # 33.3333 x 0.50 = 16.67, x 0.02 = 0.67 -> 17.34; credit -52.00 -> -69.34
        state = FeeControlState.objects.get(account=prepaid, day=DAY)
        assert state.estimated_charge == D("17.34")
        assert state.estimated_balance == D("-69.34")
        assert (state.decision, state.reason) == ("disconnect", "balance_exhausted")
        assert r.commands_queued == 1
        res = dispatch_commands(now=NOW, headend=headend, retry=RETRY)
        assert res.acknowledged == 1
        cmd = MeterCommand.objects.get()
        assert (cmd.kind, cmd.status, cmd.idem_key) == (
            "disconnect",
            "acknowledged",
            f"{prepaid.number}-disconnect-2024-05-10",
        )
        assert cmd.ack_id.startswith("ACK-")
        print(f"\ndisconnect acknowledged after {cmd.attempts} attempt(s)")
        assert headend.meter_state("M-PRE-1") == "off"

        again = run_fee_control(day=DAY, now=NOW)
        assert again.commands_queued == 0
        assert MeterCommand.objects.count() == 1
        assert FeeControlState.objects.filter(account=prepaid).count() == 1
        assert FeeControlState.objects.get(account=prepaid).decision == "ok"  # already off

        top_up_at = at(2024, 5, 10, 11)
        post_payment(
            account_number=prepaid.number,
            amount="200.00",
            channel="prepaid",
            channel_txn_id="PRE-1",
            received_at=top_up_at,
        )
        t0 = time.perf_counter()
        result = on_top_up(account_number=prepaid.number, now=top_up_at, headend=headend, retry=RETRY)
        elapsed = time.perf_counter() - t0
        assert result.status == "acknowledged"
        assert result.estimated_balance == D("130.66")  # 200 - 52 - 17.34
        assert headend.meter_state("M-PRE-1") == "on"
        assert result.acknowledged_at is not None
        print(
            f"top-up -> restore acknowledged in {elapsed * 1000:.1f} ms (wall), "
            f"{(result.acknowledged_at - top_up_at).total_seconds() * 1000:.1f} ms (recorded)"
        )
        ops = headend.operations()
        assert [o["action"] for o in ops] == ["disconnect", "restore"]

    def test_the_same_command_sent_twice_operates_the_relay_once(self, sandbox: HeadEndServer) -> None:
        sandbox.fail_rate = 0.0
        headend = HttpHeadEnd(sandbox.url)
        cmd = RelayCommand(command_id="A1-disconnect-2024-05-10", meter_serial="M9", action="disconnect")
        assert headend.send(cmd) == headend.send(cmd)
        assert len(headend.operations()) == 1
        assert headend.meter_state("M9") == "off"


class TestNightlyCommand:
    def test_collect_nightly_runs_fee_control(self, prepaid: Any, capsys: Any) -> None:
        # `wattdesk collect nightly` prints the lines of the one nightly use case (the queued task runs it too)
        from wattdesk.application.collection.nightly import run_nightly

        out = "\n".join(run_nightly(day=DAY, now=NOW).lines())
        assert "fee control 2024-05-10: 1 prepaid accounts {'disconnect': 1}" in out
        assert MeterCommand.objects.get().status == "queued"
