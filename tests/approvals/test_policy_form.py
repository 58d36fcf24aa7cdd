"""The policy editor: rows instead of JSON, validated field by field, saved through the
audited policy services, producing exactly the stored shapes the checks and SLAs read."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.http import QueryDict
from django.test import Client

from approvals.choices import ALWAYS_CRITICAL_CHECKS, ApproverRole, CheckName
from approvals.forms import PolicyEditor
from approvals.models import GovernancePolicy
from audit.models import AuditEvent
from tests.registry.factories import UserFactory

pytestmark = pytest.mark.django_db

STORED_FIELDS = (
    "name",
    "description",
    "is_active",
    "is_default",
    "risk_ratings",
    "team_slugs",
    "required_roles",
    "review_steps",
    "checks",
    "metric_thresholds",
    "approval_validity_days",
    "retirement_grace_days",
)
ADD_URL = "/admin/approvals/governancepolicy/add/"


def change_url(policy: GovernancePolicy) -> str:
    return f"/admin/approvals/governancepolicy/{policy.pk}/change/"


def stored(policy: GovernancePolicy) -> dict[str, Any]:
    policy.refresh_from_db()
    return {name: getattr(policy, name) for name in STORED_FIELDS}


def policy_rows() -> dict[str, Any]:
    """Every policy row and every audit event: what a refused save must leave alone."""
    return {
        "policies": sorted(
            (p.pk, p.version, p.required_roles, p.review_steps, p.checks, p.metric_thresholds)
            for p in GovernancePolicy.objects.all()
        ),
        "history": GovernancePolicy.history.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def as_posted(editor: PolicyEditor) -> dict[str, Any]:
    """What a browser posts for the editor exactly as shown (every row untouched)."""
    data: dict[str, Any] = {}
    for form in _all_forms(editor):
        for bound in form:
            if bound.field.disabled:
                continue
            value = bound.value()
            if isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[bound.html_name] = list(value)
            elif value is not None:
                data[bound.html_name] = str(value)
    return data


def _all_forms(editor: PolicyEditor) -> list:
    forms = [editor.form]
    for formset in (editor.roles, editor.steps, editor.checks, editor.thresholds):
        forms.append(formset.management_form)
        forms.extend(formset.forms)
    return forms


def as_query_dict(data: dict[str, Any]) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, value in data.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    return query


def role_index(role: str) -> int:
    return ApproverRole.values.index(role)


def check_index(name: str) -> int:
    return CheckName.values.index(name)


def new_policy_post(**overrides: Any) -> dict[str, Any]:
    """A new three-role board: two steps, thresholds, every check run."""
    data = as_posted(PolicyEditor())
    data.update(
        {
            "name": "board-assistants",
            "description": "The assistants board.",
            "is_active": "on",
            "team_slugs": "assistants",
            "approval_validity_days": "60",
            "retirement_grace_days": "14",
        }
    )
    for role in ("platform", "product", "security"):
        data[f"roles-{role_index(role)}-required"] = "on"
        data[f"roles-{role_index(role)}-quorum"] = "1"
    data[f"roles-{role_index('security')}-quorum"] = "2"
    data.update(
        {
            "steps-TOTAL_FORMS": "2",
            "steps-0-title": "Security questionnaire",
            "steps-0-key": "",
            "steps-0-type": "form",
            "steps-0-owner_role": "security",
            "steps-0-sla_business_days": "2",
            "steps-0-questions": "How is PII handled?\nWhich tools can the model use?",
            "steps-0-ORDER": "1",
            "steps-1-title": "Notify routing",
            "steps-1-key": "notify",
            "steps-1-type": "webhook",
            "steps-1-owner_role": "system",
            "steps-1-sla_business_days": "0",
            "steps-1-ORDER": "2",
            "thresholds-TOTAL_FORMS": "3",
            "thresholds-0-metric": "quality",
            "thresholds-0-comparison": "min",
            "thresholds-0-limit": "0.85",
            "thresholds-1-metric": "quality",
            "thresholds-1-comparison": "max",
            "thresholds-1-limit": "0.999",
            "thresholds-2-metric": "latency_p95_ms",
            "thresholds-2-comparison": "max",
            "thresholds-2-limit": "800",
        }
    )
    data[f"checks-{check_index('model_signature')}-run"] = "on"
    data.pop(f"checks-{check_index('model_signature')}-critical", None)
    data[f"checks-{check_index('eval_thresholds')}-critical"] = "on"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def superuser_client() -> tuple[Any, Client]:
    admin = UserFactory(is_superuser=True)
    client = Client()
    client.force_login(admin)
    return admin, client


# --- the form on its own --------------------------------------------------------------


@pytest.mark.parametrize("name_and_version", [("default", 1), ("default", 2), ("critical-risk", 1)])
def test_a_seeded_policy_shown_and_submitted_unchanged_gives_back_identical_data(
    name_and_version,
):
    # Given a seeded policy (the first default, the release runbook, the critical-risk one)
    name, version = name_and_version
    policy = GovernancePolicy.objects.get(name=name, version=version)
    before = stored(policy)

    # When it is shown in the editor and submitted as shown
    editor = PolicyEditor(data=as_query_dict(as_posted(PolicyEditor(policy=policy))), policy=policy)

    # Then it is valid, reads back to exactly the stored data, and changes nothing
    assert editor.is_valid(), [editor.form.errors, editor.steps.errors, editor.roles.errors]
    assert {name: editor.policy_data()[name] for name in STORED_FIELDS} == before
    assert editor.changes() == {}


def test_a_new_policy_is_stored_in_exactly_the_shapes_the_checks_and_slas_read():
    # Given a new board's rows / When the editor reads them
    editor = PolicyEditor(data=as_query_dict(new_policy_post()))

    # Then every rule set has its stored shape
    assert editor.is_valid()
    data = editor.policy_data()
    assert data["required_roles"] == {"platform": 1, "product": 1, "security": 2}
    assert data["review_steps"] == [
        {
            "key": "security_questionnaire",
            "title": "Security questionnaire",
            "type": "form",
            "owner_role": "security",
            "sla_business_days": 2,
            "questions": ["How is PII handled?", "Which tools can the model use?"],
        },
        {
            "key": "notify",
            "title": "Notify routing",
            "type": "webhook",
            "owner_role": "system",
            "sla_business_days": 0,
        },
    ]
    assert data["metric_thresholds"] == {
        "quality": {"min": 0.85, "max": 0.999},
        "latency_p95_ms": {"max": 800},
    }
    assert isinstance(data["metric_thresholds"]["latency_p95_ms"]["max"], int)
    assert data["checks"] == {
        name: {"critical": name in ALWAYS_CRITICAL_CHECKS or name == "eval_thresholds"}
        for name in CheckName.values
    }
    assert (data["team_slugs"], data["approval_validity_days"], data["retirement_grace_days"]) == (
        ["assistants"],
        60,
        14,
    )


def test_unticking_an_always_critical_check_is_ignored_and_it_stays_critical():
    # Given a submission that unticks run and critical on the SBOM check and another
    data = new_policy_post()
    for name in ("sbom", "evals_fresh"):
        data.pop(f"checks-{check_index(name)}-run", None)
        data.pop(f"checks-{check_index(name)}-critical", None)

    # When the editor reads it
    editor = PolicyEditor(data=as_query_dict(data))

    # Then the always-critical checks still run and are critical
    assert editor.is_valid()
    assert editor.policy_data()["checks"]["sbom"] == {"critical": True}
    assert editor.policy_data()["checks"]["evals_fresh"] == {"critical": True}


def test_a_check_left_unticked_does_not_run_and_steps_follow_their_order_numbers():
    # Given the artifact scan unticked and the two steps renumbered
    data = new_policy_post()
    data.pop(f"checks-{check_index('artifact_scan')}-run")
    data["steps-0-ORDER"], data["steps-1-ORDER"] = "2", "1"

    # When the editor reads it
    editor = PolicyEditor(data=as_query_dict(data))

    # Then the scan is not in the policy's checks and the webhook step comes first
    assert editor.is_valid()
    assert "artifact_scan" not in editor.policy_data()["checks"]
    assert [step["key"] for step in editor.policy_data()["review_steps"]] == [
        "notify",
        "security_questionnaire",
    ]


def test_a_deleted_step_and_a_deleted_threshold_are_left_out(default_policy):
    # Given the runbook with its first step and no thresholds, deleting the first step
    data = as_posted(PolicyEditor(policy=default_policy))
    data["steps-0-DELETE"] = "on"

    # When the editor reads it
    editor = PolicyEditor(data=as_query_dict(data), policy=default_policy)

    # Then only the first step is gone, and only the steps changed
    assert editor.is_valid()
    assert editor.changes() == {"review_steps": default_policy.review_steps[1:]}


REFUSALS = [
    pytest.param(
        {f"roles-{role_index('platform')}-role": "wizard"},
        "roles",
        role_index("platform"),
        "role",
        "Unknown role wizard.",
        id="unknown role",
    ),
    pytest.param(
        {f"roles-{role_index('product')}-quorum": "0"},
        "roles",
        role_index("product"),
        "quorum",
        "The quorum is at least 1 sign-off.",
        id="quorum below one",
    ),
    pytest.param(
        {"steps-0-owner_role": "data_governance"},
        "steps",
        0,
        "owner_role",
        "Data governance does not sign under this policy: tick it under required roles, "
        "or give the step to a required role.",
        id="step owned by a role that does not sign",
    ),
    pytest.param(
        {"steps-0-owner_role": "overlord"},
        "steps",
        0,
        "owner_role",
        "Unknown role overlord.",
        id="step owned by an unknown role",
    ),
    pytest.param(
        {"steps-1-key": "security_questionnaire"},
        "steps",
        1,
        "key",
        "Another step has the key 'security_questionnaire'.",
        id="duplicate step key",
    ),
    pytest.param(
        {"steps-0-sla_business_days": "-1"},
        "steps",
        0,
        "sla_business_days",
        "Ensure this value is greater than or equal to 0.",
        id="negative SLA",
    ),
    pytest.param(
        {"thresholds-1-comparison": "min"},
        "thresholds",
        1,
        "comparison",
        "quality already has an 'min' bound.",
        id="duplicate metric and comparison",
    ),
    pytest.param(
        {"thresholds-0-limit": "high"},
        "thresholds",
        0,
        "limit",
        "Enter a number, e.g. 0.85 or 800.",
        id="limit that is not a number",
    ),
    pytest.param(
        {"thresholds-0-limit": "nan"},
        "thresholds",
        0,
        "limit",
        "Enter a finite number.",
        id="limit that is not finite",
    ),
    pytest.param(
        {"thresholds-1-limit": "0.5"},
        "thresholds",
        1,
        "limit",
        "quality: the upper limit is below the lower limit 0.85.",
        id="upper bound below lower bound",
    ),
    pytest.param(
        {"thresholds-2-metric": "p95 latency"},
        "thresholds",
        2,
        "metric",
        "Use a letter, then letters, digits, '_', '.' or '-' (at most 64).",
        id="metric name the eval reader refuses",
    ),
    pytest.param(
        {
            f"checks-{check_index('artifact_scan')}-run": None,
            f"checks-{check_index('artifact_scan')}-critical": "on",
        },
        "checks",
        check_index("artifact_scan"),
        "critical",
        "A check the policy does not run cannot be critical.",
        id="critical check that does not run",
    ),
    pytest.param(
        {"approval_validity_days": "0"},
        "form",
        None,
        "approval_validity_days",
        "Ensure this value is greater than or equal to 1.",
        id="approval that never lasts",
    ),
    pytest.param(
        {"team_slugs": "assistants, Not A Slug"},
        "form",
        None,
        "team_slugs",
        "'Not A Slug' is not a team slug.",
        id="bad team slug",
    ),
]


def _errors(editor: PolicyEditor, section: str, index: int | None, field: str) -> list[str]:
    form = editor.form if section == "form" else getattr(editor, section).forms[index]
    return form.errors.get(field, [])


@pytest.mark.parametrize(("changes", "section", "index", "field", "message"), REFUSALS)
def test_a_bad_row_is_refused_with_the_error_next_to_its_field(
    changes, section, index, field, message
):
    # Given a new board with one bad value
    data = new_policy_post(**changes)

    # When the editor reads it
    editor = PolicyEditor(data=as_query_dict(data))

    # Then it is invalid and the error is on that row's field
    assert not editor.is_valid()
    assert any(error.startswith(message) for error in _errors(editor, section, index, field)), (
        _errors(editor, section, index, field)
    )


def test_a_policy_needs_at_least_one_role_that_signs():
    data = new_policy_post()
    for role in ("platform", "product", "security"):
        data.pop(f"roles-{role_index(role)}-required")
    data["steps-TOTAL_FORMS"] = "0"
    editor = PolicyEditor(data=as_query_dict(data))
    assert not editor.is_valid()
    assert editor.roles.non_form_errors() == ["Tick at least one role that must sign."]


def test_a_second_default_policy_is_refused_on_the_default_field():
    editor = PolicyEditor(data=as_query_dict(new_policy_post(is_default="on")))
    assert not editor.is_valid()
    assert editor.form.errors["is_default"] == [
        "default v2 is the default policy; untick it there first (one default at a time)."
    ]


# --- through the admin ----------------------------------------------------------------


def test_an_administrator_adds_a_policy_through_the_admin_and_it_is_audited():
    # Given an administrator in the admin
    admin, client = superuser_client()
    assert client.get(ADD_URL).status_code == 200

    # When they submit a new board
    response = client.post(ADD_URL, new_policy_post())

    # Then version 1 is stored with the rows' data, and its creation is audited
    assert response.status_code == 302, response.context["editor"].form.errors
    policy = GovernancePolicy.objects.get(name="board-assistants")
    assert response["Location"] == change_url(policy)
    assert (policy.version, policy.required_roles) == (
        1,
        {"platform": 1, "product": 1, "security": 2},
    )
    event = AuditEvent.objects.get(verb="policy.created", object_id=str(policy.pk))
    assert event.actor == admin
    assert event.data["after"] == policy.snapshot()


def test_an_administrator_edits_a_policy_and_publishes_the_next_version(default_policy):
    # Given the runbook policy opened in the admin
    admin, client = superuser_client()
    page = client.get(change_url(default_policy))
    assert page.status_code == 200
    data = as_posted(page.context["editor"])
    before = default_policy.snapshot()

    # When the ML engineer's quorum goes to 2 and a quality bound is added
    data[f"roles-{role_index('ml_engineer')}-quorum"] = "2"
    data["thresholds-0-metric"] = "quality"
    data["thresholds-0-comparison"] = "min"
    data["thresholds-0-limit"] = "0.9"
    response = client.post(change_url(default_policy), data)

    # Then the same row is version 3 with exactly those changes, and it is audited
    assert response.status_code == 302
    after = stored(default_policy)
    assert default_policy.version == 3
    assert after["required_roles"] == {**before["required_roles"], "ml_engineer": 2}
    assert after["metric_thresholds"] == {"quality": {"min": 0.9}}
    assert after["review_steps"] == before["review_steps"]
    assert after["checks"] == before["checks"]
    event = AuditEvent.objects.get(verb="policy.published")
    assert (event.actor, event.data["before"], event.data["after"]) == (
        admin,
        before,
        default_policy.snapshot(),
    )


def test_saving_a_seeded_policy_unchanged_in_the_admin_publishes_nothing(default_policy):
    # Given the runbook policy opened in the admin
    _, client = superuser_client()
    data = as_posted(client.get(change_url(default_policy)).context["editor"])
    before = policy_rows()

    # When it is saved as shown
    response = client.post(change_url(default_policy), data, follow=True)

    # Then nothing is written: same version, same data, no audit event
    assert response.status_code == 200
    assert "Nothing changed" in response.content.decode()
    assert policy_rows() == before


@pytest.mark.parametrize(("changes", "section", "index", "field", "message"), REFUSALS)
def test_a_refused_edit_in_the_admin_shows_the_error_and_changes_nothing(
    default_policy, changes, section, index, field, message
):
    # Given a new board being added in the admin, with one bad value
    _, client = superuser_client()
    before = policy_rows()

    # When it is submitted
    response = client.post(ADD_URL, new_policy_post(**changes))

    # Then the page comes back with the error next to the field, and nothing is written
    assert response.status_code == 200
    editor = response.context["editor"]
    assert any(error.startswith(message) for error in _errors(editor, section, index, field))
    assert "Please correct the errors below." in response.content.decode()
    assert policy_rows() == before


def test_renaming_a_policy_to_another_policys_name_is_refused_and_changes_nothing(
    default_policy,
):
    _, client = superuser_client()
    data = as_posted(client.get(change_url(default_policy)).context["editor"])
    before = policy_rows()
    data["name"] = "critical-risk"
    response = client.post(change_url(default_policy), data)
    assert response.status_code == 200
    assert response.context["editor"].form.errors["name"] == [
        "A policy named 'critical-risk' exists: edit it to publish a new version."
    ]
    assert policy_rows() == before


def test_a_refusal_of_the_service_is_shown_on_the_page_and_changes_nothing(
    default_policy, monkeypatch
):
    # Given the model's own validation refusing something the rows allowed
    from django.core.exceptions import ValidationError

    def refuse(self, *args, **kwargs):
        raise ValidationError({"checks": ["refused by the model"]})

    monkeypatch.setattr(GovernancePolicy, "full_clean", refuse)
    _, client = superuser_client()
    data = as_posted(client.get(change_url(default_policy)).context["editor"])
    data["approval_validity_days"] = "30"
    before = policy_rows()

    # When the edit is saved
    response = client.post(change_url(default_policy), data)

    # Then the model's message is shown on its section and nothing is written
    assert response.status_code == 200
    assert response.context["editor"].checks.non_form_errors() == ["refused by the model"]
    assert policy_rows() == before


def test_someone_who_may_only_view_policies_sees_them_but_cannot_add_or_change_them(
    default_policy,
):
    # Given a staff member holding only the view permission
    viewer = UserFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_governancepolicy"))
    client = Client()
    client.force_login(viewer)
    before = policy_rows()

    # Then the policy opens read-only, and adding or saving is forbidden
    page = client.get(change_url(default_policy))
    assert page.status_code == 200
    assert "editor" not in page.context
    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, new_policy_post()).status_code == 403
    assert client.post(change_url(default_policy), {"name": "x"}).status_code == 403
    assert policy_rows() == before
