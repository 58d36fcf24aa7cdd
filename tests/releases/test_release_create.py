"""Submitting a release: the pinned stack, its notes and manifest, and every refusal
leaving nothing written."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from audit.models import AuditEvent
from audit.verbs import AuditVerb
from core.errors import IllegalTransition, InvalidInput, NotPermitted
from core.permissions import grant_team_role
from core.team_roles import VIEW
from registry.choices import ModelKind, ReleaseState, VersionState
from registry.models import ModelVersion, Release, ReleaseComponent
from registry.release_manifest import manifest_digest
from registry.services.releases import release_create, release_integrity, release_withdraw
from tests.registry.factories import RegisteredModelFactory, TeamFactory, team_member
from tests.releases.stack import NOW, build_stack, notes, version_of

pytestmark = pytest.mark.django_db


def create(stack, version="1.0.0", components=None, **note_overrides):
    return release_create(
        stack.registrant,
        team=stack.team,
        name="checkout-scoring",
        version=version,
        components=stack.components() if components is None else components,
        notes=notes(stack.owner, **note_overrides),
        now=NOW,
    )


def written():
    return (
        Release.objects.count(),
        ReleaseComponent.objects.count(),
        AuditEvent.objects.filter(verb=AuditVerb.RELEASE_SUBMITTED).count(),
    )


def test_a_release_of_model_threshold_and_sdk_pins_each_component_with_its_digest():
    stack = build_stack()
    release = create(stack)
    assert release.state == ReleaseState.SUBMITTED
    assert release.previous_release is None
    kinds = sorted(entry["kind"] for entry in release.manifest)
    assert kinds == ["config", "dataset", "evaluation_report", "model", "sdk"]
    config = next(entry for entry in release.manifest if entry["kind"] == "config")
    assert config["parameters"] == {"decline_above": 0.82, "review_above": 0.6}
    assert config["name"] == "decline-threshold"
    assert config["checksum"] == stack.threshold.checksum
    assert config["state"] == VersionState.APPROVED
    evaluation = next(e for e in release.manifest if e["kind"] == "evaluation_report")
    assert evaluation["sha256"] == stack.evaluation.sha256
    assert release.manifest_sha256 == manifest_digest(release.manifest)
    assert release.components.count() == 5
    assert release_integrity(release) == []
    event = AuditEvent.objects.get(verb=AuditVerb.RELEASE_SUBMITTED)
    assert event.data["after"]["manifest_sha256"] == release.manifest_sha256
    assert event.data["after"]["change_categories"] == [
        "base_model",
        "config_logic",
        "threshold",
        "sdk_major",
        "new_channel",
        "dataset_refresh",
    ]


def test_a_second_release_names_the_first_as_previous_and_may_roll_back_to_it():
    stack = build_stack()
    first = create(stack)
    second = create(stack, "1.1.0", rollback_target=first.pk, rollback_feature_flag="")
    assert second.previous_release == first
    assert second.rollback_target == first


def test_a_candidate_component_is_accepted_for_the_release_review_to_approve():
    stack = build_stack()
    candidate = version_of(stack.sdk, "1.5.0", state=VersionState.CANDIDATE)
    release = create(stack, components=stack.components(sdk=candidate))
    sdk = next(entry for entry in release.manifest if entry["kind"] == "sdk")
    assert sdk["state"] == VersionState.CANDIDATE


def test_a_component_from_another_team_the_actor_may_read_is_allowed():
    stack = build_stack()
    platform = TeamFactory()
    shared_sdk = RegisteredModelFactory(team=platform, name="shared-sdk", kind=ModelKind.SDK)
    shared = version_of(shared_sdk, "2.0.0")
    grant_team_role(stack.registrant, VIEW, platform)  # the platform team's SDK is readable
    release = create(stack, components=stack.components(sdk=shared))
    assert {entry["name"] for entry in release.manifest} >= {"shared-sdk"}


@pytest.mark.parametrize(
    "state", [VersionState.DRAFT, VersionState.DEPRECATED, VersionState.RETIRED]
)
def test_a_release_naming_an_unapproved_or_retired_component_is_refused(state):
    stack = build_stack()
    refused = version_of(stack.config, "1.1.0", state=state)
    before = written()
    with pytest.raises(IllegalTransition, match=rf"decline-threshold 1\.1\.0 is {state}"):
        create(stack, components=stack.components(config=refused))
    assert written() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rollback_triggers": []}, "rollback_triggers"),
        ({"rollback_triggers": [" "]}, "rollback_triggers"),
        ({"what_changed": "   "}, "what_changed"),
        ({"known_risks": ""}, "known_risks"),
        ({"channels_tested": []}, "channels_tested"),
        ({"rollback_feature_flag": ""}, "rollback_target"),
    ],
)
def test_missing_or_blank_release_notes_are_refused(overrides, field):
    stack = build_stack()
    before = written()
    with pytest.raises(InvalidInput, match="release notes") as refusal:
        create(stack, **overrides)
    assert field in refusal.value.errors
    assert written() == before


def test_a_rollback_owner_without_a_role_on_the_team_is_refused():
    stack = build_stack()
    outsider = team_member(TeamFactory(), "view_team_registry")
    before = written()
    with pytest.raises(InvalidInput, match="rollback owner"):
        create(stack, rollback_owner=outsider)
    with pytest.raises(InvalidInput, match="rollback owner"):
        create(stack, rollback_owner="nobody-by-that-name")
    assert written() == before


def test_a_version_not_greater_than_the_latest_release_is_refused():
    stack = build_stack()
    create(stack, "1.2.0")
    before = written()
    for version in ("1.2.0", "1.1.9", "1.2.0-rc.1"):
        with pytest.raises(InvalidInput, match=r"not greater than the latest release 1\.2\.0"):
            create(stack, version)
    assert written() == before


def test_a_component_whose_kind_differs_from_its_registered_model_is_refused():
    stack = build_stack()
    components = stack.components()
    components[1]["kind"] = "model"  # the config version declared as a model
    before = written()
    with pytest.raises(InvalidInput, match=r"decline-threshold 1\.0\.0 is a config, not a model"):
        create(stack, components=components)
    assert written() == before


def test_another_teams_invisible_component_is_refused_as_missing():
    stack = build_stack()
    hidden = version_of(RegisteredModelFactory(kind=ModelKind.SDK), "9.0.0")
    before = written()
    with pytest.raises(
        InvalidInput, match=r"Component 3 \(sdk\): the model version does not exist"
    ):
        create(stack, components=stack.components(sdk=hidden))
    assert written() == before


def test_an_eval_report_of_a_version_outside_the_release_is_refused():
    stack = build_stack()
    other = build_stack()
    before = written()
    with pytest.raises(InvalidInput, match=r"does not exist|not an evaluation package"):
        create(stack, components=stack.components(evaluation_report=other.evaluation))
    assert written() == before


def test_a_release_without_a_model_kind_component_is_refused():
    stack = build_stack()
    components = [{"kind": "dataset", "dataset_version": stack.dataset.pk}]
    with pytest.raises(InvalidInput, match="at least one model"):
        create(stack, components=components)
    assert written() == (0, 0, 0)


def test_someone_without_the_register_role_may_not_submit():
    stack = build_stack()
    with pytest.raises(NotPermitted):
        release_create(
            stack.owner,
            team=stack.team,
            name="checkout-scoring",
            version="1.0.0",
            components=stack.components(),
            notes=notes(stack.owner),
        )
    assert written() == (0, 0, 0)


def test_a_component_mutated_after_submission_is_reported_by_release_integrity():
    stack = build_stack()
    release = create(stack)
    ModelVersion.objects.filter(pk=stack.threshold.pk).update(checksum="f" * 64)
    ModelVersion.objects.filter(pk=stack.client.pk).update(state=VersionState.DEPRECATED)
    problems = release_integrity(release)
    assert len(problems) == 2
    assert (
        "decline-threshold 1.0.0's checksum changed since submission" in problems[0] + problems[1]
    )
    assert any("scoring-sdk 1.4.0 is deprecated since submission" in p for p in problems)


def test_the_database_refuses_to_update_a_release_component():
    stack = build_stack()
    release = create(stack)
    with pytest.raises(DatabaseError), transaction.atomic():
        ReleaseComponent.objects.filter(release=release).update(pinned={})


def test_a_release_that_entered_no_ring_may_be_withdrawn_once():
    stack = build_stack()
    release = create(stack)
    release_withdraw(stack.registrant, release=release, reason="superseded", now=NOW)
    release.refresh_from_db()
    assert release.state == ReleaseState.WITHDRAWN
    assert AuditEvent.objects.filter(verb=AuditVerb.RELEASE_WITHDRAWN).count() == 1
    with pytest.raises(IllegalTransition, match="withdrawn"):
        release_withdraw(stack.registrant, release=release, reason="again", now=NOW)
    assert AuditEvent.objects.filter(verb=AuditVerb.RELEASE_WITHDRAWN).count() == 1
    # A withdrawn release is no rollback target and not the next one's previous release.
    later = create(stack, "1.1.0")
    assert later.previous_release is None
