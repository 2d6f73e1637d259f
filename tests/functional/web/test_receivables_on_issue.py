"""电费发行 (issue 9, part 1): a bill is a receivable from its issue on. A draft or held bill is not shown to the
customer, not payable, not at the counter and not in the account's balance; issuing it makes it all of these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from wattdesk.application.billing import review
from wattdesk.application.billing.run import run_billing
from wattdesk.application.portal import screens as portal
from wattdesk.domain.access import roles
from wattdesk.domain.billing.models import Bill, BillStatus
from wattdesk.domain.counter.queries import due
from wattdesk.domain.ledger.queries import balance

pytestmark = pytest.mark.db
TZ = ZoneInfo("Asia/Shanghai")
ClientFor = Callable[[str], Client]


def test_a_bill_reaches_the_portal_and_the_counter_only_when_issued(
    company: Any, client_for: ClientFor
) -> None:
    user = get_user_model().objects.get(username=company.logins[roles.CUSTOMER].username)
    account = user.customer_login.customer.accounts.order_by("number").first()
    issued = Bill.objects.get(account=account, period=company.period, status=BillStatus.ISSUED)
    owed = balance(account_id=account.pk)
    assert issued.total > 0 and owed >= issued.total

    # the clerk cancels the issued bill (its charge is reversed) and rebills the period: version 2 is a draft
    review.cancel_bill(
        bill_id=issued.pk, user=None, reason="抄错表码", cancelled_at=datetime(2026, 11, 5, 9, tzinfo=TZ)
    )
    run_billing(period=company.period, run_at=datetime(2026, 11, 5, 10, tzinfo=TZ), workers=1)
    draft = Bill.objects.get(account=account, period=company.period, version=2)
    assert draft.status in (BillStatus.DRAFT, BillStatus.HELD)
    assert balance(account_id=account.pk) == owed - issued.total  # nothing owed for the period any more
    assert all(item.bill_id != draft.pk for item in due(account_id=account.pk).items)  # not at the counter

    client = client_for(roles.CUSTOMER)
    assert client.get(f"/portal/bills/{draft.pk}/").status_code == 404
    assert client.get(f"/portal/bills/{draft.pk}/pdf").status_code == 404
    history = client.get(f"/portal/history/?account={account.number}").content.decode()
    assert f"/portal/bills/{draft.pk}/" not in history
    home = portal.visible_bills(user=user).filter(account=account).first()
    assert home is None or home.pk != draft.pk

    if draft.status == BillStatus.HELD:
        review.approve_bill(bill_id=draft.pk, user=None, approved_at=datetime(2026, 11, 6, tzinfo=TZ))
    review.issue_bills(
        period=company.period,
        user=None,
        issued_at=datetime(2026, 11, 6, 9, tzinfo=TZ),
        issued_on=datetime(2026, 11, 6, tzinfo=TZ).date(),
        include_held_approved=True,
    )
    draft.refresh_from_db()
    assert draft.status == BillStatus.ISSUED
    assert balance(account_id=account.pk) == owed - issued.total + draft.total
    assert client.get(f"/portal/bills/{draft.pk}/").status_code == 200
    assert (
        f"/portal/bills/{draft.pk}/"
        in client.get(f"/portal/history/?account={account.number}").content.decode()
    )
    assert any(
        item.bill_id == draft.pk for item in due(account_id=account.pk).items
    ) or draft.total == Decimal(0)
