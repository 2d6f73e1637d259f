from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import translation

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
        "user_roles": [role_label(roles.ROLE_LABELS[r]) for r in roles.ROLES if r in names],
        "user_caps": capabilities(user),
    }


def role_label(label: str) -> str:
    """A role's name in the page's language: ``ROLE_LABELS`` hold both, "中文 English" ("系统管理员
    Administrator"), which the CLI prints as they are; the web shows the Chinese half in the Chinese UI and the
    English half in the English one."""
    chinese, _sep, english = label.partition(" ")
    if not english:
        return label
    return chinese if (translation.get_language() or "zh-hans").lower().startswith("zh") else english
