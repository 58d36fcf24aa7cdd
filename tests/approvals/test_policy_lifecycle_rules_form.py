"""The policy editor's lifecycle rules (issue 12): shown as one action per rule, stored as
the JSON the sweeps read, refused next to the field when incomplete."""

from __future__ import annotations

import pytest

from approvals.forms import PolicyEditor
from approvals.models import GovernancePolicy
from tests.approvals.test_policy_form import as_posted, as_query_dict, superuser_client

pytestmark = pytest.mark.django_db


def lifecycle_post(policy: GovernancePolicy, **fields: str) -> dict:
    data = as_posted(PolicyEditor(policy=policy))
    data["lifecycle-shown"] = "True"
    data.update({f"lifecycle-{name}": value for name, value in fields.items()})
    return data


def test_the_editor_stores_the_rules_chosen_as_the_json_the_sweeps_read(default_policy):
    # Given the default policy / When stale is set to deprecate after 90 days, unowned is
    # turned off, vulnerable retires and expiry only notifies
    data = lifecycle_post(
        default_policy,
        stale_action="deprecate",
        stale_after_days="90",
        unowned_action="",
        vulnerable_action="deprecate_and_retire",
        expired_action="notify",
    )
    editor = PolicyEditor(data=as_query_dict(data), policy=default_policy)

    # Then the stored rules are exactly those
    assert editor.is_valid(), editor.lifecycle.errors
    assert editor.changes() == {
        "lifecycle_rules": {
            "stale": {"action": "deprecate", "after_days": 90},
            "vulnerable": {"action": "deprecate_and_retire"},
            "expired": {"action": "notify"},
        }
    }


def test_a_stale_rule_without_its_days_is_refused_next_to_the_field(default_policy):
    data = lifecycle_post(
        default_policy, stale_action="notify", stale_after_days="", expired_action="notify"
    )
    editor = PolicyEditor(data=as_query_dict(data), policy=default_policy)
    assert not editor.is_valid()
    assert editor.lifecycle.errors == {
        "stale_after_days": ["Say after how many quiet days a version is stale."]
    }


def test_the_policy_page_publishes_edited_rules_as_the_next_version(default_policy):
    # Given an administrator on the default policy's page
    _, client = superuser_client()
    url = f"/admin/approvals/governancepolicy/{default_policy.pk}/change/"
    assert "Lifecycle rules" in client.get(url).content.decode()
    version = default_policy.version

    # When they turn the stale rule to deprecate and save
    data = lifecycle_post(
        default_policy,
        stale_action="deprecate",
        stale_after_days="30",
        unowned_action="notify",
        vulnerable_action="deprecate",
        expired_action="deprecate_and_retire",
    )
    response = client.post(url, data)

    # Then the next version of the policy holds it
    assert response.status_code == 302
    default_policy.refresh_from_db()
    assert default_policy.version == version + 1
    assert default_policy.lifecycle_rules["stale"] == {"action": "deprecate", "after_days": 30}
