from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from wattdesk.domain.access import roles
from wattdesk.domain.access.queries import capabilities, role_names
from wattdesk.interfaces.web import nav


def shell(request: HttpRequest) -> dict[str, Any]:
    """What every layout needs: the menu for this user, their roles and capabilities."""
    user = request.user
    names = role_names(user)
    return {
        "staff_nav": nav.items_for(user, "staff"),
        "portal_nav": nav.items_for(user, "portal"),
        "user_roles": [roles.ROLE_LABELS[r] for r in roles.ROLES if r in names],
        "user_caps": capabilities(user),
    }
