"""Writes on bills that the use cases share: the one lock every single-bill action takes.

``lock_bill`` locks the bill's account row and then the bill row (``SELECT ... FOR UPDATE``), in that order,
inside the caller's transaction. Payments (``application.payments.posting``), reversals, waivers and
disconnections lock the same account row, so an approval, a hold or a cancel-and-rebill of a bill is serialised
with every money-changing action on its account, on every application server sharing the database, whichever
interface started it (CLI, page, API, task). Locking the account first, always, means two of these actions
never wait for each other in opposite orders. On SQLite ``FOR UPDATE`` is a no-op: the database has one writer
and the actions re-check the bill's status in their conditional UPDATE.
"""

from __future__ import annotations

from django.db import transaction

from wattdesk.domain.billing.models import Bill
from wattdesk.domain.customers.models import Account


class BillMissing(LookupError):
    """No bill with that id."""


def lock_bill(*, bill_id: int) -> Bill:
    """Lock the bill's account, then the bill; return the bill as it is now (with its account loaded).

    Must run inside a transaction (``transaction.atomic``): the locks are held until it ends.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_bill must be called inside transaction.atomic()")
    account_id = Bill.objects.filter(pk=bill_id).values_list("account_id", flat=True).first()
    if account_id is None:
        raise BillMissing(f"no bill with id {bill_id}")
    account = Account.objects.select_for_update().filter(pk=account_id).get()
    bill = Bill.objects.select_for_update().get(pk=bill_id)
    bill.account = account
    return bill
