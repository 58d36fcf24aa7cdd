"""Registered models and versions: registration and the version lifecycle.

Every state change in the registry. One function per governance verb, one transaction each.

Each function takes the acting user first (``None`` means the scheduler, with ``via`` naming
the task), checks permission, does the work, and records the audit event in the same
transaction. Version lifecycle transitions happen only here, on a row locked first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from audit.services import actor_label_for, record
from audit.verbs import AuditVerb
from core.errors import Conflict, IllegalTransition, InvalidInput
from core.historical_records import record_creation
from core.inserts import insert_unless_present
from core.permissions import Verb, allowed, require
from registry import semver
from registry.metadata import VERSION_METADATA_FIELDS
from registry.models import Deployment, ModelVersion, RegisteredModel, Team


def _validation_to_invalid(exc: ValidationError, message: str) -> InvalidInput:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return InvalidInput(message, errors=errors)


def _version_snapshot(version: ModelVersion) -> dict[str, Any]:
    return {
        "model": version.registered_model_id,
        "version": version.version,
        "checksum": version.checksum,
        "storage_uri": version.storage_uri,
        "state": version.state,
    }


@transaction.atomic
def registered_model_upsert(
    *,
    actor: Any,
    team: Team,
    name: str,
    kind: str,
    owner: Any,
    backup_owner: Any,
    escalation_contact: str,
    description: str = "",
) -> tuple[RegisteredModel, bool]:
    """Create a registered model, or update its metadata. The kind never changes."""
    require(actor, Verb.REGISTER, team, refusal="You may not register models for this team.")
    existing = RegisteredModel.objects.select_for_update().filter(team=team, name=name).first()
    if existing is not None and existing.kind != kind:
        raise Conflict(
            f"{team.slug}/{name} is registered as a {existing.kind}; the kind cannot change."
        )
    model = existing or RegisteredModel(team=team, name=name, kind=kind)
    before = (
        {
            "owner": existing.owner_id,
            "backup_owner": existing.backup_owner_id,
            "escalation_contact": existing.escalation_contact,
            "description": existing.description,
        }
        if existing
        else None
    )
    model.owner = owner
    model.backup_owner = backup_owner
    model.escalation_contact = escalation_contact
    model.description = description
    try:
        model.full_clean()
    except ValidationError as exc:
        raise _validation_to_invalid(exc, "The model metadata is invalid.") from exc
    if owner.pk == backup_owner.pk:
        raise InvalidInput("The backup owner must be someone other than the owner.")
    model.save()
    after = {
        "owner": model.owner_id,
        "backup_owner": model.backup_owner_id,
        "escalation_contact": model.escalation_contact,
        "description": model.description,
    }
    if existing is None or before != after:
        record(
            actor=actor,
            verb=AuditVerb.MODEL_REGISTERED if existing is None else AuditVerb.MODEL_UPDATED,
            target=model,
            team_id=team.pk,
            data={"kind": kind, "before": before, "after": after},
        )
    return model, existing is None


def version_register(
    *,
    actor: Any,
    registered_model: RegisteredModel,
    version: str,
    checksum: str,
    storage_uri: str,
    **metadata: Any,
) -> tuple[ModelVersion, bool]:
    """Register a version as ``draft``; idempotent on (model, version, checksum).

    The same version with the same checksum returns the existing row (``created`` False);
    the same version with another checksum is a ``Conflict`` and changes nothing.
    """
    unknown = set(metadata) - set(VERSION_METADATA_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown or read-only fields: {', '.join(sorted(unknown))}.")
    require(
        actor,
        Verb.REGISTER,
        registered_model.team,
        refusal="You may not register versions for this team.",
    )
    try:
        parsed = semver.parse(version)
    except semver.InvalidVersion as exc:
        raise InvalidInput(str(exc), errors={"version": [str(exc)]}) from exc

    # Insert first and let the unique constraint decide: the common case (a new version)
    # costs one INSERT, and a retry or a concurrent twin inserts nothing (see below).
    candidate = ModelVersion(
        registered_model=registered_model,
        version=str(parsed),
        version_core=parsed.core,
        semver_key=parsed.sort_key(),
        checksum=checksum,
        storage_uri=storage_uri,
        registered_by=actor,
        **metadata,
    )
    base = metadata.get("base_model_version")
    if (
        base is not None
        and base.registered_model.team_id != registered_model.team_id
        and not allowed(actor, Verb.READ, base.registered_model.team)
    ):
        raise InvalidInput("The base model version does not exist.")
    try:
        # Uniqueness and check constraints are the database's job (and a race-free one).
        candidate.full_clean(
            exclude=["registered_by", "registered_model", "state"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise _validation_to_invalid(exc, "The version metadata is invalid.") from exc
    # The refusals above only read. The writes: one transaction and no savepoint (issue
    # 14): a twin (a retry, a concurrent registration committed first) makes the INSERT
    # write nothing; a conflict is raised after it, so an enclosing transaction stays usable.
    existing = None
    with transaction.atomic(savepoint=False):
        if insert_unless_present(candidate, unique=("registered_model", "version_core")):
            # No Model.save, so its history row explicitly (no other receivers: a test).
            record_creation(candidate)
            record(
                actor=actor,
                verb=AuditVerb.VERSION_REGISTERED,
                target=candidate,
                team_id=registered_model.team_id,
                data={"before": None, "after": _version_snapshot(candidate)},
            )
        else:
            existing = ModelVersion.objects.filter(
                registered_model=registered_model, version_core=parsed.core
            ).first()
            if existing is None:  # versions are never deleted; the twin left no row
                raise Conflict("The version was registered concurrently; retry.")
    if existing is not None:
        return _existing_registration(existing, version=version, checksum=checksum), False
    return candidate, True


def _existing_registration(existing: ModelVersion, *, version: str, checksum: str) -> ModelVersion:
    if existing.checksum != checksum:
        raise Conflict(
            f"Version {existing.version} is already registered with another checksum; "
            "a registered version is never overwritten.",
            errors={"checksum": ["differs from the registered version's checksum"]},
        )
    if existing.version != version:
        raise Conflict(
            f"Version {existing.version} is already registered; build metadata does not make "
            f"{version} a different version."
        )
    return existing


def lock_version(version: ModelVersion | int) -> ModelVersion:
    """The version row locked for this transaction (with its model and team), by id."""
    pk = version.pk if isinstance(version, ModelVersion) else version
    return (
        ModelVersion.objects.select_for_update(of=("self",))
        .select_related("registered_model__team")
        .get(pk=pk)
    )


# Every version transition and the past-tense verb its audit event carries.
TRANSITION_VERBS: dict[str, AuditVerb] = {
    "mark_candidate": AuditVerb.VERSION_MARKED_CANDIDATE,
    "return_to_draft": AuditVerb.VERSION_RETURNED_TO_DRAFT,
    "approve": AuditVerb.VERSION_APPROVED,
    "deprecate": AuditVerb.VERSION_DEPRECATED,
    "retire": AuditVerb.VERSION_RETIRED,
}


def _transition_version(
    *,
    actor: Any,
    version: ModelVersion | int,
    transition: str,
    reason: str,
    via: str | None = None,
    extra: dict[str, Any] | None = None,
    **fields: Any,
) -> ModelVersion:
    locked = lock_version(version)
    before = locked.state
    try:
        getattr(locked, transition)()
    except TransitionNotAllowed as exc:
        raise IllegalTransition(
            f"A {before} version cannot be moved by '{transition}'.",
            errors={"state": [before]},
        ) from exc
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.save()
    # The event this transition wrote, for outboxes filled in the same transaction.
    locked.transition_event = record(
        actor=actor,
        actor_label=actor_label_for(actor, via=via),
        verb=TRANSITION_VERBS[transition],
        target=locked,
        team_id=locked.registered_model.team_id,
        data={"before": {"state": before}, "after": {"state": locked.state}, "reason": reason}
        | (extra or {}),
    )
    return locked


@transaction.atomic(savepoint=False)
def version_mark_candidate(
    *, actor: Any, version: ModelVersion | int, request_id: int, via: str | None = None
) -> ModelVersion:
    """draft → candidate, called by approvals once the baseline checks pass."""
    return _transition_version(
        actor=actor,
        via=via,
        version=version,
        transition="mark_candidate",
        reason="baseline checks passed",
        extra={"promotion_request": request_id},
    )


@transaction.atomic(savepoint=False)
def version_return_to_draft(
    *,
    actor: Any,
    version: ModelVersion | int,
    request_id: int,
    reason: str,
    via: str | None = None,
) -> ModelVersion:
    """candidate → draft, when its promotion request is rejected, sent back or expires."""
    return _transition_version(
        actor=actor,
        via=via,
        version=version,
        transition="return_to_draft",
        reason=reason,
        extra={"promotion_request": request_id},
    )


@transaction.atomic(savepoint=False)
def version_approve(
    *, actor: Any, version: ModelVersion | int, request_id: int, expires_at: datetime
) -> ModelVersion:
    """candidate → approved, called by approvals when the policy's quorum has signed."""
    now = timezone.now()
    return _transition_version(
        actor=actor,
        version=version,
        transition="approve",
        reason="quorum of sign-offs reached",
        extra={"promotion_request": request_id, "approval_expires_at": expires_at.isoformat()},
        approved_at=now,
        approval_expires_at=expires_at,
    )


