"""AZ-5: no write endpoint lets a client set a field only the server may set.

Every write carries one extra, server-owned field; each is refused with a 400 naming that
field ("unknown fields are refused"), and no protected value, row or audit event changed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.world import World, assert_problem, governance_snapshot

pytestmark = pytest.mark.django_db

PROTECTED = {
    "state": "approved",
    "owner": "root",
    "approved_by": "root",
    "checksum": "f" * 64,
    "created_at": "2020-01-01T00:00:00Z",
    "id": 1,
    "is_superuser": True,
    "registered_by": "root",
    "approved_at": "2020-01-01T00:00:00Z",
}


def _valid_bodies(world: World) -> dict[str, tuple[str, str, dict]]:
    """endpoint label → (method, url, a body the caller may send successfully)."""
    now = timezone.now()
    return {
        "register-version": (
            "post",
            "/api/v1/versions/",
            {
                "team": "alpha",
                "model": "support-lora",
                "version": "2.0.0",
                "checksum": "c" * 64,
                "storage_uri": "s3://models/support-lora/2.0.0/",
            },
        ),
        "upload-evidence-json": (
            "post",
            f"/api/v1/versions/{world.draft_a.pk}/evidence/",
            {"kind": "eval_package", "content": {"accuracy": 0.91}},
        ),
        "upload-evidence-multipart": (
            "multipart",
            f"/api/v1/versions/{world.draft_a.pk}/evidence/",
            {"kind": "eval_package"},
        ),
        "upsert-model": (
            "put",
            "/api/v1/teams/alpha/models/support-lora/",
            {
                "kind": "adapter",
                "owner": world.model_a.owner.username,
                "backup_owner": world.model_a.backup_owner.username,
                "escalation_contact": "pager@example.test",
            },
        ),
        "request-promotion": ("post", "/api/v1/promotion-requests/", {"version": world.draft_a.pk}),
        "record-deployment": (
            "post",
            "/api/v1/deployments/",
            {
                "version": world.approved_a.pk,
                "environment": "staging",
                "started_at": (now - timedelta(minutes=5)).isoformat(),
            },
        ),
        "end-deployment": (
            "post",
            f"/api/v1/deployments/{world.deployment_a.pk}/end/",
            {"ended_at": now.isoformat()},
        ),
    }


ENDPOINTS = [
    "register-version",
    "upload-evidence-json",
    "upload-evidence-multipart",
    "upsert-model",
    "request-promotion",
    "record-deployment",
    "end-deployment",
]
# Fields a write legitimately accepts are not extra there: the model's owner is set by PUT,
# and a registration carries its checksum (an existing version's checksum never changes:
# tests/registry/api/test_version_registration_idempotency.py). The registration's other
# server-owned fields are covered by tests/registry/api/test_version_registration_refusals.py.
NOT_EXTRA = {
    "upsert-model": {"owner"},
    "register-version": {
        "checksum",
        "state",
        "id",
        "created_at",
        "registered_by",
        "approved_at",
    },
}
CASES = [
    (endpoint, name)
    for endpoint in ENDPOINTS
    for name in PROTECTED
    if name not in NOT_EXTRA.get(endpoint, set())
]


def send(world: World, caller: str, endpoint: str, extra: dict):
    method, url, body = _valid_bodies(world)[endpoint]
    client = world.client(caller)
    if method == "multipart":
        upload = SimpleUploadedFile("eval.json", b'{"accuracy": 0.91}', "application/json")
        data = {**body, **{key: str(value) for key, value in extra.items()}, "file": upload}
        return client.post(url, data, format="multipart")
    return getattr(client, method)(url, {**body, **extra}, format="json")


@pytest.mark.parametrize("caller", ["ci_a", "registrar"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_write_succeeds_without_extra_fields_so_the_refusals_are_meaningful(
    world, endpoint, caller
):
    # Given a caller allowed to write / When it sends the plain body
    response = send(world, caller, endpoint, {})

    # Then the write is accepted
    assert response.status_code in (200, 201), response.content[:300]


@pytest.mark.parametrize("caller", ["ci_a", "registrar"])
@pytest.mark.parametrize(("endpoint", "field"), CASES)
def test_a_write_carrying_a_protected_field_is_refused_and_changes_nothing(
    world, endpoint, field, caller
):
    # Given the world as it is, and a caller allowed to make this write
    before = governance_snapshot()

    # When the caller adds one server-owned field to an otherwise valid body
    response = send(world, caller, endpoint, {field: PROTECTED[field]})

    # Then it is a 400 naming exactly that field, and nothing at all changed
    problem = assert_problem(response, 400)
    assert problem["errors"] == {field: ["This field is not accepted."]}
    assert governance_snapshot() == before
