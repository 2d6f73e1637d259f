"""Navigation: pages register their menu entry here; the layout shows the entries the user may use.

    nav.register(nav.NavItem(section="staff", order=20, label=_("客户查询"), url_name="web:customer_search",
                             capability=roles.CUSTOMERS_VIEW, icon="user"))

``section`` is "staff" (back office sidebar) or "portal" (customer portal tab bar). ``icon`` names an SVG of
WattDesk's own sprite (wattdesk.interfaces.web.icons.ICONS, rendered with ``{% icon item.icon %}``), never an
emoji: a Debian Chromium has no colour-emoji font and shows them as empty boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.urls import NoReverseMatch, reverse

from wattdesk.domain.access.queries import capabilities


@dataclass(frozen=True)
class NavItem:
    section: Literal["staff", "portal"]
    order: int
    label: Any  # a (lazy) translated string
    url_name: str
    capability: str
    icon: str = ""


_ITEMS: dict[str, NavItem] = {}


def register(item: NavItem) -> NavItem:
    _ITEMS[item.url_name] = item
    return item


def items_for(user: Any, section: str) -> list[dict[str, Any]]:
    caps = capabilities(user)
    out = []
    for item in sorted(_ITEMS.values(), key=lambda i: (i.order, i.url_name)):
        if item.section != section or item.capability not in caps:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        out.append({"label": item.label, "url": url, "icon": item.icon, "url_name": item.url_name})
    return out
