"""Browser journeys: the real pages, served by pytest-django's ``live_server``, driven in Debian Chromium.

    @pytest.mark.browser
    def test_something(page_for, shot):
        page = page_for("billing_clerk")            # logged in through the real login form
        page.get_by_role("link", name="客户查询").click()
        shot(page, "search")                        # test-artifacts/browser/<test>/search.png

Chromium: ``$WATTDESK_CHROMIUM`` or ``/usr/bin/chromium`` (Debian's package; ``make install-dev`` and
``.ci/run`` install it). Playwright's own browser download is never used. If the executable is missing the
tests FAIL: CI must prove them.

Data: ``live_server`` needs a transactional database, so ``company`` here builds the same small billed company
as ``tests/functional/web/conftest.py`` inside each test (the tables are flushed after it).

Why Playwright is started per test and not per session: Playwright's sync API keeps an asyncio loop
"running" in the main thread from ``start()`` to ``stop()``. While it runs, Django refuses ORM calls in that
thread (``SynchronousOnlyOperation``), ``asyncio.run`` and ``async_to_sync`` fail, and so would every later test of
the same xdist worker. So each test starts Playwright and Chromium after its data is built and stops both
before the database is flushed; a launch costs about half a second.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    TIMEOUT_MS,
    VIEWPORTS,
    chromium_path,
    login,
)

from sample_company import Company, build_company
from wattdesk.domain.access import roles


@pytest.fixture
def company(transactional_db: None, settings: Any) -> Company:
    """tests/sample_company.py's company, in a transactional test (the live server runs in another thread).
    Its files go to the per-test data directory of tests/conftest.py."""
    return build_company(settings)


@dataclass
class Observed:
    """What one page did: every request URL, console errors, uncaught page errors, 4xx/5xx responses."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    failed_responses: list[str] = field(default_factory=list)

    def on_console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        # The browser's own favicon probe (no <link rel=icon> yet) is not the page's error.
        if url.endswith("/favicon.ico"):
            return
        self.console_errors.append(f"{msg.text} ({url})" if url else msg.text)

    def on_response(self, response: Any) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.failed_responses.append(f"{response.status} {response.url}")

    def foreign_requests(self, base_url: str) -> list[str]:
        return [u for u in self.requests if not (u.startswith(base_url) or u.startswith(("data:", "blob:")))]


@dataclass
class Browsing:
    """Per-test Playwright handle; see the module docstring for why it is not session-scoped."""

    base_url: str
    browser: Any
    observed: dict[int, Observed] = field(default_factory=dict)
    contexts: list[Any] = field(default_factory=list)

    def new_page(self, viewport: str | dict[str, Any] = "desktop", **context_options: Any) -> Any:
        options = dict(VIEWPORTS[viewport] if isinstance(viewport, str) else viewport)
        options.setdefault("locale", "zh-CN")
        options.setdefault("timezone_id", "Asia/Shanghai")
        options.setdefault("accept_downloads", True)
        options.update(context_options)
        context = self.browser.new_context(base_url=self.base_url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        seen = Observed()
        self.observed[id(page)] = seen
        page.on("request", lambda req: seen.requests.append(req.url))
        page.on("console", lambda msg: seen.on_console(msg))
        page.on("response", lambda resp: seen.on_response(resp))
        page.on("pageerror", lambda exc: seen.page_errors.append(str(exc)))
        return page

    def seen(self, page: Any) -> Observed:
        return self.observed[id(page)]


@pytest.fixture
def browsing(company: Company, live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Browsing]:
    """Playwright + Chromium for this test, started after ``company`` and stopped before the flush.

    While Playwright runs, its idle asyncio loop counts as "running" in this thread; the test's own ORM calls
    are plain synchronous code all the same, so Django's async-safety check is lifted for this test only
    (``monkeypatch`` puts the variable back at teardown, after Playwright has stopped)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    exe = chromium_path()
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {exe}: install Debian's package (`make install-dev` or "
            "`apt-get install chromium`) or set WATTDESK_CHROMIUM. Browser tests never skip.",
            pytrace=False,
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield Browsing(base_url=live_server.url, browser=browser)
        finally:
            # While Playwright's loop "runs", asgiref's Local keys Django's connections to that context, so the
            # test's ORM calls opened a second connection of this thread. Close it here, while that context is
            # current: left open, PostgreSQL refuses to drop the test database at the end of the session.
            from django.db import connections

            connections.close_all()
            browser.close()
    finally:
        pw.stop()


@pytest.fixture
def page_for(company: Company, browsing: Browsing) -> Callable[..., Any]:
    """``page_for(role, viewport="desktop"|"phone"|{...})``: a page logged in as that role's demo user."""

    def make(role: str, viewport: str | dict[str, Any] = "desktop") -> Any:
        assert role in roles.ROLES, role
        page = browsing.new_page(viewport)
        login(page, company.logins[role].username)
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    return make


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``shot(page, name)`` saves a full-page PNG to test-artifacts/browser/<test>/<name>.png."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)

    def take(page: Any, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (re.sub(r"[^\w.-]+", "_", name) + ".png")
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
