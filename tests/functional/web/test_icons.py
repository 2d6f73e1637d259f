"""Navigation icons are WattDesk's own SVG sprite (static/icons, Tabler MIT), never emoji or a CDN."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.test import Client

from wattdesk.domain.access import roles
from wattdesk.interfaces.web import icons, nav

_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")


def test_the_sprite_is_built_from_the_committed_svgs_with_their_licence() -> None:
    assert icons.SPRITE.read_text(encoding="utf-8") == icons.build_sprite()  # rebuild: python -m ...icons
    licence = (icons.SOURCE / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "Paweł Kuna" in licence
    for name in icons.ICONS:
        assert f'<symbol id="{name}" viewBox="0 0 24 24">' in icons.SPRITE.read_text(encoding="utf-8")


def test_every_menu_entry_names_an_icon_of_the_sprite(
    company: object, client_for: Callable[[str], Client]
) -> None:
    client_for(roles.ADMIN).get("/")  # the pages register their menu entries when the URLconf loads
    items = list(nav._ITEMS.values())
    assert len(items) >= 20
    bad = {i.url_name: i.icon for i in items if i.icon not in icons.ICONS}
    assert bad == {}


def test_layouts_render_svg_icons_and_no_emoji(company: object, client_for: Callable[[str], Client]) -> None:
    staff = client_for(roles.ADMIN).get("/customers/").content.decode()
    sidebar = staff[
        staff.index('<nav class="sidebar"') : staff.index("</nav>", staff.index('<nav class="sidebar"'))
    ]
    assert sidebar.count('<svg class="icon"') >= 15
    assert '<use href="/static/icons/sprite.svg#user"></use>' in sidebar
    assert _EMOJI.findall(staff) == []
    assert "☰" not in staff and '<use href="/static/icons/sprite.svg#menu-2">' in staff
    portal = client_for(roles.CUSTOMER).get("/portal/").content.decode()
    tabbar = portal[portal.index('<nav class="tabbar"') :]
    assert tabbar.count('<svg class="icon"') >= 4
    assert _EMOJI.findall(portal) == []
    assert "cdn" not in (staff + portal).lower()
