"""Who may sign is governance data: roles change only through audited grant/revoke."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from core import permissions
from core.errors import NotPermitted
from registry import services
from tests.registry.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _admin_client():
    admin = UserFactory(is_superuser=True)
    client = Client()
    client.force_login(admin)
    return admin, client


def test_an_administrator_grants_and_revokes_a_signing_role_and_both_are_audited():
    # Given a team, a person and an administrator in the admin
    admin, client = _admin_client()
    team = TeamFactory()
    person = UserFactory()

    # When the administrator grants the platform approver role
    response = client.post(
        f"/admin/registry/team/{team.pk}/grant_role/",
        {"user": person.pk, "role": "approvals.sign_as_platform"},
    )

    # Then the person may sign for the team, and the grant is in the audit trail
    assert response.status_code == 302
    assert permissions.allowed(person, permissions.Verb.SIGN, team, role="platform")
    granted = AuditEvent.objects.get(verb="team.role_granted")
    assert (granted.actor, granted.team_id) == (admin, team.pk)
    assert granted.data == {
        "user": person.username,
        "permission": "approvals.sign_as_platform",
        "before": {"holds_role": False},
        "after": {"holds_role": True},
    }

    # When it is revoked
    client.post(
        f"/admin/registry/team/{team.pk}/revoke_role/",
        {"user": person.pk, "role": "approvals.sign_as_platform"},
    )

    # Then the person can no longer sign, and the revocation is audited too
    assert not permissions.allowed(person, permissions.Verb.SIGN, team, role="platform")
    assert AuditEvent.objects.filter(verb="team.role_revoked").count() == 1


def test_granting_a_role_someone_already_holds_changes_nothing():
    admin, _ = _admin_client()
    team, person = TeamFactory(), UserFactory()
    assert services.team_role_grant(
        actor=admin, user=person, permission="approvals.sign_as_security", team=team
    )
    assert not services.team_role_grant(
        actor=admin, user=person, permission="approvals.sign_as_security", team=team
    )
    assert AuditEvent.objects.filter(verb="team.role_granted").count() == 1


def test_a_non_administrator_cannot_grant_roles_and_nothing_changes():
    team, person = TeamFactory(), UserFactory()
    manager = UserFactory()
    permissions.grant_team_role(manager, "registry.manage_governance", team)
    with pytest.raises(NotPermitted):
        services.team_role_grant(
            actor=manager, user=person, permission="approvals.sign_as_platform", team=team
        )
    assert not permissions.allowed(person, permissions.Verb.SIGN, team, role="platform")
    assert AuditEvent.objects.count() == 0
