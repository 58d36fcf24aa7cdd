"""AZ-1 and AZ-2: every endpoint, method and kind of caller, driven by one expectation table.

Every request targets team A's objects. A caller who may not see team A gets 404 — the same
answer as for a missing object, never 403 and never data — and a caller who sees team A
but may not act gets 403. Lists contain exactly the objects of the teams the caller may see.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.models import PromotionRequest
from govboard.api_policy import API_POLICY
from registry.models import Deployment, ModelVersion
from tests.releases.factories import ReleaseFactory
from tests.world import APPROVER_CALLERS, CALLERS, World, assert_problem

pytestmark = pytest.mark.django_db

# Who sees team A's registry, and who does not (see core.permissions.team_q).
PEOPLE_WHO_SEE_A = ("viewer", *APPROVER_CALLERS, "manager", "auditor", "superuser")
WRITERS_FOR_A = ("registrar", "ci_a")
BLIND_TO_A = ("no_permission", "global_only", "team_b_person", "ci_b")


def row(**groups: int) -> dict[str, int]:
    """One table row: expected status per caller, given per group; every caller exactly once."""
    named = {
        "anonymous": ("anonymous",),
        "people_who_see_a": PEOPLE_WHO_SEE_A,
        "writers": WRITERS_FOR_A,
        "read_token": ("ci_a_read",),
        "blind": BLIND_TO_A,
    }
    expected = {caller: status for group, status in groups.items() for caller in named[group]}
    assert sorted(expected) == sorted(CALLERS), set(CALLERS) ^ set(expected)
    return expected


READ_OBJECT = row(anonymous=401, people_who_see_a=200, writers=200, read_token=200, blind=404)
READ_LIST = row(anonymous=401, people_who_see_a=200, writers=200, read_token=200, blind=200)


def write(success: int) -> dict[str, int]:
    return row(anonymous=401, people_who_see_a=403, writers=success, read_token=403, blind=404)


def request_action(success: int) -> dict[str, int]:
    """Withdraw / recheck: the team's CI and registrars, and the team's manager, may act."""
    expected = write(success)
    expected["manager"] = success
    return expected


# No decision exists for team A's open request: callers who see it get the same 404
# ("no decision yet") as those who may not see it ("not found").
NO_DECISION_YET = row(anonymous=401, people_who_see_a=404, writers=404, read_token=404, blind=404)
PUBLIC = row(anonymous=200, people_who_see_a=200, writers=200, read_token=200, blind=200)


# THE table: (route name, method) → caller → expected status.
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("v1:version-list", "GET"): READ_LIST,
    ("v1:version-list", "POST"): write(201),
    ("v1:version-detail", "GET"): READ_OBJECT,
    ("v1:version-evidence", "GET"): READ_OBJECT,
    ("v1:version-evidence", "POST"): write(201),
    ("v1:version-datasets", "GET"): READ_OBJECT,
    ("v1:version-datasets", "POST"): write(201),
    ("v1:registered-model", "GET"): READ_OBJECT,
    ("v1:registered-model", "PUT"): write(200),
    ("v1:promotion-request-list", "GET"): READ_LIST,
    ("v1:promotion-request-list", "POST"): write(201),
    ("v1:promotion-request-detail", "GET"): READ_OBJECT,
    ("v1:deployment-list", "GET"): READ_LIST,
    ("v1:deployment-list", "POST"): write(201),
    ("v1:deployment-end", "POST"): write(200),
    ("v1:promotion-request-withdraw", "POST"): request_action(200),
    ("v1:promotion-request-recheck", "POST"): request_action(202),
    ("v1:promotion-request-decision", "GET"): NO_DECISION_YET,
    ("v1:signing-key", "GET"): PUBLIC,
    ("v1:scorecard", "GET"): READ_LIST,
    ("v1:served-at", "GET"): READ_LIST,
    ("v1:release-rings", "GET"): READ_OBJECT,
    ("v1:release-rings", "POST"): write(201),
    ("v1:release-list", "GET"): READ_LIST,
    ("v1:release-list", "POST"): write(201),
    ("v1:release-detail", "GET"): READ_OBJECT,
    ("v1:release-monitoring-reports", "GET"): READ_OBJECT,
    ("v1:release-monitoring-reports", "POST"): write(201),
    # Incidents (issue 13): Verb.MANAGE_INCIDENTS is the team's registrants, governance
    # managers and CI; a superuser, an auditor or a board member reads them only.
    ("v1:incident-list", "GET"): READ_LIST,
    ("v1:incident-list", "POST"): request_action(201),
    ("v1:incident-detail", "GET"): READ_OBJECT,
    ("v1:incident-timeline", "POST"): request_action(201),
}


def call(world: World, caller: str, endpoint: tuple[str, str]):
    """Make the request of ``endpoint`` against team A's objects, as ``caller``."""
    client = world.client(caller)
    now = timezone.now()
    requests = {
        ("v1:version-list", "GET"): lambda: client.get("/api/v1/versions/"),
        ("v1:version-list", "POST"): lambda: client.post(
            "/api/v1/versions/",
            {
                "team": "alpha",
                "model": "support-lora",
                "version": "2.0.0",
                "checksum": "c" * 64,
                "storage_uri": "s3://models/support-lora/2.0.0/",
            },
            format="json",
        ),
        ("v1:version-detail", "GET"): lambda: client.get(f"/api/v1/versions/{world.draft_a.pk}/"),
        ("v1:version-evidence", "GET"): lambda: client.get(
            f"/api/v1/versions/{world.draft_a.pk}/evidence/"
        ),
        ("v1:version-evidence", "POST"): lambda: client.post(
            f"/api/v1/versions/{world.draft_a.pk}/evidence/",
            {"kind": "eval_package", "content": {"accuracy": 0.91}},
            format="json",
        ),
        ("v1:version-datasets", "GET"): lambda: client.get(
            f"/api/v1/versions/{world.draft_a.pk}/datasets/"
        ),
        ("v1:version-datasets", "POST"): lambda: client.post(
            f"/api/v1/versions/{world.draft_a.pk}/datasets/",
            {
                "dataset": "support-tickets",
                "version": "2026-10",
                "use": "train",
                "window_start": "2026-06-01T00:00:00Z",
                "window_end": "2026-09-30T00:00:00Z",
            },
            format="json",
        ),
        ("v1:registered-model", "GET"): lambda: client.get(
            "/api/v1/teams/alpha/models/support-lora/"
        ),
        ("v1:registered-model", "PUT"): lambda: client.put(
            "/api/v1/teams/alpha/models/support-lora/",
            {
                "kind": "adapter",
                "owner": world.model_a.owner.username,
                "backup_owner": world.model_a.backup_owner.username,
                "escalation_contact": "pager@example.test",
            },
            format="json",
        ),
        ("v1:promotion-request-list", "GET"): lambda: client.get("/api/v1/promotion-requests/"),
        ("v1:promotion-request-list", "POST"): lambda: client.post(
            "/api/v1/promotion-requests/", {"version": world.draft_a.pk}, format="json"
        ),
        ("v1:promotion-request-detail", "GET"): lambda: client.get(
            f"/api/v1/promotion-requests/{world.request_a.pk}/"
        ),
        ("v1:deployment-list", "GET"): lambda: client.get("/api/v1/deployments/"),
        ("v1:deployment-list", "POST"): lambda: client.post(
            "/api/v1/deployments/",
            {
                "version": world.approved_a.pk,
                "environment": "staging",
                "started_at": (now - timedelta(minutes=5)).isoformat(),
            },
            format="json",
        ),
        ("v1:promotion-request-withdraw", "POST"): lambda: client.post(
            f"/api/v1/promotion-requests/{world.request_a.pk}/withdraw/"
        ),
        ("v1:promotion-request-recheck", "POST"): lambda: client.post(
            f"/api/v1/promotion-requests/{world.request_a.pk}/recheck/"
        ),
        ("v1:promotion-request-decision", "GET"): lambda: client.get(
            f"/api/v1/promotion-requests/{world.request_a.pk}/decision/"
        ),
        ("v1:signing-key", "GET"): lambda: client.get("/api/v1/signing-key/"),
        ("v1:scorecard", "GET"): lambda: client.get("/api/v1/scorecard/"),
        ("v1:served-at", "GET"): lambda: client.get(
            "/api/v1/served/", {"customer": "acme", "at": "2026-11-01T00:00:00+00:00"}
        ),
        ("v1:release-rings", "GET"): lambda: client.get(
            f"/api/v1/releases/{ring_release(world).pk}/rings/"
        ),
        ("v1:release-rings", "POST"): lambda: client.post(
            f"/api/v1/releases/{ring_release(world).pk}/rings/",
            {"environment": "production", "ring": "offline_validation"},
            format="json",
        ),
        ("v1:release-monitoring-reports", "GET"): lambda: client.get(
            f"/api/v1/releases/{ring_release(world).pk}/monitoring-reports/"
        ),
        ("v1:release-monitoring-reports", "POST"): lambda: client.post(
            f"/api/v1/releases/{monitored_release(world).pk}/monitoring-reports/",
            monitoring_body(),
            format="json",
        ),
        ("v1:release-list", "GET"): lambda: client.get("/api/v1/releases/"),
        ("v1:release-list", "POST"): lambda: client.post(
            "/api/v1/releases/", release_payload(world), format="json"
        ),
        ("v1:release-detail", "GET"): lambda: client.get(
            f"/api/v1/releases/{ring_release(world).pk}/"
        ),
        ("v1:deployment-end", "POST"): lambda: client.post(
            f"/api/v1/deployments/{world.deployment_a.pk}/end/",
            {"ended_at": now.isoformat()},
            format="json",
        ),
        ("v1:incident-list", "GET"): lambda: client.get("/api/v1/incidents/"),
        ("v1:incident-list", "POST"): lambda: client.post(
            "/api/v1/incidents/",
            {
                "release": ring_release(world).pk,
                "title": "Declines doubled on mobile",
                "severity": "sev2",
                "tags": ["mobile"],
            },
            format="json",
        ),
        ("v1:incident-detail", "GET"): lambda: client.get(
            f"/api/v1/incidents/{open_incident(world).pk}/"
        ),
        ("v1:incident-timeline", "POST"): lambda: client.post(
            f"/api/v1/incidents/{open_incident(world).pk}/timeline/",
            {"text": "Rolled the flag back for mobile."},
            format="json",
        ),
    }
    return requests[endpoint]()


