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
from registry.choices import ReleaseState, Ring, VersionState
from registry.models import Deployment, ModelVersion, Release
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
    release: Release | int | None = None,
) -> Deployment:
    """Record that a version serves (or served) somewhere. Only approved versions may start.

    ``deprecated`` blocks new usage and ``retired`` allows no serving, so starting a
    deployment of anything but an approved version is refused. Rings are governed states
    of a release (ADR 0020): a ring needs ``release``, which must pin the version and
    have entered that ring in that environment; a version alone names no ring.
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
    release_row = _release_for(release, version=locked, environment=environment, ring=ring)
    _not_in_future(started_at, "start")
    if ended_at is not None:
        _not_in_future(ended_at, "end")
    deployment = Deployment(
        version=locked,
        release=release_row,
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
            "release": release_row.pk if release_row else None,
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


def _release_for(
    release: Release | int | None, *, version: ModelVersion, environment: str, ring: str
) -> Release | None:
    """The release a deployment serves, checked: the ring rules of ``deployment_record``.
    Reads the ring entries through the reverse relation (the registry imports no
    approvals code)."""
    if ring and ring not in Ring.values:
        raise InvalidInput(
            f"Unknown ring {ring!r}: one of {', '.join(Ring.values)}.",
            errors={"ring": ["unknown ring"]},
        )
    if release is None:
        if ring:
            raise InvalidInput(
                f"A ring is a state of a release: name the release that entered {ring} "
                f"in {environment} to deploy to it.",
                errors={"release": ["required with a ring"]},
            )
        return None
    pk = release.pk if isinstance(release, Release) else release
    found = (
        Release.objects.select_for_update(of=("self",))
        .filter(pk=pk, team_id=version.registered_model.team_id)
        .first()
    )
    if found is None:
        raise InvalidInput(
            "The release does not exist for this version's team.",
            errors={"release": ["not found"]},
        )
    if found.state != ReleaseState.SUBMITTED:
        raise IllegalTransition(f"Release {found} is {found.state}; it may not be deployed.")
    if not found.components.filter(model_version=version).exists():
        raise InvalidInput(
            f"Version {version.version} is not a component of release {found}.",
            errors={"version": ["not a component of the release"]},
        )
    if ring and not found.ring_entries.filter(environment=environment, ring=ring).exists():
        raise IllegalTransition(
            f"Release {found} has not entered {ring} in {environment}: request the ring "
            "first (govboard release promote)."
        )
    return found


# Clocks drift: a few minutes ahead is tolerated, a deployment dated later is not a record.
_CLOCK_SKEW = timedelta(minutes=5)


def _not_in_future(moment: datetime, what: str) -> None:
    if moment > timezone.now() + _CLOCK_SKEW:
        raise InvalidInput(f"A deployment cannot {what} in the future: record it when it happens.")
