"""End to end in a real browser: a model owner sees on the version page why it is blocked
and follows the link to its request; the model card prints without the admin around it.

Debian's Chromium through Playwright against the live test server (tests/e2e/conftest.py).
"""

from __future__ import annotations

import pytest

from tests.approvals.factories import request_in_review
from tests.e2e.conftest import log_in
from tests.registry.admin.owner_scenario import owner_of

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_the_owner_sees_why_the_version_is_blocked_and_opens_its_request(
    live_server, open_page, seeded_policies
):
    # Given a version whose request waits for three board roles, and its owner
    request = request_in_review()
    version = request.version
    owner = owner_of(version.registered_model.team, username="oliver")
    version.registered_model.owner = owner
    version.registered_model.save()
    page = open_page()
    log_in(page, live_server, owner.username)

    # When the owner finds the version on "My models" and opens its page
    page.goto(f"{live_server.url}/admin/my-models/")
    page.click(f"#my-models a:text-is('{version.version}')")
    page.wait_for_load_state()

    # Then the banner says it is blocked, why, and links to the request
    banner = page.locator("#version-blocked")
    assert banner.is_visible()
    assert "awaiting sign-off: platform x1, product x1, security x1" in banner.inner_text()
    page.click("#version-blocked-request")
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/admin/approvals/promotionrequest/{request.pk}/change/"


@pytest.mark.django_db(transaction=True)
def test_the_model_card_renders_and_prints_without_the_admin_around_it(
    live_server, open_page, seeded_policies
):
    # Given a version with its metadata, and its owner signed in
    request = request_in_review()
    version = request.version
    owner = owner_of(version.registered_model.team, username="oliver")
    page = open_page()
    log_in(page, live_server, owner.username)

    # When the owner follows the version page's "Model card" link
    page.goto(f"{live_server.url}/admin/registry/modelversion/{version.pk}/change/")
    page.click("#model-card-link")
    page.wait_for_load_state()

    # Then the card shows the lineage, datasets and intended use on screen, with the header
    card = page.locator("#model-card")
    assert "hf://example/base@1" in card.inner_text()
    assert "data-train" in card.inner_text()
    assert "support drafting" in card.inner_text()
    assert page.locator("#header").is_visible()

    # And printed, the print stylesheet hides the admin's header and breadcrumbs only
    page.emulate_media(media="print")
    assert page.locator("#header").is_hidden()
    assert page.locator(".breadcrumbs").is_hidden()
    assert card.is_visible()
    assert page.evaluate(
        "() => [...document.styleSheets].some(s => s.href && s.href.endsWith('model_card.css'))"
    )
