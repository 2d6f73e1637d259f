"""`wattdesk collect nightly` expires stale gateway orders (cut-off from WATTDESK_GATEWAY_ORDER_TTL_HOURS,
default 24 h before the end of the day) and `wattdesk collect dispatch` sends the due meter commands to the
head-end named by WATTDESK_HEADEND_URL (the sandbox, on a free loopback port)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from wattdesk.adapters.headend.http_headend import HttpHeadEnd
from wattdesk.application.errors import InputError
from wattdesk.application.payments.channels import gateway
from wattdesk.domain.fee_control.models import MeterCommand
from wattdesk.domain.gateway.models import PaymentOrder
from wattdesk.domain.metering.models import Meter
from wattdesk.interfaces.cli import main
from wattdesk.sandbox.headend_server import HeadEndServer, start_in_thread

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("h5_admin", "a@example.com", "x-Pass-2026!")


def order(account: Any, staff: Any, created_at: datetime) -> PaymentOrder:
    return gateway.create_order(
        user=staff, account_number=account.number, amount="10.00", created_at=created_at
    )


class TestNightlyExpiresGatewayOrders:
    def test_orders_older_than_24_hours_at_the_end_of_the_day_expire(
        self, account: Any, staff: Any, capsys: Any
    ) -> None:
        stale = order(account, staff, datetime(2024, 5, 9, 23, 59, tzinfo=SH))
        fresh = order(account, staff, datetime(2024, 5, 10, 0, 1, tzinfo=SH))
        assert main(["collect", "nightly", "--date", "2024-05-10"]) == 0
        out = capsys.readouterr().out
        assert "gateway orders: 1 unpaid order(s) created before 2024-05-10T00:00:00+08:00 expired" in out
        stale.refresh_from_db()
        fresh.refresh_from_db()
        assert (stale.status, fresh.status) == ("expired", "created")
        assert main(["collect", "nightly", "--date", "2024-05-10"]) == 0  # idempotent
        assert "gateway orders: 0 unpaid order(s)" in capsys.readouterr().out

    def test_the_ttl_comes_from_configuration_and_a_pass_during_the_day_uses_now(
        self, account: Any, staff: Any, settings: Any
    ) -> None:
        settings.WATTDESK_GATEWAY_ORDER_TTL_HOURS = 2
        now = datetime(2024, 5, 10, 12, 0, tzinfo=SH)
        old = order(account, staff, now - timedelta(hours=3))
        young = order(account, staff, now - timedelta(hours=1))
        r = gateway.expire_stale_orders(day=date(2024, 5, 10), now=now)
        assert (r.before, r.expired) == (now - timedelta(hours=2), 1)
        old.refresh_from_db()
        young.refresh_from_db()
        assert (old.status, young.status) == ("expired", "created")

    def test_a_bad_ttl_is_one_line_and_exit_code_2(self, settings: Any, capsys: Any) -> None:
        settings.WATTDESK_GATEWAY_ORDER_TTL_HOURS = "a day"
        with pytest.raises(InputError, match="whole hours"):
            gateway.order_ttl()
        settings.WATTDESK_GATEWAY_ORDER_TTL_HOURS = 0
        assert main(["collect", "nightly", "--date", "2024-05-10"]) == 2
        assert "WATTDESK_GATEWAY_ORDER_TTL_HOURS must be >= 1" in capsys.readouterr().err


@pytest.fixture
def sandbox(tmp_path: Any) -> Iterator[HeadEndServer]:
    server, thread = start_in_thread(state_file=tmp_path / "h.json", delay=0.001, seed=11)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


class TestDispatchCommand:
    def test_without_a_headend_it_is_a_one_line_error(self, monkeypatch: Any, capsys: Any) -> None:
        monkeypatch.delenv("WATTDESK_HEADEND_URL", raising=False)
        assert main(["collect", "dispatch"]) == 2
        assert "WATTDESK_HEADEND_URL" in capsys.readouterr().err

    def test_sends_the_due_commands_once(
        self, account: Any, sandbox: HeadEndServer, monkeypatch: Any, capsys: Any
    ) -> None:
        now = datetime(2024, 5, 10, 10, tzinfo=SH)
        for i in range(3):
            meter = Meter.objects.create(serial=f"M-D{i}", multiplier=Decimal(1), digits=6)
            MeterCommand.objects.create(
                meter=meter,
                account=account,
                kind="disconnect",
                idem_key=f"K-{i}",
                requested_at=now,
                next_attempt_at=now,
            )
        monkeypatch.setenv("WATTDESK_HEADEND_URL", sandbox.url)
        assert main(["collect", "dispatch"]) == 0
        assert (
            capsys.readouterr().out == "meter commands: 3 acknowledged, 0 failed (retried later), 0 expired\n"
        )
        assert set(MeterCommand.objects.values_list("status", flat=True)) == {"acknowledged"}
        headend = HttpHeadEnd(sandbox.url)
        assert [headend.meter_state(f"M-D{i}") for i in range(3)] == ["off", "off", "off"]
        assert main(["collect", "dispatch"]) == 0  # nothing due any more, nothing sent twice
        assert len(headend.operations()) == 3


class TestPayCommand:
    @pytest.mark.parametrize("amount", ["1e20", "99999999999999.99", "1e999999", "nan", "1_000"])
    def test_an_impossible_amount_is_one_line_and_exit_code_2(
        self, account: Any, amount: str, capsys: Any
    ) -> None:
        from wattdesk.domain.payments.models import Payment

        argv = ["collect", "pay", "--account", account.number, "--amount", amount, "--txn", "T-1"]
        assert main(argv) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and "amount" in lines[0] and "Traceback" not in captured.err
        assert not Payment.objects.exists()
