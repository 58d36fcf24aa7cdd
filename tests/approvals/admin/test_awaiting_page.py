"""The approver's landing page and everything the queue's one selector feeds: the page
"Awaiting your sign-off", the navigation badge, the changelist filter, the API filter and
the sign form's roles; and the refusal a person with no role left to sign gets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from approvals import services
from approvals.models import PromotionRequest, SignOff
from approvals.templatetags.awaiting import badge_text
from registry.models import ModelVersion, RegisteredModel
from tests.approvals.factories import (
    PromotionRequestFactory,
    SignOffFactory,
    board_policy,
    governance_row_counts,
    request_in_review,
)
from tests.registry.factories import (
    PASSWORD,
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    approver,
)

pytestmark = pytest.mark.django_db
AWAITING = "/admin/awaiting/"


def build_queue(rows: int, team) -> int:
    """``rows`` requests in review on ``team``, every third already signed for platform
    (a sign-off bound to the version and the checked evidence); returns how many still
    await a platform approver. Bulk-built: fixtures of a read-only page."""
    owner, backup = UserFactory(), UserFactory()
    models = RegisteredModel.objects.bulk_create(
        RegisteredModelFactory.build(
            team=team, name=f"model-{i:04d}", owner=owner, backup_owner=backup
        )
        for i in range(rows)
    )
    versions = ModelVersion.objects.bulk_create(
        ModelVersionFactory.build(registered_model=model, version="1.0.0") for model in models
    )
    policy = board_policy(team)  # platform, product and security, one each
    requests = PromotionRequest.objects.bulk_create(
        PromotionRequestFactory.build(
            version=version, requested_by=owner, policy=policy, policy_snapshot=policy.snapshot()
        )
        for version in versions
    )
    signer = UserFactory()
    signed = [request for index, request in enumerate(requests) if index % 3 == 0]
    SignOff.objects.bulk_create(
        SignOffFactory.build(request=request, role="platform", signer=signer, evidence_digests={})
        for request in signed
    )
    return rows - len(signed)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queries_of(client: Client, url: str) -> tuple[int, object]:
    client.get(url)  # warm the content-type and permission caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


@pytest.mark.parametrize("page", [AWAITING, "/admin/"])
def test_the_awaiting_page_and_the_badge_cost_the_same_queries_at_20_and_2000_requests(page):
    # Given a platform approver and 20 requests awaiting on one team, 2,000 on another
    small_team, large_team = TeamFactory(slug="small"), TeamFactory(slug="large")
    small_waiting = build_queue(20, small_team)
    reviewer_small = approver(small_team, "platform")
    large_waiting = build_queue(2000, large_team)
    reviewer_large = approver(large_team, "platform")

    # When each opens the page (the index shows only the badge)
    small_count, small = queries_of(client_for(reviewer_small), page)
    large_count, large = queries_of(client_for(reviewer_large), page)

    # Then both cost the same number of queries, and the badge counts up to "99+"
    assert small_count == large_count
    assert 'id="awaiting-badge"' in small.content.decode()
    small_badge = f">{badge_text(small_waiting)}</span>"
    assert small_badge in small.content.decode()
    assert ">99+</span>" in large.content.decode()
    assert large_waiting > 100
    if page == AWAITING:
        assert len(small.context["rows"]) == small_waiting and not small.context["more"]
        assert len(large.context["rows"]) == 100 and large.context["more"]


def test_the_page_lists_the_queue_with_age_sla_and_the_role_awaited():
    # Given one request in review awaiting the security approver
    team = TeamFactory(slug="assistants")
    request = request_in_review(registered_model__team=team)
    reviewer = approver(team, "security")

    # When she opens her landing page
    response = client_for(reviewer).get(AWAITING)

    # Then it lists the request by model name and version, the role, its age and SLA
    html = response.content.decode()
    version = request.version
    assert [row.request.pk for row in response.context["rows"]] == [request.pk]
    assert f"{version.registered_model.name} {version.version}" in html
    assert "Security approver" in html
    row = response.context["rows"][0]
    assert row.sla.startswith("due in ") and not row.overdue
    assert f"/admin/approvals/promotionrequest/{request.pk}/sign/" in html


def test_the_changelist_filter_and_the_api_use_the_same_queue():
    # Given two requests awaiting the product approver, one of them signed for product
    team = TeamFactory(slug="assistants")
    waiting = request_in_review(registered_model__team=team)
    filled = request_in_review(registered_model__team=team)
    services.signoff_record(
        actor=approver(team, "product"), request=filled, role="product", password=PASSWORD
    )
    reviewer = approver(team, "product")
    client = client_for(reviewer)

    # When she filters the changelist and asks the API
    listed = client.get("/admin/approvals/promotionrequest/?queue=mine")
    api = client.get("/api/v1/promotion-requests/?awaiting=me")
    refused = client.get("/api/v1/promotion-requests/?awaiting=someone")

    # Then both hold exactly the request still awaiting product
    assert [r.pk for r in listed.context["cl"].result_list] == [waiting.pk]
    assert api.status_code == 200
    assert [item["id"] for item in api.json()["results"]] == [waiting.pk]
    assert refused.status_code == 400


def test_the_sign_form_names_what_is_signed_and_offers_only_the_roles_left():
    # Given a person holding platform and security on a request whose security is signed
    team = TeamFactory(slug="assistants")
    request = request_in_review(registered_model__team=team, roles={"platform": 1, "security": 1})
    services.signoff_record(
        actor=approver(team, "security"), request=request, role="security", password=PASSWORD
    )
    both = approver(team, "platform", "security")

    # When they open the sign form
    response = client_for(both).get(f"/admin/approvals/promotionrequest/{request.pk}/sign/")

    # Then only platform is offered, and the model, version and checksum are shown
    assert response.status_code == 200
    assert [value for value, _ in response.context["form"].fields["role"].choices] == ["platform"]
    html = response.content.decode()
    version = request.version
    for shown in (version.registered_model.name, version.version, version.checksum):
        assert shown in html
    assert '<label for="id_role"' in html


@pytest.mark.parametrize("who", ["signed already", "role filled", "requester-free other team"])
def test_a_person_with_no_role_left_is_refused_the_sign_page_and_a_post_changes_nothing(who):
    # Given a request whose platform role is filled, and a person with nothing left to sign
    team = TeamFactory(slug="assistants")
    request = request_in_review(registered_model__team=team)
    signer = approver(team, "platform", username="pia")
    services.signoff_record(actor=signer, request=request, role="platform", password=PASSWORD)
    person = {
        "signed already": signer,
        "role filled": approver(team, "platform", username="pat"),
        "requester-free other team": approver(TeamFactory(slug="vision"), "product"),
    }[who]
    client = client_for(person)
    url = f"/admin/approvals/promotionrequest/{request.pk}/sign/"
    before = governance_row_counts()

    # When they open the sign page, and post a complete form anyway
    opened = client.get(url)
    posted = client.post(url, {"role": "platform", "meaning": "ok", "password": PASSWORD})

    # Then both are refused with a message (or hidden, for another team), nothing changed
    if who == "requester-free other team":
        assert (opened.status_code, posted.status_code) == (404, 404)
    else:
        assert (opened.status_code, posted.status_code) == (403, 403)
        assert "Nothing was recorded" in opened.content.decode()
        assert "form" not in opened.context or opened.context.get("form") is None
    assert governance_row_counts() == before
    request.refresh_from_db()
    assert request.state == "in_review"
