"""End to end in a real browser: the review page tells a board member who is still
needed, which threshold failed with its numbers and which CVEs were found, and an
approved request's page (with its signed decision record) fits the window.

Runs Debian's Chromium through Playwright against the live test server; every request
the pages make is checked to stay on 127.0.0.1 (``open_page``).
"""

from __future__ import annotations

import pytest

from tests.approvals.admin.review_scenario import (
    HIGH_CVE,
    NOISY_QUALITY_TEXT,
    review_scenario,
)
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e

VIEWPORT = {"width": 1280, "height": 800}


def _open_review_page(live_server, open_page, which: str):
    """The scenario's ``which`` request ("in_review" or "approved") opened in the browser
    by a security approver who has not signed it."""
    scenario = review_scenario()
    page = open_page()
    page.set_viewport_size(VIEWPORT)
    log_in(page, live_server, scenario.reviewer.username)
    request = getattr(scenario, which)
    page.goto(f"{live_server.url}/admin/approvals/promotionrequest/{request.pk}/change/")
    return page


@pytest.mark.django_db(transaction=True)
def test_the_review_page_shows_the_missing_role_the_failed_threshold_and_the_cve(
    live_server, open_page, seeded_policies
):
    # Given a request in review that one platform approver signed, whose quality misses
    # its bound and whose dependency scan found a high CVE; When a security approver
    # opens its review page
    page = _open_review_page(live_server, open_page, "in_review")

    # Then the banner names the roles still needed
    banner = page.inner_text("#waiting-for")
    assert "Waiting for:" in banner
    assert "Security approver \u00d71" in banner
    # And the failed threshold is listed first with its value and its limit, rounded
    first_check = page.locator("#checks tr.check").first
    assert first_check.get_attribute("data-check") == "eval_thresholds"
    missed = page.inner_text("#checks tr.threshold-missed")
    assert "quality" in missed and "overall" in missed
    assert "0.78" in missed and ">= 0.85" in missed and "missed" in missed
    assert NOISY_QUALITY_TEXT not in page.inner_text("#content")
    # And the CVE is named with its package and fixed version
    findings = page.inner_text("#findings")
    assert HIGH_CVE in findings and "requests" in findings and "2.32.0" in findings


@pytest.mark.django_db(transaction=True)
def test_an_approved_requests_page_is_no_wider_than_the_window(
    live_server, open_page, seeded_policies
):
    # Given an approved request with its signed decision record; When its page is opened
    page = _open_review_page(live_server, open_page, "approved")

    # Then the record is summarised as verified, the envelope is a link, not the page
    assert "verified" in page.inner_text("#decision-record")
    assert page.locator("#envelope-download").count() == 1
    # And nothing makes the page wider than the window (no unbroken long string)
    widths = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, viewport: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["viewport"], widths
