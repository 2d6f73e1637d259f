"""Accounts (staff with customers.view see their scope; a customer with portal.use sees their own)."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from ninja import Router
from ninja.pagination import paginate
from ninja.params.functions import Path

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.customers.models import Account
from wattdesk.domain.ledger import queries as ledger
from wattdesk.interfaces.api.deps import Pages, require
from wattdesk.interfaces.api.schemas.common import KEY_PATTERN
from wattdesk.interfaces.api.schemas.customers import AccountDetailRead, AccountRead, LedgerRead

KEY = Path(..., pattern=KEY_PATTERN)

router = Router(tags=["accounts"])


@router.get("", response=list[AccountRead], summary="Accounts in the caller's scope")
@paginate(Pages)
def list_accounts(request: Any) -> QuerySet[Account]:
    user = require(request, roles.CUSTOMERS_VIEW, roles.PORTAL_USE)
    return accounts_for(user).select_related("customer").order_by("number")


@router.get("/{number}", response=AccountDetailRead, summary="One account with its service points")
def get_account(request: Any, number: str = KEY) -> Account:
    user = require(request, roles.CUSTOMERS_VIEW, roles.PORTAL_USE)
    qs = (
        accounts_for(user)
        .select_related("customer")
        .prefetch_related(
            "service_points__region", "service_points__route", "service_points__transformer_area"
        )
    )
    return get_object_or_404(qs, number=number)


@router.get("/{number}/ledger", response=LedgerRead, summary="Ledger entries and balance of an account")
def get_ledger(request: Any, number: str = KEY) -> dict[str, Any]:
    user = require(request, roles.LEDGER_VIEW, roles.PORTAL_USE)
    account = get_object_or_404(accounts_for(user), number=number)
    return {
        "account": account.number,
        "balance": ledger.balance(account_id=account.pk),
        "entries": list(ledger.entries(account_id=account.pk)),
    }
