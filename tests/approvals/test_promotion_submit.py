"""Submitting a version for promotion: the baseline checks decide between review and
changes requested, every result is stored, and illegal submissions change nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction

from approvals import services
from approvals.choices import RequestState
from approvals.models import CheckResult, GovernancePolicy, PromotionRequest
from audit.models import AuditEvent
from core import permissions
from core.errors import Conflict, IllegalTransition, InvalidInput, NotPermitted
from registry.choices import DatasetUse, ModelKind
from registry.models import ModelVersion
from tests.approvals.factories import (
    PromotionRequestFactory,
    attach_passing_evidence,
    governance_row_counts,
    run_checks,
)
from tests.registry.factories import (
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    complete_metadata,
    ready_version,
    service_account_with_token,
    team_member,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return TeamFactory(slug="assistants")


@pytest.fixture
def ci(team):
    """The team's CI service-account user."""
    account, _ = service_account_with_token(teams=[team])
    return account.user


def submit(actor, version, **kwargs) -> PromotionRequest:
    """Submit as CI does after uploading passing evidence (issue #3 checks), then run the
    checks as the worker would. The evidence upload shares the submit's transaction, so a
    refused submission leaves no trace of it either."""
    with transaction.atomic():
        if (
            version.state == "draft"
            and not version.evidence.exists()
            and permissions.allowed(actor, permissions.Verb.REGISTER, version.registered_model.team)
        ):
            attach_passing_evidence(version)
        request = services.promotion_request_submit(actor=actor, version=version, **kwargs)
    return run_checks(request) if request.state == "submitted" else request


def checks_of(request: PromotionRequest) -> dict[str, bool]:
    """The baseline checks this module is about (the evidence checks have their own tests)."""
    return dict(
        CheckResult.objects.filter(
            request=request, check_name__in=["metadata_complete", "rollback_target"]
        ).values_list("check_name", "passed")
    )


def test_a_version_passing_the_baseline_checks_enters_review_and_becomes_candidate(team, ci):
    # Given a draft version with complete metadata and datasets
    version = ready_version(registered_model__team=team)

    # When CI submits it
    request = submit(ci, version)

    # Then the request is in review, the version a candidate, and both checks are stored
    assert request.state == "in_review"
    assert request.reasons == []
    assert ModelVersion.objects.get(pk=version.pk).state == "candidate"
    assert checks_of(request) == {"metadata_complete": True, "rollback_target": True}
    assert request.policy_snapshot == GovernancePolicy.objects.get(is_default=True).snapshot()
    assert list(AuditEvent.objects.order_by("id").values_list("verb", flat=True))[-4:] == [
        "promotion.submitted",
        "promotion.checks_started",
        "promotion.checked",
        "version.marked_candidate",
    ]


def test_a_person_with_the_register_permission_may_submit(team):
    # Given a person holding registry.register_versions on the team
    person = team_member(team, "register_versions")

    # When they submit a ready version
    request = submit(person, ready_version(registered_model__team=team))

    # Then it is in review, requested by them
    assert request.state == "in_review"
    assert request.requested_by == person


MISSING_METADATA = [
    ({"license": ""}, None, "license"),
    ({"risk_rating": ""}, None, "risk_rating"),
    ({"source_commit": ""}, None, "source_commit"),
    ({"dependency_lock_hash": ""}, None, "dependency_lock_hash"),
    ({"allowed_use_cases": []}, None, "allowed_use_cases"),
    ({"prohibited_use_cases": []}, None, "prohibited_use_cases"),
    ({"mitigation_controls": []}, None, "mitigation_controls"),
    ({"fine_tune_method": ""}, None, "fine_tune_method"),
    (
        {"base_model_reference": ""},
        None,
        "base_model (a fine-tune names its base model version or reference)",
    ),
    ({}, [DatasetUse.EVAL], "training dataset"),
    ({}, [DatasetUse.TRAIN], "evaluation dataset"),
]


