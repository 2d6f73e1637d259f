"""智能费控 page: prepaid accounts' estimated balances, days left and decisions, and the meter-command queue."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import accounts_for
from wattdesk.domain.fee_control import queries
from wattdesk.interfaces.web import nav
from wattdesk.interfaces.web.access import capability_required

nav.register(
    nav.NavItem(
        section="staff",
        order=62,
        label=_("智能费控"),
        url_name="web:fee_control",
        capability=roles.COLLECTION_VIEW,
        icon="bolt",
    )
)


@capability_required(roles.COLLECTION_VIEW)
def fee_control(request: HttpRequest) -> HttpResponse:
    accounts = accounts_for(request.user)
    day = queries.latest_day(accounts=accounts)
    states = list(queries.states(accounts=accounts, day=day)[:500]) if day else []
    commands = list(queries.commands(accounts=accounts))
    return render(request, "web/fee_control/index.html", {"day": day, "states": states, "commands": commands})
