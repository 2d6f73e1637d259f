"""Approving and executing a disconnection order (core.disconnection), on the shipped dunning policy."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from wattdesk.core.disconnection import approval_refusal, execution_refusal
from wattdesk.core.dunning import parse_policy

SH = ZoneInfo("Asia/Shanghai")
POLICY = parse_policy(
    yaml.safe_load((Path(__file__).parents[3] / "src/wattdesk/config/dunning-policy.yaml").read_text("utf-8"))
)
HOLIDAYS = frozenset({date(2026, 10, 1), date(2026, 10, 2)})
PLANNED = datetime(2026, 11, 24, 9, 0, tzinfo=SH)


def approve(**kw: Any) -> str | None:
    args: dict[str, Any] = {
        "kind": "disconnect", "status": "notified", "approved": False, "planned_at": PLANNED,
        "at": datetime(2026, 11, 24, 10, 0, tzinfo=SH), "protected": False,
    }  # fmt: skip
    return approval_refusal(**(args | kw))


def execute(**kw: Any) -> str | None:
    args: dict[str, Any] = {
        "kind": "disconnect", "status": "notified", "approved": True, "owed": Decimal("120.00"),
        "protected": False, "at": datetime(2026, 11, 24, 10, 0, tzinfo=SH), "policy": POLICY, "holidays": HOLIDAYS,
    }  # fmt: skip
    return execution_refusal(**(args | kw))


class TestApprovalRefusal:
    def test_allowed_once_the_notice_has_elapsed(self) -> None:
        assert approve() is None
        assert approve(at=PLANNED) is None

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"at": datetime(2026, 11, 24, 8, 59, tzinfo=SH)}, "notice period runs until"),
            ({"protected": True}, "protected customer"),
            ({"approved": True}, "already approved"),
            ({"status": "cancelled"}, "only a notified disconnection"),
            ({"kind": "restore"}, "only disconnection orders"),
        ],
    )
    def test_refused(self, change: dict[str, Any], reason: str) -> None:
        why = approve(**change)
        assert why is not None and reason in why


class TestExecutionRefusal:
    def test_allowed_in_the_day_when_approved_and_owing(self) -> None:
        assert execute() is None
        assert execute(at=datetime(2026, 11, 24, 8, 0, tzinfo=SH)) is None  # night ends at 08:00
        assert execute(at=datetime(2026, 11, 24, 19, 59, tzinfo=SH)) is None

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"approved": False}, "not approved"),
            ({"owed": Decimal("0.00")}, "owes nothing"),
            ({"owed": Decimal("-5.00")}, "owes nothing"),
            ({"protected": True}, "protected customer"),
            ({"at": datetime(2026, 11, 24, 20, 0, tzinfo=SH)}, "at night (20:00-08:00): it is 20:00"),
            ({"at": datetime(2026, 11, 25, 3, 0, tzinfo=SH)}, "at night"),
            ({"at": datetime(2026, 10, 2, 10, 0, tzinfo=SH)}, "2026-10-02 is a public holiday"),
            ({"status": "executed"}, "only an approved notified disconnection"),
        ],
    )
    def test_refused(self, change: dict[str, Any], reason: str) -> None:
        why = execute(**change)
        assert why is not None and reason in why

    def test_a_restore_is_executed_whenever_it_is_planned(self) -> None:
        night = datetime(2026, 10, 1, 23, 0, tzinfo=SH)  # a holiday night: restore anyway
        assert execute(kind="restore", status="planned", approved=False, owed=Decimal(0), at=night) is None
        assert execute(kind="restore", status="executed", at=night) == "the restore order is executed"
