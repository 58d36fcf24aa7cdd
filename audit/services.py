"""The audit event API: the one way other apps write to the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from audit.models import AuditEvent

# The transparency log's seal job (ADR 0013) is one of the app's services.
from audit.transparency.sealing import audit_log_seal  # noqa: F401
from audit.verbs import AuditVerb
from core.inserts import insert


def actor_label_for(user: Any, *, via: str | None = None) -> str:
    """A stable, human-readable label for who acted (kept even if the account is renamed)."""
    if user is None:
        return via or "system"
    service_account = getattr(user, "service_account", None) if user.pk else None
    if service_account is not None:
        return f"service-account:{service_account.name}"
    return f"user:{user.get_username()}"


def record(
    *,
    actor: Any,
    verb: str,
    target: models.Model,
    data: dict[str, Any] | None = None,
    team_id: int | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append one event. Must run inside the transaction of the change it describes, and
    name its verb from ``audit.verbs.AuditVerb`` (one list; webhooks and reports read it)."""
    _check("record", verb)
    # Appended by a statement compiled once (core.inserts): the log is insert-only.
    return insert(_event(actor, actor_label, verb, target, team_id, data))


def record_many(
    *,
    actor: Any,
    verb: str,
    entries: list[tuple[models.Model, int | None, dict[str, Any]]],
    actor_label: str | None = None,
) -> list[AuditEvent]:
    """``record`` for a sweep that changes many rows in one transaction: one event per
    ``(target, team_id, data)`` of ``entries``, in one insert and in the same order, with
    the same checks (their ids and ``occurred_at`` are read back)."""
    _check("record_many", verb)
    return AuditEvent.objects.bulk_create(
        _event(actor, actor_label, verb, target, team_id, data) for target, team_id, data in entries
    )


def _check(name: str, verb: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"audit.{name}() must be called inside the transaction of the change.")
    if not isinstance(verb, AuditVerb):
        raise TypeError(f"audit.{name}() takes an AuditVerb, not {verb!r}.")


def _event(
    actor: Any,
    actor_label: str | None,
    verb: str,
    target: models.Model,
    team_id: int | None,
    data: dict[str, Any] | None,
) -> AuditEvent:
    return AuditEvent(
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label or actor_label_for(actor),
        verb=verb,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        team_id=team_id,
        data=data or {},
    )
