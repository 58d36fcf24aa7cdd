"""The foundation's whole path: CI registers → requests promotion → three roles sign in the
admin → the version is approved, and every step is in the audit trail."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from approvals import services as approval_services
from audit.models import AuditEvent
from registry.models import ModelVersion
from tests.approvals.factories import board_policy, passing_evidence_documents
from tests.registry.factories import (
    PASSWORD,
    TeamFactory,
    UserFactory,
    approver,
    service_account_with_token,
    sha256_of,
)

pytestmark = pytest.mark.django_db


def run_pending_checks(request_id: int) -> None:
    """What the Celery worker does after submit (a no-op when checks already ran)."""
    approval_services.promotion_request_run_checks(request_id=request_id, via="test worker")


def test_ci_registration_through_board_sign_off_approves_the_version_with_a_full_audit_trail(
    api_client,
):
    # Given a team, its CI service account, an owner pair and one approver per role
    team = TeamFactory(slug="assistants")
    account, token = service_account_with_token(teams=[team])
    owner, backup = UserFactory(username="oliver"), UserFactory(username="bea")
    signers = {
        role: approver(team, role, username=f"{role}-lead")
        for role in ("platform", "product", "security")
    }
    board_policy(team)  # the team's board policy: platform, product and security sign
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    # When CI creates the model and registers a version
    response = api_client.put(
        "/api/v1/teams/assistants/models/support-lora/",
        {
            "kind": "adapter",
            "owner": "oliver",
            "backup_owner": "bea",
            "escalation_contact": "oncall@example.test",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    payload = {
        "team": "assistants",
        "model": "support-lora",
        "version": "1.0.0",
        "checksum": sha256_of("weights"),
        "storage_uri": "s3://models/support-lora/1.0.0/",
        "license": "apache-2.0",
        "allowed_use_cases": ["support drafting"],
        "prohibited_use_cases": ["medical advice"],
        "risk_rating": "medium",
        "mitigation_controls": ["human review"],
        "source_commit": "b" * 40,
        "dependency_lock_hash": sha256_of("uv.lock"),
        "fine_tune_method": "lora",
        "base_model_reference": "hf://meta-llama/Llama-3.1-8B@8c22764",
    }
    response = api_client.post("/api/v1/versions/", payload, format="json")

    # Then it exists as draft, and the audit event names the service account
    assert response.status_code == 201, response.json()
    version_id = response.json()["id"]
    assert response.json()["state"] == "draft"
    registered = AuditEvent.objects.get(verb="version.registered", object_id=str(version_id))
    assert registered.actor == account.user
    assert registered.actor_label == f"service-account:{account.name}"

    # And registering it again is idempotent; another checksum is a conflict
    again = api_client.post("/api/v1/versions/", payload, format="json")
    assert (again.status_code, again.json()["id"]) == (200, version_id)
    conflict = api_client.post(
        "/api/v1/versions/", {**payload, "checksum": sha256_of("other")}, format="json"
    )
    assert conflict.status_code == 409
    assert conflict["Content-Type"] == "application/problem+json"
    assert ModelVersion.objects.get(pk=version_id).checksum == sha256_of("weights")

    # When CI requests promotion before the datasets are linked, the checks fail with reasons
    version = ModelVersion.objects.get(pk=version_id)
    response = api_client.post(
        "/api/v1/promotion-requests/", {"version": version_id}, format="json"
    )
    assert response.status_code == 201
    run_pending_checks(response.json()["id"])
    response = api_client.get(f"/api/v1/promotion-requests/{response.json()['id']}/")
    assert response.json()["state"] == "changes_requested"
    assert any("training dataset" in reason for reason in response.json()["reasons"])
    assert ModelVersion.objects.get(pk=version_id).state == "draft"

    # When the evidence is completed and promotion requested again, it enters review
    for use, dataset in (("train", "support-tickets"), ("eval", "golden-eval")):
        response = api_client.post(
            f"/api/v1/versions/{version_id}/datasets/",
            {
                "dataset": dataset,
                "version": "2026-10",
                "use": use,
                "window_start": "2026-06-01T00:00:00Z",
                "window_end": "2026-09-30T00:00:00Z",
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
    for kind, document in passing_evidence_documents(version).items():
        content = json.loads(document) if isinstance(document, bytes) else document
        response = api_client.post(
            f"/api/v1/versions/{version_id}/evidence/",
            {"kind": kind, "content": content, "filename": f"{kind}.json"},
            format="json",
        )
        assert response.status_code == 201, response.json()
    response = api_client.post(
        "/api/v1/promotion-requests/", {"version": version_id}, format="json"
    )
    assert response.status_code == 201
    request_id = response.json()["id"]
    run_pending_checks(request_id)
    assert api_client.get(f"/api/v1/promotion-requests/{request_id}/").json()["state"] == (
        "in_review"
    )
    assert response.json()["policy"]["required_roles"] == {
        "platform": 1,
        "product": 1,
        "security": 1,
    }
    assert ModelVersion.objects.get(pk=version_id).state == "candidate"

    # When each board member signs off in the admin, with their password
    for index, (role, signer) in enumerate(signers.items()):
        browser = Client()
        browser.force_login(signer)
        page = browser.get(f"/admin/approvals/promotionrequest/{request_id}/change/")
        assert page.status_code == 200
        assert f"/admin/approvals/promotionrequest/{request_id}/sign/" in page.content.decode()
        response = browser.post(
            f"/admin/approvals/promotionrequest/{request_id}/sign/",
            {"role": role, "password": PASSWORD, "meaning": "Approved for production promotion"},
        )
        assert response.status_code == 302, response.content.decode()
        expected = "approved" if index == 2 else "candidate"
        assert ModelVersion.objects.get(pk=version_id).state == expected

    # Then the API shows the version approved, with its three sign-offs
    response = api_client.get(f"/api/v1/versions/{version_id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "approved"
    assert body["approval_expires_at"] is not None
    approved_request = next(r for r in body["promotion_requests"] if r["id"] == request_id)
    assert approved_request["state"] == "approved"
    assert sorted((s["role"], s["signer"]) for s in approved_request["signoffs"]) == [
        ("platform", "platform-lead"),
        ("product", "product-lead"),
        ("security", "security-lead"),
    ]
    assert all(s["signed_checksum"] == sha256_of("weights") for s in approved_request["signoffs"])

    # And every step left an audit event, in order
    verbs = list(
        AuditEvent.objects.filter(team_id=team.pk).order_by("id").values_list("verb", flat=True)
    )
    assert verbs == [
        "model.registered",
        "version.registered",
        "promotion.submitted",
        "promotion.checks_started",
        "promotion.checked",
        "version.dataset_linked",
        "version.dataset_linked",
        *["evidence.attached"] * 5,
        "promotion.submitted",
        "promotion.checks_started",
        "promotion.checked",
        "version.marked_candidate",
        "promotion.signed",
        "promotion.signed",
        "promotion.signed",
        "promotion.approved",
        "version.approved",
    ]
    assert owner.pk and backup.pk
