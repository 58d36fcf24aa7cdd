"""A history page names who made a change even when the history row names no user: the
actor of the audit event about the same object written in the same moment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from audit.verbs import AuditVerb
from tests.registry.factories import ModelVersionFactory, UserFactory

pytestmark = pytest.mark.django_db


def history_rows(response):
    return list(response.context["page_obj"])


def registered_event(version, actor, when) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=f"user:{actor.username}",
        verb=AuditVerb.VERSION_REGISTERED,
        object_type="registry.modelversion",
        object_id=str(version.pk),
        team_id=version.registered_model.team_id,
        occurred_at=when,
    )


def test_a_history_row_without_a_user_shows_the_audit_events_actor(client):
    # Given a version whose history row names no user, and the audit event of that change
    version = ModelVersionFactory()
    row = version.history.get()
    assert row.history_user_id is None
    registrar = UserFactory(username="registrar")
    registered_event(version, registrar, row.history_date - timedelta(milliseconds=40))
    client.force_login(UserFactory(is_superuser=True))

    # When the version's history page is opened
    response = client.get(reverse("admin:registry_modelversion_history", args=[version.pk]))

    # Then the row names the registrar, not "None"
    assert response.status_code == 200
    assert history_rows(response)[0].history_user == registrar
    assert ">registrar</a>" in response.content.decode()


def test_an_event_about_another_object_or_from_another_moment_is_not_taken_for_the_actor(client):
    # Given a version's userless history row, an event about another version at that
    # moment, and an event about this version an hour earlier
    version, other = ModelVersionFactory(), ModelVersionFactory()
    row = version.history.get()
    someone = UserFactory(username="someone")
    registered_event(other, someone, row.history_date)
    registered_event(version, someone, row.history_date - timedelta(hours=1))
    client.force_login(UserFactory(is_superuser=True))

    # When the version's history page is opened
    response = client.get(reverse("admin:registry_modelversion_history", args=[version.pk]))

    # Then no actor is claimed for the row
    assert history_rows(response)[0].history_user is None
    assert ">someone</a>" not in response.content.decode()
