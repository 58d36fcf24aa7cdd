"""Evidence uploads and deployment records over the API: the happy paths with their audit
events, the lifecycle refusals (409), and other teams' objects (404)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.models import AuditEvent
from registry.models import Deployment, Evidence, ModelVersion
from tests.registry.factories import ModelVersionFactory
from tests.world import World, assert_problem, governance_snapshot

pytestmark = pytest.mark.django_db

REPORT = b'{"accuracy": 0.91, "suite": "support-v3"}'


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def evidence_url(version: ModelVersion) -> str:
    return f"/api/v1/versions/{version.pk}/evidence/"


def test_a_multipart_evidence_upload_is_stored_digested_and_audited(world, media_root):
    # Given the team's CI and an evaluation report
    upload = SimpleUploadedFile("eval.json", REPORT, "application/json")

    # When it uploads the report as a file
    response = world.client("ci_a").post(
        evidence_url(world.draft_a), {"kind": "eval_package", "file": upload}, format="multipart"
    )

    # Then it is a 201 with the exact digest and size, the bytes are stored, and audited
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(REPORT).hexdigest()
    assert body["size"] == len(REPORT)
    assert (body["kind"], body["client_filename"], body["version"]) == (
        "eval_package",
        "eval.json",
        world.draft_a.pk,
    )
    evidence = Evidence.objects.get(pk=body["id"])
    assert (media_root / evidence.storage_key).read_bytes() == REPORT
    event = AuditEvent.objects.get(verb="evidence.attached")
    assert event.object_id == str(evidence.pk)
    assert event.team_id == world.team_a.pk
    assert event.data["sha256"] == body["sha256"]
    assert event.data["size"] == len(REPORT)


def test_a_json_evidence_upload_is_stored_as_canonical_json_with_a_matching_declared_digest(
    world, media_root
):
    # Given inline content and the sha256 of its canonical form
    content = {"suite": "support-v3", "accuracy": 0.91}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(canonical).hexdigest()

    # When the team's CI uploads it as JSON, declaring the digest
    response = world.client("ci_a").post(
        evidence_url(world.draft_a),
        {"kind": "eval_package", "content": content, "filename": "eval.json", "sha256": digest},
        format="json",
    )

    # Then it is a 201 with that digest and size, and one audit event
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sha256"], body["size"], body["media_type"]) == (
        digest,
        len(canonical),
        "application/json",
    )
    evidence = Evidence.objects.get(pk=body["id"])
    assert (media_root / evidence.storage_key).read_bytes() == canonical
    assert AuditEvent.objects.filter(verb="evidence.attached").count() == 1


def test_the_evidence_list_shows_the_versions_documents_newest_first(world):
    # Given two uploads to team A's draft version
    client = world.client("ci_a")
    first = client.post(
        evidence_url(world.draft_a), {"kind": "sbom", "content": {"a": 1}}, format="json"
    ).json()
    second = client.post(
        evidence_url(world.draft_a), {"kind": "eval_package", "content": [1]}, format="json"
    ).json()

    # When a read-only token of the team lists them
    response = world.client("ci_a_read").get(evidence_url(world.draft_a))

    # Then exactly those two appear, newest first
    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [second["id"], first["id"]]
    assert response.json()[0] == second


@pytest.mark.parametrize("state", ["approved", "deprecated", "retired"])
def test_evidence_cannot_be_added_to_a_sealed_version(world, media_root, state):
    # Given a version of team A past review
    version = ModelVersionFactory(registered_model=world.model_a, version="3.0.0", state=state)
    before = governance_snapshot()

    # When the team's CI uploads evidence to it
    response = world.client("ci_a").post(
        evidence_url(version), {"kind": "sbom", "content": {}}, format="json"
    )

    # Then it is a 409 and nothing is stored
    problem = assert_problem(response, 409)
    assert problem["detail"] == f"Evidence cannot be added to a {state} version."
    assert list(media_root.rglob("*")) == []
    assert governance_snapshot() == before


def test_evidence_of_another_team_is_a_404_for_reads_and_uploads(world, media_root):
    # Given team B's draft version
    before = governance_snapshot()
    client = world.client("ci_a")

    # When team A's CI lists or uploads its evidence
    listed = client.get(evidence_url(world.draft_b))
    uploaded = client.post(
        evidence_url(world.draft_b), {"kind": "sbom", "content": {}}, format="json"
    )

    # Then both are 404s and nothing is stored
    assert_problem(listed, 404)
    assert_problem(uploaded, 404)
    assert list(media_root.rglob("*")) == []
    assert governance_snapshot() == before


# --- Deployments --------------------------------------------------------------------------


def record(world: World, version: ModelVersion, **overrides):
    body = {
        "version": version.pk,
        "environment": "production",
        # Rings are release states (issue 13): a version-only deployment names none.
        "ring": "",
        "customer_scope": "eu-enterprise",
        "started_at": (timezone.now() - timedelta(minutes=10)).isoformat(),
        **overrides,
    }
    return world.client("ci_a").post("/api/v1/deployments/", body, format="json")


def test_recording_a_deployment_of_an_approved_version_is_a_201_with_an_audit_event(world):
    # Given team A's approved version / When its CI records a deployment
    response = record(world, world.approved_a)

    # Then it is a 201 describing it, and the event is in the audit log
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["version"], body["team"], body["model"], body["model_version"]) == (
        world.approved_a.pk,
        "alpha",
        "support-lora",
        "0.9.0",
    )
    assert (body["environment"], body["ring"], body["customer_scope"], body["ended_at"]) == (
        "production",
        "",
        "eu-enterprise",
        None,
    )
    event = AuditEvent.objects.get(verb="deployment.recorded")
    assert event.object_id == str(body["id"])
    assert event.data["customer_scope"] == "eu-enterprise"


@pytest.mark.parametrize("state", ["draft", "candidate", "deprecated", "retired"])
def test_a_deployment_of_a_version_that_is_not_approved_is_a_409(world, state):
    # Given a version of team A that is not approved
    version = ModelVersionFactory(registered_model=world.model_a, version="4.0.0", state=state)
    before = governance_snapshot()

    # When its CI records a deployment of it
    response = record(world, version)

    # Then it is a 409 and nothing changed
    problem = assert_problem(response, 409)
    assert problem["detail"] == f"Only approved versions may be deployed; this version is {state}."
    assert governance_snapshot() == before


def test_a_deployment_of_another_teams_version_is_a_404(world):
    before = governance_snapshot()
    # Given team B's approved version / When team A's CI records a deployment of it
    response = record(world, world.approved_b)
    # Then it is a 404 and nothing changed
    assert_problem(response, 404)
    assert governance_snapshot() == before


def test_the_window_query_returns_exactly_the_deployments_that_served_in_the_window(world):
    # Given deployments of team A's approved version in one customer scope, on a timeline
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    hours = lambda n: t0 + timedelta(hours=n)  # noqa: E731

    def deployed(start, end, scope="acme"):
        return Deployment.objects.create(
            version=world.approved_a,
            environment="production",
            customer_scope=scope,
            started_at=start,
            ended_at=end,
            recorded_by=world.model_a.owner,
        ).pk

    ended_before = deployed(hours(0), hours(10))
    ends_at_window_start = deployed(hours(1), hours(20))
    overlaps_start = deployed(hours(5), hours(25))
    inside = deployed(hours(21), hours(29))
    overlaps_end = deployed(hours(28), hours(40))
    spans = deployed(hours(2), hours(50))
    still_open = deployed(hours(22), None)
    starts_at_window_end = deployed(hours(30), None)
    starts_after = deployed(hours(35), hours(36))
    other_scope = deployed(hours(21), hours(29), scope="globex")

    # When the window 20h..30h is queried for that scope
    response = world.client("ci_a_read").get(
        "/api/v1/deployments/",
        {"customer_scope": "acme", "from": hours(20).isoformat(), "until": hours(30).isoformat()},
    )

    # Then exactly those that served during [20h, 30h) are returned, newest start first
    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["results"]]
    assert ids == [overlaps_end, still_open, inside, overlaps_start, spans]
    assert not {ended_before, ends_at_window_start, starts_at_window_end, starts_after} & set(ids)
    assert other_scope not in ids


def test_ending_a_deployment_sets_its_end_and_is_audited(world):
    # Given team A's open deployment
    ended_at = timezone.now().replace(microsecond=0)

    # When its CI ends it
    response = world.client("ci_a").post(
        f"/api/v1/deployments/{world.deployment_a.pk}/end/",
        {"ended_at": ended_at.isoformat()},
        format="json",
    )

    # Then it is a 200 with the end time, stored, and audited with before/after
    assert response.status_code == 200, response.content
    assert response.json()["ended_at"] == ended_at.isoformat().replace("+00:00", "Z")
    assert Deployment.objects.get(pk=world.deployment_a.pk).ended_at == ended_at
    event = AuditEvent.objects.get(verb="deployment.ended")
    assert event.data == {"before": {"ended_at": None}, "after": {"ended_at": ended_at.isoformat()}}


def test_ending_a_deployment_twice_is_a_409_and_keeps_the_first_end(world):
    # Given a deployment ended once
    client = world.client("ci_a")
    url = f"/api/v1/deployments/{world.deployment_a.pk}/end/"
    first_end = timezone.now().replace(microsecond=0)
    assert client.post(url, {"ended_at": first_end.isoformat()}, format="json").status_code == 200
    before = governance_snapshot()

    # When it is ended again
    response = client.post(
        url, {"ended_at": (first_end + timedelta(minutes=1)).isoformat()}, format="json"
    )

    # Then it is a 409, and the first end time stands
    problem = assert_problem(response, 409)
    assert problem["detail"] == "This deployment has already ended."
    assert Deployment.objects.get(pk=world.deployment_a.pk).ended_at == first_end
    assert governance_snapshot() == before


def test_ending_another_teams_deployment_is_a_404(world):
    before = governance_snapshot()
    # Given team B's open deployment / When team A's CI ends it
    response = world.client("ci_a").post(
        f"/api/v1/deployments/{world.deployment_b.pk}/end/",
        {"ended_at": timezone.now().isoformat()},
        format="json",
    )
    # Then it is a 404 and nothing changed
    assert_problem(response, 404)
    assert governance_snapshot() == before


@pytest.mark.parametrize(
    "overrides",
    [
        {"started_at": "2026-01-01T09:00:00"},  # no time zone
        {"started_at": (timezone.now() + timedelta(days=2)).isoformat()},  # in the future
        {"ended_at": (timezone.now() + timedelta(days=2)).isoformat()},
    ],
    ids=["naive-start", "future-start", "future-end"],
)
def test_a_deployment_without_a_time_zone_or_dated_in_the_future_is_a_400(world, overrides):
    # Given team A's approved version and a snapshot of everything
    before, deployments = governance_snapshot(), Deployment.objects.count()

    # When its CI records a deployment with an ambiguous or impossible time
    response = record(world, world.approved_a, **overrides)

    # Then it is refused and nothing changed
    assert_problem(response, 400)
    assert Deployment.objects.count() == deployments
    assert governance_snapshot() == before
