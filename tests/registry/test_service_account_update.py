"""Changing a service account (its teams, description, whether it may call) is audited."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.errors import NotPermitted
from registry import services
from tests.registry.factories import TeamFactory, UserFactory, service_account_with_token

pytestmark = pytest.mark.django_db


def test_an_administrator_moves_a_ci_account_to_another_team_and_it_is_audited():
    # Given a CI account of team alpha
    admin = UserFactory(is_superuser=True)
    alpha, beta = TeamFactory(slug="alpha"), TeamFactory(slug="beta")
    account, _raw = service_account_with_token(teams=[alpha], admin=admin)

    # When an administrator gives it beta instead and deactivates it
    services.service_account_update(
        actor=admin, account=account, teams=[beta], description="retired CI", is_active=False
    )

    # Then it reaches beta only, is inactive, and the event says what it was and is
    account.refresh_from_db()
    assert (list(account.teams.values_list("slug", flat=True)), account.is_active) == (
        ["beta"],
        False,
    )
    event = AuditEvent.objects.get(verb="service_account.changed")
    assert (event.actor, event.object_id) == (admin, str(account.pk))
    assert event.data == {
        "before": {"teams": ["alpha"], "description": "", "is_active": True},
        "after": {"teams": ["beta"], "description": "retired CI", "is_active": False},
    }


def test_a_save_that_changes_nothing_records_nothing():
    admin = UserFactory(is_superuser=True)
    alpha = TeamFactory()
    account, _raw = service_account_with_token(teams=[alpha], admin=admin)
    events = AuditEvent.objects.count()

    services.service_account_update(
        actor=admin, account=account, teams=[alpha], description="", is_active=True
    )

    assert AuditEvent.objects.count() == events


def test_someone_who_is_not_an_administrator_is_refused_and_nothing_changes():
    # Given a CI account and a staff member who does not manage accounts
    alpha, beta = TeamFactory(), TeamFactory()
    account, _raw = service_account_with_token(teams=[alpha])
    events = AuditEvent.objects.count()

    # When they try to widen its teams
    with pytest.raises(NotPermitted, match="Only administrators change service accounts"):
        services.service_account_update(
            actor=UserFactory(),
            account=account,
            teams=[alpha, beta],
            description="",
            is_active=True,
        )

    # Then it still reaches alpha only, and the log is as it was
    assert list(account.teams.all()) == [alpha]
    assert AuditEvent.objects.count() == events
