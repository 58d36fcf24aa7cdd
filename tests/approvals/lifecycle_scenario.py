"""Scenario builders for the lifecycle rules' tests: approved versions under a team policy
whose rules the test chooses, built with the factories (no checks run: the rules judge
approved versions, however they got there)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

from approvals.choices import RequestState
from approvals.models import GovernancePolicy, LifecycleRuleFiring, Notification
from audit.models import AuditEvent
from registry import services as registry_services
from registry.models import Deployment, ModelVersion, Team
from tests.approvals.factories import PromotionRequestFactory, ci_user
from tests.registry.factories import ModelVersionFactory, RegisteredModelFactory

SAMPLES = Path(__file__).parent / "samples"
#: The moment every scenario is built around; sweeps pass ``now=`` relative to it.
T0 = timezone.now()


def team_policy(team: Team, rules: dict, *, grace_days: int = 30) -> GovernancePolicy:
    """A policy that governs ``team``'s versions, with these lifecycle rules."""
    return GovernancePolicy.objects.create(
        name=f"hygiene-{team.slug}",
        team_slugs=[team.slug],
        required_roles={"platform": 1},
        retirement_grace_days=grace_days,
        lifecycle_rules=rules,
    )


def approved_version(
    policy: GovernancePolicy,
    *,
    team: Team,
    approved_at: datetime | None = None,
    expires_in_days: int = 365,
    **model_fields,
) -> ModelVersion:
    """An approved version of a new model of ``team``, approved under ``policy``."""
    approved_at = approved_at or T0 - timedelta(days=1)
    model = RegisteredModelFactory(team=team, **model_fields)
    version = ModelVersionFactory(
        registered_model=model,
        state="approved",
        complete=True,
        approved_at=approved_at,
        approval_expires_at=approved_at + timedelta(days=expires_in_days),
    )
    PromotionRequestFactory(version=version, policy=policy, state=RequestState.APPROVED)
    return version


def serve(version: ModelVersion, *, since: datetime, until: datetime | None = None) -> Deployment:
    return Deployment.objects.create(
        version=version,
        environment="production",
        started_at=since,
        ended_at=until,
        recorded_by=version.registered_model.owner,
    )


def trivy_report(*findings: tuple[str, str, str]) -> bytes:
    """A Trivy report with these (vulnerability id, package, SEVERITY) findings."""
    document = json.loads((SAMPLES / "trivy-vulnerable.json").read_bytes())
    template = document["Results"][0]["Vulnerabilities"][0]
    document["Results"] = [
        {
            **document["Results"][0],
            "Vulnerabilities": [
                {
                    **template,
                    "VulnerabilityID": vid,
                    "PkgName": package,
                    "Severity": severity,
                    "Status": "affected",
                }
                for vid, package, severity in findings
            ],
        }
    ]
    return json.dumps(document).encode()


def upload_scan(version: ModelVersion, report: bytes):
    """CI uploads a dependency scan report through the registry service."""
    return registry_services.evidence_attach(
        actor=ci_user(version.registered_model.team),
        version=version,
        kind="dependency_scan",
        content=io.BytesIO(report),
        media_type="application/json",
    )


def state_of(version: ModelVersion) -> str:
    return ModelVersion.objects.values_list("state", flat=True).get(pk=version.pk)


def lifecycle_counts() -> dict[str, int]:
    """Everything a sweep writes: a second run or a dry run must leave these as they were."""
    return {
        "events": AuditEvent.objects.count(),
        "firings": LifecycleRuleFiring.objects.count(),
        "notifications": Notification.objects.count(),
        "deprecated": ModelVersion.objects.filter(state="deprecated").count(),
        "retired": ModelVersion.objects.filter(state="retired").count(),
    }
