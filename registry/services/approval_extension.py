"""Re-certification's effect on a version: its approval lasts longer, its state stays.

Approvals call this when a re-certification request is approved (fresh evidence, the
same quorum, a new signed decision record); nothing else moves an approval's expiry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from audit.services import record
from audit.verbs import AuditVerb
from core.errors import IllegalTransition
from registry.choices import VersionState
from registry.models import ModelVersion
from registry.services.versions import lock_version


@transaction.atomic(savepoint=False)
def version_approval_extend(
    *, actor: Any, version: ModelVersion | int, request_id: int, expires_at: datetime
) -> ModelVersion:
    """approved → approved with a later ``approval_expires_at`` (and the extension
    recorded as ``version.recertified``, the old and new expiry in the event)."""
    locked = lock_version(version)
    if locked.state != VersionState.APPROVED:
        raise IllegalTransition(
            f"Only an approved version is re-certified; this one is {locked.state}.",
            errors={"state": [locked.state]},
        )
    before = locked.approval_expires_at
    if before is not None and expires_at <= before:
        raise IllegalTransition("A re-certification must extend the approval, not shorten it.")
    locked.approval_expires_at = expires_at
    locked.save(update_fields=["approval_expires_at"])
    locked.transition_event = record(
        actor=actor,
        verb=AuditVerb.VERSION_RECERTIFIED,
        target=locked,
        team_id=locked.registered_model.team_id,
        data={
            "before": {"approval_expires_at": before.isoformat() if before else None},
            "after": {"approval_expires_at": expires_at.isoformat()},
            "promotion_request": request_id,
        },
    )
    return locked