@pytest.mark.parametrize(
    ("overrides", "datasets", "missing"),
    MISSING_METADATA,
    ids=[case[2].split(" (")[0].replace(" ", "-") for case in MISSING_METADATA],
)
def test_each_missing_metadata_field_sends_the_request_back_with_a_readable_reason(
    team, ci, overrides, datasets, missing
):
    # Given a draft version of a model (not an adapter) missing one piece of metadata
    version = ModelVersionFactory(
        registered_model__team=team,
        registered_model__kind=ModelKind.MODEL,
        datasets=datasets or [DatasetUse.TRAIN, DatasetUse.EVAL],
        **complete_metadata(**overrides),
    )

    # When CI submits it
    request = submit(ci, version)

    # Then changes are requested with a reason naming the field, the version stays draft,
    # and both check results are stored with what they saw
    assert request.state == "changes_requested"
    assert request.reasons == [f"metadata_complete: missing: {missing}"]
    assert ModelVersion.objects.get(pk=version.pk).state == "draft"
    assert checks_of(request) == {"metadata_complete": False, "rollback_target": True}
    failed = CheckResult.objects.get(request=request, check_name="metadata_complete")
    assert failed.observed["missing"] == [missing]
    assert not AuditEvent.objects.filter(verb="version.marked_candidate").exists()


def test_an_adapter_without_a_base_model_names_both_gaps(team, ci):
    # Given an adapter that is a full fine-tune but names no base model
    model = RegisteredModelFactory(team=team, kind=ModelKind.ADAPTER)
    version = ModelVersionFactory(
        registered_model=model,
        datasets=[DatasetUse.TRAIN, DatasetUse.EVAL],
        **complete_metadata(fine_tune_method="full", base_model_reference=""),
    )

    # When CI submits it
    request = submit(ci, version)

    # Then both missing pieces are named
    assert request.state == "changes_requested"
    assert request.reasons == [
        "metadata_complete: missing: "
        "base_model (a fine-tune names its base model version or reference), "
        "base_model (an adapter names its base model)"
    ]


@pytest.fixture
def approved(team):
    """An approved version of a model of the team (the current production version)."""
    return ModelVersionFactory(
        registered_model=RegisteredModelFactory(team=team, name="support-lora"),
        version="1.0.0",
        state="approved",
    )


def test_a_rollback_target_is_required_once_an_approved_version_exists(team, ci, approved):
    # Given a ready version of a model that already has an approved version
    version = ready_version(registered_model=approved.registered_model, version="1.1.0")

    # When CI submits it without a rollback target
    request = submit(ci, version)

    # Then changes are requested, naming the missing rollback target
    assert request.state == "changes_requested"
    assert request.reasons == [
        "rollback_target: An approved version exists: name it (or another approved version) "
        "as the rollback target."
    ]
    assert checks_of(request) == {"metadata_complete": True, "rollback_target": False}
    assert ModelVersion.objects.get(pk=version.pk).state == "draft"


def test_an_approved_rollback_target_of_the_same_model_passes(team, ci, approved):
    # Given a ready version and the model's approved version as rollback target
    version = ready_version(registered_model=approved.registered_model, version="1.1.0")

    # When CI submits it
    request = submit(ci, version, rollback_target=approved, rollback_plan="Route back.")

    # Then it enters review
    assert request.state == "in_review"
    assert request.rollback_target == approved


def test_a_rollback_target_that_is_not_approved_is_refused_by_the_checks(team, ci, approved):
    # Given a ready version naming a draft version of the same model as rollback target
    draft = ModelVersionFactory(registered_model=approved.registered_model, version="0.9.0")
    version = ready_version(registered_model=approved.registered_model, version="1.1.0")

    # When CI submits it
    request = submit(ci, version, rollback_target=draft)

    # Then changes are requested
    assert request.state == "changes_requested"
    assert request.reasons == [
        "rollback_target: The rollback target 0.9.0 is not an approved version."
    ]


def test_a_rollback_target_of_another_model_is_refused_by_the_checks(team, ci, approved):
    # Given a ready version naming an approved version of another model as rollback target
    other = ModelVersionFactory(registered_model__team=team, version="5.0.0", state="approved")
    version = ready_version(registered_model=approved.registered_model, version="1.1.0")

    # When CI submits it
    request = submit(ci, version, rollback_target=other)

    # Then changes are requested
    assert request.state == "changes_requested"
    assert request.reasons == [
        "rollback_target: The rollback target is a version of another model."
    ]


