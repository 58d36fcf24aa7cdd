"""A policy's release categories, ring criteria and rollback triggers are validated."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals.models import GovernancePolicy

pytestmark = pytest.mark.django_db


def policy(**fields) -> GovernancePolicy:
    return GovernancePolicy(name="p", required_roles={"platform": 1}, **fields)


def test_the_seeded_release_policies_are_valid():
    seeded = GovernancePolicy.objects.exclude(release_categories=[])
    assert sorted(p.name for p in seeded) == [
        "release-base-model",
        "release-dataset-refresh",
        "release-routine",
        "release-sdk-and-channel",
        "release-threshold-and-policy",
    ]
    for each in seeded:
        each.clean()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"release_categories": ["threshold", "vibes"]}, "release_categories", "unknown category"),
        ({"release_categories": "threshold"}, "release_categories", "must be a list"),
        ({"ring_criteria": {"beta": {}}}, "ring_criteria", "unknown ring"),
        ({"ring_criteria": {"general": {"min_days_in_previous": -1}}}, "ring_criteria", "≥ 0"),
        ({"ring_criteria": {"general": {"no_open_incident": "yes"}}}, "ring_criteria", "true"),
        ({"ring_criteria": {"general": {"soon": True}}}, "ring_criteria", "unknown criterion"),
        (
            {"ring_criteria": {"general": {"required_roles": {"pilot": 1}}}},
            "ring_criteria",
            "required_roles",
        ),
        (
            {"rollback_triggers": [{"name": "x", "metric": "latency_p95_ms", "severity": "sev2"}]},
            "rollback_triggers",
            "needs at least one of",
        ),
        (
            {
                "rollback_triggers": [
                    {
                        "name": "x",
                        "metric": "mood",
                        "max": 1,
                        "severity": "sev9",
                        "blocks_promotion": True,
                    }
                ]
            },
            "rollback_triggers",
            "metric must be one of",
        ),
        (
            {"checks": {"no_open_incident": {"critical": False}}},
            "checks",
            "always critical",
        ),
    ],
)
def test_a_malformed_release_field_is_refused_with_a_clear_error(fields, field, message):
    with pytest.raises(ValidationError) as caught:
        policy(**fields).clean()
    assert any(message in problem for problem in caught.value.message_dict[field]), (
        caught.value.message_dict
    )


def test_ring_checks_may_be_configured_in_a_policy():
    policy(checks={"min_days_in_previous": {"critical": True}}).clean()
