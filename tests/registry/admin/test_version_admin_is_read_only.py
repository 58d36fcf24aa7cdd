"""In the admin a version's attested metadata is read-only; lifecycle goes through buttons."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from audit.models import AuditEvent
from core import permissions
from tests.registry.factories import ModelVersionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _manager_of(team):
    manager = UserFactory()
    manager.user_permissions.add(*Permission.objects.filter(codename="view_modelversion"))
    permissions.grant_team_role(manager, "registry.manage_governance", team)
    return manager


def test_posting_a_metadata_change_to_an_approved_version_is_refused_and_changes_nothing():
    # Given an approved version and a superuser in the admin
    version = ModelVersionFactory(complete=True, state="approved")
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    events = AuditEvent.objects.count()

    # When they try to change its storage URI and risk rating
    response = client.post(
        f"/admin/registry/modelversion/{version.pk}/change/",
        {"storage_uri": "s3://elsewhere/evil/", "risk_rating": "low"},
    )

    # Then it is refused and the attested metadata is unchanged
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.storage_uri.startswith("s3://models/")
    assert version.risk_rating == "medium"
    assert AuditEvent.objects.count() == events


def test_a_manager_deprecates_a_version_with_the_admin_button_through_the_service():
    # Given an approved version and the team's governance manager
    version = ModelVersionFactory(complete=True, state="approved")
    client = Client()
    client.force_login(_manager_of(version.registered_model.team))

    # When the manager opens the version, clicks Deprecate and gives a reason
    page = client.get(f"/admin/registry/modelversion/{version.pk}/change/").content.decode()
    assert f"/admin/registry/modelversion/{version.pk}/deprecate/" in page
    response = client.post(
        f"/admin/registry/modelversion/{version.pk}/deprecate/", {"reason": "superseded"}
    )

    # Then the version is deprecated with one audit event naming the manager and the reason
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.state == "deprecated"
    event = AuditEvent.objects.get(verb="version.deprecated")
    assert event.data["reason"] == "superseded"
