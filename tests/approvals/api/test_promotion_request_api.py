"""CI reads what blocks a request, withdraws or re-checks it, and fetches the signed decision."""

from __future__ import annotations

import copy
import json

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from approvals import services
from audit.models import AuditEvent
from tests.approvals.factories import request_in_review, run_checks
from tests.registry.factories import PASSWORD, TeamFactory, approver, service_account_with_token

pytestmark = pytest.mark.django_db
BOARD = ("platform", "product", "security")


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


@pytest.fixture
def ci(team, api_client):
    _, token = service_account_with_token(teams=[team])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api_client


def test_a_request_in_review_says_which_roles_it_still_awaits_and_when_each_step_is_due(team, ci):
    # Given a request in review with one of three sign-offs
    request = request_in_review(registered_model__team=team)
    services.signoff_record(
        actor=approver(team, "platform"), request=request, role="platform", password=PASSWORD
    )

    # When CI reads it
    body = ci.get(f"/api/v1/promotion-requests/{request.pk}/").json()

    # Then it names the missing roles and blocking reasons, with valid sign-offs and due dates
    assert body["state"] == "in_review"
    assert body["missing_roles"] == {"product": 1, "security": 1}
    assert body["blocked_reasons"] == ["awaiting sign-off: product x1, security x1"]
    assert [(s["role"], s["valid"]) for s in body["signoffs"]] == [("platform", True)]
    assert body["steps"] and all(step["due_at"] for step in body["steps"])
    assert body["decision_available"] is False
    assert {check["check_name"] for check in body["checks"]} >= {"sbom", "provenance"}


def test_an_approved_request_serves_a_decision_record_anyone_can_verify_with_the_public_key(
    team, ci, client
):
    # Given an approved request
    request = request_in_review(registered_model__team=team)
    for role in BOARD:
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )

    # When CI fetches the decision record, and anyone (no credentials) the public key
    envelope = ci.get(f"/api/v1/promotion-requests/{request.pk}/decision/").json()
    published = client.get("/api/v1/signing-key/").json()

    # Then standard tooling verifies the envelope with the published key
    key = SSlibKey.from_crypto(load_pem_public_key(published["public_key_pem"].encode()))
    assert published["keyid"] == key.keyid
    statement = json.loads(Envelope.from_dict(copy.deepcopy(envelope)).payload)
    assert key.keyid in Envelope.from_dict(copy.deepcopy(envelope)).verify([key], 1)
    assert statement["subject"][0]["digest"]["sha256"] == request.version.checksum
    assert statement["predicate"]["request"]["id"] == request.pk


def test_a_decision_record_is_a_404_problem_before_approval(team, ci):
    request = request_in_review(registered_model__team=team)
    response = ci.get(f"/api/v1/promotion-requests/{request.pk}/decision/")
    assert response.status_code == 404
    assert response.json()["type"].endswith("/no-decision")


def test_ci_withdraws_its_open_request_and_the_version_returns_to_draft(team, ci):
    # Given a request in review
    request = request_in_review(registered_model__team=team)

    # When CI withdraws it
    response = ci.post(f"/api/v1/promotion-requests/{request.pk}/withdraw/")

    # Then it is withdrawn, audited, and withdrawing again is a 409 that changes nothing
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "withdrawn"
    request.version.refresh_from_db()
    assert request.version.state == "draft"
    assert AuditEvent.objects.filter(verb="promotion.withdrawn").count() == 1
    again = ci.post(f"/api/v1/promotion-requests/{request.pk}/withdraw/")
    assert again.status_code == 409
    assert AuditEvent.objects.filter(verb="promotion.withdrawn").count() == 1


def test_after_a_recheck_the_request_shows_only_the_latest_check_run(team, ci):
    # Given a request in review whose checks are run a second time
    request = request_in_review(registered_model__team=team)
    first_run = ci.get(f"/api/v1/promotion-requests/?version={request.version_id}").json()
    ci.post(f"/api/v1/promotion-requests/{request.pk}/recheck/")
    run_checks(request)

    # When CI lists its requests
    listed = ci.get(f"/api/v1/promotion-requests/?version={request.version_id}").json()

    # Then each check appears once (the latest run), not once per run
    names = [check["check_name"] for check in listed["results"][0]["checks"]]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(c["check_name"] for c in first_run["results"][0]["checks"])