def release_payload(world: World) -> dict:
    notes = {field: "Stated." for field in ("what_changed", "why", "data_used", "known_risks")} | {
        "expected_benefits": "Better answers.",
        "channels_tested": ["web"],
        "rollback_triggers": ["p95 latency over 800 ms"],
        "rollback_owner": "viewer",
        "rollback_feature_flag": "support-stack-v1",
    }
    return {
        "team": "alpha",
        "name": "support-stack",
        "version": "1.0.0",
        "components": [{"kind": world.model_a.kind, "model_version": world.approved_a.pk}],
        "notes": notes,
    }


def ring_release(world: World):
    """A release of team A's approved version, to read or request rings of (issue 13). Its
    people are the world's, so a refused call leaves the users table as it was."""
    viewer = world.users["viewer"]
    return ReleaseFactory(
        team=world.team_a,
        components=[world.approved_a],
        rollback_owner=viewer,
        created_by=viewer,
    )


def monitored_release(world: World):
    """A release that entered the guarded ring in production (issue 13: monitoring)."""
    from approvals.models import RingEntry

    release = ring_release(world)
    RingEntry.objects.create(
        release=release,
        environment="production",
        ring="guarded",
        entered_at=timezone.now() - timedelta(days=2),
        entered_by=world.users["viewer"],
    )
    return release


