"""收现金 through the page as a collector does it: the confirmation screen first, then its form posted."""

from __future__ import annotations

import re
from typing import Any


def confirm_form(client: Any, number: str, amount: str) -> dict[str, str]:
    """Open the confirmation screen for ``amount`` on account ``number``; the hidden fields of its form."""
    page = client.get("/collector/confirm/", {"account": number, "amount": amount})
    assert page.status_code == 200, page.status_code
    body = page.content.decode()
    form = re.search(r'<form method="post" action="/collector/pay/">(.*?)</form>', body, re.S)
    assert form, body
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(1)))
    assert {"account", "amount", "token", "confirmation", "csrfmiddlewaretoken"} <= set(fields), fields
    return fields


def collect(client: Any, number: str, amount: str) -> Any:
    """收现金 → 确认收款: the response of the confirmed post."""
    return client.post("/collector/pay/", confirm_form(client, number, amount))


def issue_period_bills(period: str) -> None:
    """Issue the sample company's bills of ``period`` (3 Nov 2026, 09:00 Shanghai), so they reach the ledger."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    at = datetime(2026, 11, 3, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    try:  # the use case moved next to the other review actions (approve, issue) with the acting user
        from wattdesk.application.billing.review import issue_bills

        issue_bills(user=None, period=period, issued_at=at, issued_on=date(2026, 11, 3))
    except ImportError:
        from wattdesk.application.billing.run import issue_bills as issue_in_run

        issue_in_run(period=period, issued_at=at, issued_on=date(2026, 11, 3))
