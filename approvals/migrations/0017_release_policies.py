"""Seed the release review policies (issue 13, docs/adr/0020-rings.md).

A ring request of a release is judged under the policies whose ``release_categories``
meet the release's detected change categories ("routine" when it touches none); each
names the roles that review its categories, the entry criteria of every ring and the
rollback triggers its monitoring reports are evaluated against.
"""

from django.db import migrations

# The ring checks (approvals.checks.release): what stands between a release and its next
# ring. Only the monitoring and days-in-ring criteria may get a manager's exception.
RING_CHECKS = {
    "components_approved": {"critical": True},
    "manifest_intact": {"critical": True},
    "previous_ring_entered": {"critical": True},
    "min_days_in_previous": {"critical": False},
    "monitoring_within_thresholds": {"critical": False},
    "no_open_incident": {"critical": True},
}

RING_CRITERIA = {
    "offline_validation": {},
    "internal": {},
    "guarded": {"min_days_in_previous": 1, "no_open_incident": True},
    "segment_monitoring": {
        "min_days_in_previous": 3,
        "monitoring_within_thresholds": True,
        "no_open_incident": True,
    },
    "general": {
        "min_days_in_previous": 7,
        "monitoring_within_thresholds": True,
        "no_open_incident": True,
    },
}

ROLLBACK_TRIGGERS = [
    {
        "name": "p95 latency over 250 ms",
        "metric": "latency_p95_ms",
        "max": 250,
        "severity": "sev2",
        "blocks_promotion": True,
    },
    {
        "name": "retry rate spike (over 50% up on the previous report)",
        "metric": "retry_rate",
        "max_increase": 0.5,
        "severity": "sev3",
        "blocks_promotion": True,
    },
    {
        "name": "a protected segment drops over 0.02 below its baseline",
        "metric": "segment_quality",
        "max_drop": 0.02,
        "severity": "sev2",
        "blocks_promotion": True,
    },
]

POLICIES = [
    (
        "release-routine",
        "Releases whose diff touches no change category: one platform sign-off per ring.",
        ["routine"],
        {"platform": 1},
    ),
    (
        "release-threshold-and-policy",
        "Threshold or policy updates and new fusion/config logic: product and security.",
        ["threshold", "config_logic"],
        {"product": 1, "security": 1},
    ),
    (
        "release-base-model",
        "A new model architecture or base model: platform, ML engineering and security.",
        ["base_model"],
        {"platform": 1, "ml_engineer": 1, "security": 1},
    ),
    (
        "release-sdk-and-channel",
        "An SDK major version or a new channel: platform and product.",
        ["sdk_major", "new_channel"],
        {"platform": 1, "product": 1},
    ),
    (
        "release-dataset-refresh",
        "A major dataset refresh: data governance and ML engineering.",
        ["dataset_refresh"],
        {"data_governance": 1, "ml_engineer": 1},
    ),
]


def seed(apps, schema_editor):
    GovernancePolicy = apps.get_model("approvals", "GovernancePolicy")
    for name, description, categories, roles in POLICIES:
        if GovernancePolicy.objects.filter(name=name).exists():
            continue
        GovernancePolicy.objects.create(
            name=name,
            version=1,
            is_default=False,
            is_active=True,
            description=description,
            required_roles=roles,
            review_steps=[],
            checks=RING_CHECKS,
            metric_thresholds={},
            approval_validity_days=90,
            retirement_grace_days=30,
            release_categories=categories,
            ring_criteria=RING_CRITERIA,
            rollback_triggers=ROLLBACK_TRIGGERS,
        )


def unseed(apps, schema_editor):
    GovernancePolicy = apps.get_model("approvals", "GovernancePolicy")
    # A raw delete: the collector would follow relations of the current models, which a
    # historical model cannot be compared with (nothing else points at seeded policies
    # before 0017 is applied).
    seeded = GovernancePolicy.objects.filter(name__in=[p[0] for p in POLICIES], version=1)
    seeded._raw_delete(schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("approvals", "0016_rings_monitoring_incidents")]

    operations = [migrations.RunPython(seed, unseed)]
