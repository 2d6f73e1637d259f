"""Inspection cases (用电检查: 窃电 / 违约用电), each action one call of ``application.inspection.cases`` — the
same use case, lock and audit entry as the back-office page ``/inspection/``.

``GET`` (``billing.view``) lists / reads the cases on accounts in the caller's scope; ``POST`` (``billing.review``)
opens a case, computes it, approves it (a second person: 403 for who opened or computed it), posts or rejects
it, reverses a posted one. A case in the wrong state is a 409; a fact the rule cannot use a 422 with the field; an unknown case 404.
"""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import paginate
from ninja.params.functions import Query

from wattdesk.application.inspection import cases
from wattdesk.domain.access import roles
from wattdesk.domain.inspection.models import CaseStatus, InspectionCase
from wattdesk.domain.inspection.queries import cases_for
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas.common import NO_CONTROL_CHARS, ErrorRead, ValidationErrorRead
from wattdesk.interfaces.api.schemas.inspection import (
    InspectionApprove,
    InspectionCaseCreate,
    InspectionCaseRead,
    InspectionCompute,
    InspectionReject,
)

router = Router(tags=["inspection"])

MAX_ID = 2**63 - 1
RESPONSES = {
    200: InspectionCaseRead,
    403: ErrorRead,
    404: ErrorRead,
    409: ErrorRead,
    422: ValidationErrorRead,
}


def _read(user: Any, case_id: int) -> InspectionCase:
    if not 0 < case_id <= MAX_ID:
        raise Http404("no such inspection case")
    case = cases_for(user).filter(pk=case_id).first()
    if case is None:
        raise Http404("no such inspection case")
    return case


def _answer(user: Any, call: Any) -> Status[Any]:
    """Run one use case; its refusal becomes 404 / 403 / 409 / 422 with the reason."""
    try:
        case = call()
    except cases.CaseNotFound as exc:
        return Status(404, {"detail": str(exc)})
    except cases.FourEyesRefused as exc:
        return Status(403, {"detail": str(exc)})
    except cases.CaseStateError as exc:
        return Status(409, {"detail": str(exc)})
    except cases.CaseRefused as exc:
        field = str(exc).split(":", 1)[0] if ":" in str(exc) else "-"
        return Status(
            422, {"detail": str(exc), "errors": [{"index": None, "field": field, "reason": str(exc)}]}
        )
    return Status(200, _read(user, case.pk))


@router.get("", response=list[InspectionCaseRead], summary="Inspection cases in the caller's scope")
@paginate(Pages)
def list_cases(
    request: Any,
    status: CaseStatus | None = Query(None),  # noqa: B008 (ninja parameter declaration)
    account: str | None = Query(None, max_length=32, pattern=NO_CONTROL_CHARS, description="account number"),
) -> QuerySet[InspectionCase]:
    user = require(request, roles.BILLING_VIEW)
    qs = cases_for(user)
    if status:
        qs = qs.filter(status=status)
    if account:
        qs = qs.filter(account__number=account)
    return qs.order_by("-opened_at", "-id")


@router.post("", response=RESPONSES, summary="Open an inspection case (立案, audited)")
def open_case(request: Any, payload: InspectionCaseCreate) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    return _answer(user, lambda: cases.open_case(
        user=user, account_number=payload.account, behaviour_code=payload.behaviour, found_on=payload.found_on,
        inspector=payload.inspector, evidence=payload.evidence, opened_at=timezone.now(),
    ))  # fmt: skip


@router.get(
    "/{case_id}", response={200: InspectionCaseRead, 404: ErrorRead}, summary="One case with its lines"
)
def get_case(request: Any, case_id: int) -> InspectionCase:
    user = require(request, roles.BILLING_VIEW)
    return _read(user, case_id)


@router.post("/{case_id}/compute", response=RESPONSES, summary="Compute back charge and penalty (audited)")
def compute(request: Any, case_id: int, payload: InspectionCompute) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    facts = payload.dict(exclude_none=True)
    return _answer(user, lambda: cases.compute_case(
        case_id=case_id, user=user, facts=facts, computed_at=timezone.now()
    ))  # fmt: skip


@router.post("/{case_id}/approve", response=RESPONSES, summary="Approve (second person, audited)")
def approve(request: Any, case_id: int, payload: InspectionApprove) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    return _answer(user, lambda: cases.approve_case(
        case_id=case_id, user=user, approved_at=timezone.now(), note=payload.note
    ))  # fmt: skip


@router.post("/{case_id}/post", response=RESPONSES, summary="Post the approved lines to the ledger (audited)")
def post(request: Any, case_id: int) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    return _answer(user, lambda: cases.post_case(case_id=case_id, user=user, posted_at=timezone.now()))


@router.post("/{case_id}/reject", response=RESPONSES, summary="Reject a case that is not posted (audited)")
def reject(request: Any, case_id: int, payload: InspectionReject) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    return _answer(user, lambda: cases.reject_case(
        case_id=case_id, user=user, rejected_at=timezone.now(), reason=payload.reason
    ))  # fmt: skip


@router.post(
    "/{case_id}/reverse", response=RESPONSES, summary="Reverse a posted case's ledger entries (冲正, audited)"
)
def reverse(request: Any, case_id: int, payload: InspectionReject) -> Status[Any]:
    user = require(request, roles.BILLING_REVIEW)
    return _answer(user, lambda: cases.reverse_case(
        case_id=case_id, user=user, reversed_at=timezone.now(), reason=payload.reason
    ))  # fmt: skip
