"""End to end in a real browser: three board members sign a request in the admin.

Runs Debian's Chromium through Playwright against the live test server. Skipped (with the
reason) on machines without /usr/bin/chromium; `.ci/run` installs it.
"""

from __future__ import annotations

import pytest

from approvals.models import PromotionRequest
from tests.approvals.factories import request_in_review
from tests.e2e.conftest import log_in as _log_in
from tests.registry.factories import PASSWORD, approver

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_three_board_members_sign_off_in_the_browser_and_the_version_is_approved(
    live_server, open_page, seeded_policies
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
        page = open_page()  # each signer in their own browser session
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

    # And the request and the version are approved
    request.refresh_from_db()
    assert request.state == "approved"
    assert request.version.state == "approved"


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_in_the_browser_is_refused_and_nothing_is_signed(
    live_server, open_page, seeded_policies
):
    # Given a request in review and a platform approver
    request = request_in_review()
    signer = approver(request.version.registered_model.team, "platform", username="plat")
    page = open_page()
    _log_in(page, live_server, signer.username)

    # When they sign with a wrong password
    page.goto(f"{live_server.url}/admin/approvals/promotionrequest/{request.pk}/sign/")
    page.select_option("#id_role", "platform")
    page.fill("#id_password", "not my password")
    page.click("input[name=_confirm]")

    # Then the form shows the refusal and no sign-off exists
    assert "Re-authentication failed" in page.content()
    assert PromotionRequest.objects.get(pk=request.pk).signoffs.count() == 0