def open_incident(world: World):
    """An open incident of team A's release, opened by one of the world's people (written
    directly: the services are what the calls under test run)."""
    from approvals.models import Incident

    release = ring_release(world)
    return Incident.objects.create(
        team=world.team_a,
        release=release,
        title="Declines doubled on mobile",
        severity="sev2",
        source="person",
        opened_by=world.users["viewer"],
        opened_at=timezone.now() - timedelta(hours=1),
    )


def monitoring_body() -> dict:
    end = timezone.now() - timedelta(hours=1)
    return {
        "environment": "production",
        "ring": "guarded",
        "window_start": (end - timedelta(hours=1)).isoformat(),
        "window_end": end.isoformat(),
        "request_volume": 1000,
        "latency_p95_ms": 120.0,
        "retry_rate": 0.01,
    }


def test_the_expectation_table_covers_exactly_the_policy_table():
    # Given the policy table / When its entries are compared with the matrix's rows
    policy_entries = {(name, method) for name, rules in API_POLICY.items() for method in rules}

    # Then no endpoint is missing from the matrix, and the matrix tests nothing imaginary
    assert set(EXPECTED) == policy_entries


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", sorted(EXPECTED), ids=lambda e: f"{e[1]} {e[0]}")
def test_each_caller_gets_exactly_the_expected_answer_from_each_endpoint(world, endpoint, caller):
    # Given team A's objects and a caller / When the caller makes the endpoint's request
    response = call(world, caller, endpoint)

    # Then the status is exactly the table's: no unexpected 2xx, no unexpected denial
    expected = EXPECTED[endpoint][caller]
    assert response.status_code == expected, (
        f"{caller} {endpoint}: {response.status_code} {response.content[:300]!r}"
    )
    if expected >= 400:
        body = assert_problem(response, expected)
        # And a refusal carries none of team A's data
        text = json.dumps(body)
        for secret in (world.draft_a.checksum, world.approved_a.checksum, "support-lora"):
            assert secret not in text
    if expected == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="govboard"'


