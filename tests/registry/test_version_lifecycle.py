"""Deprecating and retiring versions: managers only, legal transitions only, one audit
event per change; the approval-expiry sweep changes each expired version exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from approvals import services as approvals_services
from approvals import tasks as approval_tasks
from approvals.models import GovernancePolicy, LifecycleRuleFiring
from audit.models import AuditEvent
from core.errors import IllegalTransition, InvalidInput, NotPermitted
from registry import services
from registry.models import ModelVersion
from tests.approvals.factories import governance_row_counts
from tests.registry.factories import (
    ModelVersionFactory,
    TeamFactory,
    UserFactory,
    manager,
    service_account_with_token,
    team_member,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


@pytest.fixture
def governance_manager(team):
    return manager(team, username="maria")


def version_in(team, state: str, **kwargs) -> ModelVersion:
    return ModelVersionFactory(registered_model__team=team, state=state, **kwargs)


def state_of(version: ModelVersion) -> str:
    return ModelVersion.objects.get(pk=version.pk).state


def events_for(version: ModelVersion) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            object_type="registry.modelversion", object_id=str(version.pk)
        ).order_by("id")
    )


@pytest.mark.parametrize("source", ["candidate", "approved"])
def test_a_manager_deprecates_a_version_with_one_audit_event(team, governance_manager, source):
    # Given a candidate or approved version
    version = version_in(team, source)

    # When the team's governance manager deprecates it
    result = services.version_deprecate(
        actor=governance_manager, version=version, reason="Superseded by 2.0.0."
    )

    # Then it is deprecated, and exactly one event records before, after and reason
    assert result.state == "deprecated"
    assert state_of(version) == "deprecated"
    [event] = events_for(version)
    assert event.verb == "version.deprecated"
    assert event.actor == governance_manager
    assert event.actor_label == "user:maria"
    assert event.team_id == team.pk
    assert event.data == {
        "before": {"state": source},
        "after": {"state": "deprecated"},
        "reason": "Superseded by 2.0.0.",
    }


def test_a_manager_retires_a_deprecated_version_with_one_audit_event(team, governance_manager):
    # Given a deprecated version
    version = version_in(team, "deprecated")

    # When the manager retires it
    services.version_retire(actor=governance_manager, version=version, reason="Grace over.")

    # Then it is retired, with exactly one event
    assert state_of(version) == "retired"
    [event] = events_for(version)
    assert event.verb == "version.retired"
    assert event.data == {
        "before": {"state": "deprecated"},
        "after": {"state": "retired"},
        "reason": "Grace over.",
    }


def test_a_superuser_may_deprecate_as_the_administrator(team):
    # Given an approved version and a superuser
    version = version_in(team, "approved")

    # When the superuser deprecates it
    services.version_deprecate(
        actor=UserFactory(is_superuser=True), version=version, reason="Incident."
    )

    # Then it is deprecated
    assert state_of(version) == "deprecated"


def _non_manager(kind: str, team):
    if kind == "approver":
        return team_member(team, "sign_as_platform", "sign_as_product", "sign_as_security")
    if kind == "owner-registrar":
        return team_member(team, "register_versions", "view_team_registry")
    if kind == "manager-of-another-team":
        return manager(TeamFactory(slug="vision"))
    if kind == "global-manage-permission":
        user = UserFactory()
        user.user_permissions.add(Permission.objects.get(codename="manage_governance"))
        return user
    if kind == "service-account":
        account, _ = service_account_with_token(teams=[team])
        return account.user
    if kind == "inactive-manager":
        return manager(team, is_active=False)
    raise AssertionError(kind)


NON_MANAGERS = [
    "approver",
    "owner-registrar",
    "manager-of-another-team",
    "global-manage-permission",
    "service-account",
    "inactive-manager",
]


@pytest.mark.parametrize("who", NON_MANAGERS)
@pytest.mark.parametrize(
    ("operation", "source"),
    [(services.version_deprecate, "approved"), (services.version_retire, "deprecated")],
    ids=["deprecate", "retire"],
)
def test_a_non_manager_cannot_change_the_lifecycle(team, who, operation, source):
    # Given a version and someone who is not the team's governance manager
    version = version_in(team, source)
    actor = _non_manager(who, team)
    before = governance_row_counts()

    # When they deprecate or retire it
    with pytest.raises(NotPermitted, match="Only the team's governance managers"):
        operation(actor=actor, version=version, reason="Because.")

    # Then nothing changed
    assert state_of(version) == source
    assert governance_row_counts() == before


ILLEGAL = [
    (services.version_deprecate, "draft"),
    (services.version_deprecate, "deprecated"),
    (services.version_deprecate, "retired"),
    (services.version_retire, "draft"),
    (services.version_retire, "candidate"),
    (services.version_retire, "approved"),
    (services.version_retire, "retired"),
]


@pytest.mark.parametrize(
    ("operation", "source"),
    ILLEGAL,
    ids=[f"{op.__name__.removeprefix('version_')}-from-{src}" for op, src in ILLEGAL],
)
def test_an_illegal_transition_is_refused_and_changes_nothing(
    team, governance_manager, operation, source
):
    # Given a version in a state the operation may not leave from
    version = version_in(team, source)
    before = governance_row_counts()

    # When the manager tries it
    with pytest.raises(IllegalTransition, match=f"A {source} version cannot be moved by"):
        operation(actor=governance_manager, version=version, reason="Because.")

    # Then nothing changed
    assert state_of(version) == source
    assert governance_row_counts() == before


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_a_lifecycle_change_needs_a_reason(team, governance_manager, reason):
    # Given an approved version
    version = version_in(team, "approved")
    before = governance_row_counts()

    # When the manager deprecates it without a reason
    with pytest.raises(InvalidInput, match="A reason is required to deprecate"):
        services.version_deprecate(actor=governance_manager, version=version, reason=reason)

    # Then nothing changed
    assert state_of(version) == "approved"
    assert governance_row_counts() == before


def test_the_state_field_cannot_be_assigned_directly(team):
    # Given a draft version
    version = version_in(team, "draft")

    # When code assigns the state instead of calling a service
    with pytest.raises(AttributeError, match="Direct state modification is not allowed"):
        version.state = "approved"

    # Then the row is unchanged
    assert state_of(version) == "draft"


# --- the approval-expiry sweep ------------------------------------------------------------


@pytest.fixture
def sweep_fixture(team):
    now = timezone.now()
    return {
        "now": now,  # the moment every sweep below judges by
        "expired": [
            version_in(team, "approved", approval_expires_at=now - timedelta(days=1)),
            version_in(team, "approved", approval_expires_at=now - timedelta(seconds=1)),
        ],
        "valid": version_in(team, "approved", approval_expires_at=now + timedelta(days=30)),
        "no_expiry": version_in(team, "approved"),
        "deprecated": version_in(team, "deprecated", approval_expires_at=now - timedelta(days=9)),
        "candidate": version_in(team, "candidate"),
        "draft": version_in(team, "draft"),
    }


def test_the_sweep_deprecates_only_expired_approved_versions(sweep_fixture):
    # Given two expired approvals among valid, unexpiring and non-approved versions
    expired = sweep_fixture["expired"]

    # When the sweep runs
    changed = approvals_services.versions_expire_approvals(
        via="system:test", now=sweep_fixture["now"]
    )

    # Then exactly the expired ones are deprecated, each with one system event
    assert changed == 2
    assert [state_of(version) for version in expired] == ["deprecated", "deprecated"]
    for name in ("valid", "no_expiry"):
        assert state_of(sweep_fixture[name]) == "approved"
    assert state_of(sweep_fixture["deprecated"]) == "deprecated"
    assert state_of(sweep_fixture["candidate"]) == "candidate"
    assert state_of(sweep_fixture["draft"]) == "draft"
    for version in expired:
        [event] = events_for(version)
        assert event.verb == "version.deprecated"
        assert event.actor is None
        assert event.actor_label == "system:test"
        # (the expiry is the lifecycle rule "expired": the event names it and its evidence)
        default_policy = GovernancePolicy.objects.get(is_default=True)
        assert event.data == {
            "before": {"state": "approved"},
            "after": {"state": "deprecated"},
            "reason": "approval expired; re-certification required",
            "rule": "expired",
            "action": "deprecate_and_retire",
            "evidence": {"approval_expires_at": version.approval_expires_at.isoformat()},
            "policy": {"id": default_policy.pk, "version": default_policy.version},
            "firing": LifecycleRuleFiring.objects.get(version=version).pk,
        }


def test_running_the_sweep_twice_changes_each_version_once(sweep_fixture):
    # Given the sweep has run once
    now = sweep_fixture["now"]
    assert approvals_services.versions_expire_approvals(via="system:test", now=now) == 2
    before = governance_row_counts()

    # When it runs again
    changed = approvals_services.versions_expire_approvals(via="system:test", now=now)

    # Then nothing more changes and no duplicate events appear
    assert changed == 0
    assert governance_row_counts() == before
    assert AuditEvent.objects.filter(verb="version.deprecated").count() == 2


def test_the_sweep_works_through_several_chunks(team):
    # Given more expired approvals than one chunk holds
    now = timezone.now()
    past = now - timedelta(hours=1)
    versions = [version_in(team, "approved", approval_expires_at=past) for _ in range(5)]

    # When the sweep runs with chunks of two
    changed = approvals_services.versions_expire_approvals(via="system:test", now=now, chunk_size=2)

    # Then every one is deprecated once
    assert changed == 5
    assert {state_of(version) for version in versions} == {"deprecated"}
    assert AuditEvent.objects.filter(verb="version.deprecated").count() == 5


def test_the_celery_task_runs_the_sweep_and_names_itself_in_the_audit_trail(sweep_fixture):
    # Given two expired approvals
    expired = sweep_fixture["expired"]

    # When the scheduled task runs (locally, as a worker would)
    now = sweep_fixture["now"]
    result = approval_tasks.expire_approvals.apply(kwargs={"now": now})

    # Then it reports two changes, and the events name the task run
    assert result.successful()
    assert result.get() == 2
    labels = {events_for(version)[0].actor_label for version in expired}
    assert labels == {f"system:task {result.id}"}

    # And running it again is a no-op
    assert approval_tasks.expire_approvals.apply(kwargs={"now": now}).get() == 0
    assert AuditEvent.objects.filter(verb="version.deprecated").count() == 2
