"""Navigation and UI icons: a few Tabler outline icons (MIT, static/icons/tabler/LICENSE) served from WattDesk's
own static files as one SVG sprite, so they render the same on every system (emoji need a colour-emoji font,
which a Debian Chromium does not have: they showed as empty boxes). No CDN, no npm at runtime.

    nav.register(nav.NavItem(..., icon="chart-bar"))        # a name in ICONS
    {% load fmt %}{% icon "menu-2" %}                        # <svg class="icon"><use href="…sprite.svg#menu-2"/></svg>

To add an icon: copy ``icons/outline/<name>.svg`` of the ``@tabler/icons`` package (``npm pack @tabler/icons``)
into static/icons/tabler/, then rebuild the sprite: ``python -m wattdesk.interfaces.web.icons`` (a test fails
when the sprite and the copied files disagree).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static" / "icons"
SOURCE = STATIC / "tabler"
SPRITE = STATIC / "sprite.svg"
#: the sprite's URL path under STATIC_URL
SPRITE_STATIC_PATH = "icons/sprite.svg"

_INNER = re.compile(r"<svg\b[^>]*>(?P<body>.*)</svg>", re.DOTALL)
_FRAME = re.compile(r'\s*<path stroke="none" d="M0 0h24v24H0z" fill="none"\s*/>')  # Tabler's invisible frame


#: Tabler's outline attributes, on a group inside each symbol: a <use> instance does not inherit from the sprite
_STROKE = 'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"'


def names() -> list[str]:
    return sorted(p.stem for p in SOURCE.glob("*.svg"))


def build_sprite() -> str:
    """One ``<symbol id=name>`` per copied icon, same stroke attributes as Tabler's own SVG."""
    symbols = []
    for name in names():
        m = _INNER.search((SOURCE / f"{name}.svg").read_text(encoding="utf-8"))
        if m is None:
            raise ValueError(f"{name}.svg: not an SVG")
        body = " ".join(line.strip() for line in _FRAME.sub("", m.group("body")).splitlines() if line.strip())
        symbols.append(f'<symbol id="{name}" viewBox="0 0 24 24"><g {_STROKE}>{body}</g></symbol>')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg">\n'
        "<!-- Tabler Icons (MIT, see tabler/LICENSE); built by python -m wattdesk.interfaces.web.icons -->\n"
        + "\n".join(symbols)
        + "\n</svg>\n"
    )


ICONS = frozenset(names())


if __name__ == "__main__":
    SPRITE.write_text(build_sprite(), encoding="utf-8")
    sys.stdout.write(f"{SPRITE}: {len(names())} icons\n")
