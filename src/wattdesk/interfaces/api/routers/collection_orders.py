"""Late-fee waivers (违约金减免) and disconnection / restore orders (停复电工单), within the caller's scope.

``/api/waivers``: list (``ledger.waive_request`` or ``ledger.waive``), ask (``ledger.waive_request``), approve /
reject (``ledger.waive``, never one's own request). ``/api/disconnection-orders``: list (``collection.view``),
approve (``dunning.approve``), record the execution (``dunning.execute``), cancel (``dunning.manage``).

Answers: 404 for an object outside the caller's scope, 409 with the reason when the rules refuse the step now
(four-eyes, already decided, notice not elapsed, night, public holiday, nothing owed, protected customer ...),
422 for a malformed body or filter.
"""

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.params.functions import Query

from wattdesk.application.dunning import disconnection
from wattdesk.application.ledger import waivers
from wattdesk.domain.access import roles
from wattdesk.domain.dunning.models import DisconnectionOrder
from wattdesk.domain.payments.models import WaiverRequest, WaiverStatus
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS, DecimalStr

waiver_router = Router(tags=["waivers"])
order_router = Router(tags=["disconnection orders"])

MAX_ID = 2**63 - 1


def _check_id(value: int, what: str) -> None:
    if not 0 < value <= MAX_ID:
        raise HttpError(404, f"no {what} {value}")


# --- waivers -----------------------------------------------------------------------------------------------


class WaiverRead(Schema):
    id: int
    bill_id: int
    account: str
    period: str
    amount: DecimalStr = Field(description="late fee outstanding when requested")
    reason: str
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    waived: DecimalStr | None

    @staticmethod
    def resolve_account(obj: WaiverRequest) -> str:
        return str(obj.bill.account.number)

    @staticmethod
    def resolve_period(obj: WaiverRequest) -> str:
        return str(obj.bill.period)

    @staticmethod
    def resolve_requested_by(obj: WaiverRequest) -> str:
        return str(obj.requested_by.get_username())

    @staticmethod
    def resolve_decided_by(obj: WaiverRequest) -> str | None:
        return None if obj.decided_by is None else str(obj.decided_by.get_username())


class WaiverCreate(Schema):
    bill_id: int = Field(..., ge=1, le=MAX_ID)
    reason: str = Field(..., min_length=1, max_length=300, pattern=NO_CONTROL_CHARS)


class WaiverDecision(Schema):
    note: str = Field("", max_length=300, pattern=NO_CONTROL_CHARS, description="required to reject")


@waiver_router.get("", response=list[WaiverRead], summary="Waiver requests in the caller's scope")
@paginate(Pages)
def list_waivers(
    request: Any,
    status: WaiverStatus | None = Query(None),  # noqa: B008 (ninja parameter declaration)
) -> QuerySet[WaiverRequest]:
    user = require(request, roles.LEDGER_WAIVE_REQUEST, roles.LEDGER_WAIVE)
    qs = waivers.visible_requests(user=user)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-requested_at", "-id")


def _waiver_call(fn: Any, **kwargs: Any) -> WaiverRequest:
    try:
        req: WaiverRequest = fn(**kwargs)
    except waivers.WaiverNotFound as exc:
        raise HttpError(404, str(exc)) from exc
    except waivers.WaiverRequestRefused as exc:
        raise HttpError(409, str(exc)) from exc
    return waivers.visible_requests(user=kwargs["user"]).get(pk=req.pk)


@waiver_router.post("", response={201: WaiverRead}, summary="Ask for a bill's late fee to be waived")
def create_waiver(request: Any, payload: WaiverCreate) -> Status[WaiverRequest]:
    user = require(request, roles.LEDGER_WAIVE_REQUEST)
    req = _waiver_call(
        waivers.request_waiver,
        bill_id=payload.bill_id,
        reason=payload.reason,
        user=user,
        requested_at=timezone.now(),
    )
    return Status(201, req)


@waiver_router.post("/{waiver_id}/approve", response=WaiverRead, summary="Approve: the late fee is waived")
def approve_waiver(request: Any, waiver_id: int, payload: WaiverDecision) -> WaiverRequest:
    user = require(request, roles.LEDGER_WAIVE)
    _check_id(waiver_id, "waiver request")
    return _waiver_call(
        waivers.approve_waiver, request_id=waiver_id, user=user, decided_at=timezone.now(), note=payload.note
    )


