"""Shared fixtures for the real-browser tests: Debian's Chromium through Playwright,
a login helper, and the request log every test checks for traffic leaving 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.registry.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def pytest_collection_modifyitems(items):
    # CI sets GOVBOARD_REQUIRE_BROWSER=1: there a missing browser fails instead of skipping.
    if CHROMIUM.exists() or os.environ.get("GOVBOARD_REQUIRE_BROWSER") == "1":
        return
    skip = pytest.mark.skip(
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
    )
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture
def browser():
    # Playwright's sync API keeps an event loop in this thread; the ORM calls made by the
    # test itself (not the server) are plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


class RequestLog(list):
    """Every URL a page of the test asked for (documents, scripts, styles, images, XHR)."""

    def outside_the_machine(self) -> list[str]:
        return [url for url in self if urlsplit(url).hostname not in LOCAL_HOSTS]


@pytest.fixture
def open_page(browser):
    """``open_page()`` gives a page in a fresh browser session whose requests are logged;
    at teardown the test fails if any page asked for anything outside 127.0.0.1."""
    log = RequestLog()
    contexts = []

    def _open():
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.on(
            "request",
            lambda request: (
                log.append(request.url)
                if not request.url.startswith(("data:", "blob:", "about:"))
                else None
            ),
        )
        page.request_log = log
        return page

    yield _open
    for context in contexts:
        context.close()
    assert log.outside_the_machine() == [], "a page requested something off this machine"


def log_in(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Sign in through the admin login form and wait for the landing page."""
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()
