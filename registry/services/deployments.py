"""Deployments: which version served which environment, ring and customer scope, when."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import IllegalTransition, InvalidInput
from core.permissions import Verb, require
from registry.choices import VersionState
from registry.models import Deployment, ModelVersion
from registry.services.versions import _validation_to_invalid, lock_version


@transaction.atomic
def deployment_record(
    *,
    actor: Any,
    version: ModelVersion | int,
    environment: str,
    started_at: datetime,
    ring: str = "",
    customer_scope: str = "",
    ended_at: datetime | None = None,
) -> Deployment:
    """Record that a version serves (or served) somewhere. Only approved versions may start.

    ``deprecated`` blocks new usage and ``retired`` allows no serving, so starting a
    deployment of anything but an approved version is refused.
    """
    locked = lock_version(version)
    team = locked.registered_model.team
    require(
        actor,
        Verb.REGISTER,
        team,
        refusal="You may not record deployments for this team's versions.",
    )
    if locked.state != VersionState.APPROVED:
        raise IllegalTransition(
            f"Only approved versions may be deployed; this version is {locked.state}."
        )
    _not_in_future(started_at, "start")
    if ended_at is not None:
        _not_in_future(ended_at, "end")
    deployment = Deployment(
        version=locked,
        environment=environment,
        ring=ring,
        customer_scope=customer_scope,
        started_at=started_at,
        ended_at=ended_at,
        recorded_by=actor,
    )
    try:
        deployment.full_clean(exclude=["recorded_by", "version"])
    except ValidationError as exc:
        raise _validation_to_invalid(exc, "The deployment is invalid.") from exc
    if ended_at is not None and ended_at <= started_at:
        raise InvalidInput("A deployment must end after it starts.")
    deployment.save()
    record(
        actor=actor,
        verb=AuditVerb.DEPLOYMENT_RECORDED,
        target=deployment,
        team_id=team.pk,
        data={
            "version": locked.pk,
            "environment": environment,
            "ring": ring,
            "customer_scope": customer_scope,
            "started_at": started_at.isoformat(),
            "ended_at": ended_at.isoformat() if ended_at else None,
            "before": None,
            "after": {
                "started_at": started_at.isoformat(),
                "ended_at": ended_at.isoformat() if ended_at else None,
            },
        },
    )
    return deployment


@transaction.atomic
def deployment_end(*, actor: Any, deployment: Deployment | int, ended_at: datetime) -> Deployment:
    """Close an open deployment window."""
    pk = deployment.pk if isinstance(deployment, Deployment) else deployment
    locked = (
        Deployment.objects.select_for_update(of=("self",))
        .select_related("version__registered_model__team")
        .get(pk=pk)
    )
    team = locked.version.registered_model.team
    require(
        actor,
        Verb.REGISTER,
        team,
        refusal="You may not change deployments of this team's versions.",
    )
    if locked.ended_at is not None:
        raise IllegalTransition("This deployment has already ended.")
    if ended_at <= locked.started_at:
        raise InvalidInput("A deployment must end after it starts.")
    _not_in_future(ended_at, "end")
    locked.ended_at = ended_at
    locked.save(update_fields=["ended_at"])
    record(
        actor=actor,
        verb=AuditVerb.DEPLOYMENT_ENDED,
        target=locked,
        team_id=team.pk,
        data={"before": {"ended_at": None}, "after": {"ended_at": ended_at.isoformat()}},
    )
    return locked


# Clocks drift: a few minutes ahead is tolerated, a deployment dated later is not a record.
_CLOCK_SKEW = timedelta(minutes=5)


def _not_in_future(moment: datetime, what: str) -> None:
    if moment > timezone.now() + _CLOCK_SKEW:
        raise InvalidInput(f"A deployment cannot {what} in the future: record it when it happens.")
