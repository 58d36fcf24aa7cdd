"""Shared pieces of the API test bar: a two-team world, its callers, and exact assertions.

The world (``build_world``) holds two teams, A ("alpha") and B ("beta"), each with a model,
a draft version ready for review, an approved version with an open deployment, and a
promotion request in review; plus one caller of every kind the authorization matrix needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.choices import ApproverRole
from approvals.models import GovernancePolicy, PromotionRequest
from audit.models import AuditEvent
from core import permissions
from registry.choices import TokenScope
from registry.models import (
    ApiToken,
    Deployment,
    Evidence,
    IdempotencyKey,
    ModelVersion,
    RegisteredModel,
    Team,
)
from tests.registry.factories import (
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    approver,
    ready_version,
    service_account_with_token,
    sha256_of,
)

User = get_user_model()

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail"}

APPROVER_CALLERS = tuple(f"approver_{role}" for role in ApproverRole.values)
# Every kind of caller of the authorization matrix (AZ-1), in a stable order.
CALLERS = (
    "anonymous",
    "no_permission",
    "viewer",
    "registrar",
    *APPROVER_CALLERS,
    "manager",
    "auditor",
    "global_only",
    "superuser",
    "team_b_person",
    "ci_a",
    "ci_a_read",
    "ci_b",
)


def assert_problem(response: Any, status: int) -> dict:
    """The response is an RFC 9457 problem with the given status; returns its body."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = json.loads(response.content)
    assert set(body) >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["type"].startswith("https://govboard.invalid/problems/")
    return body


@dataclass
class World:
    team_a: Team
    team_b: Team
    model_a: RegisteredModel
    model_b: RegisteredModel
    draft_a: ModelVersion
    draft_b: ModelVersion
    approved_a: ModelVersion
    approved_b: ModelVersion
    deployment_a: Deployment
    deployment_b: Deployment
    request_a: PromotionRequest
    request_b: PromotionRequest
    users: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, caller: str) -> APIClient:
        """An API client acting as ``caller``: a bearer token, a browser session, or nobody."""
        client = APIClient()
        if caller in self.tokens:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens[caller]}")
        elif caller in self.users:
            client.force_login(self.users[caller])
        else:
            assert caller == "anonymous", caller
        return client


def _grant_global(user: Any, *codenames: str) -> None:
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="registry", codename__in=codenames)
    )


def _request_in_review(version: ModelVersion, requested_by: Any) -> PromotionRequest:
    """A request in review for a candidate version, built directly (not under test here)."""
    policy = GovernancePolicy.objects.get(is_default=True)
    return PromotionRequest.objects.create(
        version=version,
        team=version.registered_model.team,
        policy=policy,
        policy_snapshot=policy.snapshot(),
        state="in_review",
        requested_by=requested_by,
    )


def build_world() -> World:
    team_a, team_b = TeamFactory(slug="alpha"), TeamFactory(slug="beta")
    model_a = RegisteredModelFactory(team=team_a, name="support-lora")
    model_b = RegisteredModelFactory(team=team_b, name="defect-detector")
    now = timezone.now()
    versions = {}
    for key, model in (("a", model_a), ("b", model_b)):
        versions[f"draft_{key}"] = ready_version(registered_model=model, version="1.0.0")
        versions[f"approved_{key}"] = ModelVersionFactory(
            registered_model=model,
            version="0.9.0",
            state="approved",
            complete=True,
            approved_at=now - timedelta(days=1),
            approval_expires_at=now + timedelta(days=90),
        )
        versions[f"candidate_{key}"] = ModelVersionFactory(
            registered_model=model, version="1.1.0", state="candidate", complete=True
        )
    deployments = {
        key: Deployment.objects.create(
            version=versions[f"approved_{key}"],
            environment="production",
            ring="canary",
            customer_scope=f"customers-{key}",
            started_at=now - timedelta(hours=2),
            recorded_by=model.owner,
        )
        for key, model in (("a", model_a), ("b", model_b))
    }
    world = World(
        team_a=team_a,
        team_b=team_b,
        model_a=model_a,
        model_b=model_b,
        draft_a=versions["draft_a"],
        draft_b=versions["draft_b"],
        approved_a=versions["approved_a"],
        approved_b=versions["approved_b"],
        deployment_a=deployments["a"],
        deployment_b=deployments["b"],
        request_a=_request_in_review(versions["candidate_a"], model_a.owner),
        request_b=_request_in_review(versions["candidate_b"], model_b.owner),
    )
    users = world.users
    users["no_permission"] = UserFactory(username="nobody")
    users["viewer"] = UserFactory(username="viewer")
    permissions.grant_team_role(users["viewer"], "registry.view_team_registry", team_a)
    users["registrar"] = UserFactory(username="registrar")
    permissions.grant_team_role(users["registrar"], "registry.register_versions", team_a)
    for role in ApproverRole.values:
        users[f"approver_{role}"] = approver(team_a, role, username=f"approver-{role}")
    users["manager"] = UserFactory(username="manager")
    permissions.grant_team_role(users["manager"], "registry.manage_governance", team_a)
    users["auditor"] = UserFactory(username="auditor")
    _grant_global(users["auditor"], "view_team_registry")
    # Global grants of every permission except "view": guardian would let them expose every
    # object by default; here they must expose nothing.
    users["global_only"] = UserFactory(username="global-only")
    _grant_global(
        users["global_only"], "manage_governance", "register_versions", "sign_as_platform"
    )
    users["superuser"] = UserFactory(username="root", is_superuser=True)
    users["team_b_person"] = UserFactory(username="beta-person")
    for name in ("view_team_registry", "register_versions", "manage_governance"):
        permissions.grant_team_role(users["team_b_person"], f"registry.{name}", team_b)
    admin = users["superuser"]
    _, world.tokens["ci_a"] = service_account_with_token(teams=[team_a], admin=admin)
    _, world.tokens["ci_a_read"] = service_account_with_token(
        teams=[team_a], scopes=[TokenScope.READ], admin=admin
    )
    _, world.tokens["ci_b"] = service_account_with_token(teams=[team_b], admin=admin)
    return world


def governance_snapshot() -> dict[str, Any]:
    """Everything a refused write must leave as it was: rows, protected fields, the log."""
    return {
        "versions": sorted(
            ModelVersion.objects.values_list(
                "id",
                "version",
                "checksum",
                "state",
                "storage_uri",
                "registered_by_id",
                "created_at",
                "approved_at",
                "approval_expires_at",
                "license",
            )
        ),
        "models": sorted(
            RegisteredModel.objects.values_list(
                "id", "team_id", "name", "kind", "owner_id", "backup_owner_id", "created_at"
            )
        ),
        "requests": sorted(
            PromotionRequest.objects.values_list("id", "version_id", "state", "requested_by_id")
        ),
        "evidence": Evidence.objects.count(),
        "deployments": sorted(
            Deployment.objects.values_list("id", "version_id", "started_at", "ended_at")
        ),
        "users": sorted(User.objects.values_list("id", "is_superuser", "is_staff", "is_active")),
        "tokens": sorted(ApiToken.objects.values_list("id", "revoked_at", "expires_at")),
        "idempotency_keys": IdempotencyKey.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def registration_payload(**overrides: Any) -> dict:
    body = {
        "team": "alpha",
        "model": "support-lora",
        "version": "2.0.0",
        "checksum": sha256_of("weights 2.0.0"),
        "storage_uri": "s3://models/support-lora/2.0.0/",
    }
    body.update(overrides)
    return body
