"""Re-certification: before an approval expires, the model's owner asks for it on the
same version with fresh evals and scans; the same quorum signs through the promotion
request flow, and the approval's expiry moves — no new version."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import services
from approvals.choices import RequestPurpose
from approvals.models import DecisionRecord, PromotionRequest
from audit.models import AuditEvent
from audit.verbs import AuditVerb
from core import permissions
from core.errors import IllegalTransition, InvalidInput, NotPermitted
from registry.models import ModelVersion
from tests.approvals.factories import (
    attach,
    ci_user,
    governance_row_counts,
    passing_evidence_documents,
    request_in_review,
    run_checks,
)
from tests.registry.factories import PASSWORD, TeamFactory, approver

pytestmark = pytest.mark.django_db
FRESH = ("eval_package", "dependency_scan", "artifact_scan")


def _sign_all(request: PromotionRequest) -> None:
    team = request.version.registered_model.team
    for role in ("platform", "product", "security"):
        services.signoff_record(
            actor=approver(team, role), request=request, role=role, password=PASSWORD
        )


@pytest.fixture
def approved():
    """A version approved through the whole flow by the three-member board."""
    request = request_in_review(registered_model__team=TeamFactory())
    _sign_all(request)
    return ModelVersion.objects.get(pk=request.version_id)


def _upload_fresh(version: ModelVersion, kinds=FRESH) -> None:
    documents = passing_evidence_documents(version)
    for kind in kinds:
        attach(version, kind, documents[kind])


def test_the_owner_re_certifies_and_the_same_version_s_approval_is_extended(approved):
    # Given an approved version whose CI uploaded fresh evals and scans after approval
    old_expiry = approved.approval_expires_at
    owner = approved.registered_model.owner
    _upload_fresh(approved)
    versions_before = ModelVersion.objects.count()

    # When its owner requests re-certification and the checks run
    request = services.recertification_request_submit(actor=owner, version=approved)
    request = run_checks(request)

    # Then it is an ordinary request in review, judged by the approving request's policy
    assert (request.state, request.purpose) == ("in_review", RequestPurpose.RECERTIFICATION), (
        request.reasons
    )
    first = PromotionRequest.objects.filter(version=approved).order_by("id").first()
    assert request.policy_snapshot == first.policy_snapshot

    # When the same quorum signs
    _sign_all(request)

    # Then the request is approved with a signed decision record, the version is still
    # approved (no new version) and its approval runs a full validity longer
    request.refresh_from_db()
    approved.refresh_from_db()
    assert request.state == "approved"
    assert approved.state == "approved"
    assert ModelVersion.objects.count() == versions_before
    assert approved.approval_expires_at > old_expiry
    validity = timedelta(days=request.policy_snapshot["approval_validity_days"])
    assert approved.approval_expires_at == request.decided_at + validity
    statement = DecisionRecord.objects.get(request=request).envelope
    assert statement["payloadType"]
    event = AuditEvent.objects.get(verb=AuditVerb.VERSION_RECERTIFIED)
    assert event.data["before"] == {"approval_expires_at": old_expiry.isoformat()}
    assert event.data["after"] == {"approval_expires_at": approved.approval_expires_at.isoformat()}
    assert event.data["promotion_request"] == request.pk


@pytest.mark.parametrize("who", ["ci", "approver", "other-team-owner"])
def test_only_the_owner_or_backup_owner_may_request_re_certification(approved, who):
    # Given fresh evidence and someone who is not the model's owner
    _upload_fresh(approved)
    team = approved.registered_model.team
    actor = {
        "ci": lambda: ci_user(team),
        "approver": lambda: approver(team, "security"),
        "other-team-owner": lambda: request_in_review().version.registered_model.owner,
    }[who]()
    before = governance_row_counts()
    expiry = approved.approval_expires_at

    # When they ask, it is refused and nothing changed
    with pytest.raises(NotPermitted, match="owner or backup owner"):
        services.recertification_request_submit(actor=actor, version=approved)
    assert governance_row_counts() == before
    approved.refresh_from_db()
    assert approved.approval_expires_at == expiry


def test_the_backup_owner_may_request_re_certification(approved):
    _upload_fresh(approved)
    backup = approved.registered_model.backup_owner
    request = services.recertification_request_submit(actor=backup, version=approved)
    assert request.requested_by == backup


@pytest.mark.parametrize("missing", FRESH)
def test_re_certification_without_fresh_evidence_is_refused(approved, missing):
    # Given fresh evidence of every kind but one
    _upload_fresh(approved, kinds=[kind for kind in FRESH if kind != missing])
    before = governance_row_counts()

    # When the owner asks, it is refused naming what is missing, and nothing changed
    with pytest.raises(InvalidInput, match=f"upload a new {missing}") as refused:
        services.recertification_request_submit(
            actor=approved.registered_model.owner, version=approved
        )
    assert refused.value.errors == {"evidence": [missing]}
    assert governance_row_counts() == before


def test_a_version_that_is_not_approved_or_whose_approval_expired_is_not_re_certified(approved):
    owner = approved.registered_model.owner
    _upload_fresh(approved)
    before = governance_row_counts()

    # An approval that already ran out is not re-certified (the sweep deprecates it)
    later = approved.approval_expires_at + timedelta(seconds=1)
    with pytest.raises(IllegalTransition, match="has expired"):
        services.recertification_request_submit(actor=owner, version=approved, now=later)

    # A version under review for the first time is not re-certified either
    candidate = request_in_review().version
    with pytest.raises(IllegalTransition, match="this one is candidate"):
        services.recertification_request_submit(
            actor=candidate.registered_model.owner, version=candidate, now=timezone.now()
        )
    assert governance_row_counts()["requests"] == before["requests"] + 1  # the new review
    approved.refresh_from_db()
    assert not approved.promotion_requests.filter(purpose=RequestPurpose.RECERTIFICATION)


def test_the_owner_re_certifies_through_the_api_and_ci_may_not(approved, api_client):
    # Given fresh evidence, and the owner, who may read the team's registry, signed in
    # (the API takes browser sessions)
    _upload_fresh(approved)
    owner = approved.registered_model.owner
    permissions.grant_team_role(owner, "registry.view_team_registry", approved.team)
    body = {"version": approved.pk, "purpose": "recertification"}

    # When the team's CI asks, it is refused and nothing changed
    before = governance_row_counts()
    api_client.force_login(ci_user(approved.registered_model.team))
    refused = api_client.post("/api/v1/promotion-requests/", body, format="json")
    assert refused.status_code == 403, refused.json()
    assert governance_row_counts() == before

    # When the owner asks, a re-certification request is opened for the same version
    api_client.force_login(owner)
    response = api_client.post("/api/v1/promotion-requests/", body, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["version"], response.json()["purpose"]) == (
        approved.pk,
        "recertification",
    )
