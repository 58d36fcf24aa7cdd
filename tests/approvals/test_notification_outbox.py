"""Email notifications through the transactional outbox: written with the change, sent
after commit by the one relay, once; a rolled-back change notifies nobody."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection, transaction

from approvals import services
from approvals.choices import DeliveryState
from approvals.models import Notification, WebhookDelivery
from approvals.tasks import relay_outbox
from audit.models import AuditEvent
from audit.services import record
from audit.verbs import AuditVerb
from registry.models import ModelVersion
from tests.approvals.factories import WebhookEndpointFactory
from tests.registry.factories import ModelVersionFactory, TeamFactory, manager


def _announce_deprecation(version: ModelVersion, *, key: str | None = None) -> Notification | None:
    """What a service does: the audit event and its notification in one transaction."""
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        event = record(
            actor=None,
            actor_label="system:task test",
            verb=AuditVerb.VERSION_DEPRECATED,
            target=locked,
            team_id=locked.registered_model.team_id,
            data={"reason": "stale"},
        )
        return services.notify(
            event=event,
            version=locked,
            subject=f"{locked} was deprecated",
            body="No deployment has served it for 90 days.",
            key=key,
        )


@pytest.mark.django_db
def test_a_committed_change_emails_owner_backup_owner_and_escalation_contact_once(
    django_capture_on_commit_callbacks,
):
    # Given a version whose model has an owner, a backup owner and an escalation contact
    version = ModelVersionFactory(registered_model__escalation_contact="Oncall@Example.test")
    model = version.registered_model

    # When a change notifies about it and commits (the nudge runs the relay)
    with django_capture_on_commit_callbacks(execute=True):
        notification = _announce_deprecation(version)

    # Then one email went to the three contacts, and the outbox row says it was sent
    assert [message.to for message in mail.outbox] == [
        [model.owner.email, model.backup_owner.email, "oncall@example.test"]
    ]
    assert mail.outbox[0].subject == f"{version} was deprecated"
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (DeliveryState.DELIVERED, 1)
    assert notification.topic == AuditVerb.VERSION_DEPRECATED

    # When the relay runs again (the beat), and the same key is notified again
    relay_outbox.apply()
    assert _announce_deprecation(version, key=notification.key) is None

    # Then nobody gets a second email
    assert len(mail.outbox) == 1
    assert Notification.objects.count() == 1


@pytest.mark.django_db
def test_a_rolled_back_change_notifies_nobody(django_capture_on_commit_callbacks):
    # Given a webhook endpoint that wants deprecations, and a version
    WebhookEndpointFactory(name="routing", url="http://127.0.0.1:9/hook")
    version = ModelVersionFactory()
    events_before = AuditEvent.objects.count()

    # When the change fails after notifying, inside its transaction
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError, match="the change failed"), transaction.atomic():
            _announce_deprecation(version)
            raise RuntimeError("the change failed")
        relay_outbox.apply()

    # Then no email, no webhook delivery, no event and no nudge exist
    assert mail.outbox == []
    assert Notification.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0
    assert AuditEvent.objects.count() == events_before
    assert callbacks == []


@pytest.mark.django_db
def test_notifying_writes_the_webhook_deliveries_of_the_same_event(
    django_capture_on_commit_callbacks,
):
    # Given an endpoint for deprecations
    endpoint = WebhookEndpointFactory(name="routing", url="http://127.0.0.1:9/hook")
    version = ModelVersionFactory()

    # When a change notifies, without committing yet
    with django_capture_on_commit_callbacks(execute=False):
        notification = _announce_deprecation(version)

    # Then the webhook delivery of that event is in the outbox beside the email
    delivery = WebhookDelivery.objects.get()
    assert (delivery.endpoint_id, delivery.event_id) == (endpoint.pk, notification.event_id)


@pytest.mark.django_db
def test_escalations_reach_the_teams_governance_managers_and_skip_inactive_owners(
    django_capture_on_commit_callbacks,
):
    # Given a team with a manager, and a model whose owner has left
    team = TeamFactory()
    boss = manager(team)
    version = ModelVersionFactory(registered_model__team=team)
    owner = version.registered_model.owner
    owner.is_active = False
    owner.save()

    # When an escalation is written for the owner, backup owner, contact and managers
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = record(
            actor=None, verb=AuditVerb.VERSION_DEPRECATED, target=version, team_id=team.pk
        )
        services.notify(
            event=event,
            version=version,
            subject="escalated",
            body="...",
            audience=(*services.CONTACTS, services.Audience.MANAGERS),
        )

    # Then the inactive owner is left out and the manager is included
    assert mail.outbox[0].to == [
        version.registered_model.backup_owner.email,
        "oncall@example.test",
        boss.email,
    ]


@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_send_each_notification_once():
    # Given a committed notification nobody has relayed yet (the nudge is lost: no
    # on-commit callbacks run the relay here because the relay is called by hand)
    version = ModelVersionFactory()
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        event = record(actor=None, verb=AuditVerb.VERSION_DEPRECATED, target=locked)
        Notification.objects.create(
            key="race",
            topic=event.verb,
            event_id=event.pk,
            recipients=["a@example.test"],
            subject="race",
            body="b",
        )
    notification_id = Notification.objects.get(key="race").pk
    mail.outbox = []

    # When two relays send it at the same moment, on their own connections
    barrier = threading.Barrier(2)
    results = []

    def relay() -> None:
        try:
            barrier.wait()
            results.append(services.notification_send(notification_id=notification_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly one email went out, and one relay skipped it
    assert sorted(results) == [DeliveryState.DELIVERED, "skipped"]
    assert len(mail.outbox) == 1
    assert Notification.objects.get(pk=notification_id).state == DeliveryState.DELIVERED
