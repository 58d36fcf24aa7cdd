"""Email notifications through the transactional outbox (the other half of the webhooks').

``notify`` is what a service calls, inside the transaction of its change, after it has
recorded the audit event: it writes one ``Notification`` (the email to the model's owner,
backup owner, escalation contact and, for escalations, the team's governance managers)
and the webhook deliveries of the same event, then nudges the relay on commit. The relay
(``approvals.tasks.relay_outbox``, run by the beat and by the nudge) sends each
notification once: it claims the row for ``CLAIM_SECONDS`` (``skip_locked``, so two relays
never take the same row), sends outside any transaction, then marks it sent.

Delivery is at least once: a relay killed between the SMTP call and the commit that
marks the row sent sends it again when the claim runs out; two relays running at once
send it once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from approvals.choices import DeliveryState
from approvals.models import Notification
from approvals.services.webhooks import (
    nudge_dispatcher,
    webhooks_enqueue,
    webhooks_enqueue_many,
)
from audit.models import AuditEvent
from core.team_roles import MANAGE, holders_q
from registry.models import ModelVersion, RegisteredModel

logger = logging.getLogger(__name__)

#: Longer than the SMTP timeout (``EMAIL_TIMEOUT``) of one send, so a claim never runs out
#: while its relay is still talking to the server.
CLAIM_SECONDS = 120


class Audience(StrEnum):
    """Who a notification reaches, named from the model's record."""

    OWNER = "owner"
    BACKUP_OWNER = "backup_owner"
    ESCALATION_CONTACT = "escalation_contact"
    MANAGERS = "managers"  # the team's governance managers (registry.manage_governance)


#: The model's three contacts: the default audience.
CONTACTS = (Audience.OWNER, Audience.BACKUP_OWNER, Audience.ESCALATION_CONTACT)


def recipients_for(model: RegisteredModel, audience: Iterable[Audience]) -> list[str]:
    """The addresses ``audience`` means for ``model``, in order, each once. Inactive
    accounts and accounts without an address are left out (an owner who left gets no
    mail; the escalation contact and the managers still do)."""
    audience = set(audience)
    users = []
    if Audience.OWNER in audience:
        users.append(model.owner)
    if Audience.BACKUP_OWNER in audience:
        users.append(model.backup_owner)
    addresses = [user.email for user in users if user.is_active and user.email]
    if Audience.ESCALATION_CONTACT in audience and model.escalation_contact:
        addresses.append(model.escalation_contact)
    if Audience.MANAGERS in audience:
        managers = (
            get_user_model()
            .objects.filter(holders_q(MANAGE, model.team_id), is_active=True)
            .exclude(email="")
            .order_by("pk")
            .values_list("email", flat=True)
            .distinct()
        )
        addresses.extend(managers)
    return list(dict.fromkeys(address.strip().lower() for address in addresses))