@transaction.atomic
def version_deprecate(
    *,
    actor: Any,
    version: ModelVersion | int,
    reason: str,
    via: str | None = None,
    extra: dict[str, Any] | None = None,
) -> ModelVersion:
    """candidate/approved → deprecated: new usage blocked. Managers, or the scheduler.

    The version's transition only: ``approvals.services.lifecycle.version_deprecate`` is
    the verb people and jobs call (it closes an open promotion request first). ``extra``
    goes into the audit event (a lifecycle rule names itself and its evidence there).
    """
    if not reason.strip():
        raise InvalidInput("A reason is required to deprecate a version.")
    locked = lock_version(version)
    if actor is not None:
        require(actor, Verb.DEPRECATE, locked)
    return _transition_version(
        actor=actor, via=via, version=locked, transition="deprecate", reason=reason, extra=extra
    )


@transaction.atomic
def version_retire(
    *,
    actor: Any,
    version: ModelVersion | int,
    reason: str,
    via: str | None = None,
    end_deployments: bool = False,
    now: datetime | None = None,
) -> ModelVersion:
    """deprecated → retired: no serving allowed, kept for audit. Managers, or the scheduler.

    The version's transition only: ``approvals.services.lifecycle.version_retire`` is
    the verb people and jobs call. A retired version serves nobody, so "who serves
    customer C now" must never name one: while a deployment still serves the version,
    retirement is refused (the scheduled path). A manager's break-glass retirement passes
    ``end_deployments`` and those deployments end now, in this transaction, each with an
    audited reason.
    """
    if not reason.strip():
        raise InvalidInput("A reason is required to retire a version.")
    now = now or timezone.now()
    locked = lock_version(version)
    if actor is not None:
        require(actor, Verb.RETIRE, locked)
    serving = list(
        Deployment.objects.select_for_update(of=("self",))
        .filter(version=locked, ended_at__isnull=True)
        .order_by("id")
    )
    if serving and not end_deployments:
        ids = ", ".join(str(d.pk) for d in serving[:10])
        raise Conflict(
            f"{len(serving)} deployment(s) still serve this version (ids {ids}): end them "
            "first, or retire it as break-glass, ending them now.",
            errors={"deployments": [str(d.pk) for d in serving]},
        )
    ended = [_end_for_retirement(actor, locked, d, now=now, reason=reason) for d in serving]
    return _transition_version(
        actor=actor,
        via=via,
        version=locked,
        transition="retire",
        reason=reason,
        extra={"ended_deployments": ended} if ended else None,
    )


def _end_for_retirement(
    actor: Any, version: ModelVersion, deployment: Deployment, *, now: datetime, reason: str
) -> int:
    # A window recorded as starting a moment ahead (allowed clock skew) still ends after it.
    ended_at = max(now, deployment.started_at + timedelta(microseconds=1))
    deployment.ended_at = ended_at
    deployment.save(update_fields=["ended_at"])
    record(
        actor=actor,
        verb=AuditVerb.DEPLOYMENT_ENDED,
        target=deployment,
        team_id=version.registered_model.team_id,
        data={
            "before": {"ended_at": None},
            "after": {"ended_at": ended_at.isoformat()},
            "reason": f"version retired (break-glass): {reason}",
        },
    )
    return deployment.pk
