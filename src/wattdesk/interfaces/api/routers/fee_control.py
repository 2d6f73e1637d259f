"""Smart fee control (智能费控) in the caller's scope, under ``/api/fee-control``.

* ``GET /accounts/{number}/states``: the account's daily estimated balances, days left and decisions, newest
  first (``collection.view``; a customer with ``portal.use`` sees their own accounts).
* ``GET /accounts/{number}/commands``: the account's remote disconnect / restore commands and their state
  (queued, sent, acknowledged, failed, expired, superseded), attempts and the latest error (``collection.view``).
* ``GET /commands?status=open``: the command queue for operators (``collection.view``): ``open`` (queued, sent
  or failed: not yet acknowledged, the default), one status, or ``all``; the next due first.

An account outside the caller's scope is a 404. Read-only: commands are queued by the daily pass and by
payments, and sent by the dispatcher (``wattdesk collect dispatch``).
"""

from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.params.functions import Path, Query

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.fee_control import queries
from wattdesk.domain.fee_control.models import CommandStatus, FeeControlState, MeterCommand
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN, DecimalStr

KEY = Path(..., pattern=KEY_PATTERN)
QUEUE_FILTERS = ("open", "all", *CommandStatus.values)

router = Router(tags=["fee control"])


class FeeControlStateRead(Schema):
    account: str
    day: date
    ledger_balance: DecimalStr = Field(description="ledger balance at the end of the day (negative = credit)")
    estimated_charge: DecimalStr = Field(description="estimated charge of the usage since the latest bill")
    kwh_since: DecimalStr
    measured: bool = Field(description="usage from daily readings (else the latest bill's daily average)")
    estimated_balance: DecimalStr
    days_left: DecimalStr | None
    decision: str = Field(description="ok | warn | disconnect | restore")
    reason: str
    computed_at: datetime

    @staticmethod
    def resolve_account(obj: FeeControlState) -> str:
        return str(obj.account.number)


class MeterCommandRead(Schema):
    id: int
    account: str
    meter: str
    kind: str = Field(description="disconnect | restore")
    idem_key: str = Field(description="idempotency key, also the command id sent to the head-end")
    reason: str
    status: str = Field(description="queued | sent | acknowledged | failed | expired | superseded")
    attempts: int
    last_error: str
    ack_id: str
    requested_at: datetime
    next_attempt_at: datetime
    acknowledged_at: datetime | None

    @staticmethod
    def resolve_account(obj: MeterCommand) -> str:
        return str(obj.account.number)

    @staticmethod
    def resolve_meter(obj: MeterCommand) -> str:
        return str(obj.meter.serial)


@router.get(
    "/accounts/{number}/states",
    response=list[FeeControlStateRead],
    summary="Daily fee-control states of an account",
)
@paginate(Pages)
def account_states(request: Any, number: str = KEY) -> QuerySet[FeeControlState]:
    user = require(request, roles.COLLECTION_VIEW, roles.PORTAL_USE)
    account = get_object_or_404(accounts_for(user), number=number)
    return queries.states_of(account_id=account.pk)


@router.get(
    "/accounts/{number}/commands",
    response=list[MeterCommandRead],
    summary="Remote disconnect / restore commands of an account",
)
@paginate(Pages)
def account_commands(request: Any, number: str = KEY) -> QuerySet[MeterCommand]:
    user = require(request, roles.COLLECTION_VIEW)
    account = get_object_or_404(accounts_for(user), number=number)
    return queries.commands_of(account_id=account.pk)


@router.get("/commands", response=list[MeterCommandRead], summary="The meter-command queue (operators)")
@paginate(Pages)
def command_queue(
    request: Any,
    status: str = Query(
        "open", pattern="^(" + "|".join(QUEUE_FILTERS) + ")$", description="open | all | one status"
    ),
) -> QuerySet[MeterCommand]:
    user = require(request, roles.COLLECTION_VIEW)
    return queries.command_queue(accounts=accounts_for(user), status=status)
