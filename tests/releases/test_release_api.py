"""The release API: CI submits a release (scope register, Idempotency-Key honoured), lists
releases and reads one with its diff and ring state."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.verbs import AuditVerb
from registry.choices import TokenScope
from registry.models import Release, ReleaseComponent
from tests.registry.factories import service_account_with_token
from tests.releases.factories import ReleaseFactory
from tests.releases.stack import build_stack, notes, version_of
from tests.world import assert_problem

pytestmark = pytest.mark.django_db

URL = "/api/v1/releases/"


def ci(team, scopes=None) -> APIClient:
    _, raw = service_account_with_token(teams=[team], scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def payload(stack, version="1.0.0", **note_overrides):
    body_notes = notes(stack.owner.username, **note_overrides)
    return {
        "team": stack.team.slug,
        "name": "checkout-scoring",
        "version": version,
        "components": stack.components(),
        "notes": body_notes,
    }


def written():
    return (
        Release.objects.count(),
        ReleaseComponent.objects.count(),
        AuditEvent.objects.filter(verb=AuditVerb.RELEASE_SUBMITTED).count(),
    )


def test_ci_submits_a_release_and_reads_its_categories_and_ring_state():
    stack = build_stack()
    client = ci(stack.team)
    response = client.post(URL, payload(stack), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["categories"] == [
        "base_model",
        "config_logic",
        "threshold",
        "sdk_major",
        "new_channel",
        "dataset_refresh",
    ]
    assert body["ring_state"] == []
    assert body["integrity"] == []
    assert body["notes"]["rollback_owner"] == stack.owner.username
    detail = client.get(f"{URL}{body['id']}/")
    assert detail.status_code == 200
    assert detail.json()["manifest_sha256"] == body["manifest_sha256"]
    assert detail.json()["diff"]["added"] == 5


def test_a_second_release_changing_only_the_threshold_shows_it_in_the_diff_summary():
    stack = build_stack()
    client = ci(stack.team)
    assert client.post(URL, payload(stack), format="json").status_code == 201
    raised = version_of(
        stack.config, "1.1.0", parameters={"decline_above": 0.9, "review_above": 0.6}
    )
    body = payload(stack, "1.1.0")
    body["components"] = stack.components(config=raised)
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["categories"] == ["threshold"]
    assert response.json()["diff"]["components"] == [
        {
            "kind": "config",
            "team": stack.team.slug,
            "name": "decline-threshold",
            "status": "changed",
            "before": "1.0.0",
            "after": "1.1.0",
        }
    ]


def test_a_retry_with_the_same_idempotency_key_replays_the_release():
    stack = build_stack()
    client = ci(stack.team)
    first = client.post(URL, payload(stack), format="json", HTTP_IDEMPOTENCY_KEY="rel-1")
    again = client.post(URL, payload(stack), format="json", HTTP_IDEMPOTENCY_KEY="rel-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert written() == (1, 5, 1)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda body: body["notes"].update(rollback_triggers=[]),
        lambda body: body["notes"].pop("rollback_owner"),
        lambda body: body["notes"].update(what_changed=" "),
        lambda body: body.update(version="one"),
        lambda body: body.update(components=[{"kind": "gizmo", "model_version": 1}]),
        lambda body: body.update(surprise=True),
    ],
    ids=["no-trigger", "no-owner", "blank-note", "bad-version", "bad-kind", "unknown-field"],
)
def test_a_bad_payload_is_a_400_problem_and_changes_nothing(mutate):
    stack = build_stack()
    body = payload(stack)
    mutate(body)
    before = written()
    assert_problem(ci(stack.team).post(URL, body, format="json"), 400)
    assert written() == before


def test_a_token_without_the_register_scope_is_refused_with_403():
    stack = build_stack()
    client = ci(stack.team, scopes=[TokenScope.READ])
    assert_problem(client.post(URL, payload(stack), format="json"), 403)
    assert written() == (0, 0, 0)


def test_another_teams_release_is_a_404_and_not_listed():
    stack = build_stack()
    other = ReleaseFactory()
    client = ci(stack.team)
    assert_problem(client.get(f"{URL}{other.pk}/"), 404)
    assert client.get(URL).json()["results"] == []


def test_the_list_costs_the_same_queries_at_two_sizes():
    stack = build_stack()
    client = ci(stack.team, scopes=[TokenScope.READ])
    counts = []
    for size in (3, 30):
        ReleaseFactory.create_batch(size - Release.objects.count(), team=stack.team, components=[])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, {"team": stack.team.slug, "page_size": 200})
        assert response.status_code == 200
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
