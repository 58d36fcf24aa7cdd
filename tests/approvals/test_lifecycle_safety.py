"""Lifecycle rules acting safely (issue 12): a served version is escalated, not retired;
deprecated and retired versions are refused new usage; a nightly scan for an approved
version is accepted without reopening anything and makes the vulnerable rule fire; the
dry run (command and admin page) lists and changes nothing; schedules are installed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from approvals import services
from approvals.hygiene.schedules import LIFECYCLE_SCHEDULES
from approvals.models import Notification, PromotionRequest
from audit.models import AuditEvent
from core.errors import IllegalTransition
from registry import services as registry_services
from registry.models import Deployment
from tests.approvals.factories import ci_user
from tests.approvals.lifecycle_scenario import (
    T0,
    approved_version,
    lifecycle_counts,
    serve,
    state_of,
    team_policy,
    trivy_report,
)
from tests.registry.factories import ModelVersionFactory, TeamFactory, UserFactory, manager
from tests.world import assert_problem, governance_snapshot

pytestmark = pytest.mark.django_db

RETIRE_STALE = {"stale": {"action": "deprecate_and_retire", "after_days": 30}}


def _deprecated_by_the_stale_rule(team, *, grace_days=10):
    version = approved_version(team_policy(team, RETIRE_STALE, grace_days=grace_days), team=team)
    assert (
        services.lifecycle_rule_sweep(rule="stale", via="system:test", now=T0 + timedelta(days=31))
    ).changed == 1
    version.refresh_from_db()
    assert version.state == "deprecated"
    return version


def test_a_served_deprecated_version_is_escalated_once_and_not_retired():
    # Given a served version whose approval expired, deprecated by the expired rule
    team = TeamFactory()
    governance_manager = manager(team)
    version = approved_version(team_policy(team, {}, grace_days=10), team=team, expires_in_days=-1)
    deployment = serve(version, since=T0 - timedelta(hours=1))
    assert services.versions_expire_approvals(via="system:test", now=T0) == 1
    version.refresh_from_db()

    # When the retirement sweep runs after the grace, twice
    later = version.deprecated_at + timedelta(days=11)
    first = services.versions_retire_after_grace(via="system:test", now=later)
    before = lifecycle_counts()
    second = services.versions_retire_after_grace(via="system:again", now=later)

    # Then it is not retired, the escalation names the deployment and reaches the owners,
    # the escalation contact and the team's governance managers, once
    assert (first, second) == (0, 0)
    assert state_of(version) == "deprecated"
    event = AuditEvent.objects.get(verb="version.retirement_escalated")
    assert event.data["evidence"]["deployments"] == [deployment.pk]
    assert event.actor_label == "system:test"
    notification = Notification.objects.get(event_id=event.pk)
    model = version.registered_model
    assert set(notification.recipients) == {
        model.owner.email,
        model.backup_owner.email,
        model.escalation_contact,
        governance_manager.email,
    }
    assert lifecycle_counts() == before
    Deployment.objects.filter(pk=deployment.pk).update(ended_at=later)

    # And once the deployment has ended, the next sweep retires it
    assert services.versions_retire_after_grace(via="system:test", now=later) == 1
    assert state_of(version) == "retired"


def test_a_deprecated_version_is_refused_a_promotion_request_and_a_deployment():
    # Given a version the stale rule deprecated
    team = TeamFactory()
    version = _deprecated_by_the_stale_rule(team)
    ci = ci_user(team)
    before = governance_snapshot()

    # When CI asks to promote it, and to record a new deployment of it
    with pytest.raises(IllegalTransition, match="Only a draft version can be submitted"):
        services.promotion_request_submit(actor=ci, version=version)
    with pytest.raises(IllegalTransition, match="this version is deprecated"):
        registry_services.deployment_record(
            actor=ci, version=version, environment="production", started_at=T0
        )

    # Then both are refused and nothing changed
    assert governance_snapshot() == before
    assert state_of(version) == "deprecated"


def test_the_deployment_api_refuses_a_version_the_sweep_retired(world):
    # Given a version of team A that the rules deprecated and the sweep then retired
    version = approved_version(
        team_policy(world.team_a, RETIRE_STALE, grace_days=1), team=world.team_a
    )
    services.lifecycle_sweep(via="system:test", now=T0 + timedelta(days=31))
    services.versions_retire_after_grace(via="system:test", now=T0 + timedelta(days=40))
    assert state_of(version) == "retired"
    before = governance_snapshot()

    # When team A's CI records a deployment of it
    response = world.client("ci_a").post(
        "/api/v1/deployments/",
        {"version": version.pk, "environment": "production", "started_at": T0.isoformat()},
        format="json",
    )

    # Then it is a 409 and nothing changed
    problem = assert_problem(response, 409)
    assert problem["detail"] == "Only approved versions may be deployed; this version is retired."
    assert governance_snapshot() == before


def test_a_nightly_scan_of_an_approved_version_is_accepted_and_the_approval_stays(
    world, settings, tmp_path
):
    # Given team A's approved version, under a policy that deprecates vulnerable versions,
    # with its approved request
    settings.MEDIA_ROOT = tmp_path
    version = approved_version(
        team_policy(world.team_a, {"vulnerable": {"action": "deprecate"}}), team=world.team_a
    )
    request = PromotionRequest.objects.get(version=version)

    # When CI uploads the nightly scan through the evidence endpoint
    report = json.loads(trivy_report(("CVE-2025-1", "torch", "CRITICAL")))
    response = world.client("ci_a").post(
        f"/api/v1/versions/{version.pk}/evidence/",
        {"kind": "dependency_scan", "content": report},
        format="json",
    )

    # Then it is stored and the version and its request are untouched
    assert response.status_code == 201, response.content
    assert state_of(version) == "approved"
    request.refresh_from_db()
    assert request.state == "approved"

    # And the vulnerable rule, when it next runs, deprecates it on that report
    changed = services.lifecycle_rule_sweep(rule="vulnerable", via="system:test", now=T0)
    assert changed.changed == 1
    assert state_of(version) == "deprecated"
    event = AuditEvent.objects.get(verb="version.deprecated", object_id=str(version.pk))
    assert event.data["evidence"]["scan_report"] == response.json()["id"]


@pytest.mark.parametrize(("state", "kind"), [("approved", "sbom"), ("retired", "dependency_scan")])
def test_other_evidence_after_approval_is_still_refused(world, settings, tmp_path, state, kind):
    # Given an approved version (an SBOM would change what was signed), or a retired one
    settings.MEDIA_ROOT = tmp_path
    version = ModelVersionFactory(registered_model=world.model_a, version="7.0.0", state=state)
    before = governance_snapshot()

    # When CI uploads it
    response = world.client("ci_a").post(
        f"/api/v1/versions/{version.pk}/evidence/", {"kind": kind, "content": {}}, format="json"
    )

    # Then it is a 409 naming why, and nothing is stored
    problem = assert_problem(response, 409)
    assert problem["detail"] == f"Evidence cannot be added to a {state} version."
    assert list(tmp_path.rglob("*")) == []
    assert governance_snapshot() == before


def test_the_dry_run_lists_what_would_change_and_changes_nothing(capsys):
    # Given a quiet version under a policy that deprecates versions quiet for a day
    team = TeamFactory()
    version = approved_version(
        team_policy(team, {"stale": {"action": "deprecate", "after_days": 1}}), team=team
    )
    before = lifecycle_counts()

    # When the command runs as a dry run for three days on
    at = (T0 + timedelta(days=3)).isoformat()
    call_command("lifecycle_sweep", "--dry-run", "--now", at)

    # Then it lists the change with its reason, and nothing changed
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"stale\tdeprecate\t{version} ({team.slug})\t")
    assert "nothing happened for 1 days" in out[0]
    assert out[-1] == f"dry run at {at}: 1 change(s); none made."
    assert lifecycle_counts() == before
    assert state_of(version) == "approved"


def test_the_command_without_dry_run_runs_the_rules_now():
    # Given an expired approval (the default policy deprecates expired approvals)
    team = TeamFactory()
    version = approved_version(team_policy(team, {}), team=team, expires_in_days=-1)

    # When the command runs
    call_command("lifecycle_sweep")

    # Then the version is deprecated by a run the audit trail names
    assert state_of(version) == "deprecated"
    event = AuditEvent.objects.get(verb="version.deprecated", object_id=str(version.pk))
    assert event.actor_label.startswith("system:command lifecycle_sweep ")


def _preview_scenario(count: int):
    team = TeamFactory()
    policy = team_policy(team, {"stale": {"action": "notify", "after_days": 1}})
    for _ in range(count):
        approved_version(policy, team=team, expires_in_days=-1)


def _preview_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:lifecycle_preview"))
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_preview_page_lists_each_rule_and_runs_the_same_queries_at_two_sizes(client):
    # Given a superuser, and two expired, stale versions
    client.force_login(UserFactory(is_superuser=True))
    _preview_scenario(2)
    small, page = _preview_queries(client)
    assert page.count('data-version="') == 2  # expired; not stale yet (quiet since T0)
    assert "approval expired; re-certification required" in page

    # When there are twenty more
    _preview_scenario(20)
    large, page = _preview_queries(client)

    # Then the page lists them all with the same number of queries, and changed nothing
    assert page.count('data-version="') == 22
    assert small == large
    assert AuditEvent.objects.filter(verb="version.deprecated").count() == 0


def test_the_lifecycle_schedules_are_installed_and_editable_rows():
    # Given the migrated database / Then every default schedule is a beat row
    rows = {task.name: task for task in PeriodicTask.objects.filter(name__in=LIFECYCLE_SCHEDULES)}
    assert set(rows) == set(LIFECYCLE_SCHEDULES)
    for name, entry in LIFECYCLE_SCHEDULES.items():
        assert rows[name].task == entry["task"]
        assert rows[name].enabled
    assert rows["lifecycle-stale"].crontab.hour == "5"
    assert rows["expire-approvals"].interval.every == 1
