"""One governance history with known answers, built through the services (factories for
what is not under test): team alpha's support-bot 1.0.0 approved by its board, 1.1.0
approved under a manager's exception for a missed threshold, a threshold config serving
beside them, deployments for customer acme in two windows, and monitoring evidence after
launch. Team beta serves acme too, so team scoping is visible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone

from approvals import services
from approvals.apps import AUDITOR_GROUP, TEAM_AUDITOR_GROUP
from approvals.models import PromotionRequest
from core import permissions
from registry.choices import ModelKind
from registry.models import Deployment, Evidence, ModelVersion, RegisteredModel, Team
from tests.approvals.factories import (
    attach,
    attach_passing_evidence,
    board_policy,
    ci_user,
    eval_package,
    request_in_review,
    run_checks,
)
from tests.registry.factories import (
    PASSWORD,
    ModelVersionFactory,
    RegisteredModelFactory,
    TeamFactory,
    UserFactory,
    approver,
    manager,
    ready_version,
    sha256_of,
)

BOARD = ("platform", "product", "security")
#: The serving windows (fixed moments, not the clock).
LAUNCH = datetime(2026, 3, 1, tzinfo=UTC)
SWITCH = datetime(2026, 6, 1, tzinfo=UTC)
MONITORED_AFTER = timedelta(days=28)
QUALITY_AND_TOXICITY = {"quality": {"min": 0.85}, "toxicity": {"max": 0.01}}


@dataclass
class Scenario:
    alpha: Team
    beta: Team
    model: RegisteredModel
    config: RegisteredModel
    first: ModelVersion
    second: ModelVersion
    config_version: ModelVersion
    other_team_version: ModelVersion
    first_request: PromotionRequest
    second_request: PromotionRequest
    signers: dict[str, Any]
    boss: Any
    exception_expires_at: datetime
    auditor: Any = None
    alpha_auditor: Any = None


def _approve(request: PromotionRequest, signers: dict[str, Any]) -> PromotionRequest:
    for role in BOARD:
        services.signoff_record(
            actor=signers[role],
            request=request,
            role=role,
            password=PASSWORD,
            meaning=f"Approved as {role} for production",
        )
    request.refresh_from_db()
    return request


def _deploy(version: ModelVersion, start: datetime, end: datetime | None = None) -> Deployment:
    return Deployment.objects.create(
        version=version,
        environment="production",
        ring="general",
        customer_scope="acme",
        started_at=start,
        ended_at=end,
        recorded_by=version.registered_model.owner,
    )


def build_scenario() -> Scenario:
    alpha, beta = TeamFactory(slug="alpha"), TeamFactory(slug="beta")
    model = RegisteredModelFactory(team=alpha, name="support-bot", kind=ModelKind.MODEL)
    config = RegisteredModelFactory(team=alpha, name="thresholds", kind=ModelKind.CONFIG)
    signers = {role: approver(alpha, role, username=f"{role}-signer") for role in BOARD}
    boss = manager(alpha, username="boss")

    # The team's board policy, with the default policy's metric thresholds.
    policy = board_policy(alpha)
    policy.metric_thresholds = QUALITY_AND_TOXICITY
    policy.save()

    first = ready_version(registered_model=model, version="1.0.0")
    first_request = _approve(request_in_review(first), signers)

    # 1.1.0 changes its licence and misses the quality threshold (non-critical).
    second = ready_version(registered_model=model, version="1.1.0", license="mit")
    attach_passing_evidence(second, skip=("eval_package",))
    attach(
        second, "eval_package", eval_package(second, metrics={"quality": 0.80, "toxicity": 0.004})
    )
    second_request = run_checks(
        services.promotion_request_submit(
            actor=ci_user(alpha), version=second, rollback_target=first_request.version
        )
    )
    second_request = _approve(second_request, signers)
    expires_at = timezone.now() + timedelta(days=14)
    services.check_override(
        actor=boss,
        request=second_request,
        check_name="eval_thresholds",
        justification="Accepted for the pilot; retrain scheduled.",
        expires_at=expires_at,
    )
    second_request.refresh_from_db()

    config_version = ModelVersionFactory(registered_model=config, version="2.0.0", state="approved")
    other = ModelVersionFactory(
        registered_model=RegisteredModelFactory(team=beta, name="beta-bot"),
        version="9.0.0",
        state="approved",
    )
    _deploy(first, LAUNCH, SWITCH)
    _deploy(second, SWITCH)
    _deploy(config_version, LAUNCH)
    _deploy(other, LAUNCH)
    # Monitoring after launch, built directly to pin its upload time (append-only rows; an
    # insert is allowed). The service path is tested beside it (a nightly scan by CI).
    approved_first = ModelVersion.objects.get(pk=first.pk)
    Evidence.objects.create(
        version=approved_first,
        kind="eval_package",
        media_type="application/json",
        storage_key="monitoring/support-bot-1.0.0-week-4.json",
        sha256=sha256_of("week 4"),
        size=120,
        uploaded_by=boss,
        uploaded_at=approved_first.approved_at + MONITORED_AFTER,
    )
    return Scenario(
        alpha=alpha,
        beta=beta,
        model=model,
        config=config,
        first=ModelVersion.objects.get(pk=first.pk),
        second=ModelVersion.objects.get(pk=second.pk),
        config_version=config_version,
        other_team_version=other,
        first_request=first_request,
        second_request=second_request,
        signers=signers,
        boss=boss,
        exception_expires_at=expires_at,
    )


def global_auditor(**kwargs: Any) -> Any:
    """A member of the installation's read-only "Auditors" group (every team)."""
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=AUDITOR_GROUP))
    return user


def team_auditor(team: Team, **kwargs: Any) -> Any:
    """An auditor of one team: a member of "Team auditors" (which opens the admin's pages)
    holding the team role ``registry.view_team_registry`` on ``team`` (whose rows)."""
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=TEAM_AUDITOR_GROUP))
    permissions.grant_team_role(user, "registry.view_team_registry", team)
    return user


def more_deployments(scenario: Scenario, count: int, *, major: int) -> None:
    """``count`` more versions of the model, each serving acme since launch (for query
    counts at two sizes)."""
    for n in range(count):
        version = ModelVersionFactory(registered_model=scenario.model, version=f"{major}.{n}.0")
        Deployment.objects.create(
            version=version,
            environment="production",
            customer_scope="acme",
            started_at=LAUNCH,
            recorded_by=scenario.model.owner,
        )