@waiver_router.post("/{waiver_id}/reject", response=WaiverRead, summary="Reject, with a reason")
def reject_waiver(request: Any, waiver_id: int, payload: WaiverDecision) -> WaiverRequest:
    user = require(request, roles.LEDGER_WAIVE)
    _check_id(waiver_id, "waiver request")
    return _waiver_call(
        waivers.reject_waiver, request_id=waiver_id, user=user, decided_at=timezone.now(), note=payload.note
    )


# --- disconnection / restore orders ------------------------------------------------------------------------


class OrderRead(Schema):
    id: int
    account: str
    kind: str
    status: str = Field(description="stored status: planned, notified, executed, cancelled")
    state: str = Field(description="planned, awaiting (approval), approved, executed, cancelled")
    amount: DecimalStr
    planned_at: datetime
    approved_at: datetime | None
    approved_by: str | None
    executed_at: datetime | None
    executed_by: str | None
    execution_note: str
    reason: str
    cancel_reason: str

    @staticmethod
    def resolve_account(obj: DisconnectionOrder) -> str:
        return str(obj.account.number)

    @staticmethod
    def resolve_state(obj: DisconnectionOrder) -> str:
        return disconnection.display_status(obj)

    @staticmethod
    def resolve_approved_by(obj: DisconnectionOrder) -> str | None:
        return None if obj.approved_by is None else str(obj.approved_by.get_username())

    @staticmethod
    def resolve_executed_by(obj: DisconnectionOrder) -> str | None:
        return None if obj.executed_by is None else str(obj.executed_by.get_username())


class OrderExecute(Schema):
    note: str = Field("", max_length=300, pattern=NO_CONTROL_CHARS)


class OrderCancel(Schema):
    reason: str = Field(..., min_length=1, max_length=300, pattern=NO_CONTROL_CHARS)


@order_router.get(
    "", response=list[OrderRead], summary="Disconnection and restore orders in the caller's scope"
)
@paginate(Pages)
def list_orders(
    request: Any,
    kind: str = Query("", max_length=16, pattern=NO_CONTROL_CHARS, description="disconnect | restore"),
    status: str = Query(
        "",
        max_length=16,
        pattern=NO_CONTROL_CHARS,
        description="planned|awaiting|approved|notified|executed|cancelled",
    ),
    account: str = Query("", max_length=32, pattern=NO_CONTROL_CHARS, description="account number"),
) -> QuerySet[DisconnectionOrder]:
    user = require(request, roles.COLLECTION_VIEW)
    return disconnection.orders_for(user=user, kind=kind, status=status, account=account)


def _order_call(fn: Any, **kwargs: Any) -> DisconnectionOrder:
    try:
        out = fn(**kwargs)
    except disconnection.OrderNotFound as exc:
        raise HttpError(404, str(exc)) from exc
    except disconnection.OrderRefused as exc:
        raise HttpError(409, str(exc)) from exc
    order = out.order if isinstance(out, disconnection.Execution) else out
    return disconnection.orders_for(user=kwargs["user"]).get(pk=order.pk)


@order_router.post("/{order_id}/approve", response=OrderRead, summary="Approve a notified disconnection")
def approve_order(request: Any, order_id: int) -> DisconnectionOrder:
    user = require(request, roles.DUNNING_APPROVE)
    _check_id(order_id, "disconnection order")
    return _order_call(disconnection.approve_order, order_id=order_id, user=user, now=timezone.now())


@order_router.post(
    "/{order_id}/execute", response=OrderRead, summary="Record a disconnection / restore as executed"
)
def execute_order(request: Any, order_id: int, payload: OrderExecute) -> DisconnectionOrder:
    user = require(request, roles.DUNNING_EXECUTE)
    _check_id(order_id, "disconnection order")
    return _order_call(
        disconnection.execute_order, order_id=order_id, user=user, now=timezone.now(), note=payload.note
    )


@order_router.post(
    "/{order_id}/cancel", response=OrderRead, summary="Cancel a planned or notified disconnection"
)
def cancel_order(request: Any, order_id: int, payload: OrderCancel) -> DisconnectionOrder:
    user = require(request, roles.DUNNING_MANAGE)
    _check_id(order_id, "disconnection order")
    return _order_call(disconnection.cancel_order, order_id=order_id, reason=payload.reason, user=user)
