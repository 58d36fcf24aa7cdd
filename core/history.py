"""Who a history row names (simple-history's ``history_user``): the one place it is decided.

simple-history takes the user from the request its middleware saw, so every write made
outside a request (management commands, the demo, Celery tasks, the services called by
tests) was recorded with no user: "Changed by: None". Every governance service asks
``core.permissions.require(actor, ...)`` before it writes, so that check notes the actor
here, and each history row written without a user names the noted actor. Celery tasks act
as the system: no user, and the change reason says which task (``system:task <id>``).
A web request or a task starts with nothing noted, so no actor carries over between them.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import connection


@dataclass(frozen=True)
class Acting:
    user: Any = None
    #: Who acted when no person did ("system:task <id>"): the row's change reason.
    via: str = ""
    #: The outermost transaction the actor was checked in: the note is good for it only,
    #: so a later transaction (another service call, another test) never inherits it.
    transaction: Any = None


_acting: ContextVar[Acting | None] = ContextVar("govboard_acting", default=None)


def note_actor(actor: Any) -> None:
    """Remember the person (or service account) about to act; called by ``require``. A
    system context (a task) is not overridden: the system asked on nobody's behalf."""
    current = _acting.get()
    if current is not None and current.via:
        return
    outermost = _outermost_transaction()
    if outermost is not None and actor is not None and getattr(actor, "pk", None):
        _acting.set(Acting(user=actor, transaction=outermost))


def forget_actor(**_: Any) -> None:
    """Start clean (a request or a task begins): nothing noted carries over."""
    _acting.set(None)


def note_system(via: str) -> None:
    """A task begins: rows written until it ends name no user and give ``via`` as their
    change reason."""
    _acting.set(Acting(via=via))


def fill_history_user(sender: Any, history_instance: Any, **_: Any) -> None:
    """simple-history's ``pre_create_historical_record``: a row the request did not name
    names the noted actor, or the system's reason."""
    acting = _acting.get()
    if acting is None or history_instance.history_user_id is not None:
        return
    if acting.user is not None:
        if acting.transaction is _outermost_transaction():
            history_instance.history_user = acting.user
    elif acting.via and not history_instance.history_change_reason:
        history_instance.history_change_reason = acting.via


def _outermost_transaction() -> Any:
    blocks = connection.atomic_blocks
    return blocks[0] if connection.in_atomic_block and blocks else None
