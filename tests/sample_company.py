"""The small billed company the web, portal, API and browser tests share.

120 accounts, 3 months of readings ending 2026-10, the latest month billed and issued (电费发行: the bills
are receivables; the held ones stay held for review, owing nothing yet), a few
interval-metered customers, and one login per role (password ``PASSWORD``). Fixtures wrap it:
``company`` / ``client_for`` in tests/functional/conftest.py, and the transactional variant for the live
server in tests/browser/conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

PASSWORD = "Test-pass-2026!"
END_MONTH = date(2026, 10, 1)
PERIOD = "2026-10"
BILLED_AT = datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ISSUED_AT = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
COLLECTOR_FROM = date(2025, 1, 1)  # demo_collector's routes are theirs from this day on


@dataclass(frozen=True)
class Company:
    logins: dict[str, Any]  # role -> DemoLogin
    period: str


def build_company(settings: Any) -> Company:
    """Generate, bill and create the logins; ``settings`` is pytest-django's settings fixture."""
    from wattdesk.application.billing.review import issue_bills
    from wattdesk.application.billing.run import run_billing
    from wattdesk.domain.access.operations import create_demo_users
    from wattdesk.synthetic import generate_county

    # PBKDF2 at full strength costs ~0.4 s per login created; tests don't need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    generate_county(accounts=120, months=3, seed=7, end_month=END_MONTH, interval_share=0.05)
    run_billing(period=PERIOD, run_at=BILLED_AT, workers=1)
    logins = {d.role: d for d in create_demo_users(password=PASSWORD)}
    _assign_collector_to_scope(logins["collector"].username)
    for route in _routes_to_issue(logins):
        issue_bills(period=PERIOD, user=None, issued_at=ISSUED_AT, issued_on=ISSUED_AT.date(), route=route)
    return Company(logins=logins, period=PERIOD)


def _routes_to_issue(logins: dict[str, Any]) -> list[str]:
    """Every route but one (电费发行 by route, as a county does): the bills of the demo customer and of the
    collector's routes are issued (receivables to pay and collect), one other route's drafts stay under review."""
    from django.contrib.auth import get_user_model

    from wattdesk.domain.billing.models import Bill, BillStatus
    from wattdesk.domain.customers.models import ReadingRoute

    users = get_user_model().objects
    collector = users.get(username=logins["collector"].username)
    needed = set(collector.staff_scope.routes.values_list("code", flat=True))
    customer = users.get(username=logins["customer"].username)
    needed |= set(
        ReadingRoute.objects.filter(service_points__account__customer__logins__user=customer).values_list(
            "code", flat=True
        )
    )
    with_drafts = [
        code
        for code in ReadingRoute.objects.order_by("code").values_list("code", flat=True)
        if Bill.objects.filter(
            period=PERIOD, status=BillStatus.DRAFT, account__service_points__route__code=code
        ).count()
        >= 2
    ]
    kept = next(code for code in with_drafts if code not in needed)
    return [
        code for code in ReadingRoute.objects.order_by("code").values_list("code", flat=True) if code != kept
    ]


def _assign_collector_to_scope(username: str) -> None:
    """As in the demo (synthetic payments): the collector collects on the routes of their scope (催费员 →
    抄表段), from COLLECTOR_FROM, open-ended; so 走收 and the worklist list the same debtors."""
    from django.contrib.auth import get_user_model

    from wattdesk.domain.collection.models import CollectorAssignment

    user = get_user_model().objects.get(username=username)
    for route in user.staff_scope.routes.all():
        CollectorAssignment.objects.create(user=user, route=route, from_date=COLLECTOR_FROM)
