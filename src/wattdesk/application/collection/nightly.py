"""Use case: the nightly pass of revenue protection for a day (idempotent per day).

    run_nightly(day=date(2026, 11, 27), now=now)

In order: late-fee accrual (违约金, ``ledger.late_fees``), differentiated dunning (催费) and the outbox
dispatch, prepaid fee control (费控) with the meter commands sent when a head-end is configured
(WATTDESK_HEADEND_URL), and the expiry of unpaid gateway orders. ``wattdesk collect nightly`` runs it in its
own process; the API enqueues it as a task (``wattdesk.interfaces.tasks.nightly_pass``) for a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from wattdesk.application.dunning.nightly import DunningResult, run_dunning
from wattdesk.application.dunning.outbox import dispatch_outbox
from wattdesk.application.fee_control.prepaid import DispatchResult, dispatch_commands, run_fee_control
from wattdesk.application.fee_control.prepaid import RunResult as FeeControlResult
from wattdesk.application.ledger.late_fees import AccrualResult, accrue_late_fees
from wattdesk.application.ledger.open_items import scan_open_items
from wattdesk.application.payments.channels.gateway import ExpiryResult, expire_stale_orders


@dataclass(frozen=True)
class NightlyResult:
    day: date
    late_fees: AccrualResult
    dunning: DunningResult
    outbox: Any  # dunning.outbox.DispatchResult
    fee_control: FeeControlResult
    meter_commands: DispatchResult | None  # None: no head-end configured
    gateway: ExpiryResult

    def lines(self) -> list[str]:
        """One summary line per step (what the CLI prints)."""
        r, d, o, fc = self.late_fees, self.dunning, self.outbox, self.fee_control
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(d.by_kind.items())) or "none"
        out = [
            f"late fees {r.as_of}: {r.outcome}, {r.bills} bills, {r.total} 元, credits applied {r.credits_applied}",
            f"dunning {d.day}: {d.candidates} accounts in arrears, {d.actions} actions ({kinds}), "
            f"{d.messages} messages, {d.notices} disconnection orders, {d.cancelled} cancelled, "
            f"{d.restores} restores",
            f"outbox: {o.sent} sent, {o.retried} to retry, {o.failed} failed, "
            f"{o.delivered} delivered, {o.undeliverable} undeliverable",
            f"fee control {fc.day}: {fc.accounts} prepaid accounts {fc.decisions}, "
            f"{fc.warnings_queued} warnings, {fc.commands_queued} meter commands queued",
        ]
        if self.meter_commands is not None:
            m = self.meter_commands
            out.append(
                f"meter commands: {m.acknowledged} acknowledged, {m.failed} failed (retried later), "
                f"{m.expired} expired"
            )
        g = self.gateway
        out.append(
            f"gateway orders: {g.expired} unpaid order(s) created before {g.before.isoformat()} expired"
        )
        return out

    def to_json(self) -> dict[str, Any]:
        """The counters, JSON-ready (a queued pass returns this)."""
        r, d, o, fc = self.late_fees, self.dunning, self.outbox, self.fee_control
        return {
            "day": self.day.isoformat(),
            "late_fees": {"outcome": r.outcome, "bills": r.bills, "total": str(r.total)},
            "dunning": {
                "candidates": d.candidates,
                "actions": d.actions,
                "messages": d.messages,
                "notices": d.notices,
                "cancelled": d.cancelled,
                "restores": d.restores,
            },
            "outbox": {"sent": o.sent, "retried": o.retried, "failed": o.failed},
            "fee_control": {
                "accounts": fc.accounts,
                "warnings": fc.warnings_queued,
                "commands": fc.commands_queued,
            },
            "meter_commands": None
            if self.meter_commands is None
            else {"acknowledged": self.meter_commands.acknowledged, "failed": self.meter_commands.failed},
            "gateway_orders_expired": self.gateway.expired,
            "summary": self.lines(),
        }


def run_nightly(*, day: date, now: datetime) -> NightlyResult:
    """Run every step of the nightly pass for ``day`` (each step idempotent for the day)."""
    from wattdesk.adapters.headend.http_headend import configured_headend

    # one open-item scan for the night (incremental after the first night), shared by late fees and dunning;
    # caught up after the late-fee step so that dunning also sees tonight's late fees
    candidates = scan_open_items(as_of=day)
    late_fees = accrue_late_fees(as_of=day, candidates=candidates)
    candidates.catch_up()
    dunning = run_dunning(day=day, now=now, candidates=candidates)
    outbox = dispatch_outbox(now=now, limit=None)
    fee_control = run_fee_control(day=day, now=now)
    headend = configured_headend()
    commands = dispatch_commands(now=now, headend=headend) if headend is not None else None
    gateway = expire_stale_orders(day=day, now=now)
    return NightlyResult(day, late_fees, dunning, outbox, fee_control, commands, gateway)
