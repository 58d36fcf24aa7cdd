"""Who changed a row, when its history row names no user: the actor of the audit event
about the same object written in the same moment.

Services write the row and its audit event in one transaction; the event's time is the
database's transaction start and the history row's the moment of the save, so the event
is at most the transaction's length earlier. Rows written before history carried the
user (and by scheduled jobs, which act as no user) are the ones this answers for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from audit.models import AuditEvent

#: How much earlier than the history row its audit event may be (one transaction).
SAME_CHANGE = timedelta(seconds=30)
#: Clock skew between the database server and the application.
SKEW = timedelta(seconds=2)


def audit_actors_for(model: Any, records: Sequence[Any]) -> dict[int, Any]:
    """history_id -> the user the audit log says made that change (one query)."""
    if not records:
        return {}
    pk_name = model._meta.pk.attname
    object_ids = {str(getattr(record, pk_name)) for record in records}
    dates = [record.history_date for record in records]
    events = list(
        AuditEvent.objects.filter(
            object_type=model._meta.label_lower,
            object_id__in=sorted(object_ids),
            occurred_at__gte=min(dates) - SAME_CHANGE,
            occurred_at__lte=max(dates) + SKEW,
            actor__isnull=False,
        )
        .select_related("actor")
        .order_by("occurred_at", "id")
    )
    actors = {}
    for record in records:
        object_id = str(getattr(record, pk_name))
        candidates = [
            event
            for event in events
            if event.object_id == object_id
            and record.history_date - SAME_CHANGE <= event.occurred_at <= record.history_date + SKEW
        ]
        if candidates:
            closest = min(candidates, key=lambda e: abs(e.occurred_at - record.history_date))
            actors[record.history_id] = closest.actor
    return actors