def test_a_version_cannot_be_its_own_rollback_target(team, ci):
    # Given a ready version
    version = ready_version(registered_model__team=team)
    before = governance_row_counts()

    # When CI names the version itself as rollback target
    with pytest.raises(InvalidInput, match="cannot be its own rollback target"):
        submit(ci, version, rollback_target=version)

    # Then nothing changed
    assert governance_row_counts() == before
    assert ModelVersion.objects.get(pk=version.pk).state == "draft"


def test_a_second_open_request_for_the_same_version_is_a_conflict(team, ci, default_policy):
    # Given a draft version with an open (submitted) request, e.g. one still being checked
    version = ready_version(registered_model__team=team)
    PromotionRequestFactory(
        version=version, policy=default_policy, requested_by=ci, state=RequestState.SUBMITTED
    )
    before = governance_row_counts()

    # When CI submits the version again
    with pytest.raises(Conflict, match="already has an open promotion request"):
        submit(ci, version)

    # Then nothing changed
    assert governance_row_counts() == before
    assert ModelVersion.objects.get(pk=version.pk).state == "draft"


def test_a_version_sent_back_can_be_submitted_again(team, ci):
    # Given a version whose first request was sent back (no evaluation dataset yet)
    version = ModelVersionFactory(
        registered_model__team=team, datasets=[DatasetUse.TRAIN], **complete_metadata()
    )
    first = submit(ci, version)
    assert first.state == "changes_requested"

    # When the evidence is completed and CI submits again
    version.dataset_links.create(
        dataset_version=version.dataset_links.get().dataset_version, use=DatasetUse.EVAL
    )
    second = submit(ci, version)

    # Then a second request enters review; the first keeps its outcome
    assert second.state == "in_review"
    assert PromotionRequest.objects.get(pk=first.pk).state == "changes_requested"


@pytest.mark.parametrize("state", ["candidate", "approved", "deprecated", "retired"])
def test_only_a_draft_version_can_be_submitted(team, ci, state):
    # Given a version that is no longer a draft
    version = ModelVersionFactory(registered_model__team=team, state=state, **complete_metadata())
    before = governance_row_counts()

    # When CI submits it
    with pytest.raises(IllegalTransition, match=f"Only a draft version .* this one is {state}"):
        submit(ci, version)

    # Then nothing changed
    assert governance_row_counts() == before
    assert ModelVersion.objects.get(pk=version.pk).state == state


def test_another_teams_service_account_cannot_submit(team):
    # Given a ready version of this team and the CI of another team
    version = ready_version(registered_model__team=team)
    other_ci, _ = service_account_with_token(teams=[TeamFactory(slug="vision")])
    before = governance_row_counts()

    # When the other team's CI submits it
    with pytest.raises(NotPermitted, match="may not request promotion for this team"):
        submit(other_ci.user, version)

    # Then nothing changed
    assert governance_row_counts() == before
    assert ModelVersion.objects.get(pk=version.pk).state == "draft"


@pytest.mark.parametrize(
    "who", ["no-permission", "approver", "manager", "superuser", "global-register"]
)
def test_a_person_without_the_register_object_permission_cannot_submit(team, who):
    # Given a person who may not register for the team
    if who == "no-permission":
        person = UserFactory()
    elif who == "approver":
        person = team_member(team, "sign_as_platform")
    elif who == "manager":
        person = team_member(team, "manage_governance")
    elif who == "superuser":
        person = UserFactory(is_superuser=True)
    else:
        person = UserFactory()
        person.user_permissions.add(Permission.objects.get(codename="register_versions"))
    version = ready_version(registered_model__team=team)
    before = governance_row_counts()

    # When they submit
    with pytest.raises(NotPermitted, match="may not request promotion for this team"):
        submit(person, version)

    # Then nothing changed
    assert governance_row_counts() == before