def notify(
    *,
    event: AuditEvent,
    version: ModelVersion,
    subject: str,
    body: str,
    audience: Iterable[Audience] = CONTACTS,
    key: str | None = None,
    webhooks: bool = True,
    also_to: Iterable[str] = (),
) -> Notification | None:
    """The outbox write for one notification, inside the transaction of the change that
    recorded ``event`` (the caller holds ``version`` locked, as the change left it).

    ``key`` says what is notified, once (default: the event itself); a key already
    written — a second sweep, a reminder already sent — writes nothing and returns None.
    With ``webhooks`` the event also goes to the webhook endpoints that want its verb.
    ``also_to``: addresses beyond the audience (a release's rollback owner).
    Nothing is sent here: the relay sends after commit, so a rollback sends nothing.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify() must run inside the transaction of the change.")
    key = key or f"event:{event.pk}"
    if webhooks:
        webhooks_enqueue(event=event, version=version)
    recipients = recipients_for(version.registered_model, audience)
    recipients = list(dict.fromkeys([*recipients, *(a.strip().lower() for a in also_to if a)]))
    if not recipients or Notification.objects.filter(key=key).exists():
        return None
    notification = _notification(Notice(event, version, subject, body, key), recipients)
    try:
        # A savepoint: a concurrent writer of the same key (blocked on the unique index
        # until it commits) leaves this transaction usable, with nothing written.
        with transaction.atomic():
            notification.save()
    except IntegrityError:
        return None
    nudge_dispatcher()
    return notification


@dataclass(frozen=True)
class Notice:
    """One notification of ``notify_many``: what ``notify`` takes for one event."""

    event: AuditEvent
    version: ModelVersion
    subject: str
    body: str
    key: str


def notify_many(
    notices: list[Notice], *, audience: Iterable[Audience] = CONTACTS, webhooks: bool = True
) -> int:
    """``notify`` for a change that recorded many events in one transaction (a sweep's
    chunk): the same rows (one per key, never a key already written, none without a
    recipient) in one insert, the webhook deliveries in another, one nudge. Each
    version's model, owner and backup owner should be loaded with it (no query per row).
    Returns how many notifications were written."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify_many() must run inside the transaction of the change.")
    if webhooks:
        webhooks_enqueue_many([(notice.event, notice.version) for notice in notices])
    audience = set(audience)
    written = set(
        Notification.objects.filter(key__in=[notice.key for notice in notices]).values_list(
            "key", flat=True
        )
    )
    rows = []
    for notice in notices:
        recipients = recipients_for(notice.version.registered_model, audience)
        if recipients and notice.key not in written:
            written.add(notice.key)
            rows.append(_notification(notice, recipients))
    # A concurrent writer of the same key (blocked on the unique index until it commits)
    # wins; this insert then skips that row.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if rows:
        nudge_dispatcher()
    return len(rows)


def _notification(notice: Notice, recipients: list[str]) -> Notification:
    return Notification(
        key=notice.key,
        topic=notice.event.verb,
        event_id=notice.event.pk,
        team_id=notice.event.team_id,
        recipients=recipients,
        subject=notice.subject[:300],
        body=notice.body,
    )


def notifications_due(*, now: datetime | None = None, batch: int = 200) -> list[int]:
    """Pending notifications the relay may send now: never tried or due for a retry,
    and not claimed by a relay that is still within its claim."""
    now = now or timezone.now()
    return list(
        Notification.objects.filter(state=DeliveryState.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("id")
        .values_list("id", flat=True)[:batch]
    )


def _claim(notification_id: int, now: datetime) -> Notification | None:
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, state=DeliveryState.PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .first()
        )
        if notification is None:
            return None  # sent, given up, or another relay holds it
        notification.claimed_until = now + timedelta(seconds=CLAIM_SECONDS)
        notification.save(update_fields=["claimed_until"])
        return notification


def notification_send(*, notification_id: int, now: datetime | None = None) -> str:
    """Send one notification if it is still pending and unclaimed; returns its state
    afterwards ("skipped" when another relay has it or it was sent already)."""
    now = now or timezone.now()
    notification = _claim(notification_id, now)
    if notification is None:
        return "skipped"
    error = ""
    try:
        connection = get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or 10)
        EmailMessage(
            subject=notification.subject,
            body=notification.body,
            to=notification.recipients,
            headers={"X-Govboard-Notification": notification.key},
            connection=connection,
        ).send()
    except Exception as exc:  # SMTP refusals, timeouts, DNS: retried with backoff
        error = f"{type(exc).__name__}: {exc}"[:500]
        logger.warning("Notification %s not sent: %s", notification_id, error)
    with transaction.atomic():
        locked = Notification.objects.select_for_update().get(pk=notification.pk)
        locked.last_error = error
        locked.count_attempt(ok=not error, now=timezone.now())
        locked.save()
    return locked.state


def notifications_relay(*, now: datetime | None = None, batch: int = 200) -> dict[str, Any]:
    """Send every due notification (one batch); what the relay task runs for email."""
    sent = skipped = failed = 0
    for notification_id in notifications_due(now=now, batch=batch):
        state = notification_send(notification_id=notification_id, now=now)
        if state == DeliveryState.DELIVERED:
            sent += 1
        elif state == "skipped":
            skipped += 1
        else:
            failed += 1
    return {"sent": sent, "skipped": skipped, "not_sent": failed}
