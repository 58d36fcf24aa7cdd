"""The audit event API: the one way other apps write to the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models, transaction

from audit.models import AuditEvent


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
    """Append one event. Must run inside the transaction of the change it describes."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record() must be called inside the transaction of the change.")
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label or actor_label_for(actor),
        verb=verb,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        team_id=team_id,
        data=data or {},
    )


def events_after(
    last_id: int,
    *,
    verbs: list[str] | tuple[str, ...] | None = None,
    limit: int = 100,
    settled_before: datetime | None = None,
) -> list[AuditEvent]:
    """Events with id > ``last_id`` (optionally only ``verbs``), oldest first, at most
    ``limit``: the read side of the audit log as an outbox (webhooks, exports).

    Ids are handed out when a row is inserted, not when its transaction commits, so a
    reader that advances a cursor past id N could skip an id below N still uncommitted.
    With ``settled_before``, reading stops at the first event that is not older than it:
    a consumer that passes "now minus a lag longer than any transaction" never skips one.
    """
    queryset = AuditEvent.objects.filter(id__gt=last_id)
    if verbs is not None:
        queryset = queryset.filter(verb__in=list(verbs))
    events = list(queryset.order_by("id")[: max(0, min(limit, 1000))])
    if settled_before is None:
        return events
    settled = []
    for event in events:
        if event.occurred_at > settled_before:
            break
        settled.append(event)
    return settled


def latest_event_id() -> int:
    """The id of the newest event (0 when the log is empty)."""
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
