"""Bounces of escalation contacts: recorded by the mail relay (or an administrator) and
cleared when the mailbox works again. An open bounce makes every model with that contact
``unowned`` for the lifecycle rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from approvals.models import ContactBounce
from audit.services import record
from audit.verbs import AuditVerb
from core.errors import IllegalTransition, InvalidInput
from core.permissions import Verb, require


@transaction.atomic
def contact_bounce_record(
    *,
    actor: Any,
    address: str,
    detail: str,
    via: str | None = None,
    now: datetime | None = None,
) -> ContactBounce:
    """Record that mail to ``address`` bounced (``actor`` None: the relay, named by
    ``via``). An address with an open bounce gets no second one: the first says it."""
    if actor is not None:
        require(actor, Verb.MANAGE_ACCOUNTS, refusal="Only administrators record bounces.")
    address = address.strip().lower()
    try:
        validate_email(address)
    except ValidationError as exc:
        raise InvalidInput(
            "That is not an email address.", errors={"address": exc.messages}
        ) from exc
    if not detail.strip():
        raise InvalidInput("Say what the mail server answered.", errors={"detail": ["required"]})
    open_bounce = (
        ContactBounce.objects.select_for_update()
        .filter(address__iexact=address, cleared_at__isnull=True)
        .first()
    )
    if open_bounce is not None:
        return open_bounce
    bounce = ContactBounce.objects.create(
        address=address,
        detail=detail.strip()[:500],
        recorded_at=now or timezone.now(),
        recorded_by=actor if actor is not None and actor.pk else None,
    )
    record(
        actor=actor,
        actor_label=None if actor is not None else via or "system",
        verb=AuditVerb.CONTACT_BOUNCE_RECORDED,
        target=bounce,
        data={"address": address, "detail": bounce.detail},
    )
    return bounce


@transaction.atomic
def contact_bounce_clear(
    *, actor: Any, bounce: ContactBounce | int, now: datetime | None = None
) -> ContactBounce:
    """The mailbox works again: the bounce no longer makes its models unowned."""
    require(actor, Verb.MANAGE_ACCOUNTS, refusal="Only administrators clear bounces.")
    pk = bounce.pk if isinstance(bounce, ContactBounce) else bounce
    locked = ContactBounce.objects.select_for_update().get(pk=pk)
    if locked.cleared_at is not None:
        raise IllegalTransition("This bounce was already cleared.")
    locked.cleared_at = now or timezone.now()
    locked.cleared_by = actor
    locked.save(update_fields=["cleared_at", "cleared_by"])
    record(
        actor=actor,
        verb=AuditVerb.CONTACT_BOUNCE_CLEARED,
        target=locked,
        data={
            "address": locked.address,
            "before": {"cleared_at": None},
            "after": {"cleared_at": locked.cleared_at.isoformat()},
        },
    )
    return locked
