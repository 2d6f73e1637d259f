"""Helper run as a separate process by test_gateway_concurrency.py, against the database the server uses
(WATTDESK_DATABASE_URL in its environment):

    python gateway_child.py seed           -> prints the order number of a new 120.50 order (bill issued)
    python gateway_child.py count TXN ORDER -> prints JSON counts of what that transaction posted
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wattdesk.settings")
    import django

    django.setup()
    from django.db.models import Count

    from wattdesk.domain.customers.models import Account, Customer
    from wattdesk.domain.gateway import operations
    from wattdesk.domain.gateway.models import CallbackLog, PaymentOrder
    from wattdesk.domain.ledger.models import LedgerEntry
    from wattdesk.domain.payments.models import Payment

    if sys.argv[1] == "seed":
        from payments_helpers import at, issue_bill

        customer = Customer.objects.create(
            number="CGW0001", name="并发测试客户", kind="individual", customer_class="residential",
            created_at=at(2024, 1, 1),
        )  # fmt: skip
        account = Account.objects.create(number="AGW0001", customer=customer, opened_on=date(2024, 1, 1))
        issue_bill(account, "2026-10", "120.50", date(2026, 11, 20))
        order = operations.create_order(
            order_no="WDCONCURRENT0001", account_id=account.pk, amount=Decimal("120.50"),
            created_at=at(2026, 11, 27), customer_user=None,
        )  # fmt: skip
        print(order.order_no)
        return
    txn, order_no = sys.argv[2], sys.argv[3]
    order = PaymentOrder.objects.get(order_no=order_no)
    outcomes = dict(
        CallbackLog.objects.filter(order_no=order_no)
        .values_list("outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    print(
        json.dumps(
            {
                "payments": Payment.objects.filter(channel="mobile", channel_txn_id=txn).count(),
                "ledger_payments": LedgerEntry.objects.filter(kind="payment", memo=f"mobile:{txn}").count(),
                "account_payments": LedgerEntry.objects.filter(
                    kind="payment", account_id=order.account_id
                ).count(),
                "order_status": order.status,
                "order_txn": order.channel_txn_id,
                "outcomes": outcomes,
            }
        )
    )


if __name__ == "__main__":
    main()
