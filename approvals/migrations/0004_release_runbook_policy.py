"""Seed the release runbook as the default policy (v2) and a critical-risk policy.

Version 1 of ``default`` stays for the requests judged under it, inactive.
"""

from django.db import migrations

RUNBOOK_ROLES = {
    "platform_lead": 1,
    "data_governance": 1,
    "ml_engineer": 1,
    "application_security": 1,
    "security_operations_lead": 1,
}

REVIEW_STEPS = [
    {
        "key": "scope",
        "title": "Confirm scope and a single accountable owner",
        "type": "manual_check",
        "owner_role": "platform_lead",
        "sla_business_days": 1,
    },
    {
        "key": "data_provenance",
        "title": "Validate training data provenance and licences",
        "type": "manual_check",
        "owner_role": "data_governance",
        "sla_business_days": 2,
    },
    {
        "key": "evaluation_packet",
        "title": "Attach the evaluation packet named by checkpoint id",
        "type": "file_upload",
        "owner_role": "ml_engineer",
        "sla_business_days": 2,
    },
    {
        "key": "security_questionnaire",
        "title": "Security questionnaire",
        "type": "form",
        "owner_role": "application_security",
        "sla_business_days": 2,
        "questions": [
            "What is the prompt-injection surface?",
            "How is PII handled?",
            "Which tools can the model use?",
            "Which jailbreak tests were attempted, with what result?",
        ],
    },
    {
        "key": "release_signoff",
        "title": "Release approver sign-off attesting the steps above and the rollback plan",
        "type": "approval",
        "owner_role": "security_operations_lead",
        "sla_business_days": 1,
    },
    {
        "key": "notify",
        "title": "Notify routing/platform by webhook",
        "type": "webhook",
        "owner_role": "system",
        "sla_business_days": 0,
    },
]

CHECKS = {
    "metadata_complete": {"critical": True},
    "rollback_target": {"critical": True},
    "sbom": {"critical": True},
    "provenance": {"critical": True},
    "artifact_checksum": {"critical": True},
    "model_signature": {"critical": False},
    "dependency_scan": {"critical": True},
    "artifact_scan": {"critical": True},
    "eval_thresholds": {"critical": False},
    "evals_fresh": {"critical": True},
}


def seed(apps, schema_editor):
    GovernancePolicy = apps.get_model("approvals", "GovernancePolicy")
    GovernancePolicy.objects.filter(is_default=True).update(is_default=False, is_active=False)
    common = {
        "review_steps": REVIEW_STEPS,
        "checks": CHECKS,
        "metric_thresholds": {},
        "approval_validity_days": 90,
        "retirement_grace_days": 30,
    }
    GovernancePolicy.objects.create(
        name="default",
        version=2,
        is_default=True,
        is_active=True,
        description="Release runbook for fine-tuned models.",
        required_roles=RUNBOOK_ROLES,
        **common,
    )
    GovernancePolicy.objects.create(
        name="critical-risk",
        version=1,
        is_default=False,
        is_active=True,
        description="Release runbook for critical-risk models: two security sign-offs.",
        risk_ratings=["critical"],
        required_roles={**RUNBOOK_ROLES, "application_security": 2},
        **common,
    )


class Migration(migrations.Migration):
    dependencies = [("approvals", "0003_workflow")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