# Which teams each caller may see: the permitted set of every list (AZ-2).
VISIBLE_TEAMS = {
    "anonymous": None,
    "no_permission": set(),
    "global_only": set(),
    "viewer": {"alpha"},
    "registrar": {"alpha"},
    **{caller: {"alpha"} for caller in APPROVER_CALLERS},
    "manager": {"alpha"},
    "auditor": {"alpha", "beta"},
    "superuser": {"alpha", "beta"},
    "team_b_person": {"beta"},
    "ci_a": {"alpha"},
    "ci_a_read": {"alpha"},
    "ci_b": {"beta"},
}
LISTS = {
    "/api/v1/versions/": (ModelVersion, "registered_model__team__slug"),
    "/api/v1/promotion-requests/": (PromotionRequest, "version__registered_model__team__slug"),
    "/api/v1/deployments/": (Deployment, "version__registered_model__team__slug"),
}


def test_the_visibility_table_names_every_caller():
    assert sorted(VISIBLE_TEAMS) == sorted(CALLERS)


@pytest.mark.parametrize("caller", [c for c in CALLERS if c != "anonymous"])
@pytest.mark.parametrize("url", sorted(LISTS))
def test_a_list_returns_exactly_the_objects_of_the_teams_the_caller_may_see(world, url, caller):
    # Given both teams' versions, requests and deployments
    model, team_path = LISTS[url]
    permitted = set(
        model.objects.filter(**{f"{team_path}__in": VISIBLE_TEAMS[caller]}).values_list(
            "id", flat=True
        )
    )

    # When the caller lists them (one page holds everything)
    response = world.client(caller).get(url, {"page_size": 200})

    # Then the ids are exactly the permitted set, on one page (no next page, no count)
    assert response.status_code == 200
    body = response.json()
    assert {item["id"] for item in body["results"]} == permitted
    assert body["next"] is None
    assert "count" not in body


@pytest.mark.parametrize("caller", ["viewer", "registrar", "manager", "ci_a", "ci_a_read"])
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/versions/{draft_b}/",
        "/api/v1/versions/{draft_b}/evidence/",
        "/api/v1/promotion-requests/{request_b}/",
        "/api/v1/teams/beta/models/defect-detector/",
    ],
)
def test_team_b_objects_by_id_are_a_404_for_team_a_like_a_missing_object(world, url, caller):
    # Given team B's objects, and an id that does not exist at all
    hidden_url = url.format(draft_b=world.draft_b.pk, request_b=world.request_b.pk)
    missing_url = url.format(draft_b=10**9, request_b=10**9).replace(
        "defect-detector", "no-such-model"
    )
    client = world.client(caller)

    # When a team A caller asks for either
    hidden, missing = client.get(hidden_url), client.get(missing_url)

    # Then both are the same 404 problem, with none of team B's data
    assert assert_problem(hidden, 404) == assert_problem(missing, 404)
    assert world.draft_b.checksum not in hidden.content.decode()
    assert "defect-detector" not in hidden.content.decode()
