"""Version transitions for many rows at once: the scheduler's sweeps, which change a
chunk of versions in one transaction (``core.sweeps``).

Each version gets what ``version_deprecate`` gives one: the FSM transition (checked per
row, so an undeclared move still raises), its history row and its audit event; only the
writes are set-based (one UPDATE, one history INSERT, one audit INSERT), which is what
lets a sweep over thousands of versions finish in seconds. The caller holds every
version locked (``select_for_update``), as the single-version services do themselves.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_fsm import TransitionNotAllowed
from simple_history.utils import bulk_update_with_history

from audit.services import record_many
from core.errors import IllegalTransition, InvalidInput
from registry.models import ModelVersion
from registry.services.versions import TRANSITION_VERBS


def versions_deprecate_locked(
    *,
    via: str,
    versions: list[ModelVersion],
    reasons: dict[int, str],
    extras: dict[int, dict[str, Any]],
) -> list[ModelVersion]:
    """candidate/approved → deprecated for ``versions`` (locked by the caller, with their
    model), by the system (``via`` names the task); ``reasons`` and ``extras`` by version
    id go into each audit event. Each returned version carries its ``transition_event``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("versions_deprecate_locked() must run in the caller's transaction.")
    if not versions:
        return []
    befores = {}
    for version in versions:
        reason = reasons.get(version.pk, "")
        if not reason.strip():
            raise InvalidInput("A reason is required to deprecate a version.")
        befores[version.pk] = version.state
        try:
            version.deprecate()
        except TransitionNotAllowed as exc:
            raise IllegalTransition(
                f"A {version.state} version cannot be moved by 'deprecate'.",
                errors={"state": [version.state]},
            ) from exc
    bulk_update_with_history(versions, ModelVersion, ["state", "deprecated_at"])
    events = record_many(
        actor=None,
        actor_label=via,
        verb=TRANSITION_VERBS["deprecate"],
        entries=[
            (
                version,
                version.registered_model.team_id,
                {
                    "before": {"state": befores[version.pk]},
                    "after": {"state": version.state},
                    "reason": reasons[version.pk],
                }
                | extras.get(version.pk, {}),
            )
            for version in versions
        ],
    )
    for version, event in zip(versions, events, strict=True):
        version.transition_event = event
    return versions
