"""The audit event API: the one way other apps write to the audit trail."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from audit.models import AuditEvent

# The transparency log's seal job (ADR 0013) is one of the app's services.
from audit.transparency.sealing import audit_log_seal  # noqa: F401
from audit.verbs import AuditVerb


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
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record() must be called inside the transaction of the change.")
    if not isinstance(verb, AuditVerb):
        raise TypeError(f"audit.record() takes an AuditVerb, not {verb!r}.")
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label or actor_label_for(actor),
        verb=verb,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        team_id=team_id,
        data=data or {},
    )
