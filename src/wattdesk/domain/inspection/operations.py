"""Writes of the inspection app: the lock a use case takes before changing a case."""

from __future__ import annotations

from django.db import transaction

from wattdesk.domain.customers.models import Account
from wattdesk.domain.inspection.models import InspectionCase


class CaseMissing(LookupError):
    """No such inspection case."""


def lock_case(*, case_id: int) -> InspectionCase:
    """Lock the case's account, then the case (the order payments and bills use); return the case as it is now.
    Must run inside ``transaction.atomic``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_case must be called inside transaction.atomic()")
    account_id = InspectionCase.objects.filter(pk=case_id).values_list("account_id", flat=True).first()
    if account_id is None:
        raise CaseMissing(f"no inspection case {case_id}")
    account = Account.objects.select_for_update().get(pk=account_id)
    case = InspectionCase.objects.select_for_update().select_related("behaviour").get(pk=case_id)
    case.account = account
    return case
