"""End to end in Chromium: each approver lands on "Awaiting your sign-off", sees exactly the
requests that need them, and watches the queue empty as they sign; the whole sign-off works
from the keyboard alone; the API docs render with nothing fetched off this machine.

Every test's page requests are logged; ``open_page`` fails the test at teardown if any
left 127.0.0.1.
"""

from __future__ import annotations

import pytest

from approvals import services
from approvals.models import PromotionRequest
from tests.approvals.factories import request_in_review
from tests.e2e.conftest import log_in
from tests.registry.factories import PASSWORD, TeamFactory, approver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ROLES = ("platform", "product", "security")
# Enough Tab presses to reach anything on our pages, few enough to fail fast.
MAX_TABS = 60


def queue_on_page(page) -> list[int]:
    """The request ids the awaiting page lists, in order."""
    return [
        int(row.get_attribute("data-request"))
        for row in page.query_selector_all("#awaiting-requests tr.awaiting-row")
    ]


def tab_to(page, selector: str) -> None:
    """Press Tab until the focused element matches ``selector`` (keyboard only)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def sign_from_the_queue(page, live_server, request_pk: int) -> None:
    page.click(f"tr[data-request='{request_pk}'] a:text('Sign off')")
    page.wait_for_load_state()
    page.fill("#id_password", PASSWORD)
    page.click("input[name=_confirm]")
    page.wait_for_load_state()
    assert "Your sign-off is recorded." in page.content(), page.inner_text("#content")
    page.goto(f"{live_server.url}/admin/awaiting/")


def test_each_approver_sees_exactly_the_requests_that_need_them_and_the_queue_empties(
    live_server, open_page, seeded_policies
):
    # Given two requests in review, the first already signed for platform by someone else
    team = TeamFactory(slug="assistants")
    first = request_in_review(registered_model__team=team)
    second = request_in_review(registered_model__team=team)
    services.signoff_record(
        actor=approver(team, "platform", username="pat"),
        request=first,
        role="platform",
        password=PASSWORD,
    )
    expected = {
        "platform": [second.pk],
        "product": [first.pk, second.pk],
        "security": [first.pk, second.pk],
    }

    for role in ROLES:
        # When each approver signs in
        person = approver(team, role, username=f"{role}-approver")
        page = open_page()
        log_in(page, live_server, person.username)

        # Then they land on their queue, listing exactly the requests awaiting their role
        assert page.url == f"{live_server.url}/admin/awaiting/"
        assert queue_on_page(page) == expected[role]
        badge = page.inner_text("#awaiting-badge")
        assert badge == str(len(expected[role]))

        # And each request leaves the queue once they have signed it
        for remaining, request_pk in enumerate(expected[role], start=1):
            sign_from_the_queue(page, live_server, request_pk)
            assert queue_on_page(page) == expected[role][remaining:]
        assert page.is_visible("#awaiting-empty")

    # And with every role signed, both requests are approved
    states = PromotionRequest.objects.filter(pk__in=[first.pk, second.pk]).values_list(
        "state", flat=True
    )
    assert list(states) == ["approved", "approved"]


def test_the_site_root_sends_a_visitor_to_sign_in_and_then_to_their_queue(
    live_server, open_page, seeded_policies
):
    request = request_in_review(registered_model__team=TeamFactory(slug="assistants"))
    person = approver(request.version.registered_model.team, "security", username="sam")
    page = open_page()

    # When a visitor opens the site root, then signs in on the page it shows
    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/admin/login/?next=%2F"
    page.fill("#id_username", person.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()

    # Then they are on their queue; "View site" leads back to it, not to a 404
    assert page.url == f"{live_server.url}/admin/awaiting/"
    assert queue_on_page(page) == [request.pk]
    page.click("a:text('View site')")
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/admin/awaiting/"


def test_a_sign_off_from_the_keyboard_alone_with_every_field_labelled(
    live_server, open_page, seeded_policies
):
    # Given a request awaiting the product approver
    request = request_in_review(registered_model__team=TeamFactory(slug="assistants"))
    person = approver(request.version.registered_model.team, "product", username="paul")
    page = open_page()

    # When she signs in with the keyboard (the username field has the focus)
    page.goto(f"{live_server.url}/admin/login/")
    page.keyboard.type(person.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/admin/awaiting/")

    # And tabs to the request's "Sign off" link and presses Enter
    tab_to(page, f"tr[data-request='{request.pk}'] a.button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/promotionrequest/{request.pk}/sign/")

    # Then every field of the form has a label, and the form names what is signed
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('#service-action-form input, '
                   + '#service-action-form select, #service-action-form textarea')]
            .filter(e => !['hidden', 'submit'].includes(e.type))
            .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
            .map(e => e.name)"""
    )
    assert unlabelled == []
    assert request.version.checksum in page.inner_text("#service-action-subject")

    # When she tabs to the password, types it, tabs to the button and presses Enter
    tab_to(page, "#id_password")
    page.keyboard.type(PASSWORD)
    tab_to(page, "input[name=_confirm]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/promotionrequest/{request.pk}/change/")

    # Then her sign-off is recorded, and her queue is empty
    assert list(request.signoffs.values_list("role", "signer__username")) == [("product", "paul")]
    page.goto(f"{live_server.url}/admin/awaiting/")
    assert page.is_visible("#awaiting-empty")


def test_the_sign_page_refuses_a_person_with_no_role_left_and_records_nothing(
    live_server, open_page, seeded_policies
):
    # Given a request the platform approver has signed already
    request = request_in_review(registered_model__team=TeamFactory(slug="assistants"))
    person = approver(request.version.registered_model.team, "platform", username="pia")
    services.signoff_record(actor=person, request=request, role="platform", password=PASSWORD)
    page = open_page()
    log_in(page, live_server, person.username)

    # When she opens the sign page directly
    response = page.goto(f"{live_server.url}/admin/approvals/promotionrequest/{request.pk}/sign/")

    # Then it is a refusal saying why, with no form, and still one sign-off
    assert response.status == 403
    assert "already signed this request" in page.inner_text("#service-action-refused")
    assert page.query_selector("#service-action-form") is None
    assert request.signoffs.count() == 1


def test_the_api_docs_render_offline(live_server, open_page):
    # When anyone opens the API docs
    page = open_page()
    page.goto(f"{live_server.url}/api/docs/")

    # Then Swagger UI renders the operations from this server's schema; the request log
    # (checked at teardown) shows nothing fetched from off this machine
    page.wait_for_selector(".swagger-ui .opblock", state="visible")
    assert page.is_visible("text=govboard API")
    assert any("/static/drf_spectacular_sidecar/" in url for url in page.request_log)


def test_redoc_renders_offline_and_its_page_may_load_nothing_from_elsewhere(live_server, open_page):
    # When anyone opens ReDoc
    page = open_page()
    response = page.goto(f"{live_server.url}/api/redoc/")

    # Then it renders this server's schema from the pinned bundle, and its policy lets the
    # browser load nothing from off this machine (ReDoc's footer links a CDN logo); the
    # request log (checked at teardown) holds no other host
    page.wait_for_selector("text=govboard API", state="visible")
    assert any("/static/drf_spectacular_sidecar/redoc/" in url for url in page.request_log)
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "https:" not in policy
