"""End to end in a real browser: three board members sign a request in the admin.

Runs Debian's Chromium through Playwright against the live test server. Skipped (with the
reason) on machines without /usr/bin/chromium; `.ci/run` installs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from approvals.models import PromotionRequest
from tests.approvals.factories import request_in_review
from tests.registry.factories import PASSWORD, approver

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

pytestmark = [
    pytest.mark.e2e,
    # CI sets GOVBOARD_REQUIRE_BROWSER=1: there a missing browser fails instead of skipping.
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("GOVBOARD_REQUIRE_BROWSER") != "1",
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


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


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


@pytest.mark.django_db(transaction=True)
def test_three_board_members_sign_off_in_the_browser_and_the_version_is_approved(
    live_server, browser, seeded_policies
):
    # Given a request in review and one approver per required role
    request = request_in_review()
    team = request.version.registered_model.team
    signers = {
        role: approver(team, role, username=f"{role}-signer")
        for role in ("platform", "product", "security")
    }
    change_url = f"{live_server.url}/admin/approvals/promotionrequest/{request.pk}/change/"

    for role, signer in signers.items():
        # When each opens the request in the browser, clicks "Sign off" and re-enters a password
        session = browser.new_context()  # each signer in their own browser session
        page = session.new_page()
        _log_in(page, live_server, signer.username)
        page.goto(change_url)
        page.click("a.govboard-action:text('Sign off')")
        page.select_option("#id_role", role)
        page.fill("#id_password", PASSWORD)
        page.click("input[name=_confirm]")

        # Then they are back on the request with a confirmation
        page.wait_for_load_state()
        assert page.url == change_url, page.inner_text("#content")
        assert "Your sign-off is recorded." in page.content()
        session.close()

    # And the request and the version are approved
    request.refresh_from_db()
    assert request.state == "approved"
    assert request.version.state == "approved"


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_in_the_browser_is_refused_and_nothing_is_signed(
    live_server, browser, seeded_policies
):
    # Given a request in review and a platform approver
    request = request_in_review()
    signer = approver(request.version.registered_model.team, "platform", username="plat")
    page = browser.new_context().new_page()
    _log_in(page, live_server, signer.username)

    # When they sign with a wrong password
    page.goto(f"{live_server.url}/admin/approvals/promotionrequest/{request.pk}/sign/")
    page.select_option("#id_role", "platform")
    page.fill("#id_password", "not my password")
    page.click("input[name=_confirm]")

    # Then the form shows the refusal and no sign-off exists
    assert "Re-authentication failed" in page.content()
    assert PromotionRequest.objects.get(pk=request.pk).signoffs.count() == 0
